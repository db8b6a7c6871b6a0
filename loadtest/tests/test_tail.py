"""The capacity report's tail table on synthetic sweeps: the rate it is read at, p99/p50, the
collector's share of p99 − p50, the capacity beside it."""

import math
from types import SimpleNamespace

from loadtest.report.capacity import CapacityRow
from loadtest.report.tables import text_table
from loadtest.report.tail import tail_row, tail_table, tails


def row(rate, p50, p99, server="wsgi", mode="drf", closed=40.0, **kw):
    base = {"achieved_rps": rate, "served_pct": 100.0, "requests": 2000, "closed_loop_rps": closed}
    return CapacityRow(server, mode, 1000, "poisson", rate, p50_ms=p50, p99_ms=p99, **base | kw)


def test_the_tail_is_read_at_the_rate_tried_nearest_a_quarter_of_the_closed_loop_maximum():
    rates = [row(4, 25, 60), row(9, 26, 90), row(20, 40, 300)]
    chosen, of_max = tail_row(rates)
    assert chosen.offered_rps == 9 and of_max == 9 / 40


def test_without_a_closed_loop_maximum_it_is_read_at_the_lowest_rate_tried():
    chosen, of_max = tail_row([row(20, 30, 90, closed=math.nan), row(5, 20, 40, closed=math.nan)])
    assert chosen.offered_rps == 5 and math.isnan(of_max)


def test_the_collectors_share_is_the_tails_extra_gc_over_its_extra_latency():
    (t,) = tails([row(10, 28, 108, gc_p50_ms=2.0, gc_tail_ms=62.0, tail_ms=118.0)])
    assert t.ratio == 108 / 28
    assert t.gc_share == (62.0 - 2.0) / (118 - 28)


def test_no_gc_entry_or_no_spread_gives_no_share():
    (no_entry,) = tails([row(10, 28, 108)])
    (flat,) = tails([row(10, 28, 28, gc_p50_ms=0.0, gc_tail_ms=0.0, tail_ms=28.0)])
    assert math.isnan(no_entry.gc_share) and math.isnan(flat.gc_share)


def test_a_share_outside_0_to_100_percent_is_noise_and_not_printed():
    # The slowest 1% collected 30 ms more than the median answer but took only 20 ms more: a
    # handful of answers, or overlapping entries; never "150%".
    (over,) = tails([row(10, 28, 48, gc_p50_ms=0.0, gc_tail_ms=30.0, tail_ms=48.0)])
    (under,) = tails([row(10, 28, 48, gc_p50_ms=2.0, gc_tail_ms=1.0, tail_ms=48.0)])
    assert math.isnan(over.gc_share) and math.isnan(under.gc_share)
    assert (
        tail_table([row(10, 28, 48, gc_p50_ms=0.0, gc_tail_ms=30.0, tail_ms=48.0)]).rows[0][9]
        == "-"
    )


def test_each_deployment_is_a_line_with_its_capacity_below_the_lowest_rate_when_none_met_it():
    rows = [
        row(10, 28, 105, gc_p50_ms=1.0, gc_tail_ms=60.0, tail_ms=105.0),
        row(20, 40, 400, gc_p50_ms=1.0, gc_tail_ms=70.0, tail_ms=450.0),
        row(10, 27, 40, server="wsgi+gc=between-requests", gc_p50_ms=0, gc_tail_ms=0, tail_ms=41),
        row(20, 35, 95, server="wsgi+gc=between-requests", gc_p50_ms=0, gc_tail_ms=0, tail_ms=99),
        row(300, 2.0, 4.0, mode="raw", closed=1200.0, gc_p50_ms=0, gc_tail_ms=0, tail_ms=4.5),
    ]
    table = tail_table(rows)
    lines = {(cells[0], cells[1]): cells for cells in table.rows}
    default = lines[("wsgi", "drf")]
    assert default[3] == "10.0 (25% of 40.0)" and default[6] == "×3.75" and default[9] == "77%"
    assert default[10] == "below the lowest rate tried (10.0 req/s)"
    between = lines[("wsgi+gc=between-requests", "drf")]
    assert between[6] == "×1.48" and between[9] == "0%"
    assert between[10].startswith("≥ 20.0 req/s")
    assert lines[("wsgi", "raw")][3] == "300 (25% of 1,200)"
    assert "p99/p50" in text_table(table)


def test_what_to_pick_says_drfs_capacity_under_each_gc_setup_when_swept():
    from candles.api.gc_setups import RECOMMENDED
    from loadtest.report.capacity import capacities
    from loadtest.report.pick import pick_tail

    setups = {"gc": [{"name": RECOMMENDED.name, "recommended": True}]}
    res = SimpleNamespace(capacity={}, meta={"plan": {"setups": setups}})  # what pick_tail reads
    assert pick_tail(res) is None
    rec = f"wsgi+gc={RECOMMENDED.name}"
    res.capacity = capacities([row(10, 28, 150), row(10, 26, 60, server=rec)])
    line = pick_tail(res)
    assert line is not None and "below the lowest rate tried (10.0 req/s)" in line
    assert f"≥ 10.0 req/s (every rate tried met it) with CANDLEBENCH_GC={RECOMMENDED.name}" in line


def test_what_to_pick_reads_drf_validated_when_drf_was_not_swept_and_names_the_setup():
    from loadtest.report.capacity import capacities
    from loadtest.report.pick import pick_tail

    setups = {"gc": [{"name": "freeze", "recommended": True}]}
    res = SimpleNamespace(
        capacity=capacities([row(5, 60, 150, mode="drf-validated"), row(50, 3, 9, mode="raw")]),
        meta={"plan": {"setups": setups}},
    )
    line = pick_tail(res)
    assert line is not None and line.startswith("**The tail** (drf-validated, 1000 rows, wsgi)")
    assert "CANDLEBENCH_GC=freeze takes the collector out" in line
