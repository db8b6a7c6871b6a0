"""The report's detail charts (matplotlib, drawn off-screen), each returned as a base64 PNG, or ""
when the run has no data for it (the chart is then left out). Each is sized to be read at 1,280 px
wide: at most two panels side by side, a panel only for a server with data, one legend."""

from __future__ import annotations

import base64
import io
import math

from loadtest.report.numbers import rows_label
from loadtest.report.results import Results
from loadtest.stats import PHASES

FIGURE_WIDTH = 11.0  # inches; at DPI, about the width of the report's page
DPI = 110
PANELS_PER_ROW = 2  # for the line charts
BARS_PER_ROW = 12  # for the per-mode bar charts: a row holds servers up to this many modes
PHASE_COLORS = {
    "db": "#4c72b0",
    "serialize": "#dd8452",
    "render": "#55a868",
    "compress": "#8172b3",
    "other": "#b0b0b0",
}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _mode_colors(modes: list[str]) -> dict[str, object]:
    """One colour per mode, the same in every chart of the report."""
    import matplotlib

    cmap = matplotlib.colormaps["tab10" if len(modes) <= 10 else "tab20"]
    return {m: cmap(i % cmap.N) for i, m in enumerate(modes)}


def _png(fig) -> str:
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _figure_legend(fig, axes, columns: int = 6) -> None:
    """One legend for the whole figure, under it: every label once, in first-seen order."""
    labelled: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            labelled.setdefault(label, handle)
    fig.legend(
        list(labelled.values()),
        list(labelled),
        loc="outside lower center",
        ncol=min(columns, len(labelled)),
        frameon=False,
    )


