"""CSV imports (services.candles_import) and `manage.py import_candles`."""

import io
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from candles import services
from candles.csv_format import ImportRejected
from candles.models import Candle, Exchange, Pair
from candles.services import candles_import
from candles.tests.csv_data import T0, csv_bytes, good_lines, iso, millis

PAIR = {"exchange": "upbit", "market": "KRW", "asset": "BTC"}


def stored(interval: str = "1m") -> list[tuple]:
    return list(
        Candle.objects.filter(
            pair__exchange__name="upbit", pair__market="KRW", pair__asset="BTC", interval=interval
        )
        .order_by("basetm")
        .values_list("basetm", "o", "h", "l", "c", "v")
    )


@pytest.mark.django_db
def test_size_limit():
    data = csv_bytes(good_lines(100))
    with pytest.raises(ImportRejected) as info:
        candles_import(source=io.BytesIO(data), **PAIR, interval="1m", max_bytes=len(data) - 1)
    assert info.value.errors[0].reason.startswith("the file is larger than the")
    assert not Candle.objects.exists()
    result = candles_import(source=io.BytesIO(data), **PAIR, interval="1m", max_bytes=len(data))
    assert result.inserted == 100


@pytest.mark.django_db
@override_settings(CANDLES_UPLOAD_MAX_BYTES=1024)
def test_size_limit_defaults_to_the_setting():
    data = csv_bytes(good_lines(50))
    assert len(data) > 1024
    with pytest.raises(ImportRejected, match="1 problem found"):
        candles_import(source=data, **PAIR, interval="1m")
    with pytest.raises(ImportRejected) as info:
        candles_import(source=data, **PAIR, interval="1m")
    assert "1.0\xa0KB limit" in info.value.errors[0].reason


# --- writing --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_good_file_creates_exchange_pair_and_candles():
    result = candles_import(source=csv_bytes(good_lines(10)), **PAIR, interval="1m")
    assert (result.rows, result.inserted, result.skipped, result.replaced) == (10, 10, 0, 0)
    assert result.exchange_created and result.pair_created
    assert str(result.pair) == "upbit/KRW/BTC"
    rows = stored()
    assert len(rows) == 10
    assert rows[0] == (T0, 100.0, 102.0, 99.0, 100.5, 1.0)
    again = candles_import(source=csv_bytes(good_lines(10)), **PAIR, interval="1m")
    assert not again.exchange_created and not again.pair_created
    assert (again.inserted, again.skipped) == (0, 10)


@pytest.mark.django_db
def test_one_bad_row_writes_nothing():
    lines = good_lines(100)
    lines[98] = lines[98].rsplit(",", 1)[0] + ",-5"
    with pytest.raises(ImportRejected) as info:
        candles_import(source=csv_bytes(lines), **PAIR, interval="1m")
    assert [(e.line, e.column) for e in info.value.errors] == [(100, "v")]
    assert not Candle.objects.exists()
    assert not Pair.objects.exists() and not Exchange.objects.exists()


@pytest.mark.django_db
def test_skip_keeps_stored_candles_and_replace_overwrites_them():
    candles_import(source=csv_bytes(good_lines(10)), **PAIR, interval="1m")
    five_minutes = csv_bytes(good_lines(3, step=timedelta(minutes=5)))
    candles_import(source=five_minutes, **PAIR, interval="5m")
    # Minutes 5..14: 5 already stored, 5 new; every price doubled.
    doubled = [
        f"{iso(T0 + timedelta(minutes=i))},{200 + i},{220 + i},{190 + i},{210 + i},7"
        for i in range(5, 15)
    ]

    skip = candles_import(source=csv_bytes(doubled), **PAIR, interval="1m", mode="skip")
    assert (skip.inserted, skip.skipped, skip.replaced) == (5, 5, 0)
    rows = {row[0]: row[1:] for row in stored()}
    assert len(rows) == 15
    assert rows[T0 + timedelta(minutes=5)] == (105.0, 107.0, 104.0, 105.5, 3.0)  # kept
    assert rows[T0 + timedelta(minutes=12)] == (212.0, 232.0, 202.0, 222.0, 7.0)  # new

    replace = candles_import(source=csv_bytes(doubled), **PAIR, interval="1m", mode="replace")
    assert (replace.inserted, replace.skipped, replace.replaced) == (0, 0, 10)
    rows = {row[0]: row[1:] for row in stored()}
    assert len(rows) == 15
    assert rows[T0 + timedelta(minutes=5)] == (205.0, 225.0, 195.0, 215.0, 7.0)  # replaced
    assert rows[T0 + timedelta(minutes=4)] == (104.0, 106.0, 103.0, 104.5, 2.0)  # outside the file
    assert len(stored("5m")) == 3  # other intervals untouched


