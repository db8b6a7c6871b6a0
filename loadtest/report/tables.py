"""The report's tables, as data (Table) with their Markdown, HTML and plain-text renderings."""

from __future__ import annotations

import html
import itertools
import math
import statistics
from dataclasses import dataclass

from loadtest.fitting import LineFit, paired_median
from loadtest.report.goals import GOAL_ROWS, evaluate_goals
from loadtest.report.numbers import fnum, fratio, rows_label
from loadtest.report.results import BASELINE, SATURATED_CPU_PCT, Results
from loadtest.report.unknowns import UNKNOWN_REMOTE
from loadtest.run_checks import LOADGEN_CPU_LIMIT
from loadtest.stats import PHASES


@dataclass
class Table:
    """A table: headers, rows of text cells, a caption; `align_left` leading columns align left."""

    headers: list[str]
    rows: list[list[str]]
    caption: str = ""
    align_left: int = 1  # leading columns aligned left


def md_table(t: Table) -> str:
    out = []
    if t.caption:
        out.append(t.caption + "\n")
    out.append("| " + " | ".join(t.headers) + " |")
    out.append(
        "|" + "".join(":---|" if i < t.align_left else "---:|" for i in range(len(t.headers)))
    )
    out.extend("| " + " | ".join(r) + " |" for r in t.rows)
    return "\n".join(out)


# A cell longer than this wraps (class "w") instead of widening its table.
WRAP_CHARS = 40


def html_table(t: Table) -> str:
    """The table in a box of its own that scrolls sideways when the table is wider than the
    page (the page itself never does); its long cells wrap."""

    def cls(i: int, text: str) -> str:
        names = ["l"] if i < t.align_left else []
        names += ["w"] if len(text) > WRAP_CHARS else []
        return f' class="{" ".join(names)}"' if names else ""

    head = "".join(f"<th{cls(i, h)}>{html.escape(h)}</th>" for i, h in enumerate(t.headers))
    body = "".join(
        "<tr>" + "".join(f"<td{cls(i, c)}>{html.escape(c)}</td>" for i, c in enumerate(r)) + "</tr>"
        for r in t.rows
    )
    caption = f"<caption>{html.escape(t.caption)}</caption>" if t.caption else ""
    return (
        f'<div class="table"><table>{caption}<thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def text_table(t: Table) -> str:
    widths = [max(len(h), *(len(r[i]) for r in t.rows)) for i, h in enumerate(t.headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < t.align_left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths))
        )

    return "\n".join([line(t.headers), line(["-" * w for w in widths]), *(line(r) for r in t.rows)])


def rps_table(res: Results, server: str, with_spread: bool = True) -> Table:
    """One server's modes (those it ran) at its limits; the fit where three limits or more were run."""
    limits = res.limits_on(server)
    headers = ["mode", *(rows_label(lim) for lim in limits), "fixed ms", "µs/row"]
    body = []
    for mode in res.modes_on(server):
        cells = [mode]
        for lim in limits:
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
        # A target's 1/rps is not one request's server time on one core: no fit of it.
        cells += [UNKNOWN_REMOTE] * 2 if res.is_remote(server) else fit_cells(res.fit(server, mode))
        body.append(cells)
    n = max((c.rps.n for k, c in res.cells.items() if k[0] == server), default=0)
    caption = f"{res.server_label(server)}: requests/s, median of {n} repeat(s)" + (
        " ± half the min–max range" if with_spread and n > 1 else ""
    )
    return Table(headers, body, caption)


def fit_cells(fit: LineFit | None) -> list[str]:
    """The fixed ms and µs/row cells of a fit; "fit unreliable" with the reason instead of
    figures that cannot be true."""
    if fit is None:
        return ["-", "-"]
    if fit.unreliable:
        return ["fit unreliable", fit.unreliable]
    return [fnum(fit.fixed_ms, 2), fnum(fit.per_row_us, 1)]


def speedup_table(res: Results) -> Table | None:
    """Every mode over drf-validated on the same server; a dash where a server lacks either
    (None: drf-validated was not run)."""
    cols = [(s, lim) for s in res.servers for lim in res.limits_on(s) if res.cell(s, BASELINE, lim)]
    if not cols:
        return None
    headers = ["mode"] + [f"{s} @{lim}" for s, lim in cols]
    body = [
        [mode] + [fratio(res.speedup(s, mode, lim)) for s, lim in cols]
        for mode in res.modes
        if any(res.cell(s, mode, lim) for s, lim in cols)
    ]
    return Table(
        headers,
        body,
        f"Speed-up over {BASELINE}: requests/s ratio on the same server, "
        "within each repeat, median over repeats; - where the server does not serve the mode or it was "
        "not run there",
    )


