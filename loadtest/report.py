"""report.md, report.html (with charts) and the printed summary, from a results directory.

    python -m loadtest.report loadtest/results/latest   # regenerate from results.csv + meta.json

Everything here reads recorded data only, so it is tested on a committed fixture.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import re
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .fitting import LineFit, Spread, fit_row_cost, ratio, spread
from .stats import PHASES

BASELINE = "drf-validated"
CHART_ROWS = 1000  # the case study's row count; the largest limit stands in when absent
# Diagnostic endpoints the runner measures like modes (candles/api/floor.py): the exact
# bytes of the real answer from memory, no query. Their requests/s is the server set-up's
# ceiling at that response size. They are never listed among the modes.
DIAGNOSTICS: tuple[str, ...] = ("floor", "floor-async")
TARGET_ROWS = 1000
# A server below this share of its core during a ceiling run was not what limited it.
SATURATED_CPU_PCT = 90.0
RSS_ROWS = 1440


@dataclass
class Row:
    server: str
    mode: str
    limit: int
    repeat: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    failures: int
    bytes: int
    timing_ms: dict[str, float]
    server_rss_mb: float
    trustworthy: bool
    note: str
    requests: int = 0
    server_cpu_pct: float = math.nan
    loadgen_cpu_pct: float = math.nan
    locust_report: str = ""


def _float(value: str | None) -> float:
    try:
        return float(value) if value not in (None, "") else math.nan
    except ValueError:
        return math.nan


def _int(value: str | None) -> int:
    f = _float(value)
    return int(f) if math.isfinite(f) else 0


def load_rows(path: Path) -> list[Row]:
    with open(path, newline="") as f:
        return [
            Row(
                server=r["server"],
                mode=r["mode"],
                limit=int(r["limit"]),
                repeat=int(r["repeat"]),
                rps=_float(r["rps"]),
                p50_ms=_float(r.get("p50_ms")),
                p95_ms=_float(r.get("p95_ms")),
                p99_ms=_float(r.get("p99_ms")),
                failures=_int(r.get("failures")),
                bytes=_int(r.get("bytes")),
                timing_ms={p: v for p in PHASES if math.isfinite(v := _float(r.get(f"{p}_ms")))},
                server_rss_mb=_float(r.get("server_rss_mb")),
                trustworthy=r.get("trustworthy", "yes") == "yes",
                note=r.get("note", ""),
                requests=_int(r.get("requests")),
                server_cpu_pct=_float(r.get("server_cpu_pct")),
                loadgen_cpu_pct=_float(r.get("loadgen_cpu_pct")),
                locust_report=r.get("locust_report", ""),
            )
            for r in csv.DictReader(f)
        ]


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
    def __init__(self, rows: list[Row], meta: dict | None = None) -> None:
        if not rows:
            raise ValueError("no results")
        self.rows = rows
        self.meta = meta or {}
        plan = self.meta.get("plan", {})
        order = plan.get("modes") or list(dict.fromkeys(r.mode for r in rows))
        self.modes = [m for m in order if m not in DIAGNOSTICS and any(r.mode == m for r in rows)]
        self.diagnostics = [d for d in DIAGNOSTICS if any(r.mode == d for r in rows)]
        server_order = plan.get("servers") or list(dict.fromkeys(r.server for r in rows))
        self.servers = [s for s in server_order if any(r.server == s for r in rows)]
        self.limits = sorted({r.limit for r in rows})
        grouped: dict[tuple[str, str, int], list[Row]] = defaultdict(list)
        for r in rows:
            grouped[(r.server, r.mode, r.limit)].append(r)
        self.cells = {key: Cell(sorted(v, key=lambda r: r.repeat)) for key, v in grouped.items()}

    @classmethod
    def load(cls, directory: Path) -> Results:
        meta_path = directory / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        return cls(load_rows(directory / "results.csv"), meta)

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
        by_repeat = {r.repeat: r.rps for r in cb.rows}
        ratios = [ratio(r.rps, by_repeat[r.repeat]) for r in ca.rows if r.repeat in by_repeat]
        return spread(ratios).median

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

    def ceiling_limited_by(self, server: str, limit: int) -> str:
        """'' when the server was saturated while serving its ceiling; else why the ceiling is
        only a lower bound (the server did not use its core: something else limited it)."""
        _, which = self.ceiling(server, limit)
        c = self.cell(server, which, limit) if which else None
        if c is None:
            return ""
        srv, lg = c.median("server_cpu_pct"), c.median("loadgen_cpu_pct")
        if not math.isfinite(srv) or srv >= SATURATED_CPU_PCT:
            return ""
        return (f"lower bound: the server used {srv:.0f}% of its core, the load generator {lg:.0f}% of its own"
                if math.isfinite(lg) else f"lower bound: the server used {srv:.0f}% of its core")

    def pct_of_ceiling(self, server: str, mode: str, limit: int) -> float:
        """A mode's median requests/s as a percentage of the ceiling's median."""
        top, _ = self.ceiling(server, limit)
        return 100 * ratio(self.rps(server, mode, limit), top)

    def trusted(self) -> Results | None:
        """The same results from trustworthy rows only (None when there is none)."""
        rows = [r for r in self.rows if r.trustworthy]
        return Results(rows, self.meta) if rows else None

    def fit(self, server: str, mode: str) -> LineFit | None:
        return fit_row_cost({lim: self.rps(server, mode, lim) for lim in self.limits})

    @property
    def chart_limit(self) -> int:
        return CHART_ROWS if CHART_ROWS in self.limits else self.limits[-1]

    @property
    def untrustworthy(self) -> list[Row]:
        return [r for r in self.rows if not r.trustworthy]

    def server_label(self, server: str) -> str:
        desc = self.meta.get("servers", {}).get(server)
        return f"{server} ({desc})" if desc else server


# -- formatting --------------------------------------------------------------------------
def fnum(value: float, digits: int | None = None) -> str:
    """Requests/s and ms: 3 significant digits, thousands separated."""
    if value is None or not math.isfinite(value):
        return "-"
    if digits is not None:
        return f"{value:,.{digits}f}"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def fratio(value: float) -> str:
    return "-" if not math.isfinite(value) else f"×{value:.2f}" if value < 10 else f"×{value:.1f}"


def fbytes(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KiB"


def rows_label(limit: int) -> str:
    return f"{limit} row" if limit == 1 else f"{limit} rows"


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    caption: str = ""
    align_left: int = 1  # leading columns aligned left


def md_table(t: Table) -> str:
    out = []
    if t.caption:
        out.append(t.caption + "\n")
    out.append("| " + " | ".join(t.headers) + " |")
    out.append("|" + "".join(":---|" if i < t.align_left else "---:|" for i in range(len(t.headers))))
    out.extend("| " + " | ".join(r) + " |" for r in t.rows)
    return "\n".join(out)


def html_table(t: Table) -> str:
    def cls(i: int) -> str:
        return ' class="l"' if i < t.align_left else ""

    head = "".join(f"<th{cls(i)}>{html.escape(h)}</th>" for i, h in enumerate(t.headers))
    body = "".join(
        "<tr>" + "".join(f"<td{cls(i)}>{html.escape(c)}</td>" for i, c in enumerate(r)) + "</tr>" for r in t.rows
    )
    caption = f"<caption>{html.escape(t.caption)}</caption>" if t.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def text_table(t: Table) -> str:
    widths = [max(len(h), *(len(r[i]) for r in t.rows)) for i, h in enumerate(t.headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < t.align_left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    return "\n".join([line(t.headers), line(["-" * w for w in widths]), *(line(r) for r in t.rows)])


# -- tables ------------------------------------------------------------------------------
def rps_table(res: Results, server: str, with_spread: bool = True) -> Table:
    headers = ["mode", *(rows_label(lim) for lim in res.limits), "fixed ms", "µs/row"]
    body = []
    for mode in res.modes:
        cells = [mode]
        for lim in res.limits:
            c = res.cell(server, mode, lim)
            if c is None:
                cells.append("-")
                continue
            text = fnum(c.rps.median)
            if with_spread and c.rps.n > 1:
                text += f" ±{c.rps.half_range_pct:.0f}%"
            if not c.trustworthy:
                text += " ⚠"
            cells.append(text)
        fit = res.fit(server, mode)
        cells += [fnum(fit.fixed_ms, 2), fnum(fit.per_row_us, 1)] if fit else ["-", "-"]
        body.append(cells)
    n = max((c.rps.n for k, c in res.cells.items() if k[0] == server), default=0)
    caption = f"{res.server_label(server)}: requests/s, median of {n} repeat(s)" + (
        " ± half the min–max range" if with_spread and n > 1 else ""
    )
    return Table(headers, body, caption)


def speedup_table(res: Results) -> Table:
    headers = ["mode"] + [f"{s} @{lim}" for s in res.servers for lim in res.limits]
    body = [[mode] + [fratio(res.speedup(s, mode, lim)) for s in res.servers for lim in res.limits] for mode in res.modes]
    return Table(headers, body, f"Speed-up over {BASELINE}: requests/s ratio on the same server, "
                 "within each repeat, median over repeats")


def server_ratio_table(res: Results, a: str, b: str) -> Table:
    headers = ["mode", *(rows_label(lim) for lim in res.limits)]
    body = [[mode] + [fratio(res.paired_ratio((a, mode, lim), (b, mode, lim))) for lim in res.limits] for mode in res.modes]
    return Table(headers, body, f"{a} over {b}: requests/s ratio per mode, within each repeat, median over repeats")


def latency_table(res: Results, server: str) -> Table:
    lim = res.chart_limit
    headers = ["mode", "p50 ms", "p95 ms", "p99 ms", *(f"{p} ms" for p in PHASES), "other ms", "1/rps ms"]
    body = []
    for mode in res.modes:
        c = res.cell(server, mode, lim)
        if c is None:
            continue
        service = 1000 / c.rps.median if c.rps.median else math.nan
        phases = [c.timing(p) for p in PHASES]
        other = service - sum(p for p in phases if math.isfinite(p))
        body.append([mode, fnum(c.median("p50_ms")), fnum(c.median("p95_ms")), fnum(c.median("p99_ms")),
                     *(fnum(p) for p in phases), fnum(other) if other >= 0 else "<0", fnum(service)])
    return Table(headers, body, f"{server} at {rows_label(lim)}: latency under load (median of repeats) and where "
                 "one request's server time goes: Server-Timing means; 1/rps = the server's time per request; "
                 "other = 1/rps − the three phases (server, middleware, HTTP). The phases are wall-clock "
                 "times, so where requests overlap (an async server) they can add up to more than 1/rps: <0.")


def micro_table(res: Results) -> Table | None:
    micro = res.meta.get("micro")
    if not micro:
        return None
    rows = micro["rows"]
    fits = micro.get("fits", {})
    alone = {a["limit"]: a for a in micro.get("database_alone", [])}
    limits = sorted({r["limit"] for r in rows} | set(alone))
    modes = list(dict.fromkeys(r["mode"] for r in rows))
    by = {(r["mode"], r["limit"]): r for r in rows}
    headers = ["mode", *(rows_label(lim) for lim in limits), "fixed ms", "µs/row"]
    body = []
    for mode in modes:
        cells = [mode]
        for lim in limits:
            r = by.get((mode, lim))
            cells.append(f"{fnum(r['ms'])} ms" if r else "-")
        f = fits.get(mode)
        cells += [fnum(f["fixed_ms"], 2), fnum(f["per_row_us"], 1)] if f else ["-", "-"]
        body.append(cells)
    for label, key in (("database alone: fetch the rows", "rows_ms"),
                       ("database alone: it writes the JSON", "json_ms")):
        if alone:
            body.append([label, *(f"{fnum(alone[lim][key])} ms" if lim in alone else "-" for lim in limits),
                         "-", "-"])
    differ = [str(lim) for lim, a in alone.items() if not a.get("json_same_document", True)]
    return Table(headers, body, "In-process micro benchmark: the view alone (no HTTP server), ms per request, "
                 "best of 3 batches; least-squares fixed cost and per-row cost. The database alone: raw's "
                 "query compiled once, executed and its rows fetched into Python; or the database writing the "
                 "same document itself and handing over one string"
                 + (f". ⚠ At {', '.join(differ)} rows the database's JSON had other values than raw's document "
                    "(SQLite's json_object keeps 15 significant digits)" if differ else ""))


def database_alone(res: Results, limit: int) -> dict | None:
    """The micro benchmark's database-alone timings at `limit` rows, if it ran there."""
    for a in (res.meta.get("micro") or {}).get("database_alone", []):
        if a["limit"] == limit:
            return a
    return None


