"""The CSV importer (candles/importer.py) and `manage.py import_candles`."""

import io
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from candles import importer
from candles.importer import (
    HEADER,
    MAX_REPORTED_ERRORS,
    ImportRejected,
    RowError,
    check_symbol,
    import_candles,
    parse_candles,
)
from candles.models import Candle, Exchange, Pair

T0 = datetime(2023, 8, 23, tzinfo=UTC)
PAIR = {"exchange": "upbit", "market": "KRW", "asset": "BTC"}


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def millis(moment: datetime) -> str:
    return str(int(moment.timestamp()) * 1000)


def good_lines(
    count: int, start: datetime = T0, step: timedelta = timedelta(minutes=1), fmt=iso
) -> list[str]:
    lines = []
    for i in range(count):
        o = 100.0 + i % 7
        lines.append(f"{fmt(start + i * step)},{o},{o + 2},{o - 1},{o + 0.5},{1 + i % 3}")
    return lines


def csv_bytes(lines: list[str], header: str = HEADER, newline: str = "\n") -> bytes:
    return newline.join([header, *lines]).encode() + newline.encode()


def rejected(data: bytes, interval: str = "1m") -> ImportRejected:
    with pytest.raises(ImportRejected) as info:
        parse_candles(data, interval)
    return info.value


def only_error(data: bytes, interval: str = "1m") -> RowError:
    exc = rejected(data, interval)
    assert exc.total == 1, exc.lines()
    return exc.errors[0]


def stored(interval: str = "1m") -> list[tuple]:
    return list(
        Candle.objects.filter(
            pair__exchange__name="upbit", pair__market="KRW", pair__asset="BTC", interval=interval
        )
        .order_by("basetm")
        .values_list("basetm", "o", "h", "l", "c", "v")
    )


# --- parsing: times -----------------------------------------------------------------


def test_iso_and_epoch_milliseconds_give_the_same_rows():
    from_iso = parse_candles(csv_bytes(good_lines(5)), "1m")
    from_epoch = parse_candles(csv_bytes(good_lines(5, fmt=millis)), "1m")
    assert from_iso == from_epoch
    assert from_iso[0] == (T0, 100.0, 102.0, 99.0, 100.5, 1.0)
    assert [row[0] for row in from_iso] == [T0 + timedelta(minutes=i) for i in range(5)]
    assert all(row[0].tzinfo is UTC for row in from_iso)


@pytest.mark.parametrize(
    "cell",
    [
        "2023-08-23T00:00:00Z",
        "2023-08-23T00:00:00+00:00",
        "2023-08-23T09:00:00+09:00",
        "2023-08-22T19:00:00-05:00",
        "2023-08-23 00:00:00",  # naive: UTC
        "2023-08-23T00:00",
        "1692748800000",
    ],
)
def test_time_formats(cell):
    rows = parse_candles(csv_bytes([f"{cell},1,2,0.5,1.5,3"]), "1m")
    assert rows[0][0] == T0


@pytest.mark.parametrize(
    "cell,interval,expected",
    [
        (
            "2023-08-23T00:00:30Z",
            "1m",
            "is not on a 1m boundary (the candle containing it starts at 2023-08-23T00:00:00Z)",
        ),
        ("2023-08-23T00:00:00.5Z", "1m", "is not on a 1m boundary"),
        ("2023-08-23T00:07:00Z", "5m", "the candle containing it starts at 2023-08-23T00:05:00Z"),
        ("2023-08-23T13:00:00Z", "4h", "the candle containing it starts at 2023-08-23T12:00:00Z"),
        # Midnight in Seoul is not midnight UTC: 1d candles are UTC days.
        (
            "2023-08-23T00:00:00+09:00",
            "1d",
            "the candle containing it starts at 2023-08-22T00:00:00Z",
        ),
        ("1692748830000", "1m", "2023-08-23T00:00:30Z (1692748830000 ms) is not on a 1m boundary"),
        ("1692748800", "1m", "this looks like seconds"),
    ],
)
def test_unaligned_times_are_refused_with_the_candle_start(cell, interval, expected):
    error = only_error(csv_bytes([f"{cell},1,2,0.5,1.5,3"]), interval)
    assert (error.line, error.column) == (2, "basetm")
    assert expected in error.reason


