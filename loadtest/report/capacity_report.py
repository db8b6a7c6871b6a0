"""What a sweep's capacity.csv shows: per cell its capacity at the latency target, every rate, the
hockey stick (latency against offered load), as capacity.md, capacity.html and capacity.png."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path

from loadtest.arrivals import ROUGH_P99_REQUESTS
from loadtest.axes import GC, split_label
from loadtest.report.capacity import (
    CAPACITY_CSV,
    DEFAULT_SLO_MS,
    SERVED_PCT,
    CapacityRow,
    capacities,
    load_capacity,
)
from loadtest.report.gc_goals import capacity_goal, goal_lines
from loadtest.report.numbers import fnum, rows_label
from loadtest.report.tables import Table, html_table, md_table, text_table
from loadtest.report.tail import tail_table


def _p99(row: CapacityRow) -> str:
    return ("~" if row.rough else "") + fnum(row.p99_ms)


def capacity_table(rows: list[CapacityRow]) -> Table:
    """Per cell, its capacity at the target and the rates it was read from."""
    body = []
    by_cell = capacities(rows)
    for key, cap in by_cell.items():
        rates = sorted((r for r in rows if r.cell == key), key=lambda r: r.offered_rps)
        closed = next((r.closed_loop_rps for r in rates if math.isfinite(r.closed_loop_rps)), None)
        body.append(
            [
                key[0],
                key[1],
                rows_label(key[2]),
                fnum(closed) if closed else "-",
                cap.text,
                ", ".join(f"{fnum(r.offered_rps)}→{_p99(r)}" for r in rates),
            ]
        )
    slo = fnum(rows[0].slo_ms) if rows else fnum(DEFAULT_SLO_MS)
    return Table(
        [
            "server",
            "mode",
            "rows",
            "closed-loop max req/s",
            f"capacity at p99 ≤ {slo} ms",
            "offered req/s → p99 ms",
        ],
        body,
        f"Capacity at the latency target: the highest offered rate (open loop) whose p99 stayed within "
        f'{slo} ms with nothing dropped and at least {SERVED_PCT:g}% of it served; "R not met": the '
        "next rate tried, which did not, so the capacity lies between the two. ~ marks a rough p99 "
        f"(fewer than {ROUGH_P99_REQUESTS:,} answered requests behind it); ⚠ a deciding rate that "
        "failed its checks.",
        align_left=3,
    )


def rates_table(rows: list[CapacityRow]) -> Table:
    """Every offered rate, as measured."""
    return Table(
        [
            "server",
            "mode",
            "rows",
            "arrivals",
            "offered",
            "achieved",
            "served %",
            "dropped",
            "failed",
            "requests",
            "p50",
            "p90",
            "p99",
            "max",
            "slip p99",
            "meets",
            "note",
        ],
        [
            [
                r.server,
                r.mode,
                str(r.limit),
                r.arrivals,
                fnum(r.offered_rps),
                fnum(r.achieved_rps),
                fnum(r.served_pct, 1),
                str(r.dropped),
                str(r.failed),
                str(r.requests),
                fnum(r.p50_ms),
                fnum(r.p90_ms),
                _p99(r),
                fnum(r.max_ms),
                fnum(r.slip_p99_ms),
                ("yes" if r.meets else "no") + ("" if r.trustworthy else " ⚠"),
                r.note,
            ]
            for r in rows
        ],
        "Every offered rate (requests/s; latencies in ms from each request's intended start, over the "
        "answered requests; slip: how late the generator started them).",
        align_left=4,
    )


def chart_hockey_sticks(rows: list[CapacityRow]) -> str:
    """p50, p90 and p99 against the offered rate, one panel per cell, with the latency target
    and the closed-loop maximum: a base64 PNG ("" without rows)."""
    if not rows:
        return ""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = list(capacities(rows))
    columns = min(len(keys), 3)
    lines = -(-len(keys) // columns)
    fig, grid = plt.subplots(lines, columns, figsize=(5.2 * columns, 4.0 * lines), squeeze=False)
    axes = [ax for line in grid for ax in line]
    for ax in axes[len(keys) :]:
        ax.set_visible(False)
    for ax, key in zip(axes, keys):
        rates = sorted((r for r in rows if r.cell == key), key=lambda r: r.offered_rps)
        xs = [r.offered_rps for r in rates]
        for attr, style in (("p50_ms", ":"), ("p90_ms", "--"), ("p99_ms", "-")):
            ax.plot(xs, [getattr(r, attr) for r in rates], style, marker="o", ms=3, label=attr[:3])
        slo = rates[0].slo_ms
        ax.axhline(slo, color="red", lw=0.8, alpha=0.6, label=f"target {fnum(slo)} ms")
        closed = next((r.closed_loop_rps for r in rates if math.isfinite(r.closed_loop_rps)), None)
        if closed:
            ax.axvline(closed, color="grey", lw=0.8, ls="-.", label="closed-loop max")
        ax.set_yscale("log")
        ax.set_title(f"{key[0]} {key[1]} @{key[2]}", fontsize=10)
        ax.set_xlabel("offered load, requests/s")
        ax.set_ylabel("latency from intended start, ms (log)")
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 0.93 if lines == 1 else 0.97))
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


OPEN_LOOP_NOTE = (
    "Open loop: requests start on a schedule of arrivals whatever the server does, and each "
    "latency is timed from when its request should have started, so time spent queueing behind a "
    "slow or paused server is in it. Generator slip (the load generator itself late) is measured "
    "apart and makes a rate untrustworthy (⚠) past a tenth of the target at p99."
)


def render_capacity(rows: list[CapacityRow], intro: list[str], chart: str) -> tuple[str, str]:
    """capacity.md and capacity.html (`chart`, a base64 PNG, embedded; the Markdown links
    capacity.png)."""
    tail = tail_table(rows)
    tables = [capacity_table(rows), *([tail] if tail.rows else []), rates_table(rows)]
    md = ["# candlebench: capacity at a latency target", "", *intro, "", OPEN_LOOP_NOTE, ""]
    md += [part for t in tables for part in (md_table(t), "")]
    md += ["![latency against offered load](capacity.png)", ""]
    body = [
        "<h1>candlebench: capacity at a latency target</h1>",
        *(f"<p>{html.escape(line)}</p>" for line in [*intro, OPEN_LOOP_NOTE]),
        *(html_table(t) for t in tables[:-1]),
        f'<img alt="latency against offered load" src="data:image/png;base64,{chart}">'
        if chart
        else "",
        html_table(tables[-1]),
    ]
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>candlebench capacity</title>'
        "<style>body{font-family:system-ui,sans-serif;max-width:1180px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:.8em 0 1.4em;font-size:.85em}caption{text-align:left;"
        "font-weight:600}th,td{border:1px solid #ddd;padding:.2em .5em;text-align:right}"
        "th.l,td.l{text-align:left}img{max-width:100%}</style></head><body>"
        + "".join(body)
        + "</body></html>\n"
    )
    return "\n".join(md), page


def gc_goal_text(rows: list[CapacityRow], recommended: str) -> str:
    """Issue 29's capacity goal when the sweep ran more than one GC setup ('' otherwise)."""
    if len({split_label(r.server)[1][GC.name] for r in rows}) < 2:
        return ""
    return goal_lines(capacity_goal(rows, recommended))


def write_capacity_report(directory: Path, intro: list[str]) -> str:
    """capacity.md, capacity.html and capacity.png from the folder's capacity.csv; returns the
    capacity table as text (printed at the end of a sweep)."""
    rows = load_capacity(directory / CAPACITY_CSV)
    if not rows:
        return "no rate was measured"
    chart = chart_hockey_sticks(rows)
    md, page = render_capacity(rows, intro, chart)
    meta_path = directory / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    goals = gc_goal_text(rows, meta.get("gc_recommended", ""))
    (directory / "capacity.md").write_text(md + (f"\n{goals}\n" if goals else ""))
    (directory / "capacity.html").write_text(page)
    if chart:
        (directory / "capacity.png").write_bytes(base64.b64decode(chart))
    printed = [t for t in (capacity_table(rows), tail_table(rows)) if t.rows]
    return "\n\n".join(
        [*(f"{t.caption}\n{text_table(t)}" for t in printed), *([goals] if goals else [])]
    )
