"""The report's documents: report.md, report.html and the summary printed at the end of a run,
from the sections in report order. `python -m loadtest report DIR` regenerates them."""

from __future__ import annotations

import argparse
import base64
import html
import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from loadtest.cli import EXIT_OK, EXIT_REFUSED
from loadtest.report.charts import chart_breakdown, chart_instructions, chart_latency, chart_rps
from loadtest.report.closed_loop import capacity_pointer, littles_law_items, queue_note
from loadtest.report.compression import compression_pick, compression_table
from loadtest.report.frameworks import frameworks_table, instants_note
from loadtest.report.goals import GOAL_ROWS, evaluate_goals
from loadtest.report.hero import hero_svg, read_capacity
from loadtest.report.numbers import fbytes, fnum, fratio, rows_label
from loadtest.report.pick import what_to_pick
from loadtest.report.results import BASELINE, Results
from loadtest.report.steps import steps_table
from loadtest.report.tables import (
    RSS_CAVEAT,
    Table,
    ceiling_mark,
    ceiling_table,
    differences_table,
    goals_table,
    html_table,
    instructions_table,
    latency_table,
    load_workers_table,
    loadgen_table,
    machine_table,
    md_table,
    micro_table,
    rps_table,
    rss_table,
    server_ratio_tables,
    speedup_table,
    text_table,
    untrustworthy_table,
)
from loadtest.report.then_and_now import then_and_now_items
from loadtest.report.unknowns import UNKNOWN_REMOTE, wrk_skip_reason
from loadtest.run_checks import LOADGEN_CPU_LIMIT, MAX_WINDOW_FACTOR, MIN_REQUESTS, OTHER_CPU_LIMIT

TITLE = "candlebench: the candle endpoint's modes under load"


@dataclass(frozen=True)
class Chart:
    """A chart's place in a section (drawn by loadtest/report/charts.py; HTML only)."""

    name: str


@dataclass
class Section:
    """A heading and its items (paragraphs, Tables, Charts); `bullets`: paragraphs as a list."""

    heading: str
    items: list
    bullets: bool = False


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
        text = (
            f"**{s}, {rows_label(lim)}**: {best} serves {fnum(res.rps(s, best, lim))} req/s, "
            f"{worst} {fnum(res.rps(s, worst, lim))} req/s"
        )
        if BASELINE in present and best != BASELINE:
            text += f"; {best} is {fratio(res.speedup(s, best, lim))} {BASELINE}"
        small = res.limits[0]
        if small != lim and BASELINE in present and math.isfinite(res.speedup(s, best, small)):
            text += f" (at {rows_label(small)}: {fratio(res.speedup(s, best, small))})"
        out.append(text + ".")
        fits = {m: f for m in present if (f := res.fit(s, m)) is not None}
        if fits and res.is_remote(s):
            out.append(
                f"**{s}, cost per row**: {UNKNOWN_REMOTE} (1/requests/s is not one request's server time)."
            )
        elif fits:
            costs = ", ".join(
                f"{m} {f.per_row_us:.1f}"
                if not f.unreliable
                else f"{m} fit unreliable ({f.unreliable})"
                for m, f in fits.items()
            )
            out.append(
                f"**{s}, cost per row** (µs, least squares over {', '.join(map(str, res.limits))} rows): {costs}."
            )
    if "asgi" in res.servers and "wsgi" in res.servers:
        ratios = [res.paired_ratio(("asgi", m, lim), ("wsgi", m, lim)) for m in res.modes]
        ratios = [r for r in ratios if math.isfinite(r)]
        if ratios:
            out.append(
                f"**asgi vs wsgi, {rows_label(lim)}**: asgi/wsgi requests/s ratio from "
                f"{min(ratios):.2f} to {max(ratios):.2f} across modes."
            )
    bad = res.untrustworthy
    if bad:
        out.append(
            f"**Checks**: {len(bad)} of {len(res.rows)} runs failed their own checks (marked ⚠, listed below)."
        )
    else:
        out.append(
            f"**Checks**: all {len(res.rows)} runs passed their own checks (no failed request, "
            f"load generator below {LOADGEN_CPU_LIMIT:.0f}% CPU, enough requests)."
        )
    drift = {k: v for k, v in res.drift().items() if math.isfinite(v)}
    if drift:
        text = ", ".join(f"repeat {k} ran at {fratio(v)}" for k, v in drift.items())
        out.append(
            f"**Drift**: {text} the speed of repeat 1 (median over all cells). Speed-ups are "
            "taken within each repeat, so they do not depend on it; absolute requests/s do."
        )
    cpu = [r.loadgen_cpu_pct for r in res.rows if math.isfinite(r.loadgen_cpu_pct)]
    srv = [r.server_cpu_pct for r in res.rows if math.isfinite(r.server_cpu_pct)]
    if cpu and srv:
        out.append(
            f"Load generator CPU per run: {min(cpu):.0f}–{max(cpu):.0f}% of a core; "
            f"server: {min(srv):.0f}–{max(srv):.0f}%."
        )
    elif cpu and res.target:
        out.append(
            f"Load generator CPU per run: {min(cpu):.0f}–{max(cpu):.0f}% of a core; "
            f"the target's CPU: {UNKNOWN_REMOTE}."
        )
    return out


