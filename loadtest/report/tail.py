"""The tail of a capacity sweep (issue 29): per cell, p99 and p99/p50 at a quarter of its
closed-loop maximum (open loop), how much of the tail over p50 the collector's time explains (the
answers' Server-Timing `gc` entry, the slowest 1% against the median answer), and its capacity at
the latency target."""

from __future__ import annotations

import math
from dataclasses import dataclass

from loadtest.arrivals import ROUGH_P99_REQUESTS
from loadtest.report.capacity import Capacity, CapacityRow, capacities
from loadtest.report.numbers import fnum, fratio, rows_label
from loadtest.report.tables import Table

# The offered load the tail is read at: this share of the cell's closed-loop maximum.
TAIL_FRACTION = 0.25


@dataclass(frozen=True)
class Tail:
    """One cell's tail at (the rate tried nearest) a quarter of its closed-loop maximum."""

    row: CapacityRow
    capacity: Capacity
    of_max: float  # the rate as a share of the closed-loop maximum; NaN: no maximum measured

    @property
    def ratio(self) -> float:
        """p99 over p50."""
        return self.row.p99_ms / self.row.p50_ms if self.row.p50_ms > 0 else math.nan

    @property
    def gc_share(self) -> float:
        """The share of the tail's excess that is collection time: the slowest 1%'s mean `gc` ms
        less the median answer's, over their mean latency less p50 (the same requests on both
        sides; NaN without the entry or without a tail). Collections a request waited behind in
        a queue are not in its own entry: a lower bound."""
        spread = self.row.tail_ms - self.row.p50_ms
        extra = self.row.gc_tail_ms - self.row.gc_p50_ms
        if not (spread > 0 and math.isfinite(extra)):
            return math.nan
        share = extra / spread
        # Outside 0-100% the two differences are noise (a handful of answers), not a share.
        return share if 0.0 <= share <= 1.0 else math.nan


def tail_row(
    rates: list[CapacityRow], fraction: float = TAIL_FRACTION
) -> tuple[CapacityRow, float]:
    """The rate of one cell the tail is read at: nearest `fraction` of its closed-loop maximum
    (the lowest rate tried when the maximum was not measured), and its share of the maximum."""
    closed = next((r.closed_loop_rps for r in rates if math.isfinite(r.closed_loop_rps)), math.nan)
    if not closed > 0:
        row = min(rates, key=lambda r: r.offered_rps)
        return row, math.nan
    row = min(rates, key=lambda r: (abs(r.offered_rps - fraction * closed), r.offered_rps))
    return row, row.offered_rps / closed


def tails(rows: list[CapacityRow], fraction: float = TAIL_FRACTION) -> list[Tail]:
    """Per cell, in the order first seen, its tail (cells whose rates all failed to answer left
    out: no p50 to read)."""
    out = []
    for key, capacity in capacities(rows).items():
        rates = [r for r in rows if r.cell == key and math.isfinite(r.p50_ms)]
        if rates:
            row, of_max = tail_row(rates, fraction)
            out.append(Tail(row, capacity, of_max))
    return out


def _share(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{value:.0%}"


def tail_table(rows: list[CapacityRow], fraction: float = TAIL_FRACTION) -> Table:
    """The tail table of a sweep: one line per cell (server label with its deployment, mode, rows)."""
    body = []
    for t in tails(rows, fraction):
        r = t.row
        at = (
            f"{fnum(r.offered_rps)} ({t.of_max:.0%} of {fnum(r.closed_loop_rps)})"
            if math.isfinite(t.of_max)
            else f"{fnum(r.offered_rps)} (lowest tried; no closed-loop max)"
        )
        body.append(
            [
                r.server,
                r.mode,
                rows_label(r.limit),
                at,
                fnum(r.p50_ms),
                ("~" if r.rough else "") + fnum(r.p99_ms),
                fratio(t.ratio),
                fnum(r.gc_p50_ms, 2) if math.isfinite(r.gc_p50_ms) else "-",
                fnum(r.gc_tail_ms, 1) if math.isfinite(r.gc_tail_ms) else "-",
                ("~" if r.rough and math.isfinite(t.gc_share) else "") + _share(t.gc_share),
                t.capacity.text,
            ]
        )
    slo = fnum(rows[0].slo_ms) if rows else "-"
    return Table(
        [
            "server",
            "mode",
            "rows",
            "offered req/s (of the closed-loop max)",
            "p50 ms",
            "p99 ms",
            "p99/p50",
            "gc ms, median answer",
            "gc ms, slowest 1%",
            "gc share of the tail",
            f"capacity at p99 ≤ {slo} ms",
        ],
        body,
        f"The tail at {fraction:.0%} of each cell's closed-loop maximum (the rate tried nearest it; "
        "open loop, latency from each request's intended start). gc: the answers' Server-Timing "
        "`gc` entry, the collector's time while the server handled them; its share of the tail is "
        "the slowest 1%'s mean gc less the median answer's, over their mean latency less p50 (how "
        "much of what the tail adds to p50 is collection): a lower bound, since a "
        "collection a request waited behind in the queue (or one run between requests) is in its "
        "latency but not in its entry: under a setup that collects between requests the entries "
        "are 0 by construction, and its collections are in the latency of the requests queued "
        "behind them. - : no entry, or differences outside 0-100% (noise, not a share). ~ marks "
        f"a rough p99, and a share resting on the same few answers (fewer than "
        f"{ROUGH_P99_REQUESTS:,} answers, so the slowest 1% is a handful).",
        align_left=3,
    )
