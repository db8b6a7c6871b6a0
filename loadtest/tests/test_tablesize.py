"""loadtest.inprocess.tablesize: its arithmetic, its arguments, its exit code, and a tiny run on
throwaway SQLite files."""

import json
import os
import subprocess
import sys

import pytest

from candles.api.params import MAX_LIMIT
from candles.random_walk import DEFAULT_PAIRS
from loadtest.cli import EXIT_FAILED, CheckError
from loadtest.inprocess import tablesize
from loadtest.serving.database import engine_of, with_database
from loadtest.serving.servers import PROJECT_ROOT as PROJECT

SHAPE = tablesize.seed_shape()


def test_seed_count_makes_the_table_the_requested_size():
    # 3 pairs x (1m + 5m + 15m + 1h + 4h + 1d) per generated minute, read from candles.
    assert SHAPE.pairs == len(DEFAULT_PAIRS) == 3 and SHAPE.max_limit == MAX_LIMIT
    assert SHAPE.rows_per_minute == pytest.approx(1 + 1 / 5 + 1 / 15 + 1 / 60 + 1 / 240 + 1 / 1440)
    count = tablesize.minutes_for(5_000_000, 1000, SHAPE)
    assert 3 * count * SHAPE.rows_per_minute == pytest.approx(5_000_000, rel=1e-5)
    assert tablesize.minutes_for(10_000, 1000, SHAPE) == 2588
    # The request pair always holds a full page of 1m candles.
    assert tablesize.minutes_for(100, 1000, SHAPE) == 1000
    with pytest.raises(ValueError):
        tablesize.minutes_for(0, 1000, SHAPE)


def test_verdict_within_20_percent():
    v = tablesize.compare_table_sizes({"raw": 2.0, "drf": 20.0}, {"raw": 2.3, "drf": 18.0})
    assert v.ratios == {"raw": pytest.approx(1.15), "drf": pytest.approx(0.9)}
    assert v.within and v.text().startswith("within 20%: worst big/small ratio 1.15")
    v = tablesize.compare_table_sizes({"raw": 2.0}, {"raw": 2.5})
    assert not v.within and v.text().startswith("NOT within 20%")
    with pytest.raises(ValueError):
        tablesize.compare_table_sizes({"raw": 1.0}, {"drf": 1.0})


def test_a_verdict_on_too_little_data_says_so():
    steady = {"same:raw": [2.0, 2.0, 2.0]}
    assert tablesize.too_little_data(steady, {"same:raw": [2.1, 2.2, 2.0]}) == ""
    assert tablesize.too_little_data({"same:raw": [2.0]}, {"same:raw": [2.1]}).startswith(
        "only 1 round(s)"
    )
    # Rounds on both sides of the 20% line: the median's side is the noise's choice.
    doubt = tablesize.too_little_data(steady, {"same:raw": [2.1, 2.6, 2.2]})
    assert doubt.startswith("rounds disagree about the 20% line") and "same:raw 1.05..1.30" in doubt
    # All rounds beyond it: a clear verdict, not a doubtful one.
    assert tablesize.too_little_data(steady, {"same:raw": [2.6, 2.7, 2.8]}) == ""


def test_engine_and_database_names():
    assert engine_of("") == "sqlite" and engine_of(None) == "sqlite"
    assert engine_of("sqlite:////tmp/x.sqlite3") == "sqlite"
    assert engine_of("postgres://postgres@127.0.0.1:5432/candlebench") == "postgresql"
    assert engine_of("postgresql://u:p@h/db") == "postgresql"
    with pytest.raises(ValueError):
        engine_of("mysql://h/db")
    assert (
        with_database(
            "postgres://postgres:pw@127.0.0.1:5432/candlebench?sslmode=disable",
            "candlebench_tbl_big",
        )
        == "postgres://postgres:pw@127.0.0.1:5432/candlebench_tbl_big?sslmode=disable"
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--small", "5000", "--big", "5000"], "--small must be smaller than --big"),
        (["--small", "0"], "must be positive"),
        (["--limit", "2000"], f"--limit must be within 1..{MAX_LIMIT}"),
        (["--rounds", "0"], "--rounds must be >= 1"),
        (["--min-time", "0"], "--min-time > 0"),
        (
            ["--json", "/proc/forbidden/t.json"],
            "--json /proc/forbidden/t.json: its folder cannot be created",
        ),
    ],
)
def test_bad_arguments_are_refused(argv, message):
    with pytest.raises(CheckError, match=message):
        tablesize.check_args(tablesize.build_parser().parse_args(argv), MAX_LIMIT)


def test_defaults():
    args = tablesize.build_parser().parse_args([])
    assert (args.big, args.small, args.limit, args.modes) == (
        5_000_000,
        10_000,
        1000,
        ["raw", "drf"],
    )


def test_a_tiny_run_on_sqlite(tmp_path):
    """Always on throwaway SQLite files, whatever DATABASE_URL the tests run with."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_DEBUG")}
    out = tmp_path / "tablesize.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "loadtest.inprocess.tablesize",
            "--big",
            "3000",
            "--small",
            "1500",
            "--limit",
            "100",
            "--rounds",
            "1",
            "--min-time",
            "0.05",
            "--json",
            str(out),
        ],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    data = json.loads(out.read_text())
    # One round is too little data for a verdict: it says so, and exits 1 whatever the ratios.
    assert result.returncode == EXIT_FAILED, result.stdout[-3000:] + result.stderr[-3000:]
    assert "INCONCLUSIVE: only 1 round(s); at least 3" in result.stdout
    assert data["inconclusive"].startswith("only 1 round(s)")
    assert "small table: 1,494 candles; big table: 2,994 candles" in result.stdout
    assert "verdict (same):" in result.stdout
    assert data["engine"] == "sqlite" and data["tables"] == {"small": 1494, "big": 2994}
    assert set(data["ratios"]) == {"same:raw", "same:drf"}
    assert all(r > 0 for r in data["ratios"].values())
    assert data["within"] == all(r <= 1.2 for r in data["ratios"].values())


def test_a_verdict_not_within_exits_1(tmp_path, monkeypatch):
    """The command's exit code is its verdict's, as spike's and soak's are."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("DJANGO_DEBUG", raising=False)

    def not_within(small_ms, big_ms, tolerance=tablesize.TOLERANCE):
        return tablesize.TableSizeVerdict(dict.fromkeys(small_ms, 1 + 2 * tolerance), within=False)

    monkeypatch.setattr(tablesize, "compare_table_sizes", not_within)
    code = tablesize.main(
        [
            "--big",
            "3000",
            "--small",
            "1500",
            "--limit",
            "100",
            "--rounds",
            "1",
            "--min-time",
            "0.02",
            "--modes",
            "raw",
        ]
    )
    assert code == EXIT_FAILED