def _grid_axes(servers: list[str], panel_height: float = 3.6, **subplot_kw):
    """Equal panels, PANELS_PER_ROW to a row, one per server given."""
    plt = _pyplot()
    columns = min(len(servers), PANELS_PER_ROW)
    rows = -(-len(servers) // columns)
    fig, grid = plt.subplots(
        rows,
        columns,
        figsize=(FIGURE_WIDTH, panel_height * rows + 0.9),
        squeeze=False,
        layout="constrained",
        **subplot_kw,
    )
    axes = [ax for row in grid for ax in row]
    for ax in axes[len(servers) :]:
        ax.remove()  # an odd count leaves no empty frame
    return fig, axes[: len(servers)]


def _packed_axes(groups: list[tuple[str, int]], panel_height: float = 3.4):
    """Panels in rows of at most BARS_PER_ROW bars, each as wide as its bar count, so a bar has
    the same width everywhere; returns the figure, each group's axes in order, and the indexes
    of the axes that start a row."""
    plt = _pyplot()
    rows: list[list[tuple[str, int]]] = [[]]
    for name, n in groups:
        if rows[-1] and sum(max(k, 2) for _, k in rows[-1]) + max(n, 2) > BARS_PER_ROW:
            rows.append([])
        rows[-1].append((name, n))
    # As wide as the widest row needs (a bar as wide as in a full row), at least half the width.
    units = max(sum(max(n, 2) for _, n in row) for row in rows)
    width = FIGURE_WIDTH * max(units, BARS_PER_ROW // 2) / max(units, BARS_PER_ROW)
    fig = plt.figure(figsize=(width, panel_height * len(rows) + 1.0), layout="constrained")
    outer = fig.add_gridspec(len(rows), 1)
    axes: list = []
    first_of_row: list[int] = []
    for r, row in enumerate(rows):
        widths = [max(n, 2) for _, n in row]
        spare = max(units, BARS_PER_ROW // 2) - sum(widths)
        inner = outer[r].subgridspec(
            1, len(row) + (1 if spare else 0), width_ratios=widths + ([spare] if spare else [])
        )
        first_of_row.append(len(axes))
        axes += [fig.add_subplot(inner[0, i]) for i in range(len(row))]
    return fig, axes, first_of_row


def _log_ticks(ax, limits: list[int]) -> None:
    """On log-log axes: the row counts measured as x ticks (slanted: 1000 and 1440 are close),
    and plain numbers at 1, 2 and 5 times powers of ten on y."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    ax.set_xticks(limits)
    ax.set_xticklabels([str(lim) for lim in limits], rotation=45, ha="right")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))


def chart_rps(res: Results) -> str:
    """Requests/s against rows per response, a panel per server measured at two limits or more."""
    servers = [
        s
        for s in res.servers
        if sum(
            any(math.isfinite(res.rps(s, m, lim)) for m in res.modes_on(s))
            for lim in res.limits_on(s)
        )
        >= 2
    ]
    if not servers:
        return ""
    colors = _mode_colors(res.modes)
    fig, axes = _grid_axes(servers, sharey=True)
    for ax, server in zip(axes, servers):
        limits = res.limits_on(server)
        for mode in res.modes_on(server):
            cells = [(lim, res.cell(server, mode, lim)) for lim in limits]
            points = [(lim, c.rps) for lim, c in cells if c and math.isfinite(c.rps.median)]
            if not points:
                continue
            ax.errorbar(
                [lim for lim, _ in points],
                [r.median for _, r in points],
                yerr=[
                    [r.median - r.low for _, r in points],
                    [r.high - r.median for _, r in points],
                ],
                marker="o",
                ms=4,
                capsize=2,
                label=mode,
                color=colors[mode],
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(server)
        ax.set_xlabel("rows per response (log scale)")
        ax.grid(True, which="both", alpha=0.3)
        _log_ticks(ax, limits)
    for ax in axes[::PANELS_PER_ROW]:
        ax.set_ylabel("requests/s (log scale)")
    fig.suptitle("Requests/s against rows per response: median of repeats, bars from min to max")
    _figure_legend(fig, axes)
    return _png(fig)


def _modes_at(res: Results, server: str, limit: int, attr: str = "rps") -> list[str]:
    """The modes with a finite median `attr` on `server` at `limit`, in report order."""
    return [
        m
        for m in res.modes_on(server)
        if (c := res.cell(server, m, limit)) is not None
        and math.isfinite(c.rps.median if attr == "rps" else c.median(attr))
    ]


def chart_latency(res: Results) -> str:
    """Closed-loop response-time percentiles per mode at the chart limit: with N users and no
    wait, these are mostly time queued behind the other users, not latency at a chosen rate."""
    lim = res.chart_limit
    groups = [(s, len(ms)) for s in res.servers if (ms := _modes_at(res, s, lim, "p50_ms"))]
    if not groups:
        return ""
    fig, axes, first_of_row = _packed_axes(groups)
    width = 0.27
    for ax, (server, _) in zip(axes, groups):
        modes = _modes_at(res, server, lim, "p50_ms")
        for j, (attr, label, color) in enumerate(
            (
                ("p50_ms", "p50", "#9ecae1"),
                ("p95_ms", "p95", "#4292c6"),
                ("p99_ms", "p99", "#08519c"),
            )
        ):
            cells = [res.cell(server, m, lim) for m in modes]
            values = [c.median(attr) if c else math.nan for c in cells]
            ax.bar(
                [i + (j - 1) * width for i in range(len(modes))],
                values,
                width,
                label=label,
                color=color,
            )
        ax.set_xticks(range(len(modes)))
        ax.set_xticklabels(modes, rotation=35, ha="right")
        ax.set_xlim(-0.6, max(len(modes), 2) - 0.4)
        ax.set_title(server)
        ax.grid(True, axis="y", alpha=0.3)
    for i in first_of_row:
        axes[i].set_ylabel("response time, ms")
    users = res.meta.get("plan", {}).get("users")
    behind = f"{users} users" if users else "the users"
    fig.suptitle(
        f"Closed loop at {rows_label(lim)}: time in the queue behind {behind} (p50, p95, p99),\n"
        "not the latency of a server offered a chosen rate; each panel on its own scale",
    )
    _figure_legend(fig, axes)
    return _png(fig)


def chart_breakdown(res: Results) -> str:
    """One request's server time per mode at the chart limit, split by Server-Timing phase; ""
    when no server reported a phase."""
    lim = res.chart_limit
    groups = [
        (s, len(ms))
        for s in res.servers
        if (ms := _modes_at(res, s, lim))
        and any(
            math.isfinite(c.timing(p))
            for m in ms
            if (c := res.cell(s, m, lim)) is not None
            for p in PHASES
        )
    ]
    if not groups:
        return ""
    fig, axes, first_of_row = _packed_axes(groups)
    parts = [*PHASES, "other"]
    for ax, (server, _) in zip(axes, groups):
        modes = _modes_at(res, server, lim)
        cells = [res.cell(server, m, lim) for m in modes]
        services = [1000 / c.rps.median if c and c.rps.median else math.nan for c in cells]
        bottoms = [0.0] * len(modes)
        for part in parts:
            values = []
            for c, service in zip(cells, services):
                assert c is not None
                if part == "other":
                    known = sum(v for p in PHASES if math.isfinite(v := c.timing(p)))
                    values.append(max(0.0, service - known) if math.isfinite(service) else 0.0)
                else:
                    v = c.timing(part)
                    values.append(v if math.isfinite(v) else 0.0)
            ax.bar(
                range(len(modes)), values, 0.6, bottom=bottoms, label=part, color=PHASE_COLORS[part]
            )
            bottoms = [b + v for b, v in zip(bottoms, values)]
        # The server's time per request; wall-clock phases of overlapping (async) requests
        # can add up to more: such bars are cut at the top and their total written there.
        ax.scatter(
            range(len(modes)),
            services,
            marker="_",
            s=500,
            color="black",
            label="1/requests/s",
            zorder=3,
        )
        finite = [v for v in services if math.isfinite(v)]
        if finite:
            top = 1.2 * max(finite)
            ax.set_ylim(0, top)
            for i, total in enumerate(bottoms):
                if total > top:
                    ax.text(
                        i,
                        top * 0.97,
                        f"{total:.0f} ms\n(overlap)",
                        ha="center",
                        va="top",
                        fontsize=7,
                    )
        ax.set_xticks(range(len(modes)))
        ax.set_xticklabels(modes, rotation=35, ha="right")
        ax.set_xlim(-0.6, max(len(modes), 2) - 0.4)
        ax.set_title(server)
        ax.grid(True, axis="y", alpha=0.3)
    for i in first_of_row:
        axes[i].set_ylabel("server time per request, ms")
    fig.suptitle(
        f"Where one request's server time goes at {rows_label(lim)}: Server-Timing phases,\n"
        "and 1/requests/s, the server time per request of one process; each panel on its own scale"
    )
    _figure_legend(fig, axes)
    return _png(fig)


def chart_instructions(res: Results) -> str:
    """Instructions per request against rows per response, a line per mode (the view called
    in-process under callgrind); "" when the instructions were not counted."""
    from loadtest.report.tables import instruction_ladder

    ladder = instruction_ladder(res)
    if ladder is None:
        return ""
    modes = [m for m in res.modes if ladder.counts.get(m)] or [
        m for m in ladder.modes if ladder.counts.get(m)
    ]
    if not modes:
        return ""
    colors = _mode_colors(res.modes if set(modes) <= set(res.modes) else modes)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(FIGURE_WIDTH, 4.6))
    limits: set[int] = set()
    for mode in modes:
        points = sorted(ladder.counts[mode].items())
        limits.update(lim for lim, _ in points)
        ax.plot(
            [lim for lim, _ in points],
            [n / 1e6 for _, n in points],
            marker="o",
            ms=4,
            label=mode,
            color=colors[mode],
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    _log_ticks(ax, sorted(limits))
    ax.set_xlabel("rows per response (log scale)")
    ax.set_ylabel("instructions per request,\nmillions (log scale)")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title("Instructions per request: the view called in-process, counted by callgrind")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return _png(fig)