@pytest.mark.django_db
def test_replace_leaves_stored_times_between_the_files_times_alone():
    candles_import(source=csv_bytes(good_lines(10)), **PAIR, interval="1m")
    sparse = [f"{iso(T0 + timedelta(minutes=i))},1,2,0.5,1.5,3" for i in (0, 9, 20)]
    result = candles_import(source=csv_bytes(sparse), **PAIR, interval="1m", mode="replace")
    assert (result.inserted, result.replaced) == (1, 2)
    rows = {row[0]: row[1:] for row in stored()}
    assert len(rows) == 11
    assert rows[T0][0] == 1.0 and rows[T0 + timedelta(minutes=9)][0] == 1.0
    assert rows[T0 + timedelta(minutes=5)][0] == 105.0


@pytest.mark.django_db
def test_a_conflicting_concurrent_write_rolls_everything_back(monkeypatch):
    candles_import(source=csv_bytes(good_lines(1)), **PAIR, interval="1m")
    # As if another writer stored minute 0 after the importer looked for stored rows.
    monkeypatch.setattr(services, "_stored_candle_ids", lambda **kwargs: {})
    with pytest.raises(ImportRejected) as info:
        candles_import(
            source=csv_bytes(good_lines(5)),
            exchange="upbit",
            market="KRW",
            asset="BTC",
            interval="1m",
        )
    assert (
        info.value.errors[0].reason
        == "another process stored candles for this pair meanwhile; try again"
    )
    assert len(stored()) == 1


@pytest.mark.django_db
def test_bad_arguments():
    data = csv_bytes(good_lines(1))
    with pytest.raises(ValueError, match="unknown interval"):
        candles_import(source=data, **PAIR, interval="7m")
    with pytest.raises(ValueError, match="mode"):
        candles_import(source=data, **PAIR, interval="1m", mode="merge")
    with pytest.raises(ValueError, match="may contain only"):
        candles_import(source=data, exchange="up/bit", market="KRW", asset="BTC", interval="1m")


@pytest.mark.django_db
def test_a_100k_row_file_is_imported_in_batches_that_grow_linearly():
    # Not a speed target (the runner owns those): a large file is stored whole, and ten
    # times the rows take at most ten times the statements (bulk batches, no per-row query).
    def counted_import(count: int, asset: str) -> int:
        data = csv_bytes(good_lines(count, fmt=millis))
        with CaptureQueriesContext(connection) as queries:
            result = candles_import(source=data, **{**PAIR, "asset": asset}, interval="1m")
        assert result.inserted == count
        return len(queries)

    small, large = counted_import(10_000, "ETH"), counted_import(100_000, "BTC")
    assert Candle.objects.filter(pair__asset="BTC").count() == 100_000
    print(f"\n10k rows: {small} statements, 100k rows: {large}")
    assert large <= 10 * small
    assert large < 100_000 / 100  # batches, not rows


# --- the command ----------------------------------------------------------------------