# Server pairs compared mode by mode where both ran: what the interface, the handler and the
# HTTP server change.
SERVER_PAIRS: tuple[tuple[str, str, str], ...] = (
    ("asgi", "wsgi", "ASGI (uvicorn) against WSGI (gunicorn)"),
    ("asgi", "asgi-stock", "the project's ASGI handler against stock Django's"),
    ("granian-wsgi", "wsgi", "granian against gunicorn, WSGI"),
    ("granian-asgi", "asgi", "granian against uvicorn, ASGI"),
    ("asgi-gunicorn", "asgi", "gunicorn's uvicorn worker against uvicorn"),
)


def server_ratio_table(res: Results, a: str, b: str, what: str = "") -> Table:
    """`a` over `b` per mode and limit; a dash where either server lacks the mode."""
    limits = [lim for lim in res.limits if lim in res.limits_on(a) and lim in res.limits_on(b)]
    headers = ["mode", *(rows_label(lim) for lim in limits)]
    body = [
        [mode] + [fratio(res.paired_ratio((a, mode, lim), (b, mode, lim))) for lim in limits]
        for mode in res.modes
        if mode in res.modes_on(a) or mode in res.modes_on(b)
    ]
    return Table(
        headers,
        body,
        f"{a} over {b}{f' ({what})' if what else ''}: requests/s ratio per mode, within each repeat, median over "
        "repeats; - where a server does not serve the mode or it was not run there",
    )


def server_ratio_tables(res: Results) -> list[Table]:
    return [
        server_ratio_table(res, a, b, what)
        for a, b, what in SERVER_PAIRS
        if a in res.servers and b in res.servers
    ]


def latency_table(res: Results, server: str) -> Table:
    lim = res.chart_limit
    cells = [c for m in res.modes if (c := res.cell(server, m, lim)) is not None]
    # A phase no answer reported (compress, without the project's compression) is left out.
    shown = [p for p in PHASES if p != "compress" or any(math.isfinite(c.timing(p)) for c in cells)]
    headers = [
        "mode",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        *(f"{p} ms" for p in shown),
        "other ms",
        "1/rps ms",
    ]
    body = []
    for mode in res.modes:
        c = res.cell(server, mode, lim)
        if c is None:
            continue
        service = 1000 / c.rps.median if c.rps.median else math.nan
        phases = [c.timing(p) for p in shown]
        other = service - sum(p for p in phases if math.isfinite(p))
        server_time = (
            [UNKNOWN_REMOTE] * 2
            if res.is_remote(server)
            else [fnum(other) if other >= 0 else "<0", fnum(service)]
        )
        body.append(
            [
                mode,
                fnum(c.median("p50_ms")),
                fnum(c.median("p95_ms")),
                fnum(c.median("p99_ms")),
                *(fnum(p) for p in phases),
                *server_time,
            ]
        )
    remote = (
        " The target's processes and cores are unknown (remote target), so 1/rps is not one request's "
        "server time there: other and 1/rps are unknown."
        if res.is_remote(server)
        else ""
    )
    return Table(
        headers,
        body,
        f"{server} at {rows_label(lim)}: latency under load (median of repeats) and where "
        "one request's server time goes: Server-Timing means; 1/rps = the server's time per request; "
        "other = 1/rps − the phases (server, middleware, HTTP). The phases are wall-clock "
        "times, so where requests overlap (an async server) they can add up to more than 1/rps: <0."
        + remote,
    )


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
        cells += (
            fit_cells(
                LineFit(
                    f["fixed_ms"],
                    f["per_row_us"],
                    f.get("r2", math.nan),
                    0,
                    f.get("unreliable", ""),
                )
            )
            if f
            else ["-", "-"]
        )
        body.append(cells)
    for label, key in (
        ("database alone: fetch the rows", "rows_ms"),
        ("database alone: it writes the JSON", "json_ms"),
    ):
        if alone:
            body.append(
                [
                    label,
                    *(f"{fnum(alone[lim][key])} ms" if lim in alone else "-" for lim in limits),
                    "-",
                    "-",
                ]
            )
    differ = [str(lim) for lim, a in alone.items() if not a.get("json_same_document", True)]
    return Table(
        headers,
        body,
        "In-process micro benchmark: the view alone (no HTTP server), ms per request, "
        "best of 3 batches; least-squares fixed cost and per-row cost. The database alone: raw's "
        "query compiled once, executed and its rows fetched into Python; or the database writing the "
        "same document itself and handing over one string"
        + (
            f". ⚠ At {', '.join(differ)} rows the database's JSON had other values than raw's document "
            "(SQLite's json_object keeps 15 significant digits)"
            if differ
            else ""
        ),
    )


