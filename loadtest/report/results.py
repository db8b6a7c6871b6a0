"""The results schema (results.csv): the runner writes its rows through it, the report reads them
back and groups them into cells (server x mode x limit over repeats)."""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import IO, Any

from loadtest.axes import COMPRESSION, Deployment, axes, split_label
from loadtest.fitting import LineFit, Spread, fit_row_cost, paired_median, ratio, spread
from loadtest.report.capacity import Capacity, capacity_from_folder
from loadtest.report.unknowns import UNKNOWN_REMOTE
from loadtest.request import DIAGNOSTICS
from loadtest.stats import PHASES

BASELINE = "drf-validated"
CHART_ROWS = 1000  # the case study's row count; the largest limit stands in when absent
# The fewest limits a per-row fit is shown from.
MIN_FIT_LIMITS = 3
# A server below this share of its core during a ceiling run was not what limited it.
SATURATED_CPU_PCT = 90.0
# The runs of the case study's own load profile after a session's steady runs (its schema is
# results.csv's; loadtest/report/then_and_now.py reads them).
STUDY_PROFILE_CSV = "study-profile.csv"


@dataclass
class Row:
    """One measured run: one server x deployment (each axis's setup) x mode x limit x repeat."""

    server: str
    mode: str
    limit: int
    repeat: int
    rps: float
    p50_ms: float = math.nan
    p95_ms: float = math.nan
    p99_ms: float = math.nan
    failures: int = 0
    bytes: int = 0
    timing_ms: dict[str, float] = field(
        default_factory=dict
    )  # Server-Timing means: db, serialize, render
    server_rss_mb: float = math.nan
    trustworthy: bool = True
    note: str = ""
    requests: int = 0
    duration_s: float = math.nan
    mean_ms: float = math.nan
    max_ms: float = math.nan
    server_cpu_pct: float = math.nan
    loadgen_cpu_pct: float = math.nan
    db_cpu_pct: float = math.nan
    other_cpu_pct: float = math.nan
    locust_report: str = ""
    workers: int | None = (
        1  # server processes started to serve requests (--workers; None: a remote target's, unknown)
    )
    # Server processes that used at least SERVING_CPU_PCT of a core during the window.
    serving_processes: int | None = 0  # None: a remote target's, unknown
    # Per Locust worker ("host#index", distributed mode): requests it made in the window, and
    # its CPU use in % of one core.
    worker_requests: dict[str, int] = field(default_factory=dict)
    worker_cpu_pct: dict[str, float] = field(default_factory=dict)
    # The setup of every deployment axis the server ran under (loadtest/axes.py: one column
    # each), and the mean body size on the wire (compressed; `bytes` is the document's own
    # size, decoded).
    deployment: Deployment = field(default_factory=Deployment)
    wire_bytes: int = 0

    @property
    def compression(self) -> str:
        return self.deployment[COMPRESSION.name]

    @property
    def served_by(self) -> str:
        """The server and its deployment as the report's cells name them: `wsgi`, `wsgi+zstd-1`."""
        return self.deployment.label(self.server)


# The columns of results.csv in their order (the first, then what the checks and the
# report also use; later additions at the end, so older files still load). Each Row field
# is one column, except timing_ms, which is one column per Server-Timing phase, and deployment,
# one column per axis: compression's where it was before the other axes, every other axis's
# appended in loadtest/axes.py's order (columns()).
COLUMNS: list[str] = [
    "server",
    "mode",
    "limit",
    "repeat",
    "rps",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "failures",
    "bytes",
    *(f"{p}_ms" for p in PHASES),
    "server_rss_mb",
    "trustworthy",
    "note",
    "requests",
    "duration_s",
    "mean_ms",
    "max_ms",
    "server_cpu_pct",
    "loadgen_cpu_pct",
    "db_cpu_pct",
    "other_cpu_pct",
    "locust_report",
    "workers",
    "serving_processes",
    "worker_requests",
    "worker_cpu_pct",
    "compression",
    "wire_bytes",
]


def columns() -> list[str]:
    """results.csv's columns: COLUMNS, then each axis's column not among them."""
    return [*COLUMNS, *(a.name for a in axes() if a.name not in COLUMNS)]


# The per-worker columns: `label=value` pairs separated by `;`.
PER_WORKER = {"worker_requests": int, "worker_cpu_pct": float}
# Decimal places written for the float columns.
_DIGITS: dict[str, int] = {
    "rps": 2,
    "p50_ms": 3,
    "p95_ms": 3,
    "p99_ms": 3,
    **{f"{p}_ms": 4 for p in PHASES},
    "server_rss_mb": 1,
    "duration_s": 3,
    "mean_ms": 3,
    "max_ms": 3,
    "server_cpu_pct": 0,
    "loadgen_cpu_pct": 0,
    "db_cpu_pct": 0,
    "other_cpu_pct": 0,
}
_TYPES = {f.name: f.type for f in fields(Row)}