def run_command(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_candles", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


PAIR_ARGS = ("--exchange", "upbit", "--market", "KRW", "--asset", "BTC")


@pytest.mark.django_db
def test_command_imports_and_reports(tmp_path: Path):
    path = tmp_path / "candles.csv"
    path.write_bytes(csv_bytes(good_lines(20)))
    out, err = run_command(str(path), *PAIR_ARGS, "--interval", "1m")
    assert err == ""
    assert "Created exchange upbit." in out
    assert "Created pair upbit/KRW/BTC." in out
    assert (
        f"Imported 20 rows from {path} into upbit/KRW/BTC 1m: 20 inserted, 0 skipped, 0 replaced."
        in out
    )
    assert len(stored()) == 20

    path.write_bytes(csv_bytes([f"{iso(T0)},1,2,0.5,1.5,3"]))
    out, _ = run_command(str(path), *PAIR_ARGS, "--interval", "1m")
    assert "Created" not in out and "0 inserted, 1 skipped, 0 replaced" in out
    out, _ = run_command(str(path), *PAIR_ARGS, "--interval", "1m", "--replace")
    assert "0 inserted, 0 skipped, 1 replaced" in out
    assert stored()[0][1] == 1.0


@pytest.mark.django_db
def test_command_rejects_a_bad_file_with_every_problem(tmp_path: Path):
    path = tmp_path / "bad.csv"
    lines = good_lines(5)
    lines[1] = lines[1].rsplit(",", 1)[0] + ",-1"
    lines[3] = "2023-08-23T00:03:30Z" + lines[3][20:]
    path.write_bytes(csv_bytes(lines))
    err = io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command(
            "import_candles",
            str(path),
            *PAIR_ARGS,
            "--interval",
            "1m",
            stdout=io.StringIO(),
            stderr=err,
        )
    assert info.value.returncode == 1
    assert str(info.value) == f"{path} was rejected: 2 problems found; nothing was imported"
    assert err.getvalue().splitlines() == [
        "line 3, column v: volume -1 is negative; it must be >= 0",
        "line 5, column basetm: '2023-08-23T00:03:30Z' is not on a 1m boundary "
        "(the candle containing it starts at 2023-08-23T00:03:00Z)",
    ]
    assert not Candle.objects.exists() and not Pair.objects.exists()


@pytest.mark.django_db
def test_command_max_bytes_missing_file_and_bad_names(tmp_path: Path):
    path = tmp_path / "candles.csv"
    path.write_bytes(csv_bytes(good_lines(20)))
    with pytest.raises(CommandError, match="rejected"):
        run_command(str(path), *PAIR_ARGS, "--interval", "1m", "--max-bytes", "100")
    with pytest.raises(CommandError, match=r"cannot read .*missing\.csv: No such file"):
        run_command(str(tmp_path / "missing.csv"), *PAIR_ARGS, "--interval", "1m")
    with pytest.raises(CommandError, match="exchange 'a b' may contain only"):
        run_command(
            str(path), "--exchange", "a b", "--market", "KRW", "--asset", "BTC", "--interval", "1m"
        )
    with pytest.raises(CommandError, match="invalid choice: '2m'"):
        run_command(str(path), *PAIR_ARGS, "--interval", "2m")
    assert not Candle.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("max_bytes", ["0", "-5"])
def test_command_refuses_a_size_limit_that_is_not_positive(tmp_path: Path, max_bytes: str):
    path = tmp_path / "candles.csv"
    path.write_bytes(csv_bytes(good_lines(2)))
    with pytest.raises(CommandError, match=r"^--max-bytes must be a positive number of bytes$"):
        run_command(str(path), *PAIR_ARGS, "--interval", "1m", "--max-bytes", max_bytes)
    assert not Candle.objects.exists()


@pytest.mark.django_db
def test_command_reads_standard_input(monkeypatch):
    fake_stdin = io.TextIOWrapper(io.BytesIO(csv_bytes(good_lines(4))))
    monkeypatch.setattr(sys, "stdin", fake_stdin)
    out, _ = run_command("-", *PAIR_ARGS, "--interval", "1m")
    assert "Imported 4 rows from - into upbit/KRW/BTC 1m: 4 inserted" in out
    assert len(stored()) == 4
