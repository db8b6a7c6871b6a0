"""Issue 29's goals on synthetic measurements: met, not met with its figures, not measured."""

import pytest

from candles.api.gc_setups import RECOMMENDED
from loadtest.report.capacity import CapacityRow
from loadtest.report.gc_goals import (
    capacity_goal,
    goal_lines,
    micro_goal,
    recommended_in,
    soak_goal,
)
from loadtest.serving.axes import setup_entries

REC = "between-requests"


def micro(gc, repeat, p50, p99, rps, mode="drf", limit=1000):
    return {
        "mode": mode,
        "limit": limit,
        "gc": gc,
        "repeat": repeat,
        "p50_ms": p50,
        "p99_ms": p99,
        "rps": rps,
        "cpu_rps": rps,
        "calls": 1000,
    }


class TestInProcess:
    def test_met_when_the_tail_is_short_and_throughput_kept_within_each_round(self):
        rows = [micro("default", n, 20, 80, 40) for n in (1, 2, 3)]
        rows += [micro(REC, n, 21, 29, 39) for n in (1, 2, 3)]
        result = micro_goal(rows, REC)
        assert result.status == "met"
        assert "p99/p50 1.38 (default: 4.00)" in result.figures and "×0.97" in result.figures

    @pytest.mark.parametrize("p99,rps", [(40, 40), (25, 30)])
    def test_not_met_with_a_long_tail_or_a_lost_twentieth_of_throughput(self, p99, rps):
        rows = [micro("default", 1, 20, 80, 40), micro(REC, 1, 20, p99, rps)]
        assert micro_goal(rows, REC).status == "not met"

    def test_not_measured_without_both_setups_for_drf_at_1000_rows(self):
        rows = [micro("default", 1, 20, 80, 40), micro(REC, 1, 20, 25, 40, limit=100)]
        result = micro_goal(rows, REC)
        assert result.status == "not measured" and "--gc default,between-requests" in result.figures

    def test_no_recommended_setup_recorded_is_not_measured(self):
        rows = [micro("default", 1, 20, 80, 40)]
        assert micro_goal(rows, "").status == "not measured"
        assert capacity_goal([cap("wsgi", 5, 60)], "")[0].status == "not measured"


def test_the_recommended_setup_is_what_setup_entries_record():
    assert recommended_in(setup_entries()) == RECOMMENDED.name
    assert recommended_in({}) == ""


def soak(rss_end, peak=None):
    return {"rss_end_mb": rss_end, "rss_peak_mb": peak or rss_end}


class TestMemory:
    def test_rss_at_the_end_over_the_defaults(self):
        results = {"wsgi": soak(100), f"wsgi+gc={REC}": soak(120)}
        assert soak_goal(results, "wsgi", REC).status == "met"
        results[f"wsgi+gc={REC}"] = soak(130)
        result = soak_goal(results, "wsgi", REC)
        assert result.status == "not met" and "×1.30" in result.figures

    def test_not_measured_without_the_default(self):
        assert soak_goal({f"wsgi+gc={REC}": soak(1)}, "wsgi", REC).status == "not measured"


def cap(server, rate, p99, mode="drf"):
    return CapacityRow(
        server, mode, 1000, "poisson", rate, p99_ms=p99, served_pct=100.0, requests=2000
    )


class TestCapacity:
    """A sweep brackets each capacity between the highest rate that met the target and the next
    that did not: the goal is judged on the least and the most their ratio can be."""

    def test_met_when_even_the_least_ratio_doubles(self):
        rows = [cap("wsgi", 5, 60), cap("wsgi", 10, 120)]
        rows += [
            cap(f"wsgi+gc={REC}", r, p99) for r, p99 in ((5, 30), (10, 40), (20, 90), (40, 300))
        ]
        (result,) = capacity_goal(rows, REC)
        assert result.status == "met" and "×2.00 to ×8.00" in result.figures

    def test_undecided_when_the_rates_met_do_not_say(self):
        # 5 met and 10 missed under the default; every rate met under the setup: the ratio of the
        # rates met (10 / 5 = 2) is not what the run shows (at least 10 / 10).
        rows = [cap("wsgi", 5, 60), cap("wsgi", 10, 120)]
        rows += [cap(f"wsgi+gc={REC}", 5, 30), cap(f"wsgi+gc={REC}", 10, 60)]
        (result,) = capacity_goal(rows, REC)
        assert result.status == "undecided" and "≥ ×1.00" in result.figures
        assert "too far apart" in result.line

    def test_found_where_the_defaults_is_below_every_rate_tried(self):
        rows = [cap("wsgi", 5, 160), cap(f"wsgi+gc={REC}", 5, 60)]
        (result,) = capacity_goal(rows, REC)
        assert result.status == "met" and "below every rate tried" in result.figures

    def test_not_met_when_neither_is_found_or_even_the_most_ratio_falls_short(self):
        (neither,) = capacity_goal([cap("wsgi", 5, 160), cap(f"wsgi+gc={REC}", 5, 120)], REC)
        rows = [cap("wsgi", 5, 60), cap("wsgi", 10, 120)]
        rows += [cap(f"wsgi+gc={REC}", 5, 30), cap(f"wsgi+gc={REC}", 9, 160)]
        (less,) = capacity_goal(rows, REC)
        assert neither.status == less.status == "not met" and "×0.50 to ×1.80" in less.figures

    def test_not_measured_without_both_setups_or_for_another_mode(self):
        rows = [
            cap("wsgi", 5, 60),
            cap("wsgi+gc=freeze", 5, 30),
            cap(f"wsgi+gc={REC}", 5, 3, "raw"),
        ]
        (result,) = capacity_goal(rows, REC)
        assert result.status == "not measured"
        assert goal_lines([result]).startswith("Goals of issue 29")