def untrustworthy_table(res: Results) -> Table | None:
    bad = res.untrustworthy
    if not bad:
        return None
    body = [[r.served_by, r.mode, str(r.limit), str(r.repeat), fnum(r.rps), r.note] for r in bad]
    return Table(
        ["server", "mode", "limit", "repeat", "req/s", "why"],
        body,
        "Runs that failed their own checks (shown with ⚠ above; their numbers are not to be trusted)",
        align_left=6,
    )


def load_workers_table(res: Results) -> Table | None:
    """Per Locust worker (distributed runs): the requests it made and the CPU it used (its own
    reading) over the runs, flagged where it reached the load generator's CPU limit."""
    labels = list(dict.fromkeys(k for r in res.rows for k in r.worker_requests))
    if not labels:
        return None
    body = []
    for label in labels:
        rows = [r for r in res.rows if label in r.worker_requests]
        cpu = [r.worker_cpu_pct[label] for r in rows if label in r.worker_cpu_pct]
        saturated = sum(1 for v in cpu if v >= LOADGEN_CPU_LIMIT)
        share = [r.worker_requests[label] / r.requests for r in rows if r.requests]
        body.append(
            [
                label,
                str(len(rows)),
                fnum(sum(r.worker_requests[label] for r in rows)),
                f"{100 * min(share):.0f}–{100 * max(share):.0f}%" if share else "-",
                f"{min(cpu):.0f}–{max(cpu):.0f}%" if cpu else "-",
                f"⚠ {saturated} run(s)" if saturated else "no",
            ]
        )
    return Table(
        ["worker", "runs", "requests", "share of a run's requests", "CPU per run", "saturated"],
        body,
        "Locust workers (host#index): the requests each made in the measured windows and the CPU it "
        f"used, % of one core by its own reading; a worker at {LOADGEN_CPU_LIMIT:.0f}% or more marks "
        "the run ⚠ (the load generator, not the server, may have set its pace)",
        align_left=1,
    )


def machine_table(res: Results) -> Table:
    m = res.meta.get("machine", {})
    db = res.meta.get("database", {})
    rows = [
        [
            "CPU",
            f"{m.get('cpu_model', '?')}, {m.get('cpus_online', '?')} online, {m.get('cpus_usable', '?')} usable",
        ],
        ["memory", f"{m.get('memory_gib', '?')} GiB"],
        ["OS", m.get("os", "?")],
        ["Python", m.get("python", "?")],
        [
            "database",
            f"the target's: {UNKNOWN_REMOTE}"
            if res.target
            else f"{db.get('vendor', '?')} {db.get('db_version', '')} ({db.get('engine', '?')})".strip(),
        ],
        ["CPU pinning", res.meta.get("cpu_layout", "?")],
        ["server processes", str(res.meta.get("server_workers", 1))],
    ]
    if res.meta.get("load_workers"):
        rows.append(["Locust workers", ", ".join(res.meta["load_workers"])])
    rows += [[name, version] for name, version in m.get("versions", {}).items()]
    if not res.target:
        return Table(["", ""], rows, "Machine and versions", align_left=2)
    rows.insert(
        0,
        ["target", f"{res.target['url']}: its machine, CPUs, memory and versions {UNKNOWN_REMOTE}"],
    )
    return Table(
        ["", ""],
        rows,
        "Machines and versions: the load generator's (this checkout's), and the target",
        align_left=2,
    )


# -- ceiling, goals, memory ------------------------------------------------------------
def ceiling_table(res: Results) -> Table | None:
    """Every mode's requests/s as a % of the ceiling on the same server at the same limit."""
    if not res.diagnostics:
        return None
    cols = [
        (s, lim)
        for s in res.servers
        for lim in res.limits_on(s)
        if math.isfinite(res.ceiling(s, lim)[0])
    ]
    headers = ["", *(f"{s} @{lim}" for s, lim in cols)]
    body = []
    for d in res.diagnostics:
        row = [f"{d} req/s (diagnostic)"]
        for s, lim in cols:
            c = res.cell(s, d, lim)
            row.append("-" if c is None else fnum(c.rps.median) + ("" if c.trustworthy else " ⚠"))
        body.append(row)
    body.append(
        ["ceiling = the higher one"]
        + [(res.ceiling(s, lim)[1] or "-") + ceiling_mark(res, s, lim) for s, lim in cols]
    )
    for mode in (m for m in res.modes if any(res.cell(s, m, lim) for s, lim in cols)):
        row = [mode]
        for s, lim in cols:
            pct = res.pct_of_ceiling(s, mode, lim)
            c = res.cell(s, mode, lim)
            flag = "" if c is None or c.trustworthy else " ⚠"
            row.append(f"{pct:.0f}%{flag}" if math.isfinite(pct) else "-")
        body.append(row)
    return Table(
        headers,
        body,
        "% of ceiling: a mode's median requests/s over the ceiling's median on the same "
        "server at the same limit. The ceiling is the higher of the diagnostics floor (sync view) and "
        "floor-async (async view), which answer the same bytes from memory without a query: what "
        "Django plus that server reach for that response size. ↓ = the server used less than "
        f"{SATURATED_CPU_PCT:.0f}% of its core during that ceiling run (median), so something else "
        "(usually the load generator) limited it: that ceiling is a lower bound and its % of ceiling "
        "an upper bound."
        + (
            " ? = a remote target: its CPU is unknown, so whether it was saturated (and "
            "the ceiling more than a lower bound) is unknown."
            if res.target
            else ""
        ),
    )


