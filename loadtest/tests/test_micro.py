"""The micro benchmark's fit and tables, every call's latency and the collector's time (its
whole run: the end-to-end test; under GC setups in processes of their own: test_micro_gc.py)."""

import math
import weakref
from dataclasses import asdict

import pytest

from candles.api.gc_time import GcSpent
from loadtest.axes import Deployment
from loadtest.inprocess.micro import (
    MIN_CALLS_FOR_P99,
    MicroRow,
    fits,
    format_table,
    format_tail,
    main,
    micro_row,
    run_micro,
)
from loadtest.inprocess.micro_gc import format_gc_summary
from loadtest.inprocess.views import ViewTiming
from loadtest.request import candle_path


def rows():
    out = []
    for mode, fixed, per_row in (("drf", 1.0, 0.030), ("raw", 0.5, 0.002)):
        for limit in (1, 100, 1000):
            ms = fixed + per_row * limit
            out.append(
                MicroRow(
                    mode,
                    limit,
                    ms,
                    ms * 1000 / limit,
                    50,
                    118 * limit,
                    {"db": 0.4, "serialize": ms / 2, "render": 0.1},
                )
            )
    return out


def test_fit_per_mode():
    fitted = fits(rows())
    assert fitted["drf"]["fixed_ms"] == pytest.approx(1.0)
    assert fitted["drf"]["per_row_us"] == pytest.approx(30.0)
    assert fitted["raw"]["per_row_us"] == pytest.approx(2.0)
    assert fits([r for r in rows() if r.limit == 100]) == {}  # one limit: nothing to fit


def test_printed_table():
    table = format_table(rows(), fits(rows()))
    lines = table.splitlines()
    assert lines[1].split()[:7] == ["mode", "1", "row", "100", "rows", "1000", "rows"]
    drf = lines[2].split()
    assert drf[0] == "drf"
    assert drf[1:3] == ["1.030", "[1030.00]"]  # ms per request [µs per row] at 1 row
    assert drf[-2:] == ["1.000", "30.00"]  # fixed ms, µs/row


# -- every call's latency and the collector (issue 29) --------------------------------------------


def timed(latencies_ms: list[float], counts=(5, 1, 1), seconds=(0.001, 0.002, 0.04)) -> ViewTiming:
    return ViewTiming(
        seconds=0.02,
        calls=len(latencies_ms),
        body=b"x" * 100,
        timing_ms={"db": 1.0, "gc": 0.5},
        latencies_ms=latencies_ms,
        cpu_ms=[ms * 0.9 for ms in latencies_ms],
        gc_in_calls=GcSpent(counts=counts, seconds=seconds),
        gc_between=GcSpent(counts=(0, 0, 0), seconds=(0.0, 0.0, 0.0)),
        most_gc_in_a_call_ms=40.0,
        longest_collection_ms=40.0,
        loop_s=sum(latencies_ms) / 1000,
        loop_cpu_s=sum(latencies_ms) * 0.8 / 1000,
    )


def test_a_row_has_every_calls_percentiles_and_the_collectors_time():
    latencies = [20.0] * 98 + [60.0, 100.0]  # 100 calls: the 99th is 60 ms
    row = micro_row("drf", 1000, timed(latencies), gc="freeze")
    assert (row.p50_ms, row.p99_ms, row.max_ms) == (20.0, 60.0, 100.0)
    assert row.gc_collections == [5, 1, 1] and row.gc_ms_per_call == pytest.approx(0.43)
    assert row.rps == pytest.approx(100 / 2.12) and row.gc == "freeze"  # calls / loop_s
    assert (row.cpu_p50_ms, row.cpu_p99_ms) == pytest.approx((18.0, 54.0))
    assert row.cpu_share == pytest.approx(0.9) and row.cpu_rps == pytest.approx(100 / 2.12 / 0.8)
    line = format_tail([row]).splitlines()[-1].split()
    assert line[:7] == ["drf+gc=freeze", "1000", "100", "20.00", "60.00", "100.00", "3.00"]
    assert line[7:10] == ["18.00", "54.00", "0.90"] and "5/1/1" in line