def target_lines(res: Results) -> list[str]:
    """What a run against a deployment the runner did not start measured, and what it cannot know."""
    target = res.target
    if not target:
        return []
    names = ", ".join(f"`{n}`" for n in target.get("header_names") or [])
    sent = (
        f"headers sent with every request: {names} (values not recorded)"
        if names
        else "no extra header"
    )
    tls = (
        (
            "TLS certificate not checked (--insecure)"
            if target.get("insecure")
            else "TLS certificate checked"
        )
        if target["url"].startswith("https:")
        else "plain HTTP"
    )
    here = (
        " It listens on this machine, so its CPU cannot be told from other processes': the check "
        "of other processes' CPU is off."
        if target.get("on_this_machine")
        else ""
    )
    return [
        f"**Target: `{target['url']}`**, a running deployment the runner did not start ({sent}; {tls}). "
        f"What cannot be seen from outside is {UNKNOWN_REMOTE}: its CPU use, memory (RSS), processes and "
        "machine; its ceiling too where it does not serve the floor diagnostics. The micro benchmark and the "
        "instruction ladder measure this checkout in-process, not the target: they were not run."
        + here
    ]


def partial_line(res: Results) -> list[str]:
    """The warning that leads the report when the run was stopped before its end."""
    partial = res.meta.get("partial")
    return [f"**Partial run: {partial}.**"] if partial else []


def intro(res: Results) -> list[str]:
    """What was run: the target, the request, the documents, the load, the processes, when."""
    meta = res.meta
    lines = target_lines(res)
    if meta.get("request"):
        lines.append(f"Request: `GET {meta['request']}`, the same for every mode.")
    docs = meta.get("documents")
    if docs:
        sizes = ", ".join(
            f"{rows_label(int(k))} {fbytes(int(v))}"
            for k, v in sorted(docs.items(), key=lambda kv: int(kv[0]))
        )
        lines.append(
            f"Before measuring, every mode answered a byte-identical document at each limit ({sizes})"
            + (f", except that {instants_note(res).strip()}" if instants_note(res) else ".")
        )
    if meta.get("load"):
        lines.append(f"Load: {meta['load']}; {meta.get('cpu_layout', '')}.")
    workers = sorted({r.workers for r in res.rows if r.workers is not None})
    if workers:
        lines.append(
            f"Server processes: {', '.join(map(str, workers))} per server (--workers; the `workers` column "
            "of results.csv)"
            + (
                f"; the server shared CPU {', '.join(map(str, meta['shared_cpus']))} with "
                "the load generator"
                if meta.get("shared_cpus")
                else ""
            )
            + "."
        )
    if meta.get("load_workers"):
        lines.append(
            f"Locust workers: {', '.join(meta['load_workers'])} (their requests and CPU: "
            '"Load generator workers" below).'
        )
    if meta.get("started_at"):
        elapsed = meta.get("elapsed_s")
        took = f", {len(res.rows)} runs in {elapsed / 60:.1f} min overall" if elapsed else ""
        lines.append(f"Run started {meta['started_at']}{took}.")
    return lines