@pytest.mark.parametrize(
    "cell,expected",
    [
        ("", "the time is missing"),
        ("yesterday", "is not an ISO 8601 time"),
        ("2023-13-01T00:00:00Z", "is not an ISO 8601 time"),
        (
            "1692748800000.0",
            "is not an ISO 8601 time (e.g. 2023-08-23T00:00:00Z) or integer epoch milliseconds",
        ),
        ("=NOW()", "looks like a spreadsheet formula"),
        ("999999999999999999", "out of range"),
        ("0001-01-01T00:00:00+01:00", "out of range"),
    ],
)
def test_bad_times(cell, expected):
    error = only_error(csv_bytes([f"{cell},1,2,0.5,1.5,3"]))
    assert (error.line, error.column) == (2, "basetm")
    assert expected in error.reason


def test_duplicate_times_are_refused_even_when_written_differently():
    lines = good_lines(3) + [
        "2023-08-23T09:01:00+09:00,1,2,0.5,1.5,3",
        millis(T0) + ",1,2,0.5,1.5,3",
    ]
    exc = rejected(csv_bytes(lines))
    assert [(e.line, e.column) for e in exc.errors] == [(5, "basetm"), (6, "basetm")]
    assert (
        exc.errors[0].reason == "2023-08-23T00:01:00Z is also on line 3; each time may appear once"
    )
    assert "also on line 2" in exc.errors[1].reason


def test_rows_need_not_be_in_time_order():
    lines = list(reversed(good_lines(4)))
    assert [row[0] for row in parse_candles(csv_bytes(lines), "1m")] == [
        T0 + timedelta(minutes=i) for i in (3, 2, 1, 0)
    ]


# --- parsing: numbers and OHLC rules --------------------------------------------------


@pytest.mark.parametrize(
    "cells,column,expected",
    [
        ("abc,2,0.5,1.5,3", "o", "'abc' is not a number"),
        (",2,0.5,1.5,3", "o", "the value is missing"),
        ("1,2,0.5,1.5,nan", "v", "NaN is not allowed"),
        ("1,2,0.5,1.5,NaN", "v", "NaN is not allowed"),
        ("1,inf,0.5,1.5,3", "h", "infinity is not allowed"),
        ("1,-Infinity,0.5,1.5,3", "h", "infinity is not allowed"),
        ("1,1e999,0.5,1.5,3", "h", "too large to be a finite number"),
        ("1,2,0.5,=SUM(A1:A3),3", "c", "looks like a spreadsheet formula"),
        ("1,2,@cmd,1.5,3", "l", "looks like a spreadsheet formula"),
        ('"1,000",2,0.5,1.5,3', "o", "use '.' as the decimal point"),
        ("1_000,2,0.5,1.5,3", "o", "is not a number"),
        ("0x10,2,0.5,1.5,3", "o", "is not a number"),
        ("1,2,0.5,1.5,-0.1", "v", "volume -0.1 is negative; it must be >= 0"),
        ("100,110,100.5,105,1", "l", "low 100.5 is above min(open, close) = 100"),
        ("100,104,90,105,1", "h", "high 104 is below max(open, close) = 105"),
        ("100,99,90,95,1", "h", "high 99 is below max(open, close) = 100"),
        (
            "35000000.12,35000001,35000000.5,35000000.9,1",
            "l",
            "low 35000000.5 is above min(open, close) = 35000000.12",
        ),
    ],
)
def test_value_rules(cells, column, expected):
    error = only_error(csv_bytes([f"{iso(T0)},{cells}"]))
    assert (error.line, error.column) == (2, column)
    assert expected in error.reason


def test_boundaries_of_the_ohlc_rules_are_allowed():
    # A flat candle (l == min(o, c), h == max(o, c), v == 0) and a falling one whose low
    # is below the close: both valid.
    lines = [f"{iso(T0)},5,5,5,5,0", f"{iso(T0 + timedelta(minutes=1))},100,110,90,95,0.0"]
    rows = parse_candles(csv_bytes(lines), "1m")
    assert [row[1:] for row in rows] == [(5.0, 5.0, 5.0, 5.0, 0.0), (100.0, 110.0, 90.0, 95.0, 0.0)]


def test_number_notations_and_negative_zero():
    rows = parse_candles(csv_bytes([f"{iso(T0)}, +1.5e2 ,.2e3,1.5E+2,150.,-0.0"]), "1m")
    assert rows[0][1:] == (150.0, 200.0, 150.0, 150.0, 0.0)
    assert str(rows[0][5]) == "0.0"  # not -0.0


def test_one_row_can_have_several_problems():
    exc = rejected(csv_bytes(["2023-08-23T00:00:30Z,x,2,5,1,-1"]))
    assert [(e.line, e.column) for e in exc.errors] == [(2, "basetm"), (2, "o")]
    # With o unparseable the OHLC relations are not checked, but v is: it parsed.
    exc = rejected(csv_bytes([f"{iso(T0)},1,0.5,5,1,-1"]))
    assert [e.column for e in exc.errors] == ["l", "h", "v"]


