"""The capacity command without servers: its options, capacity.csv, each cell's capacity at the
latency target, the sweep's steps against a stand-in load generator, and the report files."""

import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from loadtest import capacity as command
from loadtest.arrivals import OK
from loadtest.axes import Deployment
from loadtest.cli import CheckError
from loadtest.report.capacity import (
    CAPACITY_CSV,
    CapacityRow,
    CapacityWriter,
    capacities,
    capacity_from_folder,
    load_capacity,
)
from loadtest.report.capacity_report import write_capacity_report
from loadtest.sweep import (
    RATE_OVERHEAD_S,
    SERVER_START_S,
    SweepOptions,
    rates_from,
    sweep_cell,
    sweep_estimate_s,
    window_for,
)


def row(rate, p99, mode="raw", **kw):
    base = {"achieved_rps": rate, "served_pct": 100.0, "requests": 2000, "closed_loop_rps": 400.0}
    return CapacityRow("wsgi", mode, 1000, "poisson", rate, p99_ms=p99, **{**base, **kw})


class TestCapacity:
    def test_the_highest_rate_that_met_the_target(self):
        (cap,) = capacities([row(100, 10), row(200, 40), row(300, 90), row(380, 400)]).values()
        # It lies between 300 and the next rate tried: the sweep's grid is the resolution.
        assert cap.rps == 300 and cap.not_met_above == 380
        assert cap.text == "300 req/s (380 not met)"

    def test_a_drop_an_unanswered_request_or_a_short_served_share_is_not_capacity(self):
        rows = [
            row(100, 10),
            row(200, 40, dropped=1),
            row(250, 40, unfinished=1),
            row(300, 40, served_pct=96.0),
        ]
        assert next(iter(capacities(rows).values())).rps == 100

    def test_none_met_it_or_every_rate_did(self):
        (below,) = capacities([row(100, 150), row(200, 900)]).values()
        assert math.isnan(below.rps)
        assert below.text == "below the lowest rate tried (100 req/s)"
        (every,) = capacities([row(100, 10), row(200, 20)]).values()
        assert every.text == "≥ 200 req/s (every rate tried met it)"

    def test_a_rough_or_untrustworthy_deciding_rate_is_marked(self):
        (cap,) = capacities(
            [row(100, 10), row(200, 20, requests=500, trustworthy=False), row(300, 200)]
        ).values()
        assert cap.text == "200 req/s ⚠ (rough; 300 not met)"

    def test_each_cell_and_its_own_target(self):
        rows = [row(100, 60), row(100, 60, mode="drf", slo_ms=50.0)]
        caps = capacities(rows)
        assert caps[("wsgi", "raw", 1000)].rps == 100
        assert math.isnan(caps[("wsgi", "drf", 1000)].rps)


def test_capacity_csv_round_trips_and_a_folder_without_one_has_no_capacity(tmp_path):
    rows = [
        row(100, 12.345, note="rough p99: 5 answered requests", trustworthy=False),
        row(200, math.nan),
    ]
    with open(tmp_path / CAPACITY_CSV, "w", newline="") as f:
        writer = CapacityWriter(f)
        for r in rows:
            writer.write(r)
    back = load_capacity(tmp_path / CAPACITY_CSV)
    assert back[0].p99_ms == 12.35 and not back[0].trustworthy and back[0].note == rows[0].note
    assert math.isnan(back[1].p99_ms) and back[1].trustworthy
    assert capacity_from_folder(tmp_path)[("wsgi", "raw", 1000)].rps == 100
    assert capacity_from_folder(tmp_path / "elsewhere") == {}


def test_the_report_files_hold_the_curve_and_the_capacity(tmp_path):
    with open(tmp_path / CAPACITY_CSV, "w", newline="") as f:
        writer = CapacityWriter(f)
        for r in [
            row(100, 10),
            row(200, 30),
            row(300, 250),
            row(40, 20, mode="drf", p50_ms=12.0, gc_p50_ms=0.5, gc_tail_ms=6.0, tail_ms=20.0),
            row(50, 300, mode="drf"),
        ]:
            writer.write(r)
    text = write_capacity_report(tmp_path, ["intro line"])
    assert "wsgi    raw" in text and "200 req/s" in text and "40.0 req/s" in text
    md = (tmp_path / "capacity.md").read_text()
    assert "intro line" in md and "capacity at p99 ≤ 100 ms" in md and "capacity.png" in md
    assert "gc share of the tail" in md and "69%" in md  # (6 - 0.5) / (20 - 12)
    assert "p99/p50" in text
    assert (tmp_path / "capacity.png").read_bytes().startswith(b"\x89PNG")
    assert "data:image/png;base64," in (tmp_path / "capacity.html").read_text()


def test_a_window_lasts_until_a_p99_means_something_within_its_bounds():
    options = SweepOptions(duration=10, max_window=30)
    assert window_for(500, options) == 10
    assert window_for(50, options) == 20
    assert window_for(5, options) == 30


def test_the_estimate_adds_each_rates_window_and_brackets_it_when_only_fractions_are_known():
    options = SweepOptions(duration=10, max_window=100, warmup=1)
    # 2 req/s needs 500 s for 1,000 answers: capped at 100; 200 req/s: 10 s.
    low, high = sweep_estimate_s(3, 1, [2.0, 200.0], (), options)
    assert (
        low == high == 3 * (1 + 100 + RATE_OVERHEAD_S + 1 + 10 + RATE_OVERHEAD_S) + SERVER_START_S
    )
    low, high = sweep_estimate_s(1, 1, None, (0.25, 0.5), options)
    assert high - low == 2 * (100 - 10)


