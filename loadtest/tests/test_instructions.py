"""Instructions per request: the fit, the table, the JSON, and that two counts agree.

The counting tests run valgrind (Debian's `valgrind`; .ci/run installs it). Where it is
missing they are skipped, saying why; with CANDLEBENCH_REQUIRE_TOOLS=1 (CI) that is an error.
"""

import json
import os
import re
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from loadtest.inprocess import micro
from loadtest.inprocess.callgrind import ClientRequests
from loadtest.inprocess.instructions import (
    BASELINE,
    count_in_this_process,
    dump_name,
    instruction_ladder,
    per_request,
    unavailable_reason,
)
from loadtest.report.ladder import Ladder, fit_instructions, ladder_markdown
from loadtest.tests.live_servers import server_env

PROJECT = Path(__file__).resolve().parents[2]


def ladder(database: str = "sqlite") -> Ladder:
    counts = {
        "drf": {
            1: 5_000_000 + 200_000,
            100: 5_000_000 + 200_000 * 100,
            1000: 5_000_000 + 200_000 * 1000,
        },
        "raw": {
            1: 4_000_000 + 20_000,
            100: 4_000_000 + 20_000 * 100,
            1000: 4_000_000 + 20_000 * 1000,
        },
    }
    return Ladder(
        counts=counts,
        fits={m: fit_instructions(by) for m, by in counts.items()},
        base="drf",
        database=database,
        seconds=1.0,
        calls={1: 6, 100: 2, 1000: 1},
    )


def test_fit_of_a_straight_line():
    fit = fit_instructions({1: 4_020_000, 100: 6_000_000, 1000: 24_000_000, 1440: 32_800_000})
    assert fit.fixed == pytest.approx(4_000_000)
    assert fit.per_row == pytest.approx(20_000)
    assert fit.reliable and fit.worst_residual_pct == pytest.approx(0, abs=1e-9)
    assert fit_instructions({100: 6_000_000}) is None  # one limit: nothing to fit


def test_a_fit_that_cannot_be_true_is_marked_with_its_reason():
    # Cost growing faster than the rows: the straight line crosses zero below 1 row.
    curved = fit_instructions({1: 1_000, 100: 100_000, 1000: 10_000_000, 1440: 20_000_000})
    assert curved.fixed < 0
    assert not curved.reliable and "fixed count came out negative" in curved.unreliable
    # More rows, fewer instructions.
    falling = fit_instructions({1: 9_000_000, 1000: 5_000_000})
    assert "per-row count came out negative" in falling.unreliable
    # Residuals swamping what the rows add.
    noisy = fit_instructions({1: 5_000_000, 100: 9_000_000, 1000: 5_000_100, 1440: 9_000_000})
    assert "residuals" in noisy.unreliable


def test_counts_per_request_less_the_empty_call():
    dumps = {
        dump_name("drf", 1, 6, False): 6 * 5_000_000 + 120_000,
        dump_name("orjson", 1, 6, True): 6 * 4_000_000 + 190_000,
        dump_name("drf", 1000, 1, False): 200_000_000 + 120_000,
        dump_name("orjson", 1000, 1, True): 40_000_000 + 190_000,
        **{dump_name(BASELINE, i, 1, False): n for i, n in enumerate((150_000, 120_000, 119_000))},
        **{dump_name(BASELINE, i, 1, True): n for i, n in enumerate((250_000, 190_000, 189_000))},
    }
    counts = per_request(dumps, ["drf", "orjson"], [1, 1000])
    assert counts == {
        "drf": {1: 5_000_000, 1000: 200_000_000},
        "orjson": {1: 4_000_000, 1000: 40_000_000},
    }
    del dumps[dump_name("orjson", 1000, 1, True)]
    with pytest.raises(RuntimeError, match="no count for orjson at 1000 rows"):
        per_request(dumps, ["drf", "orjson"], [1, 1000])


def test_ratios_and_json():
    lad = ladder()
    assert lad.ratio("drf", 1000) == 1
    assert lad.ratio("raw", 1000) == pytest.approx(205_000_000 / 24_000_000)
    assert lad.as_json() == {
        "drf": {"1": 5_200_000, "100": 25_000_000, "1000": 205_000_000},
        "raw": {"1": 4_020_000, "100": 6_000_000, "1000": 24_000_000},
    }


def test_markdown_table():
    md = ladder_markdown(ladder("postgresql"))
    lines = md.splitlines()
    table = [line for line in lines if line.startswith("|")]
    assert table[0] == "| mode | 1 row | 100 rows | 1000 rows | fixed | per row |"
    assert (
        table[2] == "| drf | 5.20 M (×1.00) | 25.0 M (×1.00) | 205 M (×1.00) | 5.00 M | 200,000 |"
    )
    assert (
        table[3] == "| raw | 4.02 M (×1.29) | 6.00 M (×4.17) | 24.0 M (×8.54) | 4.00 M | 20,000 |"
    )
    assert "only the client side is counted" in md  # PostgreSQL: the server's work is not in it
    assert "only the client side" not in ladder_markdown(ladder("sqlite"))