def test_with_fewer_calls_than_a_p99_needs_it_is_not_printed():
    row = micro_row("raw", 1000, timed([2.0] * (MIN_CALLS_FOR_P99 - 1)))
    assert math.isnan(row.p99_ms) and math.isnan(row.cpu_p99_ms) and row.max_ms == 2.0
    assert format_tail([row]).splitlines()[-1].split()[3:9] == [
        "2.00",
        "-",
        "2.00",
        "-",
        "1.80",
        "-",
    ]


@pytest.fixture
def connection_kept_after_each_call():
    """The timing loop sends request_finished after each call, as a server does; Django's
    close_old_connections would then close the test's connection, inside its transaction
    (Django's test client disconnects it the same way)."""
    from django.core.signals import request_finished
    from django.db import close_old_connections

    request_finished.disconnect(close_old_connections)
    yield
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@pytest.mark.usefixtures("connection_kept_after_each_call")
def test_tiny_calls_give_each_mode_its_percentiles_and_gc(sample_candles):
    rows = run_micro(["drf", "raw", "msgspec"], [100], "upbit/KRW/BTC", "1m", 0.0, calls=6)
    assert [r.mode for r in rows] == ["drf", "raw", "msgspec"]
    for r in rows:
        assert r.calls == 6 and 0 < r.p50_ms <= r.max_ms and math.isnan(r.p99_ms), r
        assert len(r.gc_collections) == 3 and r.rps > 0 and 0 < r.cpu_p50_ms <= r.cpu_max_ms
        assert set(r.timing_ms) == {"db", "serialize", "render"}  # no middleware: no gc entry


@pytest.mark.django_db(transaction=True)
def test_an_async_view_is_timed_call_by_call_too(committed_sample_candles):
    (row,) = run_micro(["orjson"], [100], "upbit/KRW/BTC", "1m", 0.0, calls=4)
    assert row.calls == 4 and 0 < row.p50_ms <= row.max_ms and row.rps > 0


@pytest.mark.django_db
@pytest.mark.usefixtures("connection_kept_after_each_call")
def test_the_timing_loop_drops_each_answer_before_the_next_call(sample_candles, monkeypatch):
    """Only timings are kept: at most one answer is alive when the view is called again."""
    from loadtest.inprocess import views

    real_caller = views.view_caller
    alive: list[weakref.ref] = []
    most_alive = 0

    def tracking_caller(path: str):
        call, is_async = real_caller(path)

        def tracked():
            nonlocal most_alive
            most_alive = max(most_alive, sum(1 for ref in alive if ref() is not None))
            response = call()
            alive.append(weakref.ref(response))
            return response

        return tracked, is_async

    monkeypatch.setattr(views, "view_caller", tracking_caller)
    result = views.time_view(candle_path("raw", 10), 0.0, calls=30)
    assert result.calls == 30 and len(alive) == 33  # 3 warm-up calls
    assert most_alive == 0


def test_gc_rows_are_labelled_in_one_place():
    assert Deployment(gc="default").label("drf") == "drf"
    assert Deployment(gc="freeze").label("drf") == "drf+gc=freeze"


def test_the_gc_summary_takes_ratios_within_each_round():
    def row(setup: str, repeat: int, rps: float, rss: float, p99: float) -> dict:
        r = asdict(micro_row("drf", 1000, timed([20.0] * 98 + [p99, p99]), gc=setup))
        return r | {"repeat": repeat, "rps": rps, "cpu_rps": rps * 1.25, "peak_rss_mb": rss}

    rows = [
        row("default", 1, 40.0, 100.0, 80.0),
        row("freeze", 1, 38.0, 110.0, 30.0),
        row("default", 2, 20.0, 100.0, 80.0),  # a slower round: the ratio stays
        row("freeze", 2, 19.0, 110.0, 30.0),
    ]
    lines = format_gc_summary(rows).splitlines()
    assert lines[0].startswith("GC setups in-process: medians of 2 round(s); ratios over default")
    freeze = lines[-1].split()
    assert freeze[0] == "drf+gc=freeze" and freeze[3] == "30.00" and freeze[4] == "1.50"
    assert freeze[6] == "1.50"  # the calls' CPU time: 0.9 of each latency here
    assert freeze[-5:] == ["28.5", "0.950", "0.950", "110", "1.100"]


def test_an_unknown_setup_is_refused_before_anything_runs(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--modes", "raw", "--gc", "default,frozen"])
    assert exit_info.value.code == 2
    assert "unknown GC setup(s) frozen; choose from default, freeze" in capsys.readouterr().err