def test_wrong_number_of_values():
    exc = rejected(
        csv_bytes(
            [f"{iso(T0)},1,2,0.5,1.5", f"{iso(T0 + timedelta(minutes=1))},1,2,0.5,1.5,3,", "x"]
        )
    )
    assert [(e.line, e.column) for e in exc.errors] == [(2, ""), (3, ""), (4, "")]
    assert exc.errors[0].reason == "expected 6 values (basetm,o,h,l,c,v), found 5"
    assert exc.errors[1].reason.endswith("remove the trailing comma(s)")


def test_every_row_is_checked_and_the_first_50_are_kept():
    lines = good_lines(200)
    bad = list(range(10, 130))  # 120 bad rows
    for i in bad:
        lines[i] = lines[i].rsplit(",", 1)[0] + ",-1"
    exc = rejected(csv_bytes(lines))
    assert exc.total == 120
    assert len(exc.errors) == MAX_REPORTED_ERRORS
    assert exc.more == 70
    assert [e.line for e in exc.errors] == [i + 2 for i in bad[:MAX_REPORTED_ERRORS]]
    assert exc.summary == "120 problems found; nothing was imported"
    assert exc.lines()[-1] == "... and 70 more not shown"
    assert exc.lines()[0] == "line 12, column v: volume -1 is negative; it must be >= 0"


# --- parsing: header and file-level problems -----------------------------------------


def test_header_columns_may_come_in_any_order_and_case():
    data = csv_bytes([f"1,2,{iso(T0)},0.5,1.5,3"], header=" O , H ,BaseTm,l,c,v")
    assert parse_candles(data, "1m") == [(T0, 1.0, 2.0, 0.5, 1.5, 3.0)]


@pytest.mark.parametrize(
    "header,expected",
    [
        ("basetm,o,h,l,c", "missing v"),
        ("time,open,high,low,close,volume", "missing basetm, o, h, l, c, v"),
        ("basetm,o,h,l,c,v,note", "unknown column(s) 'note'"),
        ("basetm,o,h,l,c,v,v", "repeated column(s) v"),
        ("basetm;o;h;l;c;v", "is not comma separated; use commas"),
        ("basetm\to\th\tl\tc\tv", "is not comma separated"),
    ],
)
def test_bad_headers(header, expected):
    error = only_error(csv_bytes(good_lines(2), header=header))
    assert (error.line, error.column) == (1, "")
    assert expected in error.reason


def test_data_without_a_header_is_refused():
    error = only_error("\n".join(good_lines(2)).encode())
    assert error.line == 1
    assert (
        "the first line must be the header basetm,o,h,l,c,v; found '2023-08-23T00:00:00Z,100.0"
        in error.reason
    )


@pytest.mark.parametrize(
    "data,expected",
    [
        (b"", "the file is empty"),
        (b" \r\n\n  \n", "the file is empty"),
        (HEADER.encode() + b"\n", "the file has a header but no candle rows"),
        (HEADER.encode() + b"\n\n\n", "the file has a header but no candle rows"),
        (b"\xff\xfe" + "basetm".encode("utf-16-le"), "UTF-16"),
        (b"PK\x03\x04\x14\x00\x06\x00", "Excel workbook"),
    ],
)
def test_file_level_problems(data, expected):
    error = only_error(data)
    assert error.line is None
    assert expected in error.reason


def test_non_utf8_bytes_are_located():
    lines = good_lines(3)
    data = csv_bytes(lines[:2]) + "café,1,2,0.5,1.5,3\n".encode("latin-1")
    error = only_error(data)
    assert error.line == 4
    assert error.reason == "byte 0xe9 is not valid UTF-8; save the file as UTF-8 CSV"


def test_nul_bytes_are_refused_as_binary():
    error = only_error(csv_bytes(good_lines(2)) + b"\x00\x01\x02")
    assert error.line == 4
    assert "NUL bytes" in error.reason


def test_a_utf8_byte_order_mark_is_accepted():
    data = b"\xef\xbb\xbf" + csv_bytes(good_lines(3), newline="\r\n")
    assert len(parse_candles(data, "1m")) == 3


def test_line_endings_and_blank_lines():
    lines = good_lines(3)
    for newline in ("\n", "\r\n", "\r"):
        data = newline.join([HEADER, "", lines[0], "  ", lines[1], lines[2]]).encode()
        assert len(parse_candles(data, "1m")) == 3, repr(newline)