def ceiling_bound(res: Results, server: str, limit: int) -> str:
    """How close any mode could come to the ceiling, estimated from the ceiling's time per
    request and the database-alone timings of the same run: a mode does at least what the
    ceiling's request does, plus fetching the rows. An estimate: it assumes the two add up on
    the server's one core, which holds for SQLite (in the server's process) but not for a
    database server under an async server, where the event loop works while a query waits."""
    top, _ = res.ceiling(server, limit)
    alone = database_alone(res, limit)
    micro = res.meta.get("micro") or {}
    if alone is None or not math.isfinite(top) or (server.startswith("asgi") and micro.get("database") != "sqlite"):
        return ""
    ceiling_ms = 1000 / top
    other = "" if alone.get("json_same_document", True) else ", a document with other values"
    return (f" Estimate: in-process the database alone needs {fnum(alone['rows_ms'])} ms to hand {limit} rows to "
            f"Python ({fnum(alone['json_ms'])} ms to write the JSON itself{other}) against {fnum(ceiling_ms)} ms "
            f"for the ceiling's whole request; if these add up on one core, a mode that reads the rows reaches "
            f"about {ceiling_ms / (ceiling_ms + alone['rows_ms']):.0%} of the ceiling at best, one that has the "
            f"database write the JSON {ceiling_ms / (ceiling_ms + alone['json_ms']):.0%}.")


