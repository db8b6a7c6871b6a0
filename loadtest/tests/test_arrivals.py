"""Open-loop arithmetic without Locust: arrival schedules, the arrival log (as a master merges
its workers'), a window selected by intended start, and what makes it untrustworthy."""

import math
import random
import statistics
from itertools import islice

import pytest

from loadtest.arrivals import (
    CONSTANT,
    DROPPED,
    FAILED,
    OK,
    POISSON,
    ROUGH_P99_REQUESTS,
    SHED,
    ArrivalLog,
    arrival_notes,
    arrival_offsets,
    arrival_reasons,
    in_window,
    slip_limit_ms,
    summarize_arrivals,
)


def record(
    intended,
    latency_ms,
    outcome=OK,
    status=200,
    nbytes=100,
    slip_ms=0.1,
    wait_ms=0.0,
    error="",
    gc_ms=math.nan,
):
    return (
        intended,
        intended + latency_ms / 1000,
        latency_ms,
        outcome,
        status,
        nbytes,
        slip_ms,
        wait_ms,
        error,
        gc_ms,
    )


class TestSchedules:
    def test_constant_arrivals_are_evenly_spaced_from_their_phase(self):
        assert list(islice(arrival_offsets(CONSTANT, 4, random.Random(), phase=0.1), 4)) == [
            0.1,
            0.35,
            0.6,
            0.85,
        ]

    def test_poisson_gaps_average_one_over_the_rate_and_vary_like_an_exponential(self):
        offsets = list(islice(arrival_offsets(POISSON, 200, random.Random(7)), 20_000))
        gaps = [b - a for a, b in zip([0.0, *offsets], offsets)]
        assert statistics.fmean(gaps) == pytest.approx(1 / 200, rel=0.03)
        # An exponential's standard deviation equals its mean (coefficient of variation 1).
        assert statistics.pstdev(gaps) / statistics.fmean(gaps) == pytest.approx(1, abs=0.05)
        assert all(g > 0 for g in gaps)

    @pytest.mark.parametrize("kind,rate", [("bursty", 10), (POISSON, 0), (CONSTANT, -1)])
    def test_an_unknown_kind_or_a_rate_not_above_zero_is_refused(self, kind, rate):
        with pytest.raises(ValueError):
            next(arrival_offsets(kind, rate, random.Random()))


class TestArrivalLog:
    def test_a_masters_log_holds_its_workers_records_tagged_and_their_window_counts(self):
        worker, master = ArrivalLog(), ArrivalLog()
        worker.record(10.0, 10.1, 100.0, OK, 200, 5, 0.2, 0.0, gc_ms=1.5)
        worker.mark_window(1)
        payload = worker.drain()
        assert worker.records == [] and worker.issued == []
        master.extend(payload, source="host_abc")
        assert master.records == [(10.0, 10.1, 100.0, OK, 200, 5, 0.2, 0.0, "", 1.5, "host_abc")]
        assert master.issued == [("host_abc", 1)]

    def test_a_window_is_complete_once_every_process_reported_and_every_arrival_ended(self):
        log = ArrivalLog()
        log.record(*record(1.5, 10)[:9])
        assert not log.window_complete(1.0, 2.0, processes=1)  # no report yet
        log.mark_window(2)
        assert not log.window_complete(1.0, 2.0, processes=1)  # one of two still out
        log.record(*record(1.9, 3000)[:9])  # caught by a pause at the window's end
        assert log.window_complete(1.0, 2.0, processes=1)
        assert not log.window_complete(1.0, 2.0, processes=2)