def test_very_long_lines_are_refused_without_parsing_them():
    lines = good_lines(3)
    lines[1] = lines[1] + "9" * 5_000_000
    error = only_error(csv_bytes(lines))
    assert (error.line, error.column) == (3, "")
    assert error.reason == "the line is longer than 1000 characters; this is not a candle row"


def test_broken_quotes_are_reported():
    error = only_error(
        csv_bytes(good_lines(1) + [f'"{iso(T0 + timedelta(minutes=1))}"x,1,2,0.5,1.5,3'])
    )
    assert error.line == 3
    assert "malformed CSV" in error.reason


def test_quoted_cells_and_spaces_are_fine():
    rows = parse_candles(csv_bytes([f' "{iso(T0)}", "1",2, 0.5,1.5 ,3']), "1m")
    assert rows == [(T0, 1.0, 2.0, 0.5, 1.5, 3.0)]


def test_hostile_cells_are_shown_safely_and_cut():
    exc = rejected(csv_bytes([f"{iso(T0)},\x1b[31m{'A' * 100},2,0.5,1.5,3"]))
    reason = exc.errors[0].reason
    assert "\\x1b" in reason and "\x1b" not in reason
    assert len(reason) < 100


@pytest.mark.django_db
def test_size_limit():
    data = csv_bytes(good_lines(100))
    with pytest.raises(ImportRejected) as info:
        import_candles(io.BytesIO(data), **PAIR, interval="1m", max_bytes=len(data) - 1)
    assert info.value.errors[0].reason.startswith("the file is larger than the")
    assert not Candle.objects.exists()
    result = import_candles(io.BytesIO(data), **PAIR, interval="1m", max_bytes=len(data))
    assert result.inserted == 100


@pytest.mark.django_db
@override_settings(CANDLES_UPLOAD_MAX_BYTES=1024)
def test_size_limit_defaults_to_the_setting():
    data = csv_bytes(good_lines(50))
    assert len(data) > 1024
    with pytest.raises(ImportRejected, match="1 problem found"):
        import_candles(data, **PAIR, interval="1m")
    with pytest.raises(ImportRejected) as info:
        import_candles(data, **PAIR, interval="1m")
    assert "1.0\xa0KB limit" in info.value.errors[0].reason


@pytest.mark.parametrize("name", ["", "   ", "a/b", "BTC?x", "-x", "é"])
def test_symbols_must_be_url_safe(name):
    with pytest.raises(ValueError):
        check_symbol("asset", name, 32)


def test_symbols_are_stripped_and_length_checked():
    assert check_symbol("asset", " BTC-PERP_1.0 ", 32) == "BTC-PERP_1.0"
    with pytest.raises(ValueError, match="longer than 3"):
        check_symbol("asset", "ABCD", 3)


def test_unknown_interval_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown interval"):
        parse_candles(csv_bytes(good_lines(1)), "2m")


# --- writing --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_good_file_creates_exchange_pair_and_candles():
    result = import_candles(csv_bytes(good_lines(10)), **PAIR, interval="1m")
    assert (result.rows, result.inserted, result.skipped, result.replaced) == (10, 10, 0, 0)
    assert result.exchange_created and result.pair_created
    assert str(result.pair) == "upbit/KRW/BTC"
    rows = stored()
    assert len(rows) == 10
    assert rows[0] == (T0, 100.0, 102.0, 99.0, 100.5, 1.0)
    again = import_candles(csv_bytes(good_lines(10)), **PAIR, interval="1m")
    assert not again.exchange_created and not again.pair_created
    assert (again.inserted, again.skipped) == (0, 10)


@pytest.mark.django_db
def test_one_bad_row_writes_nothing():
    lines = good_lines(100)
    lines[98] = lines[98].rsplit(",", 1)[0] + ",-5"
    with pytest.raises(ImportRejected) as info:
        import_candles(csv_bytes(lines), **PAIR, interval="1m")
    assert [(e.line, e.column) for e in info.value.errors] == [(100, "v")]
    assert not Candle.objects.exists()
    assert not Pair.objects.exists() and not Exchange.objects.exists()