def test_rates_are_fractions_of_the_closed_loop_maximum_at_two_digits():
    assert rates_from(403.7, (0.25, 0.5, 1.05)) == [100.0, 200.0, 420.0]
    assert rates_from(41.2, (0.25,)) == [10.0]
    with pytest.raises(ValueError):
        rates_from(0, (0.5,))


class StandInGenerator:
    """What sweep_cell asks of the load generator, answering from a made-up server of 400 req/s."""

    def __init__(self, processes=1):
        self.calls = []
        self._processes = processes

    def processes(self):
        return self._processes

    def steady(self, request, users, warmup, duration, probe, min_requests):
        self.calls.append(("closed", users))
        samples = [(0.0, 0.001 * i, 40.0, True, 100, "", "raw limit=1000") for i in range(1, 1201)]
        return SimpleNamespace(
            samples=samples,
            duration_s=3.0,
            locust_cpu_warning=False,
            loadgen_cpu_pct=20.0,
            other_cpu_pct=0.0,
            warmup_complete=True,
            warmup_s=0.5,
            notes=[],
            busiest="",
        )

    def open_loop(self, request, rate, arrivals, warmup, duration, probe, **kw):
        self.calls.append(("open", rate))
        n = round(rate * duration)
        latency = 5.0 if rate < 400 else 500.0
        records = [
            (100 + i / rate, 100 + i / rate + latency / 1000, latency, OK, 200, 100, 0.2, 0.0, "")
            for i in range(n)
        ]
        return SimpleNamespace(
            records=records,
            started=100.0,
            ended=100.0 + duration,
            issued=n,
            locust_cpu_warning=False,
            loadgen_cpu_pct=20.0,
            other_cpu_pct=0.0,
            server_cpu_pct=math.nan,
            warmup_complete=True,
            warmup_s=warmup,
            notes=[],
            busiest="",
            listen_overflows=0,
            connections=64,
            pool=2000,
            processes=self._processes,
        )


class StandInServer:
    name = served_by = "wsgi"
    deployment = Deployment()

    def wait_disconnected(self):
        return 0

    def wait_idle(self):
        return 0.0

    def pids(self):
        return frozenset({1})


def test_a_sweep_finds_the_maximum_first_then_offers_its_fractions_in_ascending_order():
    loadgen, lines = StandInGenerator(), []
    request = SimpleNamespace(mode="raw", limit=1000, size_slack=0)
    rows = sweep_cell(
        loadgen,
        StandInServer(),
        request,
        SweepOptions(),
        lambda: None,
        fractions=(0.95, 0.5, 1.05),
        log=lines.append,
    )
    assert loadgen.calls == [("closed", 16), ("open", 200.0), ("open", 380.0), ("open", 420.0)]
    assert [r.closed_loop_rps for r in rows] == [400.0] * 3
    assert [r.meets for r in rows] == [True, True, False]
    assert lines[0].startswith("wsgi raw limit=1000: closed-loop max 400.0 req/s")


def test_given_rates_skip_the_closed_loop_and_a_rate_the_generator_cannot_make_is_left_out():
    loadgen, lines = StandInGenerator(), []
    options = SweepOptions(max_rps_per_process=300)
    rows = sweep_cell(
        loadgen,
        StandInServer(),
        SimpleNamespace(mode="raw", limit=1000, size_slack=0),
        options,
        lambda: None,
        rates=[350, 100],
        log=lines.append,
    )
    assert loadgen.calls == [("open", 100)]
    assert [r.offered_rps for r in rows] == [100]
    assert math.isnan(rows[0].closed_loop_rps)
    assert "350 requests/s is more than 1 Locust process(es) generate (~300/s each" in lines[-1]


def parse(*argv):
    return command.build_parser().parse_args(list(argv))


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--header", "X-Key:1"], "--header and --insecure apply to --target only"),
        (["--rates", "900,2500"], "2500 requests/s is more than 1 Locust process(es) generate"),
        (["--pool", "10"], "--pool >= --connections"),
        (["--duration", "40"], "--max-window >= --duration"),
        (["--servers", "nginx"], "unknown server(s): nginx"),
        (["--limits", "0"], "every limit must be >= 1"),
        (["--compression", "gzip-9"], "unknown compression setup(s): gzip-9"),
        (["--servers", "fastapi", "--compression", "zstd-1"], "fastapi runs none of the"),
        (
            ["--target", "http://127.0.0.1:8000", "--compression", "zstd-1"],
            "a --target is swept under its own setup",
        ),
    ],
)
def test_options_that_cannot_make_a_sweep_are_refused_in_one_line(argv, message):
    with pytest.raises(CheckError, match=message.replace("(", r"\(").replace(")", r"\)")):
        command.check_args(parse(*argv))


def test_more_processes_may_offer_more_and_a_list_of_rates_must_be_positive(capsys):
    command.check_args(parse("--rates", "1500", "--processes", "2"))
    with pytest.raises(SystemExit):
        parse("--rates", "100,0")
    assert "--rates" in capsys.readouterr().err


def test_the_command_is_listed_and_refuses_before_any_work(tmp_path):
    from loadtest.commands import COMMANDS

    assert COMMANDS["capacity"].module == "loadtest.capacity" and COMMANDS["capacity"].loads
    code = command.main(["--rates", "5000", "--out", str(tmp_path / "x")])
    assert code == 2 and not Path(tmp_path / "x").exists()