def ceiling_mark(res: Results, server: str, limit: int) -> str:
    """↓ after a ceiling that is a lower bound, ? after a remote target's (its CPU is unknown)."""
    if not res.ceiling_limited_by(server, limit):
        return ""
    return " ?" if res.is_remote(server) else " ↓"


def rss_table(res: Results) -> Table:
    largest = res.api_max_limit
    lim = largest if largest in res.limits else res.limits[-1]
    headers = ["mode", *(f"{s} MiB" for s in res.servers)]
    body = []
    for mode in [*res.modes, *res.diagnostics]:
        cells = [mode if mode in res.modes else f"{mode} (diagnostic)"]
        for s in res.servers:
            c = res.cell(s, mode, lim)
            values = (
                [r.server_rss_mb for r in c.rows if math.isfinite(r.server_rss_mb)] if c else []
            )
            if c and res.is_remote(s):
                cells.append(UNKNOWN_REMOTE)
            elif not values:
                cells.append("-")
            elif len(values) == 1 or min(values) == max(values):
                cells.append(fnum(max(values), 1))
            else:
                cells.append(f"{fnum(max(values), 1)} (min {fnum(min(values), 1)})")
        body.append(cells)
    missing = (
        "" if lim == largest else f" ({largest} rows were not run; the largest limit stands in)"
    )
    return Table(
        headers,
        body,
        f"Peak RSS at {rows_label(lim)} per mode per server{missing}: the highest peak "
        "over the repeats (min over repeats in brackets when they differ), all server processes summed",
    )


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


def goals_table(res: Results) -> Table:
    """The goals' status and figures (the evaluation is loadtest/report/goals.py)."""
    results, _ = evaluate_goals(res)
    body = [
        [
            r.key,
            r.status.upper() if r.status != "not measured" else "not measured",
            r.wants,
            r.figures,
        ]
        for r in results
    ]
    return Table(
        ["target", "status", "goal", "figures"],
        body,
        f"The goals at {GOAL_ROWS} rows, medians of repeats (ratios within each repeat, "
        "then the median); checked by the runner, not by a unit test",
        align_left=4,
    )


# An instruction count differing by less than this is no difference (two runs agree within 1%).
INSTRUCTION_DIFFERENCE_PCT = 2.0


def instruction_ladder(res: Results):
    """The run's instruction ladder (instructions.json), or None when it was not counted."""
    from loadtest.report.ladder import ladder_from_json

    data = res.meta.get("instructions")
    return ladder_from_json(data) if data else None


def instructions_table(res: Results) -> tuple[Table, list[str]] | None:
    """The instruction ladder as a table, and its notes (the database, unreliable fits)."""
    from loadtest.report.ladder import ladder_rows

    ladder = instruction_ladder(res)
    if ladder is None:
        return None
    headers, rows, caption, notes = ladder_rows(ladder)
    return Table(headers, rows, caption), notes


