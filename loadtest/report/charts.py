"""The report's charts (matplotlib, drawn off-screen), each returned as a base64 PNG."""

from __future__ import annotations

import base64
import io
import math

from loadtest.report.numbers import rows_label
from loadtest.report.results import Results
from loadtest.stats import PHASES


def _mode_colors(modes: list[str]) -> dict[str, object]:
    import matplotlib

    cmap = matplotlib.colormaps["tab20"]
    return {m: cmap(i % 20) for i, m in enumerate(modes)}


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


CHARTS_PER_ROW = 4


def _per_server_axes(res: Results, **subplot_kw):
    """One figure with one subplot per server (CHARTS_PER_ROW to a row), drawn off-screen
    (Agg); returns the figure and the servers' axes in order."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(res.servers)
    columns = min(n, CHARTS_PER_ROW)
    rows = -(-n // columns)
    fig, grid = plt.subplots(
        rows, columns, figsize=(5.2 * columns, 4.2 * rows), squeeze=False, **subplot_kw
    )
    if rows > 1:
        fig.subplots_adjust(hspace=0.5)
    axes = [ax for row in grid for ax in row]
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def chart_rps(res: Results) -> str:
    colors = _mode_colors(res.modes)
    fig, axes = _per_server_axes(res, sharey=True)
    for ax, server in zip(axes, res.servers):
        for mode in res.modes_on(server):
            cells = [(lim, res.cell(server, mode, lim)) for lim in res.limits]
            cells = [(lim, c) for lim, c in cells if c and math.isfinite(c.rps.median)]
            if not cells:
                continue
            xs = [lim for lim, _ in cells]
            ys = [c.rps.median for _, c in cells]
            err = [
                [c.rps.median - c.rps.low for _, c in cells],
                [c.rps.high - c.rps.median for _, c in cells],
            ]
            ax.errorbar(
                xs, ys, yerr=err, marker="o", ms=4, capsize=2, label=mode, color=colors[mode]
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(server)
        ax.set_xlabel("rows per response")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xticks(res.limits)
        ax.set_xticklabels([str(lim) for lim in res.limits], rotation=45, fontsize=8)
        ax.minorticks_off()
    axes[0].set_ylabel("requests/s (median, min–max bars)")
    # One legend for every server's modes (each server has its own).
    labelled: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            labelled.setdefault(label, handle)
    fig.legend(
        list(labelled.values()),
        list(labelled),
        fontsize=8,
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
    )
    fig.suptitle("Requests/s against rows per response")
    return _png(fig)


def chart_latency(res: Results) -> str:
    lim = res.chart_limit
    fig, axes = _per_server_axes(res)
    width = 0.27
    for ax, server in zip(axes, res.servers):
        modes = [m for m in res.modes if res.cell(server, m, lim)]
        for j, (attr, label) in enumerate(
            (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99"))
        ):
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
    colors = {
        "db": "#4c72b0",
        "serialize": "#dd8452",
        "render": "#55a868",
        "compress": "#8172b3",
        "other": "#b0b0b0",
    }
    for ax, server in zip(axes, res.servers):
        modes = [m for m in res.modes if res.cell(server, m, lim)]
        services = [
            1000 / c.rps.median if (c := res.cell(server, m, lim)).rps.median else math.nan
            for m in modes
        ]
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
        ax.scatter(
            range(len(modes)), services, marker="_", s=900, color="black", label="1/rps", zorder=3
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
        ax.set_xticklabels(modes, rotation=35, ha="right", fontsize=8)
        ax.set_title(f"{server}, {rows_label(lim)}")
        ax.set_ylabel("ms of server time per request")
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8, markerscale=0.3)
    fig.suptitle(
        "Where one request's server time goes: Server-Timing phases; 1/rps = server time per request"
    )
    return _png(fig)


def chart_instructions(res: Results) -> str:
    """Instructions per request against rows per mode (the view in-process, callgrind), beside
    each server's requests/s against rows: "" when the instructions were not counted."""
    from loadtest.report.tables import instruction_ladder

    ladder = instruction_ladder(res)
    if ladder is None:
        return ""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modes = [m for m in res.modes if m in ladder.counts] or ladder.modes
    colors = _mode_colors(modes)
    fig, axes = plt.subplots(
        1, 1 + len(res.servers), figsize=(5.2 * (1 + len(res.servers)), 4.2), squeeze=False
    )
    panels = [
        ("instructions per request (millions)", None),
        *(("requests/s (median)", s) for s in res.servers),
    ]
    for ax, (label, server) in zip(axes[0], panels):
        for mode in modes:
            if server is None:
                points = sorted(ladder.counts[mode].items())
                points = [(lim, n / 1e6) for lim, n in points]
            else:
                points = [(lim, res.rps(server, mode, lim)) for lim in res.limits]
                points = [(lim, v) for lim, v in points if math.isfinite(v)]
            if points:
                ax.plot(
                    [x for x, _ in points],
                    [y for _, y in points],
                    marker="o",
                    ms=4,
                    label=mode,
                    color=colors[mode],
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title("the view in-process (callgrind)" if server is None else server)
        ax.set_xlabel("rows per response")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)