def test_markdown_never_prints_an_impossible_fit():
    lad = ladder()
    lad.counts["raw"] = {1: 1_000, 100: 100_000, 1000: 10_000_000}
    lad.fits["raw"] = fit_instructions(lad.counts["raw"])
    md = ladder_markdown(lad)
    raw = next(line for line in md.splitlines() if line.startswith("| raw |"))
    assert raw.endswith("| fit unreliable | fit unreliable |")
    assert "raw: fit unreliable: the fitted fixed count came out negative" in md
    assert not re.search(r"-\d", md)  # the negative figure itself is nowhere


@pytest.mark.skipif(
    os.uname().machine != "x86_64", reason="client requests are wired up for x86-64 only"
)
def test_client_requests_are_harmless_outside_valgrind():
    requests = ClientRequests()
    assert not requests.running_on_valgrind()
    requests.start_instrumentation()
    requests.zero()
    requests.dump("nothing")  # no-ops natively: the page of machine code returns
    with pytest.raises(SystemExit, match="only counts under callgrind"):
        count_in_this_process(["raw"], [1], "upbit/KRW/BTC", "1m")


def test_cli_says_why_when_valgrind_is_missing(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert micro.main(["--instructions", "--modes", "raw", "--limits", "1", "--quiet"]) == 2
    assert "cannot count instructions: valgrind is not installed" in capsys.readouterr().err


# -- counting under valgrind -------------------------------------------------------------------
@pytest.fixture
def valgrind(require_tool) -> None:
    reason = unavailable_reason()
    require_tool(reason is None, f"instruction counts not checked: {reason}")


@pytest.fixture
def counted_env(valgrind, committed_sample_candles) -> dict[str, str]:
    """The counting process's environment: this test's own database, with the sample candles."""
    return server_env(DJANGO_SETTINGS_MODULE="candleproject.settings")


@contextmanager
def busy_loop(cpu: int):
    """A process spinning on `cpu`; yields it, to read how much CPU it took."""
    spinner = subprocess.Popen(
        [sys.executable, "-c", "while True: pass"],
        preexec_fn=lambda: os.sched_setaffinity(0, {cpu}),
    )
    try:
        yield psutil.Process(spinner.pid)
    finally:
        spinner.kill()
        spinner.wait()


@pytest.mark.valgrind
def test_two_counts_agree_within_1_percent_also_with_the_other_core_busy(counted_env, tmp_path):
    modes, limit = ["drf", "raw"], 100
    out = tmp_path / "instructions.json"
    first = subprocess.run(
        [
            sys.executable,
            "-m",
            "loadtest.inprocess.micro",
            "--instructions",
            "--modes",
            ",".join(modes),
            "--limits",
            str(limit),
            "--json",
            str(out),
        ],
        cwd=PROJECT,
        env=counted_env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert first.returncode == 0, first.stderr[-3000:]
    assert "| drf | " in first.stdout and "| raw | " in first.stdout
    counts = json.loads(out.read_text())
    assert list(counts) == modes and all(list(by) == [str(limit)] for by in counts.values())
    assert counts["drf"]["100"] > 2 * counts["raw"]["100"] > 2_000_000  # DRF's per-row work shows

    cpus = sorted(os.sched_getaffinity(0))
    counted, other = cpus[0], cpus[-1]  # the other core; the same one on a single-CPU machine
    with busy_loop(other) as spinner:
        started = time.monotonic()
        second = instruction_ladder(modes, [limit], env=counted_env, cpus={counted})
        spun = sum(spinner.cpu_times()[:2])
    assert spun > 0.25 * (time.monotonic() - started)  # the loop did keep its core busy
    for mode in modes:
        assert second.counts[mode][limit] == pytest.approx(counts[mode][str(limit)], rel=0.01), mode


def test_the_runners_json_round_trips():
    from loadtest.report.ladder import ladder_from_json, ladder_to_json

    original = ladder("postgresql")
    again = ladder_from_json(json.loads(json.dumps(ladder_to_json(original))))
    assert again.counts == original.counts and again.calls == original.calls
    assert (again.base, again.database) == ("drf", "postgresql")
    assert again.fits["raw"].per_row == pytest.approx(20_000)


def test_the_split_ladder_deals_the_modes_to_one_process_per_cpu_set_and_joins_them(monkeypatch):
    from loadtest.inprocess import instructions

    calls = []
    one = ladder()

    def fake(modes, limits, *, pair, interval, env, cpus, timeout):
        calls.append((list(modes), cpus))
        counts = {
            m: {lim: float(10 * (i + 1) * lim) for lim in limits} for i, m in enumerate(modes)
        }
        return Ladder(
            counts=counts, fits={}, base=modes[0], database="sqlite", seconds=1.0, calls=one.calls
        )

    monkeypatch.setattr(instructions, "instruction_ladder", fake)
    joined = instructions.instruction_ladder_split(["a", "b", "c"], [1, 1000], [{0}, {1}])
    assert sorted(calls, key=lambda c: sorted(c[1])) == [(["a", "c"], {0}), (["b"], {1})]
    assert joined.modes == ["a", "b", "c"] and joined.base == "a"
    assert joined.counts["c"] == {1: 20.0, 1000: 20_000.0} and joined.counts["b"] == {
        1: 10.0,
        1000: 10_000.0,
    }
    assert set(joined.fits) == {"a", "b", "c"}