@pytest.mark.django_db
def test_skip_keeps_stored_candles_and_replace_overwrites_them():
    import_candles(csv_bytes(good_lines(10)), **PAIR, interval="1m")
    import_candles(csv_bytes(good_lines(3, step=timedelta(minutes=5))), **PAIR, interval="5m")
    # Minutes 5..14: 5 already stored, 5 new; every price doubled.
    doubled = [
        f"{iso(T0 + timedelta(minutes=i))},{200 + i},{220 + i},{190 + i},{210 + i},7"
        for i in range(5, 15)
    ]

    skip = import_candles(csv_bytes(doubled), **PAIR, interval="1m", mode="skip")
    assert (skip.inserted, skip.skipped, skip.replaced) == (5, 5, 0)
    rows = {row[0]: row[1:] for row in stored()}
    assert len(rows) == 15
    assert rows[T0 + timedelta(minutes=5)] == (105.0, 107.0, 104.0, 105.5, 3.0)  # kept
    assert rows[T0 + timedelta(minutes=12)] == (212.0, 232.0, 202.0, 222.0, 7.0)  # new

    replace = import_candles(csv_bytes(doubled), **PAIR, interval="1m", mode="replace")
    assert (replace.inserted, replace.skipped, replace.replaced) == (0, 0, 10)
    rows = {row[0]: row[1:] for row in stored()}
    assert len(rows) == 15
    assert rows[T0 + timedelta(minutes=5)] == (205.0, 225.0, 195.0, 215.0, 7.0)  # replaced
    assert rows[T0 + timedelta(minutes=4)] == (104.0, 106.0, 103.0, 104.5, 2.0)  # outside the file
    assert len(stored("5m")) == 3  # other intervals untouched


@pytest.mark.django_db
def test_replace_leaves_stored_times_between_the_files_times_alone():
    import_candles(csv_bytes(good_lines(10)), **PAIR, interval="1m")
    sparse = [f"{iso(T0 + timedelta(minutes=i))},1,2,0.5,1.5,3" for i in (0, 9, 20)]
    result = import_candles(csv_bytes(sparse), **PAIR, interval="1m", mode="replace")
    assert (result.inserted, result.replaced) == (1, 2)
    rows = {row[0]: row[1:] for row in stored()}
    assert len(rows) == 11
    assert rows[T0][0] == 1.0 and rows[T0 + timedelta(minutes=9)][0] == 1.0
    assert rows[T0 + timedelta(minutes=5)][0] == 105.0


@pytest.mark.django_db
def test_a_conflicting_concurrent_write_rolls_everything_back(monkeypatch):
    import_candles(csv_bytes(good_lines(1)), **PAIR, interval="1m")
    # As if another writer stored minute 0 after the importer looked for stored rows.
    monkeypatch.setattr(importer, "_existing", lambda *args: {})
    with pytest.raises(ImportRejected) as info:
        import_candles(
            csv_bytes(good_lines(5)), exchange="upbit", market="KRW", asset="BTC", interval="1m"
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
        import_candles(data, **PAIR, interval="7m")
    with pytest.raises(ValueError, match="mode"):
        import_candles(data, **PAIR, interval="1m", mode="merge")
    with pytest.raises(ValueError, match="may contain only"):
        import_candles(data, exchange="up/bit", market="KRW", asset="BTC", interval="1m")


@pytest.mark.django_db
def test_100k_rows_import_in_reasonable_time():
    count = 100_000
    data = csv_bytes(good_lines(count, fmt=millis))
    started = time.perf_counter()
    result = import_candles(data, **PAIR, interval="1m")
    elapsed = time.perf_counter() - started
    print(f"\n100k-row import ({len(data) / 1e6:.1f} MB): {elapsed:.2f} s")
    assert result.inserted == count
    assert Candle.objects.count() == count
    # A sanity guard against accidental quadratic work, not a speed target.
    assert elapsed < 30


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
    with pytest.raises(CommandError, match="cannot read .*missing.csv: No such file"):
        run_command(str(tmp_path / "missing.csv"), *PAIR_ARGS, "--interval", "1m")
    with pytest.raises(CommandError, match="exchange 'a b' may contain only"):
        run_command(
            str(path), "--exchange", "a b", "--market", "KRW", "--asset", "BTC", "--interval", "1m"
        )
    with pytest.raises(CommandError, match="invalid choice: '2m'"):
        run_command(str(path), *PAIR_ARGS, "--interval", "2m")
    assert not Candle.objects.exists()


@pytest.mark.django_db
def test_command_reads_standard_input(monkeypatch):
    fake_stdin = io.TextIOWrapper(io.BytesIO(csv_bytes(good_lines(4))))
    monkeypatch.setattr(sys, "stdin", fake_stdin)
    out, _ = run_command("-", *PAIR_ARGS, "--interval", "1m")
    assert "Imported 4 rows from - into upbit/KRW/BTC 1m: 4 inserted" in out
    assert len(stored()) == 4
