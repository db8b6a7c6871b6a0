"""Result parsing: Server-Timing headers, percentiles, measurement windows, run summaries."""

import math

import pytest

from loadtest.stats import (
    Collector,
    TimingSummary,
    parse_server_timing,
    percentile,
    span,
    summarize,
    window,
)


def sample(
    end,
    rt=10.0,
    ok=True,
    nbytes=100,
    timing="db;dur=1.0, serialize;dur=2.0, render;dur=0.5",
    name="raw limit=1",
):
    return (end - rt / 1000, end, rt, ok, nbytes, timing, name)


class TestParseServerTiming:
    def test_the_servers_header(self):
        assert parse_server_timing("db;dur=1.234, serialize;dur=0.500, render;dur=0.031") == {
            "db": 1.234,
            "serialize": 0.5,
            "render": 0.031,
        }

    def test_spacing_quotes_descriptions_and_order_of_parameters(self):
        header = 'db ; desc="query" ; dur = 2.5,serialize;dur="3",  render;dur=1e-1'
        assert parse_server_timing(header) == {"db": 2.5, "serialize": 3.0, "render": 0.1}

    def test_metrics_without_duration_are_left_out(self):
        assert parse_server_timing("cache;desc=hit, db;dur=1") == {"db": 1.0}

    def test_a_repeated_metric_is_summed(self):
        assert parse_server_timing("db;dur=1, db;dur=2.5") == {"db": 3.5}

    @pytest.mark.parametrize("header", [None, "", " , ", "db;dur=abc", "db;dur=nan", ";dur=1"])
    def test_nothing_usable(self, header):
        assert parse_server_timing(header) == {}


class TestPercentile:
    def test_nearest_rank(self):
        values = list(range(1, 101))  # 1..100
        assert percentile(values, 50) == 50
        assert percentile(values, 95) == 95
        assert percentile(values, 99) == 99
        assert percentile(values, 100) == 100
        assert percentile(values, 0) == 1

    def test_small_samples(self):
        assert percentile([7.0], 99) == 7.0
        assert percentile([1.0, 2.0, 3.0], 50) == 2.0
        assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.0

    def test_empty_is_nan_and_range_is_checked(self):
        assert math.isnan(percentile([], 50))
        with pytest.raises(ValueError):
            percentile([1.0], 101)


def test_window_keeps_requests_completed_inside_it():
    samples = [sample(end) for end in (9.9, 10.0, 10.5, 12.0, 12.01)]
    assert [s[1] for s in window(samples, 10.0, 12.0)] == [10.5, 12.0]


def test_summarize_counts_rates_latencies_and_phases():
    ok = [sample(100 + i / 100, rt=float(i + 1)) for i in range(100)]  # 1..100 ms
    failed = [sample(101.5, rt=500.0, ok=False, nbytes=0, timing="")]
    stats = summarize(ok + failed, duration_s=2.0)
    assert stats.requests == 101
    assert stats.failures == 1
    assert stats.rps == pytest.approx(50.0)  # the failed request was not served
    # Latencies are over successful requests only: the 500 ms failure is not among them.
    assert (stats.p50_ms, stats.p95_ms, stats.p99_ms, stats.max_ms) == (50.0, 95.0, 99.0, 100.0)
    assert stats.mean_ms == pytest.approx(50.5)
    assert stats.bytes == 100
    assert stats.timing_ms == pytest.approx({"db": 1.0, "serialize": 2.0, "render": 0.5})
    assert stats.body_sizes == (100,)


def test_summarize_averages_server_timing_per_phase_and_notices_other_bodies():
    samples = [
        sample(1.0, timing="db;dur=1, serialize;dur=4", nbytes=10),
        sample(1.1, timing="db;dur=3, serialize;dur=2", nbytes=12),
        sample(1.2, timing="", nbytes=10),  # no header: counts for nothing
    ]
    stats = summarize(samples, 1.0)
    assert stats.timing_ms == pytest.approx({"db": 2.0, "serialize": 3.0})
    assert stats.body_sizes == (10, 12)
    assert stats.bytes == 11


def test_summarize_of_failures_only():
    stats = summarize([sample(1.0, ok=False)], 1.0)
    assert stats.failures == 1 and stats.requests == 1 and stats.rps == 0
    assert math.isnan(stats.p50_ms) and stats.bytes == 0 and stats.timing_ms == {}
    with pytest.raises(ValueError):
        summarize([], 0)


def test_span_is_first_start_to_last_end():
    samples = [(1.0, 1.5, 500.0, True, 1, "", "x"), (0.8, 2.0, 1200.0, True, 1, "", "x")]
    assert span(samples) == (0.8, 2.0)
    with pytest.raises(ValueError):
        span([])


def test_collector_records_merges_and_drains():
    c = Collector()
    c.record(1.0, 1.1, 100.0, True, 5, "db;dur=1", "raw limit=1")
    c.extend([[2.0, 2.1, 100.0, False, 0, "", "raw limit=1"]])  # as it arrives from a worker
    assert len(c) == 2
    drained = c.drain()
    assert drained[1] == (2.0, 2.1, 100.0, False, 0, "", "raw limit=1")
    assert len(c) == 0


def test_timing_summary_table_for_runs_by_hand():
    summary = TimingSummary()
    summary.add([sample(1.0, name="drf limit=10"), sample(1.1, name="drf limit=10", ok=False)])
    summary.add(
        [sample(1.2, name="drf limit=10", timing="db;dur=3, serialize;dur=4, render;dur=1.5")]
    )
    table = summary.table()
    line = next(line for line in table.splitlines() if line.startswith("drf limit=10"))
    # No compress phase: the answers were not compressed.
    assert line.split() == ["drf", "limit=10", "3", "1", "2.000", "3.000", "1.000", "-"]


def test_timing_summary_clear_starts_afresh():
    from loadtest.stats import TimingSummary

    summary = TimingSummary()
    summary.add(
        [
            (0.0, 1.0, 5.0, True, 10, "db;dur=2", "raw limit=1"),
            (0.0, 1.0, 5.0, False, 0, "", "raw limit=1"),
        ]
    )
    assert summary.counts == {"raw limit=1": 2} and summary.failures == {"raw limit=1": 1}
    summary.clear()
    assert (summary.counts, summary.failures, summary.sums) == ({}, {}, {})
    summary.add([(0.0, 1.0, 5.0, True, 10, "db;dur=4", "drf limit=1")])
    assert summary.counts == {"drf limit=1": 1} and summary.sums == {"drf limit=1": {"db": 4.0}}