def untrustworthy_table(res: Results) -> Table | None:
    bad = res.untrustworthy
    if not bad:
        return None
    body = [[r.server, r.mode, str(r.limit), str(r.repeat), fnum(r.rps), r.note] for r in bad]
    return Table(["server", "mode", "limit", "repeat", "req/s", "why"], body,
                 "Runs that failed their own checks (shown with ⚠ above; their numbers are not to be trusted)",
                 align_left=6)


def machine_table(res: Results) -> Table:
    m = res.meta.get("machine", {})
    db = res.meta.get("database", {})
    rows = [
        ["CPU", f"{m.get('cpu_model', '?')}, {m.get('cpus_online', '?')} online, {m.get('cpus_usable', '?')} usable"],
        ["memory", f"{m.get('memory_gib', '?')} GiB"],
        ["OS", m.get("os", "?")],
        ["Python", m.get("python", "?")],
        ["database", f"{db.get('vendor', '?')} {db.get('db_version', '')} ({db.get('engine', '?')})".strip()],
        ["CPU pinning", res.meta.get("cpu_layout", "?")],
    ]
    rows += [[name, version] for name, version in m.get("versions", {}).items()]
    return Table(["", ""], rows, "Machine and versions", align_left=2)


# -- ceiling, targets, memory ------------------------------------------------------------
def ceiling_table(res: Results) -> Table | None:
    """Every mode's requests/s as a % of the ceiling on the same server at the same limit."""
    if not res.diagnostics:
        return None
    cols = [(s, lim) for s in res.servers for lim in res.limits]
    headers = ["", *(f"{s} @{lim}" for s, lim in cols)]
    body = []
    for d in res.diagnostics:
        row = [f"{d} req/s (diagnostic)"]
        for s, lim in cols:
            c = res.cell(s, d, lim)
            row.append("-" if c is None else fnum(c.rps.median) + ("" if c.trustworthy else " ⚠"))
        body.append(row)
    body.append(["ceiling = the higher one"] + [
        (res.ceiling(s, lim)[1] or "-") + (" ↓" if res.ceiling_limited_by(s, lim) else "") for s, lim in cols])
    for mode in res.modes:
        row = [mode]
        for s, lim in cols:
            pct = res.pct_of_ceiling(s, mode, lim)
            c = res.cell(s, mode, lim)
            flag = "" if c is None or c.trustworthy else " ⚠"
            row.append(f"{pct:.0f}%{flag}" if math.isfinite(pct) else "-")
        body.append(row)
    return Table(headers, body, "% of ceiling: a mode's median requests/s over the ceiling's median on the same "
                 "server at the same limit. The ceiling is the higher of the diagnostics floor (sync view) and "
                 "floor-async (async view), which answer the same bytes from memory without a query: what "
                 "Django plus that server reach for that response size. ↓ = the server used less than "
                 f"{SATURATED_CPU_PCT:.0f}% of its core during that ceiling run (median), so something else "
                 "(usually the load generator) limited it: that ceiling is a lower bound and its % of ceiling "
                 "an upper bound.")


