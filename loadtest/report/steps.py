"""Where DRF's and ninja's validated paths spend their time: each framework's modes as a chain
of steps, every mode changing one thing from the one before, at the chart limit. Per mode the
micro benchmark's ms, the instruction ladder's count and requests/s under load; per step its
saving as a share of the chain's first mode."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from loadtest.report.goals import micro_ms
from loadtest.report.ladder import millions
from loadtest.report.numbers import fnum, fratio, rows_label
from loadtest.report.results import Results
from loadtest.report.tables import Table, instruction_ladder


@dataclass(frozen=True)
class Step:
    mode: str
    change: str  # what this mode changes from the one before it in its chain


NINJA_STEPS = (
    Step("ninja", "ninja as documented: model instances, a ninja Schema, the default renderer"),
    Step("ninja-orjson", "renderer: stdlib json (a Python hook per datetime) → orjson"),
    Step("ninja-values", "hydration: model instances → `.values()` dicts"),
    Step(
        "ninja-basemodel", "ninja's Schema (its getter, Python per field) → a plain Pydantic model"
    ),
    Step("pydantic", "ninja's operation → a plain Django view, TypeAdapter and dump_json()"),
)
DRF_STEPS = (
    Step("drf-validated", "DRF with the response validated again (response_model analogue)"),
    Step("drf", "validation: the second pass through the response serializer, dropped"),
    Step("drf-orjson", "renderer: DRF's JSONRenderer → orjson"),
    Step("drf-values", "hydration: model instances (ModelSerializer) → `.values()` dicts"),
)
CHAINS = (NINJA_STEPS, DRF_STEPS)
FOR_SCALE = ("msgspec", "raw")


def instruction_counts(res: Results, limit: int) -> dict[str, float]:
    """The instruction ladder's count per request of every mode counted at `limit`."""
    ladder = instruction_ladder(res)
    counts = ladder.counts if ladder else {}
    return {mode: by[limit] for mode, by in counts.items() if limit in by}


def load_server(res: Results, limit: int) -> str | None:
    """The server that ran the most of the chains' modes at `limit` (the first of equals)."""
    modes = [step.mode for chain in CHAINS for step in chain]
    ran = {s: sum(res.cell(s, m, limit) is not None for m in modes) for s in res.servers}
    best = max(ran.values(), default=0)
    return next((s for s, n in ran.items() if n == best), None) if best > 1 else None


def measured_steps(
    chain: tuple[Step, ...], measured: Callable[[str], bool]
) -> list[tuple[Step | None, Step, str]]:
    """The chain's measured modes, each with the measured one before it (None for the first
    one) and what changed between the two: an unmeasured step's change joins the next one's."""
    out: list[tuple[Step | None, Step, str]] = []
    before: Step | None = None
    changes: list[str] = []
    for step in chain:
        changes.append(step.change)
        if measured(step.mode):
            out.append((before, step, "; ".join(changes) if before else step.change))
            before, changes = step, []
    return out


def _figure(value: float, before: float, first: float, text: str) -> str:
    """A figure, and what the step to it from the row above changed, as a share of the
    chain's first figure (when both were measured)."""
    if not math.isfinite(value):
        return "-"
    if not (math.isfinite(before) and math.isfinite(first)):
        return text
    return f"{text} ({(value - before) / first:+.0%})"


def _rps(res: Results, trusted: Results | None, server: str, mode: str, limit: int) -> str:
    """Median requests/s from trustworthy runs; ⚠ when only untrustworthy ones exist."""
    if trusted is not None and trusted.cell(server, mode, limit) is not None:
        return fnum(trusted.rps(server, mode, limit))
    return f"{fnum(res.rps(server, mode, limit))} ⚠" if res.cell(server, mode, limit) else "-"


def ratio_text(res: Results, trusted: Results | None, cell: tuple, base: tuple) -> str:
    """`cell`'s requests/s over `base`'s within each repeat, from trustworthy runs when both
    have some, else from all runs and marked ⚠; '' when either was not run."""
    if trusted is not None and trusted.cell(*cell) and trusted.cell(*base):
        return fratio(trusted.paired_ratio(cell, base))
    ratio = res.paired_ratio(cell, base)
    return f"{fratio(ratio)} ⚠" if math.isfinite(ratio) else ""