def _float(value: str | None) -> float:
    try:
        return float(value) if value else math.nan
    except ValueError:
        return math.nan


def _int(value: str | None) -> int:
    f = _float(value)
    return int(f) if math.isfinite(f) else 0


def _cell(value: float, digits: int) -> str:
    return "" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def _pairs_cell(values: dict[str, float]) -> str:
    return ";".join(
        f"{k}={v:.0f}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
    )


def _pairs(text: str, kind: type) -> dict:
    out = {}
    for item in filter(None, (text or "").split(";")):
        key, _, value = item.rpartition("=")
        try:
            out[key] = kind(value)
        except ValueError:
            continue
    return out


def to_csv(row: Row) -> dict[str, str]:
    """A Row as the cells of one results.csv line."""
    out: dict[str, str] = {}
    axis_names = {a.name for a in axes()}
    for name in columns():
        phase = name[:-3] if name.endswith("_ms") and name[:-3] in PHASES else None
        # A column's value: a float, an int, a str, a bool or a dict (PER_WORKER), by column.
        value: Any
        if phase:
            value = row.timing_ms.get(phase, math.nan)
        elif name in axis_names:
            value = row.deployment[name]
        else:
            value = getattr(row, name)
        if name in _DIGITS:
            out[name] = _cell(value, _DIGITS[name])
        elif name in PER_WORKER:
            out[name] = _pairs_cell(value)
        elif name == "trustworthy":
            out[name] = "yes" if value else "no"
        elif value is None:
            out[name] = ""
        else:
            out[name] = str(value)
    return out


def from_csv(cells: dict[str, str]) -> Row:
    """One results.csv line as a Row; missing columns (older files) take the Row's defaults
    (an axis's column: its default setup; before compression the wire carried the document's
    own bytes).

    Files written before failed requests were left out of `rps` counted them as served: a
    row with failures gets its rps from the successful requests over its window."""
    values: dict = {
        "timing_ms": {p: v for p in PHASES if math.isfinite(v := _float(cells.get(f"{p}_ms")))}
    }
    for name in COLUMNS:
        if name not in _TYPES or name not in cells:
            continue
        kind, text = _TYPES[name], cells[name]
        if name == "trustworthy":
            values[name] = text == "yes"
        elif name in ("workers", "serving_processes"):
            values[name] = _int(text) if text else None
        elif name in PER_WORKER:
            values[name] = _pairs(text, PER_WORKER[name])
        elif kind == "int" and name in ("limit", "repeat"):
            values[name] = int(text)
        elif kind == "int":
            values[name] = _int(text)
        elif kind == "float":
            values[name] = _float(text)
        else:
            values[name] = text
    values["deployment"] = Deployment({a.name: cells.get(a.name) or "" for a in axes()})
    row = Row(**values)
    if "wire_bytes" not in cells or not cells["wire_bytes"]:
        row.wire_bytes = row.bytes
    if row.failures and row.requests and math.isfinite(row.duration_s) and row.duration_s > 0:
        row.rps = max(0, row.requests - row.failures) / row.duration_s
    return row


def load_rows(path: Path) -> list[Row]:
    with open(path, newline="") as f:
        return [from_csv(cells) for cells in csv.DictReader(f)]


class ResultsWriter:
    """results.csv written one run at a time (flushed, so a stopped session keeps its runs)."""

    def __init__(self, f: IO[str]) -> None:
        self._file = f
        self._writer = csv.DictWriter(f, fieldnames=columns())
        self._writer.writeheader()

    def write(self, row: Row) -> None:
        self._writer.writerow(to_csv(row))
        self._file.flush()

    def write_all(self, rows: Iterable[Row]) -> None:
        for row in rows:
            self.write(row)


@dataclass
class Cell:
    """One server x mode x limit over its repeats."""

    rows: list[Row]
    rps: Spread = field(init=False)

    def __post_init__(self) -> None:
        self.rps = spread([r.rps for r in self.rows])

    @property
    def trustworthy(self) -> bool:
        return all(r.trustworthy for r in self.rows)

    def median(self, attr: str) -> float:
        return spread([getattr(r, attr) for r in self.rows]).median

    def timing(self, phase: str) -> float:
        return spread([r.timing_ms.get(phase, math.nan) for r in self.rows]).median

    @property
    def peak_rss_mb(self) -> float:
        values = [r.server_rss_mb for r in self.rows if math.isfinite(r.server_rss_mb)]
        return max(values) if values else math.nan