@dataclass
class TargetResult:
    key: str
    goal: str
    status: str  # "met", "not met", "not measured"
    figures: str

    @property
    def line(self) -> str:
        return f"{self.key} {self.status.upper()}: {self.goal}. {self.figures}"


def _status(ok: list[bool]) -> str:
    return "met" if all(ok) else "not met"


def _missing(res: Results, trusted: Results | None, needed: list[tuple[str, str, int]]) -> str:
    """'' when every needed cell has a trustworthy run; else what is missing and why."""
    not_run = [f"{s} {m} @{lim}" for s, m, lim in needed if res.cell(s, m, lim) is None]
    untrusted = [f"{s} {m} @{lim}" for s, m, lim in needed
                 if res.cell(s, m, lim) is not None and (trusted is None or trusted.cell(s, m, lim) is None)]
    parts = ([f"not run: {', '.join(not_run)}"] if not_run else []) + (
        [f"no trustworthy run: {', '.join(untrusted)}"] if untrusted else [])
    return "; ".join(parts)


T1_MODES = ("raw", "drf", "drf-validated")


def fitted_costs(res: Results, server: str, modes: tuple[str, ...]) -> str:
    """The fitted fixed and per-row costs behind a ratio: a cost per request that every mode
    pays alike (HTTP, the server, Django, building the query) narrows a per-row ratio."""
    fits = {m: res.fit(server, m) for m in modes}
    if any(f is None for f in fits.values()):
        return ""
    parts = ", ".join(f"{m} {fnum(f.fixed_ms, 2)} ms + {fnum(f.per_row_us, 1)} µs/row" for m, f in fits.items())
    return f" Fitted cost per request: {parts}."


def evaluate_targets(res: Results, rows: int = TARGET_ROWS) -> tuple[list[TargetResult], str]:
    """The issue's targets at `rows` rows, from trustworthy rows only (medians of repeats;
    ratios between two cells are taken within each repeat, then the median, like the
    speed-ups). Returns the results and a sentence on which rows were left out."""
    t = res.trusted()
    at = [r for r in res.rows if r.limit == rows]
    bad = [r for r in at if not r.trustworthy]
    if not at:
        note = f"No run at {rows} rows: no target could be measured."
    elif bad:
        note = (f"Evaluated from trustworthy runs only: {len(bad)} of {len(at)} runs at {rows} rows failed their "
                f"checks and were left out ({', '.join(sorted({f'{r.server} {r.mode}' for r in bad}))}).")
    else:
        note = f"Evaluated from all {len(at)} runs at {rows} rows (every one passed its checks)."

    def pr(a: tuple[str, str, int], b: tuple[str, str, int]) -> float:
        return t.paired_ratio(a, b) if t else math.nan

    def rps(s: str, m: str) -> float:
        return t.rps(s, m, rows) if t else math.nan

    out: list[TargetResult] = []
    # T1: WSGI raw >= 10x drf and >= 20x drf-validated.
    goal = f"under wsgi at {rows} rows, raw >= 10x drf and >= 20x drf-validated"
    need = [("wsgi", m, rows) for m in T1_MODES]
    miss = _missing(res, t, need)
    if miss:
        out.append(TargetResult("T1", goal, "not measured", miss.capitalize() + "."))
    else:
        a = pr(("wsgi", "raw", rows), ("wsgi", "drf", rows))
        b = pr(("wsgi", "raw", rows), ("wsgi", "drf-validated", rows))
        out.append(TargetResult("T1", goal, _status([a >= 10, b >= 20]),
                                f"raw {fnum(rps('wsgi', 'raw'))}, drf {fnum(rps('wsgi', 'drf'))}, drf-validated "
                                f"{fnum(rps('wsgi', 'drf-validated'))} req/s: raw/drf {fratio(a)} (needs ×10), "
                                f"raw/drf-validated {fratio(b)} (needs ×20)." + fitted_costs(t, "wsgi", T1_MODES)))
    # T2: ASGI orjson and raw each >= 80% of WSGI raw.
    goal = f"under asgi at {rows} rows, orjson and raw each >= 80% of raw under wsgi"
    need = [("asgi", "orjson", rows), ("asgi", "raw", rows), ("wsgi", "raw", rows)]
    miss = _missing(res, t, need)
    if miss:
        out.append(TargetResult("T2", goal, "not measured", miss.capitalize() + "."))
    else:
        a = pr(("asgi", "orjson", rows), ("wsgi", "raw", rows))
        b = pr(("asgi", "raw", rows), ("wsgi", "raw", rows))
        same_mode = pr(("asgi", "orjson", rows), ("wsgi", "orjson", rows))
        # The same mode on both servers separates what ASGI costs from what the mode costs.
        server_share = (f" The same orjson mode under asgi is {same_mode:.0%} of itself under wsgi."
                        if math.isfinite(same_mode) else "")
        out.append(TargetResult("T2", goal, _status([a >= 0.8, b >= 0.8]),
                                f"asgi orjson {fnum(rps('asgi', 'orjson'))}, asgi raw {fnum(rps('asgi', 'raw'))}, "
                                f"wsgi raw {fnum(rps('wsgi', 'raw'))} req/s: orjson {a:.0%}, raw {b:.0%} of wsgi raw "
                                "(needs 80%)." + server_share))
    # T3: ASGI ceiling >= 50% of WSGI ceiling.
    goal = f"the asgi ceiling (floor) at {rows} rows >= 50% of the wsgi ceiling"
    ca, wa = t.ceiling("asgi", rows) if t else (math.nan, "")
    cw, ww = t.ceiling("wsgi", rows) if t else (math.nan, "")
    if not (math.isfinite(ca) and math.isfinite(cw)):
        miss = _missing(res, t, [(s, d, rows) for s, v in (("asgi", ca), ("wsgi", cw)) if not math.isfinite(v)
                                 for d in DIAGNOSTICS])
        out.append(TargetResult("T3", goal, "not measured", miss.capitalize() + "."))
    else:
        r = ca / cw
        bounds = "; ".join(f"{s} {why}" for s in ("asgi", "wsgi") if (why := t.ceiling_limited_by(s, rows)))
        out.append(TargetResult("T3", goal, _status([r >= 0.5]),
                                f"asgi {fnum(ca)} req/s ({wa}), wsgi {fnum(cw)} req/s ({ww}): {r:.0%} (needs 50%)."
                                + (f" Caution, {bounds}." if bounds else "")))
    # T4: on each server, the best mode >= 50% of that server's ceiling.
    for s in res.servers:
        goal = f"on {s} at {rows} rows, the best mode >= 50% of the ceiling"
        top, which = t.ceiling(s, rows) if t else (math.nan, "")
        modes = [m for m in (t.modes if t else []) if math.isfinite(rps(s, m))]
        if not math.isfinite(top) or not modes:
            miss = (_missing(res, t, [(s, d, rows) for d in DIAGNOSTICS]) if not math.isfinite(top)
                    else f"no trustworthy run of any mode on {s} @{rows}")
            out.append(TargetResult(f"T4 {s}", goal, "not measured", miss.capitalize() + "."))
            continue
        best = max(modes, key=lambda m: rps(s, m))
        r = rps(s, best) / top
        why = t.ceiling_limited_by(s, rows)
        out.append(TargetResult(f"T4 {s}", goal, _status([r >= 0.5]),
                                f"best mode {best} {fnum(rps(s, best))} req/s, ceiling {fnum(top)} req/s ({which}): "
                                f"{r:.0%} (needs 50%)." + (f" Caution, ceiling {why}." if why else "")
                                + ceiling_bound(t, s, rows)))
    return out, note