def method_notes(res: Results) -> list[str]:
    """How the figures were measured, with the thresholds the runner applied."""
    remote = (
        []
        if not res.target
        else [
            f"The target ({res.target['url']}) is not one process on one pinned CPU of this machine: its processes, "
            "cores and the network in between are unknown, so its requests/s is the deployment's as a whole, and "
            f"*fixed ms* and *µs/row* (fitted to one request's server time) are {UNKNOWN_REMOTE}."
        ]
    )
    return [
        "Requests/s counts the requests completed in the measured window divided by its length "
        f"(a window is extended, up to {MAX_WINDOW_FACTOR}x, until {MIN_REQUESTS} requests completed; the seed "
        "profile counts its requests from the first start to the last response, as JMeter reports throughput).",
        "Every server runs --workers processes (one unless the intro says otherwise) pinned to as many "
        "CPUs; with one, 1/requests/s is the server time of one request; *fixed ms* and *µs/row* are a "
        "least-squares line through 1/requests/s against the row count (the fixed part is what a request "
        "costs before its first row; with N processes, N/requests/s is the server time).",
        "Runs are interleaved (repeat > limit > server > mode), so the modes compared at one limit "
        "are measured within a minute of each other. Speed-ups (and asgi/wsgi ratios) are taken "
        "within each repeat and then the median over repeats, so slow drift of the machine's speed "
        "cancels out of them.",
        "A run is marked ⚠ when any request failed (an HTTP error or a body of another size "
        f"than the checked document), Locust warned about its CPU, the load generator used {LOADGEN_CPU_LIMIT:.0f}% "
        f"or more of its core, other processes on the machine used more than {OTHER_CPU_LIMIT:.0f}% of a CPU, the "
        f"warm-up did not complete, fewer than {MIN_REQUESTS} requests were measured, or a server process was "
        "replaced during the run.",
        "Server-Timing phases: db = the query and fetching rows, serialize = building the "
        "response data, render = encoding to JSON bytes (DRF renders after the view returns).",
        *remote,
    ]


def sections(res: Results) -> list[Section]:
    """The report's sections in order: the answer (the verdict and the hero chart) first. The
    verdict, the hero and the frameworks table read the runs with every deployment axis at its
    default (uncompressed, today's stack); compression has its own table."""
    plain = res.on_default_deployment() or res
    out = [Section("What to pick", [*what_to_pick(res), Chart("hero")], bullets=True)]
    run = intro(res)
    if run:
        out.append(Section("The run", run))
    frameworks = frameworks_table(plain)
    if frameworks:
        out.append(
            Section(f"Frameworks and servers at {rows_label(plain.chart_limit)}", [frameworks])
        )
    then_and_now = then_and_now_items(res)
    if then_and_now:
        out.append(
            Section("Then and now: the case study's stack of 2023 and today's", then_and_now)
        )
    compression = compression_table(res)
    if compression:
        out.append(
            Section(
                "What compression costs",
                [compression, "What to pick: " + compression_pick(res)],
            )
        )
    steps = steps_table(res)
    if steps:
        out.append(
            Section(f"Where ninja's and DRF's time goes at {rows_label(res.chart_limit)}", [steps])
        )
    _, goals_note = evaluate_goals(res)
    out.append(Section("Goals", [goals_table(res), goals_note]))
    out += [
        Section("At a glance", findings(res), bullets=True),
        Section("Requests/s", [*(rps_table(res, s) for s in res.servers), Chart("rps")]),
    ]
    ceiling = ceiling_table(res)
    unknown = [
        f"The ceiling of {s} is {why}."
        for s in res.servers
        if (why := res.ceiling_unknown(s))
        and not any(math.isfinite(res.ceiling(s, lim)[0]) for lim in res.limits_on(s))
    ]
    out.append(
        Section(
            "% of ceiling",
            [*([ceiling] if ceiling else []), *unknown]
            if ceiling or unknown
            else ["The floor diagnostics were not measured (--no-floor): no ceiling."],
        )
    )
    speedup = speedup_table(res)
    out.append(
        Section("Speed-up over " + BASELINE, [speedup or f"{BASELINE} was not run: no speed-up."])
    )
    pairs = server_ratio_tables(res)
    if pairs:
        out.append(Section("Server against server", pairs))
    queue = queue_note(res)
    out.append(
        Section(
            f"Latency and time split at {rows_label(res.chart_limit)}",
            [
                *([queue] if queue else []),
                *(latency_table(res, s) for s in res.servers),
                Chart("latency"),
                Chart("breakdown"),
            ],
        )
    )
    if res.capacity:
        out.append(Section("Latency against offered load (open loop)", [capacity_pointer(res)]))
    ladder = instructions_table(res)
    if ladder:
        table, notes = ladder
        differences = differences_table(res)
        out.append(
            Section(
                "Instructions per request",
                [table, *notes, Chart("instructions"), *([differences] if differences else [])],
            )
        )
    else:
        out.append(
            Section(
                "Instructions per request",
                [
                    "Not counted: the instruction ladder counts this checkout's views in-process, not the target's."
                    if res.target
                    else "Not counted in this run (valgrind missing, or --no-instructions): see the run's log."
                ],
            )
        )
    wrk = loadgen_table(res)
    if wrk:
        out.append(Section("Locust and wrk", [wrk]))
    elif res.target and (
        reason := wrk_skip_reason(res.target["url"], bool(res.target.get("insecure")))
    ):
        out.append(Section("Locust and wrk", [f"Not run: {reason}."]))
    micro = micro_table(res)
    if micro:
        out.append(Section("Without the server: in-process micro benchmark", [micro]))
    bad = untrustworthy_table(res)
    out.append(Section("Measurement checks", [bad if bad else "Every run passed its checks."]))
    out.append(Section("Little's law (closed loop)", littles_law_items(res)))
    workers = load_workers_table(res)
    if workers:
        out.append(Section("Load generator workers", [workers]))
    out.append(Section("Memory", [rss_table(res), RSS_CAVEAT]))
    out.append(Section("How it was measured", method_notes(res), bullets=True))
    out.append(Section("Machine", [machine_table(res)]))
    return out