def steps_table(res: Results) -> Table | None:
    """The chains' measured modes at the chart limit (a chain of which fewer than two were
    measured anywhere, micro benchmark, ladder or load, is left out), or None."""
    lim = res.chart_limit
    server = load_server(res, lim)
    trusted = res.trusted()
    counts = instruction_counts(res, lim)

    def measured(mode: str) -> bool:
        return (
            math.isfinite(micro_ms(res, mode, lim))
            or mode in counts
            or (server is not None and res.cell(server, mode, lim) is not None)
        )

    body = []
    for chain in CHAINS:
        if sum(measured(step.mode) for step in chain) < 2:
            continue
        first = chain[0].mode
        ms_first, count_first = micro_ms(res, first, lim), counts.get(first, math.nan)
        for before, step, change in measured_steps(chain, measured):
            ms, count = micro_ms(res, step.mode, lim), counts.get(step.mode, math.nan)
            ms_before = micro_ms(res, before.mode, lim) if before else math.nan
            count_before = counts.get(before.mode, math.nan) if before else math.nan
            body.append(
                [
                    change,
                    step.mode,
                    _figure(ms, ms_before, ms_first, f"{fnum(ms)} ms"),
                    _figure(count, count_before, count_first, millions(count)),
                    _rps(res, trusted, server, step.mode, lim) if server else "-",
                    ratio_text(res, trusted, (server, step.mode, lim), (server, first, lim))
                    if server and before
                    else "",
                ]
            )
    if not body:
        return None
    for mode in (m for m in FOR_SCALE if measured(m)):
        ms, count = micro_ms(res, mode, lim), counts.get(mode, math.nan)
        body.append(
            [
                "for scale",
                mode,
                f"{fnum(ms)} ms" if math.isfinite(ms) else "-",
                millions(count) if math.isfinite(count) else "-",
                _rps(res, trusted, server, mode, lim) if server else "-",
                "",
            ]
        )
    where = f"on {server}" if server else "(no server ran them)"
    return Table(
        ["step", "mode", "in-process", "instructions", f"req/s {where}", "× the chain's first"],
        body,
        f"Where ninja's and DRF's time goes at {rows_label(lim)}: each mode changes one thing from "
        "the row above it. In-process: the micro benchmark's ms per request (the view alone); "
        "instructions: the instruction ladder's count per request; in brackets what the step "
        "changed, as a share of the chain's first mode (ninja, drf-validated). Requests/s: median "
        f"of repeats {where}, and over the chain's first mode within each repeat (⚠: from runs "
        "that failed their checks, there being no trustworthy one).",
        align_left=2,
    )


def ninja_advice(res: Results) -> str:
    """What a django-ninja user should change first, in one sentence: the step that saves most by
    the instruction counts (the least noisy figure; else the micro benchmark's ms), and what the
    last step measured brings over ninja, under load where both ran (else in-process); '' without
    ninja and one of its steps measured in-process or counted. Each step's figures stay in the
    steps table."""
    lim = res.chart_limit
    ms = {step.mode: micro_ms(res, step.mode, lim) for step in NINJA_STEPS}
    counts = instruction_counts(res, lim)
    first = NINJA_STEPS[0].mode
    figures, measure = (
        (counts, "instructions")
        if first in counts and any(step.mode in counts for step in NINJA_STEPS[1:])
        else (ms, "in-process time")
    )

    def figure(mode: str) -> float:
        return figures.get(mode, math.nan)

    steps = [
        (before, step, change)
        for before, step, change in measured_steps(NINJA_STEPS, lambda m: math.isfinite(figure(m)))
        if before
    ]
    if not math.isfinite(figure(first)) or not steps:
        return ""
    before, biggest, change = max(steps, key=lambda s: figure(s[0].mode) - figure(s[1].mode))
    saved = figure(before.mode) - figure(biggest.mode)
    last = steps[-1][1].mode
    server = load_server(res, lim)
    load = (
        ratio_text(res, res.trusted(), (server, last, lim), (server, first, lim)) if server else ""
    )
    overall = (
        f"{load} ninja's requests/s on {server}"
        if load
        else f"{fratio(figure(first) / figure(last))} fewer {measure} than ninja"
    )
    return (
        f"change first {change} ({saved / figure(first):.0%} of ninja's {measure}); all the "
        f"steps together ({last}): {overall}"
    )