def targets_items(res: Results) -> list:
    results, note = evaluate_targets(res)
    body = [[r.key, r.status.upper() if r.status != "not measured" else "not measured", r.goal, r.figures]
            for r in results]
    return [Table(["target", "status", "goal", "figures"], body,
                  f"The issue's targets at {TARGET_ROWS} rows, medians of repeats (ratios within each repeat, "
                  "then the median); checked by the runner, not by a unit test", align_left=4), note]


def targets_text(res: Results) -> str:
    results, note = evaluate_targets(res)
    return "\n".join([f"Targets at {TARGET_ROWS} rows:", *(f"  {r.line}" for r in results), f"  ({note})"])


def rss_table(res: Results) -> Table:
    lim = RSS_ROWS if RSS_ROWS in res.limits else res.limits[-1]
    headers = ["mode", *(f"{s} MiB" for s in res.servers)]
    body = []
    for mode in [*res.modes, *res.diagnostics]:
        cells = [mode if mode in res.modes else f"{mode} (diagnostic)"]
        for s in res.servers:
            c = res.cell(s, mode, lim)
            values = [r.server_rss_mb for r in c.rows if math.isfinite(r.server_rss_mb)] if c else []
            if not values:
                cells.append("-")
            elif len(values) == 1 or min(values) == max(values):
                cells.append(fnum(max(values), 1))
            else:
                cells.append(f"{fnum(max(values), 1)} (min {fnum(min(values), 1)})")
        body.append(cells)
    missing = "" if lim == RSS_ROWS else f" ({RSS_ROWS} rows were not run; the largest limit stands in)"
    return Table(headers, body, f"Peak RSS at {rows_label(lim)} per mode per server{missing}: the highest peak "
                 "over the repeats (min over repeats in brackets when they differ), all server processes summed")


RSS_CAVEAT = (
    "Caveat: this is the server's high-water mark (VmHWM) during each run, reset before the run with "
    "`/proc/<pid>/clear_refs` to the RSS of that moment, not the memory a mode needs. Most of it is the "
    "Python interpreter with Django, DRF, ninja and pydantic loaded (compare the floor diagnostics, which "
    "build no rows). CPython rarely returns freed memory to the system, so a run starts from what earlier "
    "runs left allocated: a mode measured after a heavier one can show that one's footprint (the runner "
    "reverses the order every other repeat; the min over repeats is the less contaminated figure). Under "
    "ASGI up to 16 requests are in flight at once, under the sync WSGI worker one, so the ASGI peaks include "
    "concurrency. Differences of a few MiB are within this noise."
)