class Results:
    """Every run of a results directory, grouped into cells, with the ratios the report shows."""

    def __init__(self, rows: list[Row], meta: dict | None = None) -> None:
        if not rows:
            raise ValueError("no results")
        self.rows = rows
        self.meta = meta or {}
        plan = self.meta.get("plan", {})
        # Report order: the registry's (every server's modes), else the plan's, then any other.
        order = [e["name"] for e in plan.get("registry") or []] or plan.get("modes") or []
        order = list(dict.fromkeys([*order, *(r.mode for r in rows)]))
        self.modes = [m for m in order if m not in DIAGNOSTICS and any(r.mode == m for r in rows)]
        self.diagnostics = [d for d in DIAGNOSTICS if any(r.mode == d for r in rows)]
        # A "server" of the report is a server under one deployment (Row.served_by).
        served = list(dict.fromkeys(r.served_by for r in rows))
        server_order = list(dict.fromkeys([*(plan.get("servers") or []), *served]))
        self.servers = [s for s in server_order if s in served]
        self.limits = sorted({r.limit for r in rows})
        grouped: dict[tuple[str, str, int], list[Row]] = defaultdict(list)
        for r in rows:
            grouped[(r.served_by, r.mode, r.limit)].append(r)
        self.cells = {key: Cell(sorted(v, key=lambda r: r.repeat)) for key, v in grouped.items()}
        # Capacity at the latency target of the cells an open-loop sweep measured (capacity.csv).
        self.capacity: dict[tuple[str, str, int], Capacity] = {}
        # The runs of the case study's own load profile (STUDY_PROFILE_CSV), apart from the rest.
        self.seed: list[Row] = []

    @classmethod
    def load(cls, directory: Path) -> Results:
        meta_path = directory / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        for name in ("instructions", "wrk"):  # what the runner measured besides Locust's runs
            path = directory / f"{name}.json"
            if path.exists():
                meta[name] = json.loads(path.read_text())
        results = cls(load_rows(directory / "results.csv"), meta)
        results.capacity = capacity_from_folder(directory)
        if (directory / STUDY_PROFILE_CSV).is_file():
            results.seed = load_rows(directory / STUDY_PROFILE_CSV)
        return results

    def cell(self, server: str, mode: str, limit: int) -> Cell | None:
        return self.cells.get((server, mode, limit))

    def rps(self, server: str, mode: str, limit: int) -> float:
        c = self.cell(server, mode, limit)
        return c.rps.median if c else math.nan

    def paired_ratio(self, a: tuple[str, str, int], b: tuple[str, str, int]) -> float:
        """rps of cell `a` over cell `b`, taken within each repeat (measured minutes apart
        at most), then the median over repeats: slow drift of the machine cancels out."""
        ca, cb = self.cells.get(a), self.cells.get(b)
        if ca is None or cb is None:
            return math.nan
        return paired_median({r.repeat: r.rps for r in ca.rows}, {r.repeat: r.rps for r in cb.rows})

    def speedup(self, server: str, mode: str, limit: int) -> float:
        return self.paired_ratio((server, mode, limit), (server, BASELINE, limit))

    def drift(self) -> dict[int, float]:
        """For each repeat after the first: the median over cells of its rps over the first
        repeat's. 1.0 = the machine ran at the same speed."""
        out: dict[int, float] = {}
        repeats = sorted({r.repeat for r in self.rows})
        for k in repeats[1:]:
            ratios = []
            for cell in self.cells.values():
                by_repeat = {r.repeat: r.rps for r in cell.rows}
                if k in by_repeat and repeats[0] in by_repeat:
                    ratios.append(ratio(by_repeat[k], by_repeat[repeats[0]]))
            out[k] = spread(ratios).median
        return out

    def ceiling(self, server: str, limit: int) -> tuple[float, str]:
        """(requests/s, which diagnostic): the higher of the floor diagnostics' medians on
        this server at this limit; (nan, "") when none was measured."""
        measured = [(self.rps(server, d, limit), d) for d in self.diagnostics]
        measured = [(v, d) for v, d in measured if math.isfinite(v)]
        return max(measured) if measured else (math.nan, "")

    @property
    def target(self) -> dict:
        """The deployment measured with --target (its name, URL, header names...); {} when the
        runner started its servers itself."""
        return self.meta.get("target") or {}

    def is_remote(self, server: str) -> bool:
        """`server` is a deployment the runner did not start: its CPU and memory are unknown."""
        return bool(self.target) and split_label(server)[0] == self.target.get("name")

    def ceiling_unknown(self, server: str) -> str:
        """Why a remote server has no ceiling: it does not serve the floor diagnostics ('' for
        a server the runner started, or when --no-floor asked for none)."""
        plan = self.meta.get("plan", {})
        asked = plan.get("diagnostics", DIAGNOSTICS)
        served = [e["name"] for e in plan.get("registry") or [] if e.get("diagnostic")]
        if not self.is_remote(server) or not asked or any(d in served for d in asked):
            return ""
        return f"{UNKNOWN_REMOTE}: the target does not serve the floor diagnostics"

    def ceiling_limited_by(self, server: str, limit: int) -> str:
        """'' when the server was saturated while serving its ceiling; else why the ceiling is
        only a lower bound (the server did not use its core: something else limited it), or
        for a remote target that this cannot be told."""
        _, which = self.ceiling(server, limit)
        c = self.cell(server, which, limit) if which else None
        if c is None:
            return ""
        if self.is_remote(server):
            return (
                "of unknown saturation (remote target: its CPU is not visible from here), so possibly a "
                "lower bound"
            )
        workers = c.rows[0].workers
        if workers is None:  # an empty workers cell: the share of its cores cannot be told
            return "of unknown saturation (its number of server processes is not recorded), so possibly a lower bound"
        # Several server processes: their CPU summed, as a share of their cores.
        srv, lg = (
            c.median("server_cpu_pct") / max(1, workers),
            c.median("loadgen_cpu_pct"),
        )
        if not math.isfinite(srv) or srv >= SATURATED_CPU_PCT:
            return ""
        cores = "its core" if workers == 1 else f"its {workers} cores"
        return (
            f"lower bound: the server used {srv:.0f}% of {cores}, the load generator {lg:.0f}% of its own"
            if math.isfinite(lg)
            else f"lower bound: the server used {srv:.0f}% of {cores}"
        )

    def pct_of_ceiling(self, server: str, mode: str, limit: int) -> float:
        """A mode's median requests/s as a percentage of the ceiling's median."""
        top, _ = self.ceiling(server, limit)
        return 100 * ratio(self.rps(server, mode, limit), top)

    def on_default_deployment(self) -> Results | None:
        """The same results from the runs with every axis at its default only (no compression,
        today's stack, ...): what the headline tables, the hero and goals G1-G11 judge (None
        when there is none)."""
        rows = [r for r in self.rows if r.deployment.is_default]
        if len(rows) == len(self.rows):
            return self
        return self._subset(rows)

    def varied_axes(self) -> dict[str, str]:
        """The axes some run set off its default, each with its noun (`compression setup`)."""
        varied = {name for r in self.rows for name in r.deployment.chosen}
        return {a.name: a.noun for a in axes() if a.name in varied}

    def along(self, axis: str) -> Results | None:
        """The same results from the runs whose other axes are at their defaults (what an
        axis's own table and goals compare: compression's on today's stack, ...)."""
        rows = [r for r in self.rows if set(r.deployment.chosen) <= {axis}]
        if len(rows) == len(self.rows):
            return self
        return self._subset(rows)

    def trusted(self) -> Results | None:
        """The same results from trustworthy rows only (None when there is none)."""
        return self._subset([r for r in self.rows if r.trustworthy])

    def _subset(self, rows: list[Row]) -> Results | None:
        """These results from `rows` only, with the same meta and open-loop capacities."""
        if not rows:
            return None
        subset = Results(rows, self.meta)
        subset.capacity, subset.seed = self.capacity, self.seed
        return subset

    def fit(self, server: str, mode: str) -> LineFit | None:
        """The per-row fit, shown only from three limits or more (two points always fit a line)."""
        fit = fit_row_cost({lim: self.rps(server, mode, lim) for lim in self.limits})
        return fit if fit is not None and fit.points >= MIN_FIT_LIMITS else None

    @property
    def api_max_limit(self) -> int:
        """The API's largest page as the settings probe recorded it (else the largest limit run)."""
        return int(self.meta.get("database", {}).get("max_limit") or self.limits[-1])

    @property
    def chart_limit(self) -> int:
        return CHART_ROWS if CHART_ROWS in self.limits else self.limits[-1]

    @property
    def untrustworthy(self) -> list[Row]:
        return [r for r in self.rows if not r.trustworthy]

    def modes_on(self, server: str) -> list[str]:
        """The modes measured on `server`, in report order."""
        return [
            m for m in self.modes if any(key[0] == server and key[1] == m for key in self.cells)
        ]

    def limits_on(self, server: str) -> list[int]:
        return sorted({key[2] for key in self.cells if key[0] == server})

    def validates(self, mode: str) -> bool:
        """Whether `mode` checks every row against the response schema (the registry's flag)."""
        return any(
            e.get("validates")
            for e in self.meta.get("plan", {}).get("registry") or []
            if e["name"] == mode
        )

    def server_label(self, server: str) -> str:
        desc = self.meta.get("servers", {}).get(server)
        return f"{server} ({desc})" if desc else server
