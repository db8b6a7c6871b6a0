"""The report's hero chart: requests/s at the chart limit for every server x mode (uncompressed
responses), fastest first, as inline SVG with one element per bar so it stays crisp and readable."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from loadtest.axes import COMPRESSION
from loadtest.report.capacity import DEFAULT_SLO_MS, capacity_from_folder
from loadtest.report.frameworks import ranked
from loadtest.report.numbers import fnum, rows_label
from loadtest.report.results import Results

# The server that serves the case study's FastAPI app (loadtest/reference/).
REFERENCE_SERVER = "fastapi"
SLO_MS = DEFAULT_SLO_MS  # the latency target the chart shows capacity at: p99 at most this

VALIDATED_FILL = "#2563a8"
UNVALIDATED_FILL = "url(#hero-unvalidated)"
UNKNOWN_FILL = "#9a9a9a"  # a run whose meta.json does not record which modes validate
WIDTH = 1100
ROW_HEIGHT = 26
BAR_HEIGHT = 17
FONT = "system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif"
CHAR_PX = 7.4  # rough width of a 13 px character, to size the label column


@dataclass(frozen=True)
class HeroBar:
    """One server x mode at the chart limit: its median requests/s and the spread of its repeats."""

    server: str
    mode: str
    rps: float
    low: float
    high: float
    repeats: int
    validated: bool | None  # None: not recorded (a meta.json without the registry)
    reference: bool
    trustworthy: bool
    capacity: str = ""


def hero_bars(res: Results, capacity: Mapping[tuple[str, str], str] | None = None) -> list[HeroBar]:
    """Every server x mode measured at the chart limit on the default deployment (without
    compression, on today's stack), fastest first, with
    its capacity text when `capacity` has one."""
    plain = res.on_default_deployment()
    if plain is None:
        return []
    lim = plain.chart_limit
    recorded = bool(plain.meta.get("plan", {}).get("registry"))
    bars = []
    for server, mode, rps in ranked(plain, lim):
        cell = plain.cell(server, mode, lim)
        assert cell is not None  # ranked() lists measured cells only
        bars.append(
            HeroBar(
                server=server,
                mode=mode,
                rps=rps,
                low=cell.rps.low,
                high=cell.rps.high,
                repeats=cell.rps.n,
                validated=plain.validates(mode) if recorded else None,
                reference=server == REFERENCE_SERVER,
                trustworthy=cell.trustworthy,
                capacity=(capacity or {}).get((server, mode), ""),
            )
        )
    return bars


def read_capacity(directory: Path, limit: int) -> dict[tuple[str, str], str]:
    """From `directory`/capacity.csv, per (server, mode) swept at `limit` rows against SLO_MS:
    its capacity as the tables decide it (loadtest/report/capacity.py), in a few words. {} when
    the run swept nothing."""
    return {
        (c.server, c.mode): c.chart_text
        for c in capacity_from_folder(directory).values()
        if c.limit == limit and c.slo_ms == SLO_MS
    }


def _nice_step(top: float, ticks: int = 6) -> float:
    """A round tick step (1, 2, 2.5 or 5 times a power of ten) giving about `ticks` ticks to `top`."""
    raw = top / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)


def _attr(value: object) -> str:
    return html.escape(str(value), quote=True)


def _text(x: float, y: float, text: str, **attrs: object) -> str:
    extra = "".join(f' {k.rstrip("_").replace("_", "-")}="{_attr(v)}"' for k, v in attrs.items())
    return f'<text x="{x:.1f}" y="{y:.1f}"{extra}>{html.escape(text, quote=False)}</text>'


def run_line(res: Results) -> str:
    """The run's date, machine and database, to print beneath the chart."""
    meta = res.meta
    machine = meta.get("machine") or {}
    parts = []
    if meta.get("started_at"):
        parts.append(f"run of {str(meta['started_at'])[:10]}")
    if machine.get("cpu_model"):
        cpus = machine.get("cpus_online")
        parts.append(f"{machine['cpu_model']}" + (f", {cpus} CPUs" if cpus else ""))
    vendor = (meta.get("database") or {}).get("vendor")
    if vendor:
        parts.append(f"{vendor} database")
    return "candlebench" + (": " + "; ".join(parts) if parts else "")


def hero_svg(res: Results, capacity: Mapping[tuple[str, str], str] | None = None) -> str:
    """The hero chart as a standalone SVG element, WIDTH px wide at its own size (the report's
    CSS fits it to the page); "" when nothing was measured."""
    bars = hero_bars(res, capacity)
    if not bars:
        return ""
    plain = res.on_default_deployment() or res
    lim = plain.chart_limit
    repeats = max(b.repeats for b in bars)
    with_capacity = any(b.capacity for b in bars)
    label_w = max(len(f"{b.mode} · {b.server}") for b in bars) * CHAR_PX + 34
    capacity_w = 170 if with_capacity else 0
    value_w = 110
    x0, x1 = label_w, WIDTH - value_w - capacity_w
    top_value = max(
        max((b.high for b in bars if math.isfinite(b.high)), default=0.0),
        max(b.rps for b in bars),
        1.0,
    )
    step = _nice_step(top_value)
    axis_max = math.ceil(top_value / step) * step

    def x(value: float) -> float:
        return x0 + (x1 - x0) * value / axis_max

    top = 78  # title and legend above the bars
    plot_h = ROW_HEIGHT * len(bars)
    height = top + plot_h + 100
    out = [
        f'<svg class="hero" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" role="img" font-family="{_attr(FONT)}" font-size="13" fill="#222" '
        f'aria-label="requests/s at {rows_label(lim)} for every server and mode, fastest first">',
        '<defs><pattern id="hero-unvalidated" patternUnits="userSpaceOnUse" width="7" height="7" '
        'patternTransform="rotate(45)"><rect width="7" height="7" fill="#f6c27f"/>'
        '<rect width="3" height="7" fill="#dd8a2e"/></pattern></defs>',
        '<rect width="100%" height="100%" fill="#fff"/>',
        _text(
            12,
            24,
            f"Requests/s at {rows_label(lim)}, every server × mode, fastest first",
            font_size=17,
            font_weight=600,
        ),
    ]
    # The legend: two entries (one when the run did not record which modes validate).
    legend_y = 46
    validated = "validated: every row checked against the project's response schema"
    second = 40 + len(validated) * CHAR_PX + 30
    out += (
        [
            f'<rect class="legend" x="12" y="{legend_y}" width="22" height="13" '
            f'fill="{VALIDATED_FILL}"/>',
            _text(40, legend_y + 11, validated),
            f'<rect class="legend" x="{second:.1f}" y="{legend_y}" width="22" height="13" '
            f'fill="{UNVALIDATED_FILL}" stroke="#dd8a2e"/>',
            _text(second + 28, legend_y + 11, "not validated"),
        ]
        if any(b.validated is not None for b in bars)
        else [
            f'<rect class="legend" x="12" y="{legend_y}" width="22" height="13" '
            f'fill="{UNKNOWN_FILL}"/>',
            _text(
                40, legend_y + 11, "which modes validate is not recorded in this run's meta.json"
            ),
        ]
    )
    if with_capacity:
        out.append(
            _text(
                WIDTH - 8,
                top - 6,
                f"capacity at p99 ≤ {SLO_MS:.0f} ms (– not swept)",
                text_anchor="end",
                font_weight=600,
            )
        )
    # Grid and ticks.
    tick = 0.0
    while tick <= axis_max + step / 2:
        tx = x(tick)
        out.append(
            f'<line x1="{tx:.1f}" y1="{top - 2}" x2="{tx:.1f}" y2="{top + plot_h}" '
            f'stroke="{"#999" if tick == 0 else "#e3e3e3"}" stroke-width="1"/>'
        )
        label = f"{tick:,.0f}" if step >= 1 else f"{tick:g}"
        out.append(_text(tx, top + plot_h + 16, label, text_anchor="middle", fill="#555"))
        tick += step
    spread_note = (
        f"median of {repeats} repeats, whiskers from the slowest to the fastest repeat"
        if repeats > 1
        else "one run each, no spread"
    )
    out.append(
        _text(
            (x0 + x1) / 2,
            top + plot_h + 36,
            f"requests/s ({spread_note}; linear scale from 0)",
            text_anchor="middle",
        )
    )
    for i, bar in enumerate(bars):
        y = top + i * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2
        mid = y + BAR_HEIGHT / 2
        fill = {True: VALIDATED_FILL, False: UNVALIDATED_FILL, None: UNKNOWN_FILL}[bar.validated]
        validation = {True: "yes", False: "no", None: "unknown"}[bar.validated]
        tip = (
            f"{bar.mode} on {bar.server}: {fnum(bar.rps)} req/s"
            + (f" (repeats {fnum(bar.low)}–{fnum(bar.high)})" if bar.repeats > 1 else "")
            + {True: "; validated", False: "; not validated", None: ""}[bar.validated]
            + ("" if bar.trustworthy else "; a run failed its checks")
        )
        out.append(f'<g class="row" data-rank="{i + 1}">')
        if bar.reference:
            out.append(
                _text(x0 - 10, mid + 4.5, "◆", text_anchor="end", fill="#b3261e", font_size=12)
            )
        out.append(
            f'<text x="{x0 - (26 if bar.reference else 10):.1f}" y="{mid + 4.5:.1f}" '
            f'text-anchor="end"><tspan font-weight="600">{html.escape(bar.mode)}</tspan>'
            f'<tspan fill="#666"> · {html.escape(bar.server)}</tspan></text>'
        )
        out.append(
            f'<rect class="bar" x="{x0:.1f}" y="{y:.1f}" width="{x(bar.rps) - x0:.1f}" '
            f'height="{BAR_HEIGHT}" fill="{fill}" data-server="{_attr(bar.server)}" '
            f'data-mode="{_attr(bar.mode)}" data-rps="{bar.rps:.2f}" '
            f'data-validated="{validation}" '
            f'data-reference="{"yes" if bar.reference else "no"}">'
            f"<title>{html.escape(tip)}</title></rect>"
        )
        end = bar.rps
        if bar.repeats > 1 and math.isfinite(bar.low) and math.isfinite(bar.high):
            lo, hi = x(bar.low), x(bar.high)
            end = bar.high
            out.append(
                f'<g class="whisker" data-low="{bar.low:.2f}" data-high="{bar.high:.2f}" '
                f'stroke="#111" stroke-width="1.5">'
                f'<line x1="{lo:.1f}" y1="{mid:.1f}" x2="{hi:.1f}" y2="{mid:.1f}"/>'
                f'<line x1="{lo:.1f}" y1="{mid - 5:.1f}" x2="{lo:.1f}" y2="{mid + 5:.1f}"/>'
                f'<line x1="{hi:.1f}" y1="{mid - 5:.1f}" x2="{hi:.1f}" y2="{mid + 5:.1f}"/></g>'
            )
        out.append(
            _text(
                x(end) + 7,
                mid + 4.5,
                f"{fnum(bar.rps)}" + ("" if bar.trustworthy else " ⚠"),
                class_="value",
            )
        )
        if bar.capacity:
            out.append(
                _text(WIDTH - 8, mid + 4.5, bar.capacity, text_anchor="end", class_="capacity")
            )
        elif with_capacity:  # not swept
            out.append(
                _text(
                    WIDTH - 8, mid + 4.5, "–", text_anchor="end", fill="#999", class_="no-capacity"
                )
            )
        out.append("</g>")
    notes = []
    if any(b.reference for b in bars):
        notes.append(f"◆ the case study's FastAPI app (server {REFERENCE_SERVER})")
    if not all(b.trustworthy for b in bars):
        notes.append("⚠ a repeat failed its own checks (the verdict counts passing runs only)")
    if plain is not res:
        left = [
            "compressed responses" if axis == COMPRESSION.name else f"other {noun}s' runs"
            for axis, noun in res.varied_axes().items()
        ]
        notes.append(f"{' and '.join(left)} left out")
    lines = ["  ·  ".join(notes), run_line(res)] if notes else [run_line(res)]
    for k, line in enumerate(lines):
        out.append(_text(12, top + plot_h + 64 + 18 * k, line, fill="#555", font_size=12))
    out.append("</svg>")
    return "\n".join(out)