# -- findings -----------------------------------------------------------------------------
def findings(res: Results) -> list[str]:
    """A few plain sentences about what this run measured, all derived from its data."""
    out: list[str] = []
    lim = res.chart_limit
    for s in res.servers:
        present = [m for m in res.modes if math.isfinite(res.rps(s, m, lim))]
        if not present:
            continue
        best = max(present, key=lambda m: res.rps(s, m, lim))
        worst = min(present, key=lambda m: res.rps(s, m, lim))
        text = (f"**{s}, {rows_label(lim)}**: {best} serves {fnum(res.rps(s, best, lim))} req/s, "
                f"{worst} {fnum(res.rps(s, worst, lim))} req/s")
        if BASELINE in present and best != BASELINE:
            text += f"; {best} is {fratio(res.speedup(s, best, lim))} {BASELINE}"
        small = res.limits[0]
        if small != lim and BASELINE in present and math.isfinite(res.speedup(s, best, small)):
            text += f" (at {rows_label(small)}: {fratio(res.speedup(s, best, small))})"
        out.append(text + ".")
        fits = {m: res.fit(s, m) for m in present}
        fits = {m: f for m, f in fits.items() if f}
        if fits:
            costs = ", ".join(f"{m} {f.per_row_us:.1f}" for m, f in fits.items())
            out.append(f"**{s}, cost per row** (µs, least squares over {', '.join(map(str, res.limits))} rows): {costs}.")
    if "asgi" in res.servers and "wsgi" in res.servers:
        ratios = [res.paired_ratio(("asgi", m, lim), ("wsgi", m, lim)) for m in res.modes]
        ratios = [r for r in ratios if math.isfinite(r)]
        if ratios:
            out.append(f"**asgi vs wsgi, {rows_label(lim)}**: asgi/wsgi requests/s ratio from "
                       f"{min(ratios):.2f} to {max(ratios):.2f} across modes.")
    bad = res.untrustworthy
    if bad:
        out.append(f"**Checks**: {len(bad)} of {len(res.rows)} runs failed their own checks (marked ⚠, listed below).")
    else:
        out.append(f"**Checks**: all {len(res.rows)} runs passed their own checks (no failed request, "
                   "load generator below 90% CPU, enough requests).")
    drift = {k: v for k, v in res.drift().items() if math.isfinite(v)}
    if drift:
        text = ", ".join(f"repeat {k} ran at {fratio(v)}" for k, v in drift.items())
        out.append(f"**Drift**: {text} the speed of repeat 1 (median over all cells). Speed-ups are "
                   "taken within each repeat, so they do not depend on it; absolute requests/s do.")
    cpu = [r.loadgen_cpu_pct for r in res.rows if math.isfinite(r.loadgen_cpu_pct)]
    srv = [r.server_cpu_pct for r in res.rows if math.isfinite(r.server_cpu_pct)]
    if cpu and srv:
        out.append(f"Load generator CPU per run: {min(cpu):.0f}–{max(cpu):.0f}% of a core; "
                   f"server: {min(srv):.0f}–{max(srv):.0f}%.")
    return out


def intro(res: Results) -> list[str]:
    meta = res.meta
    lines = []
    if meta.get("request"):
        lines.append(f"Request: `GET {meta['request']}`, the same for every mode.")
    docs = meta.get("documents")
    if docs:
        sizes = ", ".join(f"{rows_label(int(k))} {fbytes(int(v))}" for k, v in sorted(docs.items(), key=lambda kv: int(kv[0])))
        lines.append(f"Before measuring, every mode answered a byte-identical document at each limit ({sizes}).")
    if meta.get("load"):
        lines.append(f"Load: {meta['load']}; {meta.get('cpu_layout', '')}.")
    if meta.get("started_at"):
        elapsed = meta.get("elapsed_s")
        took = f", {len(res.rows)} runs in {elapsed / 60:.1f} min overall" if elapsed else ""
        lines.append(f"Run started {meta['started_at']}{took}.")
    return lines


METHOD = [
    "Requests/s counts the requests completed in the measured window divided by its length "
    "(a window is extended, up to 3x, until 20 requests completed; the seed profile counts its "
    "requests from the first start to the last response, as JMeter reports throughput).",
    "Every server runs one process on one pinned CPU, so 1/requests/s is the server time of one "
    "request; *fixed ms* and *µs/row* are a least-squares line through that time against the "
    "row count (the fixed part is what a request costs before its first row).",
    "Runs are interleaved (repeat > limit > server > mode), so the modes compared at one limit "
    "are measured within a minute of each other. Speed-ups (and asgi/wsgi ratios) are taken "
    "within each repeat and then the median over repeats, so slow drift of the machine's speed "
    "cancels out of them.",
    "A run is marked ⚠ when any request failed (an HTTP error or a body of another size "
    "than the checked document), Locust warned about its CPU, the load generator used 90% "
    "or more of its core, other processes on the machine used more than 25% of a CPU, the "
    "warm-up did not complete, fewer than 20 requests were measured, or a server process was "
    "replaced during the run.",
    "Server-Timing phases: db = the query and fetching rows, serialize = building the "
    "response data, render = encoding to JSON bytes (DRF renders after the view returns).",
]