def differences_table(res: Results) -> Table | None:
    """Which requests/s differences are real: at the chart limit on each server, every mode
    against the next faster one. Outside the repeat spread: measured. Inside it: backed by
    instructions when the counts differ the same way by more than INSTRUCTION_DIFFERENCE_PCT,
    else noise."""
    ladder = instruction_ladder(res)
    lim = res.chart_limit
    body = []
    for server in res.servers:
        cells = {
            m: c
            for m in res.modes
            if (c := res.cell(server, m, lim)) is not None and math.isfinite(c.rps.median)
        }
        modes = sorted(cells, key=lambda m: cells[m].rps.median)
        for slow, fast in itertools.pairwise(modes):
            rps_ratio = res.paired_ratio((server, fast, lim), (server, slow, lim))
            noise = max(cells[fast].rps.half_range_pct, cells[slow].rps.half_range_pct)
            counts = ladder.counts if ladder else {}
            n_fast, n_slow = counts.get(fast, {}).get(lim), counts.get(slow, {}).get(lim)
            instr = n_slow / n_fast if n_fast and n_slow else math.nan
            body.append(
                [
                    server,
                    fast,
                    slow,
                    fratio(rps_ratio),
                    f"±{noise:.0f}%",
                    fratio(instr) if math.isfinite(instr) else "not counted",
                    difference_verdict(rps_ratio, noise, instr),
                ]
            )
    if not body:
        return None
    return Table(
        [
            "server",
            "faster",
            "slower",
            "requests/s ratio",
            "repeat spread",
            "instructions ratio",
            "verdict",
        ],
        body,
        f"Which differences are real, at {rows_label(lim)}: each mode against the next faster one "
        "(requests/s ratio within each repeat, then the median; repeat spread: the larger of the two cells' "
        "± half range; instructions ratio: the slower mode's instructions per request over the faster "
        f"one's; a count differing by less than {INSTRUCTION_DIFFERENCE_PCT:g}% is no difference)",
        align_left=3,
    )


def difference_verdict(rps_ratio: float, noise_pct: float, instructions_ratio: float) -> str:
    """What a requests/s ratio between two modes means, given the repeats' spread and the
    instruction counts' ratio (slower's over faster's)."""
    if not math.isfinite(rps_ratio):
        return "not measured"
    outside = (rps_ratio - 1) * 100 > noise_pct
    counted = math.isfinite(instructions_ratio)
    backed = counted and (instructions_ratio - 1) * 100 > INSTRUCTION_DIFFERENCE_PCT
    if outside:
        if not counted:
            return "real (outside the spread)"
        return (
            "real (outside the spread), instructions agree"
            if backed
            else "real (outside the spread), not in the instructions: the server or the load around the view"
        )
    if backed:
        return "inside the noise, but real: backed by the instruction counts"
    return "noise" if counted else "inside the noise (no instruction count to tell)"


# Locust/wrk further from 1 than this: the report flags the cell.
DIFFERENCE_PCT = 10.0


def locust_over_wrk(locust_by_repeat: dict[int, float], cell: dict) -> float:
    """Locust/wrk of a wrk.json cell: the median of each repeat's ratio where both measured it
    (older files, without repeats: the ratio of the medians); NaN when there is none."""
    paired = paired_median(
        locust_by_repeat, {r["repeat"]: r["rps"] for r in cell.get("runs", []) if "repeat" in r}
    )
    if math.isfinite(paired):
        return paired
    if not cell.get("wrk_rps") or not locust_by_repeat:
        return math.nan
    return statistics.median(locust_by_repeat.values()) / cell["wrk_rps"]


def loadgen_table(res: Results) -> Table | None:
    """Locust's requests/s over wrk's for the headline cells (wrk.json), flagged beyond
    DIFFERENCE_PCT; None when wrk did not run."""
    cells = res.meta.get("wrk")
    if not cells:
        return None
    body = []
    for c in cells:
        locust = res.rps(c["server"], c["mode"], c["limit"])
        cell = res.cell(c["server"], c["mode"], c["limit"])
        r = locust_over_wrk({row.repeat: row.rps for row in cell.rows} if cell else {}, c)
        if not c["wrk_rps"]:
            flag = "⚠ wrk got no successful response (see wrk.json)"
        elif not math.isfinite(r):
            flag = "-"
        else:
            flag = (
                f"⚠ differ by {abs(r - 1) * 100:.0f}%"
                if abs(r - 1) * 100 > DIFFERENCE_PCT
                else "ok"
            )
        body.append(
            [
                c["server"],
                c["mode"],
                rows_label(c["limit"]),
                fnum(locust),
                fnum(c["wrk_rps"]),
                "-" if not math.isfinite(r) else f"{r:.2f}",
                flag,
            ]
        )
    return Table(
        ["server", "mode", "rows", "Locust req/s", "wrk req/s", "Locust/wrk", ""],
        body,
        "The headline cells measured with a second load generator, wrk (C, one thread, as many keep-alive "
        "connections as Locust's users, pinned to the same CPU) right after Locust's run of the cell in "
        "every repeat: medians of repeats, and Locust/wrk the median of each repeat's ratio. "
        f"⚠ when the two differ by more than {DIFFERENCE_PCT:g}%: then the load generator, not only the "
        'server, is in the figure (loadtest/README.md, "Locust and wrk")',
        align_left=3,
    )