def render_markdown(res: Results, chart_files: Mapping[str, str] | None = None) -> str:
    """report.md; a chart is an image link when `chart_files` has its path (relative to the
    report), else only named (it lives in report.html)."""
    parts = [f"# {TITLE}", ""]
    if partial_line(res):
        parts += [*partial_line(res), ""]
    for section in sections(res):
        parts += [f"## {section.heading}", ""]
        for item in section.items:
            if not isinstance(item, str) and parts[-1].startswith("- "):
                parts.append("")  # a list ends where a table or chart starts
            if isinstance(item, Table):
                parts += [md_table(item), ""]
            elif isinstance(item, Chart):
                path = (chart_files or {}).get(item.name)
                parts += [
                    f"![{CHART_ALT[item.name]}]({path})"
                    if path
                    else f"(chart in report.html: {item.name})",
                    "",
                ]
            elif section.bullets:
                parts.append(f"- {item}")
            else:
                parts += [item, ""]
        if parts[-1] != "":
            parts.append("")
    parts += [
        "Files: `results.csv` (one row per run), `report.html` (charts, links to Locust's report "
        "of every run, when kept), `micro.txt`, `logs/`.",
        "",
    ]
    return "\n".join(parts)


# The page never scrolls sideways: a table wider than it scrolls in its own box (div.table),
# its long cells (class w) and long words in text wrap (loadtest/tests/test_report_browser.py).
CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1180px;margin:2em auto;
padding:0 1em;color:#222;overflow-wrap:anywhere}
h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
div.table{max-width:100%;overflow-x:auto;margin:.8em 0 1.4em}
table{border-collapse:collapse;font-size:.9em;overflow-wrap:normal}
caption{text-align:left;font-weight:600;padding:.3em 0;white-space:normal;overflow-wrap:anywhere}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:right;white-space:nowrap}
th.w,td.w{white-space:normal;min-width:16em;overflow-wrap:anywhere}
th.l,td.l{text-align:left}thead th{background:#f3f3f3}tbody tr:nth-child(even){background:#fafafa}
img{max-width:100%;margin:.5em 0 1.5em}code{background:#f3f3f3;padding:0 .2em}
figure.hero{margin:.8em 0 1.5em}figure.hero svg{display:block;width:100%;height:auto}
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
                    f'<a href="{html.escape(r.locust_report)}">r{r.repeat}</a>'
                    if r.locust_report
                    else f"r{r.repeat}"
                    for r in (c.rows if c else [])
                ]
                cells.append(f"<td>{' '.join(links) or '-'}</td>")
            rows.append(
                f'<tr><td class="l">{html.escape(server)}</td>'
                f'<td class="l">{html.escape(mode)}</td>{"".join(cells)}</tr>'
            )
    head = "".join(f"<th>{rows_label(lim)}</th>" for lim in res.limits)
    return (
        f'<div class="table"><table class="runs"><thead><tr><th class="l">server</th>'
        f'<th class="l">mode</th>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'
    )


# What each chart shows, as its alternative text; the hero is SVG, the others PNG.
CHART_ALT = {
    "hero": "requests/s at the chart limit for every server and mode, fastest first",
    "rps": "requests/s against rows per response, per server and mode",
    "latency": "closed-loop response time percentiles per mode: time in the queue behind the users",
    "breakdown": "stacked db/serialize/render time per mode",
    "instructions": "instructions per request against rows per response, per mode",
}


def draw_charts(
    res: Results, capacity: Mapping[tuple[str, str], str] | None = None
) -> dict[str, str]:
    """Every chart by name: the hero as SVG markup, the others as base64 PNG; "" for a chart
    with no data in this run (left out of the report)."""
    return {
        "hero": hero_svg(res, capacity),
        "rps": chart_rps(res),
        "latency": chart_latency(res),
        "breakdown": chart_breakdown(res),
        "instructions": chart_instructions(res),
    }


def write_chart_files(charts: Mapping[str, str], into: Path) -> dict[str, Path]:
    """The drawn charts as files in `into` (hero.svg, NAME.png), replacing files of those names;
    returns their paths by chart name."""
    into.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, chart in charts.items():
        if not chart:
            continue
        if name == "hero":
            path = into / "hero.svg"
            path.write_text(chart + "\n")
        else:
            path = into / f"{name}.png"
            path.write_bytes(base64.b64decode(chart))
        written[name] = path
    return written


def render_html(res: Results, charts: Mapping[str, str] | None = None) -> str:
    """report.html: the sections with their charts embedded, and links to Locust's per-run reports."""
    if charts is None:
        charts = draw_charts(res)
    body = [f"<h1>{html.escape(TITLE)}</h1>"]
    body += [f"<p>{_md_inline(line)}</p>" for line in partial_line(res)]
    for section in sections(res):
        body.append(f"<h2>{html.escape(section.heading)}</h2>")
        bullets: list[str] = []
        for item in section.items:
            if bullets and not isinstance(item, str):  # a list ends where a table or chart starts
                body.append("<ul>" + "".join(bullets) + "</ul>")
                bullets = []
            if isinstance(item, Table):
                body.append(html_table(item))
            elif isinstance(item, Chart) and item.name == "hero":
                if charts.get(item.name):
                    body.append(f'<figure class="hero">{charts[item.name]}</figure>')
            elif isinstance(item, Chart):
                if charts.get(item.name):
                    body.append(
                        f'<img alt="{CHART_ALT[item.name]}" src="data:image/png;base64,{charts[item.name]}">'
                    )
            elif section.bullets:
                bullets.append(f"<li>{_md_inline(item)}</li>")
            else:
                body.append(f"<p>{_md_inline(item)}</p>")
        if bullets:
            body.append("<ul>" + "".join(bullets) + "</ul>")
    body.append("<h2>Locust's report of every run</h2>")
    if any(r.locust_report for r in res.rows):
        body.append(locust_links(res))
    else:
        body.append("<p>Not kept in this run (<code>--locust-html</code> keeps one per run).</p>")
    body.append(
        '<p>Data: <a href="results.csv">results.csv</a>, <a href="report.md">report.md</a>, '
        '<a href="micro.txt">micro.txt</a>.</p>'
    )
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>candlebench report</title>'
        f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )


