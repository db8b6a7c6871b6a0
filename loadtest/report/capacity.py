"""capacity.csv (one row per offered rate of an open-loop sweep) and each cell's capacity at the
latency target read from it (the tables, chart and pages: capacity_report.py)."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO

from loadtest.arrivals import ROUGH_P99_REQUESTS
from loadtest.report.numbers import fnum

CAPACITY_CSV = "capacity.csv"
# The share of the generated arrivals a rate must serve inside its window to count as served.
SERVED_PCT = 97.0
# The default latency target (p99, ms) of the capacity command and of the main report's column.
DEFAULT_SLO_MS = 100.0


@dataclass
class CapacityRow:
    """One offered rate of one cell (server x mode x limit), as capacity.csv holds it; the
    issue's columns first, then what explains them."""

    server: str
    mode: str
    limit: int
    arrivals: str
    offered_rps: float
    achieved_rps: float = math.nan
    dropped: int = 0
    requests: int = 0  # answered (200) arrivals of the window: what the percentiles rest on
    p50_ms: float = math.nan
    p90_ms: float = math.nan
    p95_ms: float = math.nan
    p99_ms: float = math.nan
    max_ms: float = math.nan
    trustworthy: bool = True
    note: str = ""
    slo_ms: float = DEFAULT_SLO_MS
    generated_rps: float = math.nan  # arrivals the schedule put in the window, per second
    served_pct: float = math.nan  # achieved as a share of generated
    failed: int = 0  # answered with anything but 200 and the document (503s included)
    unfinished: int = 0  # no answer when the run stopped waiting for its stragglers
    window_s: float = math.nan
    mean_ms: float = math.nan
    slip_p99_ms: float = math.nan  # how late the generator started requests
    wait_p99_ms: float = math.nan  # waiting for one of the generator's connections
    closed_loop_rps: float = math.nan  # the cell's closed-loop maximum, when measured
    # The answers' Server-Timing `gc` ms: median over the window, mean over its slowest 1%.
    gc_p50_ms: float = math.nan
    gc_tail_ms: float = math.nan
    tail_ms: float = math.nan  # the mean latency of that slowest 1%
    connections: int = 0
    pool: int = 0
    processes: int = 1
    loadgen_cpu_pct: float = math.nan
    server_cpu_pct: float = math.nan
    other_cpu_pct: float = math.nan

    @property
    def rough(self) -> bool:
        """Its p99 rests on fewer answered requests than a tail needs (loadtest/arrivals.py)."""
        return self.requests < ROUGH_P99_REQUESTS

    @property
    def meets(self) -> bool:
        """p99 within the target, nothing dropped or left unanswered, and >= 97% served."""
        return (
            self.p99_ms <= self.slo_ms
            and not self.dropped
            and not self.unfinished
            and self.served_pct >= SERVED_PCT
        )

    @property
    def cell(self) -> tuple[str, str, int]:
        return self.server, self.mode, self.limit


CAPACITY_COLUMNS = [f.name for f in fields(CapacityRow)]
_KINDS = {f.name: f.type for f in fields(CapacityRow)}


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.2f}"
    return str(value)


def _value(name: str, text: str) -> object:
    kind = _KINDS[name]
    if kind == "bool":
        return text == "yes"
    if kind == "int":
        return int(text) if text else 0
    if kind == "float":
        return float(text) if text else math.nan
    return text


class CapacityWriter:
    """capacity.csv written one rate at a time (flushed: a stopped sweep keeps its rates)."""

    def __init__(self, f: IO[str]) -> None:
        self._file = f
        self._writer = csv.DictWriter(f, fieldnames=CAPACITY_COLUMNS)
        self._writer.writeheader()

    def write(self, row: CapacityRow) -> None:
        self._writer.writerow({name: _text(getattr(row, name)) for name in CAPACITY_COLUMNS})
        self._file.flush()


def load_capacity(path: Path) -> list[CapacityRow]:
    """The rows of a capacity.csv (columns it lacks take their defaults)."""
    with open(path, newline="") as f:
        return [
            CapacityRow(**{k: _value(k, v) for k, v in cells.items() if k in _KINDS})  # type: ignore[arg-type]
            for cells in csv.DictReader(f)
        ]


@dataclass(frozen=True)
class Capacity:
    """One cell's capacity at its latency target: the highest offered rate that met it."""

    server: str
    mode: str
    limit: int
    slo_ms: float
    rps: float  # NaN: below the lowest rate tried
    lowest_tried: float
    highest_tried: float
    rough: bool  # the deciding p99 rests on fewer than ROUGH_P99_REQUESTS requests
    trustworthy: bool  # the deciding row passed its checks
    # The next rate tried above it, which did not meet the target: the capacity lies between
    # the two (as fine as the sweep's grid); NaN when every rate tried met it or none did.
    not_met_above: float = math.nan

    @property
    def text(self) -> str:
        if not math.isfinite(self.rps):
            return f"below the lowest rate tried ({fnum(self.lowest_tried)} req/s)"
        warn = "" if self.trustworthy else " ⚠"
        if self.rps >= self.highest_tried:
            rough = " (rough)" if self.rough else ""
            return f"≥ {fnum(self.rps)} req/s (every rate tried met it){warn}{rough}"
        notes = ["rough"] if self.rough else []
        notes.append(not_met_text(self.not_met_above))
        return f"{fnum(self.rps)} req/s{warn} ({'; '.join(notes)})"

    @property
    def chart_text(self) -> str:
        """The same decision in a few words, beside a bar of the hero chart."""
        if not math.isfinite(self.rps):
            return f"below {fnum(self.lowest_tried)} req/s"
        warn = "" if self.trustworthy else " ⚠"
        if self.rps >= self.highest_tried:
            return f"≥ {fnum(self.rps)} req/s{warn}"
        return f"{fnum(self.rps)} req/s{warn} ({not_met_text(self.not_met_above)})"


def not_met_text(rate: float) -> str:
    """The rate above a capacity that did not meet the target, as the capacity's texts say it."""
    return f"{fnum(rate)} not met"


def capacities(rows: Iterable[CapacityRow]) -> dict[tuple[str, str, int], Capacity]:
    """Per cell, in the order first seen: the highest offered rate with p99 <= its target,
    nothing dropped and at least SERVED_PCT% served, or none (below the lowest rate tried)."""
    cells: dict[tuple[str, str, int], list[CapacityRow]] = {}
    for row in rows:
        cells.setdefault(row.cell, []).append(row)
    out = {}
    for key, rates in cells.items():
        met = [r for r in rates if r.meets]
        best = max(met, key=lambda r: r.offered_rps) if met else None
        out[key] = Capacity(
            *key,
            slo_ms=rates[0].slo_ms,
            rps=best.offered_rps if best else math.nan,
            lowest_tried=min(r.offered_rps for r in rates),
            highest_tried=max(r.offered_rps for r in rates),
            rough=bool(best and best.rough),
            trustworthy=bool(best is None or best.trustworthy),
            not_met_above=min(
                (r.offered_rps for r in rates if best and r.offered_rps > best.offered_rps),
                default=math.nan,
            ),
        )
    return out


def capacity_from_folder(directory: Path) -> dict[tuple[str, str, int], Capacity]:
    """A results folder's capacities at its latency target (empty: the run swept none)."""
    path = directory / CAPACITY_CSV
    return capacities(load_capacity(path)) if path.is_file() else {}