# -- charts ---------------------------------------------------------------------------------
def _mode_colors(modes: list[str]) -> dict[str, object]:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return {m: cmap(i % 10) for i, m in enumerate(modes)}


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _per_server_axes(res: Results, **subplot_kw):
    """One figure with one subplot per server, drawn off-screen (Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(res.servers)
    return plt.subplots(1, n, figsize=(5.2 * n, 4.2), squeeze=False, **subplot_kw)


def chart_rps(res: Results) -> str:
    colors = _mode_colors(res.modes)
    fig, axes = _per_server_axes(res, sharey=True)
    for ax, server in zip(axes[0], res.servers):
        for mode in res.modes:
            cells = [(lim, res.cell(server, mode, lim)) for lim in res.limits]
            cells = [(lim, c) for lim, c in cells if c and math.isfinite(c.rps.median)]
            if not cells:
                continue
            xs = [lim for lim, _ in cells]
            ys = [c.rps.median for _, c in cells]
            err = [[c.rps.median - c.rps.low for _, c in cells], [c.rps.high - c.rps.median for _, c in cells]]
            ax.errorbar(xs, ys, yerr=err, marker="o", ms=4, capsize=2, label=mode, color=colors[mode])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(server)
        ax.set_xlabel("rows per response")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xticks(res.limits)
        ax.set_xticklabels([str(lim) for lim in res.limits], rotation=45, fontsize=8)
        ax.minorticks_off()
    axes[0][0].set_ylabel("requests/s (median, min–max bars)")
    axes[0][-1].legend(fontsize=8, loc="lower left")
    fig.suptitle("Requests/s against rows per response")
    return _png(fig)


def chart_latency(res: Results) -> str:
    lim = res.chart_limit
    fig, axes = _per_server_axes(res)
    width = 0.27
    for ax, server in zip(axes[0], res.servers):
        modes = [m for m in res.modes if res.cell(server, m, lim)]
        for j, (attr, label) in enumerate((("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99"))):
            values = [res.cell(server, m, lim).median(attr) for m in modes]
            ax.bar([i + (j - 1) * width for i in range(len(modes))], values, width, label=label)
        ax.set_xticks(range(len(modes)))
        ax.set_xticklabels(modes, rotation=35, ha="right", fontsize=8)
        ax.set_title(f"{server}, {rows_label(lim)}")
        ax.set_ylabel("latency ms")
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Latency percentiles under load")
    return _png(fig)


def chart_breakdown(res: Results) -> str:
    lim = res.chart_limit
    fig, axes = _per_server_axes(res)
    parts = [*PHASES, "other"]
    colors = {"db": "#4c72b0", "serialize": "#dd8452", "render": "#55a868", "other": "#b0b0b0"}
    for ax, server in zip(axes[0], res.servers):
        modes = [m for m in res.modes if res.cell(server, m, lim)]
        services = [1000 / c.rps.median if (c := res.cell(server, m, lim)).rps.median else math.nan for m in modes]
        bottoms = [0.0] * len(modes)
        for part in parts:
            values = []
            for m, service in zip(modes, services):
                c = res.cell(server, m, lim)
                if part == "other":
                    known = sum(v for p in PHASES if math.isfinite(v := c.timing(p)))
                    values.append(max(0.0, service - known) if math.isfinite(service) else 0.0)
                else:
                    v = c.timing(part)
                    values.append(v if math.isfinite(v) else 0.0)
            ax.bar(range(len(modes)), values, 0.6, bottom=bottoms, label=part, color=colors[part])
            bottoms = [b + v for b, v in zip(bottoms, values)]
        # The server's time per request; wall-clock phases of overlapping (async) requests
        # can add up to more: such bars are cut at the top and their total written there.
        ax.scatter(range(len(modes)), services, marker="_", s=900, color="black", label="1/rps", zorder=3)
        finite = [v for v in services if math.isfinite(v)]
        if finite:
            top = 1.2 * max(finite)
            ax.set_ylim(0, top)
            for i, total in enumerate(bottoms):
                if total > top:
                    ax.text(i, top * 0.97, f"{total:.0f} ms\n(overlap)", ha="center", va="top", fontsize=7)
        ax.set_xticks(range(len(modes)))
        ax.set_xticklabels(modes, rotation=35, ha="right", fontsize=8)
        ax.set_title(f"{server}, {rows_label(lim)}")
        ax.set_ylabel("ms of server time per request")
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8, markerscale=0.3)
    fig.suptitle("Where one request's server time goes: Server-Timing phases; 1/rps = server time per request")
    return _png(fig)


# -- documents -----------------------------------------------------------------------------
def sections(res: Results) -> list[tuple[str, list]]:
    """(heading, [paragraph strings | Table | ("chart", name)]) in report order."""
    out: list[tuple[str, list]] = []
    out.append(("Targets", targets_items(res)))
    out.append(("At a glance", [*findings(res)]))
    out.append(("Requests/s", [rps_table(res, s) for s in res.servers] + [("chart", "rps")]))
    ceiling = ceiling_table(res)
    out.append(("% of ceiling", [ceiling] if ceiling else
                ["The floor diagnostics were not measured (--no-floor): no ceiling."]))
    out.append(("Speed-up over " + BASELINE, [speedup_table(res)]))
    if "asgi" in res.servers and "wsgi" in res.servers:
        out.append(("ASGI and WSGI", [server_ratio_table(res, "asgi", "wsgi")]))
    out.append((f"Latency and time split at {rows_label(res.chart_limit)}",
                [latency_table(res, s) for s in res.servers] + [("chart", "latency"), ("chart", "breakdown")]))
    micro = micro_table(res)
    if micro:
        out.append(("Without the server: in-process micro benchmark", [micro]))
    checks: list = []
    bad = untrustworthy_table(res)
    checks.append(bad if bad else "Every run passed its checks.")
    out.append(("Measurement checks", checks))
    out.append(("Memory", [rss_table(res), RSS_CAVEAT]))
    out.append(("How it was measured", list(METHOD)))
    out.append(("Machine", [machine_table(res)]))
    return out


def render_markdown(res: Results) -> str:
    parts = ["# candlebench: the candle endpoint's modes under load", "", *intro(res), ""]
    for heading, items in sections(res):
        parts += [f"## {heading}", ""]
        for item in items:
            if isinstance(item, Table):
                parts += [md_table(item), ""]
            elif isinstance(item, tuple):
                parts += [f"(chart in report.html: {item[1]})", ""]
            elif heading in ("At a glance", "How it was measured"):
                parts.append(f"- {item}")
            else:
                parts += [item, ""]
        if parts[-1] != "":
            parts.append("")
    parts += ["Files: `results.csv` (one row per run), `report.html` (charts, links to Locust's report "
              "of every run), `micro.txt`, `logs/`.", ""]
    return "\n".join(parts)


CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1180px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.8em 0 1.4em;font-size:.9em}
caption{text-align:left;font-weight:600;padding:.3em 0}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right;white-space:nowrap}
th.l,td.l{text-align:left}thead th{background:#f3f3f3}tbody tr:nth-child(even){background:#fafafa}
img{max-width:100%;margin:.5em 0 1.5em}code{background:#f3f3f3;padding:0 .2em}
.runs td{font-size:.85em}
"""