def summary_text(res: Results) -> str:
    """The table printed at the end of a run: requests/s per mode and limit, per server."""
    blocks = []
    lim = res.chart_limit
    for server in res.servers:
        t = rps_table(res, server, with_spread=False)
        speed = [fratio(res.speedup(server, mode, lim)) for mode in res.modes_on(server)]
        columns = len(res.limits_on(server)) + 1
        t.headers.insert(columns, f"×{BASELINE} @{lim}")
        for row, s in zip(t.rows, speed):
            row.insert(columns, s)
        blocks.append(f"{res.server_label(server)}: requests/s, median of repeats\n{text_table(t)}")
    bad = res.untrustworthy
    footer = (
        f"⚠ {len(bad)} of {len(res.rows)} runs failed their own checks (see report.md)"
        if bad
        else f"all {len(res.rows)} runs passed their own checks"
    )
    lines, marks = [], set()
    for server in res.servers:
        top, which = res.ceiling(server, lim)
        if math.isfinite(top):
            pcts = ", ".join(
                f"{m} {res.pct_of_ceiling(server, m, lim):.0f}%"
                for m in res.modes_on(server)
                if math.isfinite(res.pct_of_ceiling(server, m, lim))
            )
            mark = ceiling_mark(res, server, lim)
            marks.add(mark.strip())
            lines.append(
                f"{server} ceiling @{lim}: {fnum(top)} req/s ({which}){mark}; % of ceiling: {pcts}"
            )
        elif why := res.ceiling_unknown(server):
            lines.append(f"{server} ceiling @{lim}: {why}")
    lines += [legend for mark, legend in CEILING_MARKS.items() if mark in marks]
    ceiling = ("\n" + "\n".join(lines)) if lines else ""
    wrk = loadgen_table(res)
    if wrk:
        ceiling += f"\n\nLocust and wrk at the headline cells:\n{text_table(wrk)}"
    plain = res.on_default_deployment() or res
    frameworks = frameworks_table(plain)
    picks = "\n".join(f"- {line.replace('**', '')}" for line in what_to_pick(res))
    pick = (
        f"\n\n{frameworks.caption}\n{text_table(frameworks)}\n\nWhat to pick:\n{picks}"
        if frameworks
        else ""
    )
    for item in then_and_now_items(res):
        if isinstance(item, Table):
            pick += f"\n\n{item.caption}\n{text_table(item)}"
    compression = compression_table(res)
    if compression:
        pick += (
            f"\n\n{compression.caption}\n{text_table(compression)}\n\n"
            f"What to pick: {compression_pick(res)}"
        )
    steps = steps_table(res)
    if steps:
        pick += f"\n\n{steps.caption}\n{text_table(steps)}"
    return "\n\n".join(blocks) + ceiling + "\n" + footer + pick + "\n\n" + goals_text(res)