class TestWindow:
    def test_requests_belong_to_the_window_of_their_intended_start_however_late_they_end(self):
        records = [record(0.9, 10), record(1.0, 10), record(1.99, 5000), record(2.0, 1)]
        assert [r[0] for r in in_window(records, 1.0, 2.0)] == [1.0, 1.99]

    def test_percentiles_are_of_answered_arrivals_timed_from_their_intended_start(self):
        records = [record(1 + i / 100, 10 + i) for i in range(100)]
        stats = summarize_arrivals(records, 1.0, 2.0, offered_rps=100, issued=100)
        assert (stats.requests, stats.ok, stats.p50_ms, stats.p99_ms, stats.max_ms) == (
            100,
            100,
            59,
            108,
            109,
        )
        assert stats.mean_ms == pytest.approx(59.5)

    def test_the_collectors_time_in_the_tail_is_the_mean_gc_of_the_answers_at_or_above_p99(self):
        # 99 answers of 10 ms with 0.5 ms of gc, one of 90 ms with 70 ms of it, one dropped.
        records = [record(1 + i / 200, 10, gc_ms=0.5) for i in range(99)]
        records += [record(1.9, 90, gc_ms=70.0), record(1.95, 0, DROPPED, 0, 0)]
        stats = summarize_arrivals(records, 1.0, 2.0, offered_rps=100, issued=101)
        assert (stats.gc_p50_ms, stats.gc_tail_ms, stats.tail_ms) == (0.5, 70.0, 90.0)

    def test_answers_without_a_gc_entry_give_no_gc_figures(self):
        records = [record(1 + i / 100, 10) for i in range(100)]
        stats = summarize_arrivals(records, 1.0, 2.0, offered_rps=100, issued=100)
        assert math.isnan(stats.gc_p50_ms) and math.isnan(stats.gc_tail_ms)

    def test_achieved_counts_answers_ending_inside_the_window_so_a_falling_behind_server_shows(
        self,
    ):
        # Offered 100/s for 1 s, but every answer 0.5 s later than the last: only half end in it.
        records = [record(1 + i / 100, 500 + 5 * i) for i in range(100)]
        stats = summarize_arrivals(records, 1.0, 2.0, offered_rps=100, issued=100)
        answered_inside = sum(1 for r in records if r[1] < 2.0)
        assert stats.achieved_rps == answered_inside
        assert stats.served_pct == pytest.approx(answered_inside)
        assert stats.ok == 100  # every one was waited for and timed

    def test_dropped_shed_failed_and_unfinished_are_counted_apart_and_never_served(self):
        records = [
            record(1.1, 5),
            record(1.2, 0, DROPPED, 0, 0),
            record(1.3, 2, SHED, 503, 0),
            record(1.4, 3, FAILED, 0, 0, error="ConnectionRefusedError"),
        ]
        stats = summarize_arrivals(records, 1.0, 2.0, offered_rps=5, issued=5)
        assert (stats.ok, stats.dropped, stats.shed, stats.failed, stats.unfinished) == (
            1,
            1,
            1,
            1,
            1,
        )
        assert stats.achieved_rps == 1.0 and stats.served_pct == pytest.approx(20)
        assert stats.errors == {"HTTP 503": 1, "ConnectionRefusedError": 1}
        assert stats.p99_ms == 5  # the answered one only
        notes = arrival_notes(stats)
        assert "1 dropped (the generator's pool was full)" in notes
        assert "1 unanswered when the run stopped waiting" in notes
        assert "HTTP 503 x1, ConnectionRefusedError x1" in notes

    def test_an_empty_window_has_no_percentiles_and_a_window_needs_a_length(self):
        stats = summarize_arrivals([], 1.0, 2.0, offered_rps=5, issued=0)
        assert math.isnan(stats.p99_ms) and math.isnan(stats.served_pct)
        assert arrival_reasons(stats, 100) == ["no arrival in the window"]
        with pytest.raises(ValueError):
            summarize_arrivals([], 2.0, 2.0, offered_rps=5, issued=0)


class TestChecks:
    def window(self, slip_ms=0.5, sizes=(100,), n=ROUGH_P99_REQUESTS):
        records = [
            record(1 + i / n, 5, nbytes=sizes[i % len(sizes)], slip_ms=slip_ms) for i in range(n)
        ]
        return summarize_arrivals(records, 1.0, 2.0, offered_rps=n, issued=n)

    def test_a_clean_window_is_trustworthy_and_its_p99_not_rough(self):
        stats = self.window()
        assert arrival_reasons(stats, 100) == [] and arrival_notes(stats) == []

    def test_slip_past_a_tenth_of_the_target_makes_the_window_untrustworthy(self):
        assert slip_limit_ms(100) == 10
        assert arrival_reasons(self.window(slip_ms=9.9), 100) == []
        assert arrival_reasons(self.window(slip_ms=12), 100) == [
            "generator slip p99 12.0 ms > 10 ms (the load generator lagged its schedule)"
        ]
        assert arrival_reasons(self.window(slip_ms=12), 200) == []

    def test_varying_bodies_make_it_untrustworthy_and_few_requests_make_the_p99_rough(self):
        assert arrival_reasons(self.window(sizes=(100, 90)), 100) == ["body sizes varied: 90, 100"]
        # Within the setup's slack (Django's gzip pads at random), the answers are one document.
        assert arrival_reasons(self.window(sizes=(100, 90)), 100, size_slack=10) == []
        assert arrival_reasons(self.window(sizes=(100, 89)), 100, size_slack=10) == [
            "body sizes varied: 89, 100"
        ]
        assert arrival_notes(self.window(n=400)) == ["rough p99: 400 answered requests"]