def _md_inline(text: str) -> str:
    """The few inline Markdown marks the findings use, as HTML."""
    escaped = html.escape(text)
    parts = escaped.split("**")
    escaped = "".join(f"<strong>{p}</strong>" if i % 2 else p for i, p in enumerate(parts))
    parts = escaped.split("`")
    escaped = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
    return re.sub(r"(?<![\w*])\*([^*\s][^*]*?)\*(?![\w*])", r"<em>\1</em>", escaped)


def locust_links(res: Results) -> str:
    rows = []
    for server in res.servers:
        for mode in [*res.modes, *res.diagnostics]:
            cells = []
            for lim in res.limits:
                c = res.cell(server, mode, lim)
                links = [
                    f'<a href="{html.escape(r.locust_report)}">r{r.repeat}</a>' if r.locust_report else f"r{r.repeat}"
                    for r in (c.rows if c else [])
                ]
                cells.append(f"<td>{' '.join(links) or '-'}</td>")
            rows.append(f'<tr><td class="l">{html.escape(server)}</td><td class="l">{html.escape(mode)}</td>{"".join(cells)}</tr>')
    head = "".join(f"<th>{rows_label(lim)}</th>" for lim in res.limits)
    return (f'<table class="runs"><thead><tr><th class="l">server</th><th class="l">mode</th>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def render_html(res: Results, charts: dict[str, str] | None = None) -> str:
    if charts is None:
        charts = {"rps": chart_rps(res), "latency": chart_latency(res), "breakdown": chart_breakdown(res)}
    alt = {"rps": "requests/s against rows per mode", "latency": "latency percentiles per mode",
           "breakdown": "stacked db/serialize/render time per mode"}
    body = ["<h1>candlebench: the candle endpoint's modes under load</h1>"]
    body += [f"<p>{_md_inline(line)}</p>" for line in intro(res)]
    for heading, items in sections(res):
        body.append(f"<h2>{html.escape(heading)}</h2>")
        bullets = []
        for item in items:
            if isinstance(item, Table):
                body.append(html_table(item))
            elif isinstance(item, tuple):
                name = item[1]
                if charts.get(name):
                    body.append(f'<img alt="{alt[name]}" src="data:image/png;base64,{charts[name]}">')
            elif heading in ("At a glance", "How it was measured"):
                bullets.append(f"<li>{_md_inline(item)}</li>")
            else:
                body.append(f"<p>{_md_inline(item)}</p>")
        if bullets:
            body.append("<ul>" + "".join(bullets) + "</ul>")
    body.append("<h2>Locust's report of every run</h2>")
    body.append(locust_links(res))
    body.append('<p>Data: <a href="results.csv">results.csv</a>, <a href="report.md">report.md</a>, '
                '<a href="micro.txt">micro.txt</a>.</p>')
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>candlebench report</title>'
            f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n")


def summary_text(res: Results) -> str:
    """The table printed at the end of a run: requests/s per mode and limit, per server."""
    blocks = []
    lim = res.chart_limit
    for server in res.servers:
        t = rps_table(res, server, with_spread=False)
        speed = [fratio(res.speedup(server, mode, lim)) for mode in res.modes]
        t.headers.insert(len(res.limits) + 1, f"×{BASELINE} @{lim}")
        for row, s in zip(t.rows, speed):
            row.insert(len(res.limits) + 1, s)
        blocks.append(f"{res.server_label(server)}: requests/s, median of repeats\n{text_table(t)}")
    bad = res.untrustworthy
    footer = (f"⚠ {len(bad)} of {len(res.rows)} runs failed their own checks (see report.md)" if bad
              else f"all {len(res.rows)} runs passed their own checks")
    lines = []
    for server in res.servers:
        top, which = res.ceiling(server, lim)
        if math.isfinite(top):
            pcts = ", ".join(f"{m} {res.pct_of_ceiling(server, m, lim):.0f}%" for m in res.modes
                             if math.isfinite(res.pct_of_ceiling(server, m, lim)))
            lines.append(f"{server} ceiling @{lim}: {fnum(top)} req/s ({which}); % of ceiling: {pcts}")
    ceiling = ("\n" + "\n".join(lines)) if lines else ""
    return "\n\n".join(blocks) + ceiling + "\n" + footer + "\n\n" + targets_text(res)


def write_reports(directory: Path) -> str:
    """Write report.md and report.html into `directory`; return the summary table text."""
    res = Results.load(directory)
    (directory / "report.md").write_text(render_markdown(res))
    (directory / "report.html").write_text(render_html(res))
    return summary_text(res)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m loadtest.report RESULTS_DIR", file=sys.stderr)
        return 2
    print(write_reports(Path(argv[0])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