# What the marks after a ceiling in the printed summary mean (the report's table says it at length).
CEILING_MARKS = {
    "↓": "↓ = the server did not saturate its core at that ceiling: a lower bound",
    "?": "? = a remote target: whether it was saturated at that ceiling is unknown (its CPU is not visible)",
}


def goals_text(res: Results) -> str:
    """The goals' lines as printed at the end of a run."""
    results, note = evaluate_goals(res)
    return "\n".join(
        [f"Goals at {GOAL_ROWS} rows:", *(f"  {r.line}" for r in results), f"  ({note})"]
    )


def write_reports(directory: Path, charts_dir: Path | None = None) -> str:
    """Write report.md and report.html into `directory` (and the charts as files into
    `charts_dir` when given); return the summary table text."""
    res = Results.load(directory)
    capacity = read_capacity(directory, (res.on_default_deployment() or res).chart_limit)
    charts = draw_charts(res, capacity)
    files = write_chart_files(charts, charts_dir) if charts_dir is not None else {}
    links = {
        name: Path(os.path.relpath(path, directory)).as_posix() for name, path in files.items()
    }
    (directory / "report.md").write_text(render_markdown(res, links))
    (directory / "report.html").write_text(render_html(res, charts))
    return summary_text(res)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest report",
        description="(Re)write report.md and report.html of a results folder from its "
        "recorded results (results.csv, meta.json); nothing is measured.",
    )
    parser.add_argument(
        "results_dir", metavar="RESULTS_DIR", type=Path, help="a folder a run wrote"
    )
    parser.add_argument(
        "--charts",
        metavar="DIR",
        type=Path,
        help="also write the charts as files into DIR (made if missing; files of the same name "
        "are replaced): hero.svg, the headline chart, and rps.png, latency.png, breakdown.png, "
        "instructions.png for those this run has data for; report.md then shows them as images. "
        "Default: not written (report.html embeds every chart)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not (args.results_dir / "results.csv").is_file():
        print(
            f"python -m loadtest report: {args.results_dir} holds no results.csv", file=sys.stderr
        )
        return EXIT_REFUSED
    print(write_reports(args.results_dir, args.charts))
    if args.charts is not None:
        print(f"charts: {args.charts}")
    return EXIT_OK
