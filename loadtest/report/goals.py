"""The report's goals as data: each one id, one owner and its thresholds in one place; the
goal's text and the verdict are generated from those thresholds."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from loadtest.axes import COMPRESSION, STACK, relabel
from loadtest.report.case_study import STUDY_SERVER, STUDY_STACK, STUDY_VARIANTS
from loadtest.report.numbers import fnum, fratio
from loadtest.report.results import Results
from loadtest.request import DIAGNOSTICS

GOAL_ROWS = 1000


@dataclass(frozen=True)
class Goal:
    """One goal: `thresholds` are the minimum figures (ratios; shares as fractions) it needs."""

    id: str
    owner: str
    thresholds: dict[str, float]
    evaluate: Callable[[Goal, Results, Results | None, int], list[GoalResult]]
    # The deployment axis whose setups the goal compares: judged on the runs whose other axes
    # are at their defaults (compression's goals on today's stack, the stacks' uncompressed);
    # "": on the runs with every axis at its default only (`wsgi`, never `wsgi+zstd-1`).
    axis: str = ""


@dataclass
class GoalResult:
    key: str
    wants: str
    # "met", "not met", "not measured"; "reported" for a figure without a threshold; "undecided"
    # when the measurement brackets the figure on both sides of the threshold
    status: str
    figures: str

    @property
    def line(self) -> str:
        return f"{self.key} {self.status.upper()}: {self.wants}. {self.figures}"


def times(value: float) -> str:
    """A ratio threshold as text: 10 -> '10x'."""
    return f"{value:g}x"


def share(value: float) -> str:
    """A share threshold as text: 0.8 -> '80%'."""
    return f"{value:.0%}"


def database_alone(res: Results, limit: int) -> dict | None:
    """The micro benchmark's database-alone timings at `limit` rows, if it ran there."""
    for a in (res.meta.get("micro") or {}).get("database_alone", []):
        if a["limit"] == limit:
            return a
    return None


def micro_ms(res: Results, mode: str, limit: int) -> float:
    """The micro benchmark's ms per request for `mode` at `limit`, NaN when not timed."""
    for row in (res.meta.get("micro") or {}).get("rows", []):
        if row["mode"] == mode and row["limit"] == limit:
            return float(row["ms"])
    return math.nan


def bound_inputs(res: Results, server: str, limit: int) -> tuple[float, dict] | None:
    """(the ceiling's ms per request, the database-alone timings) when the database-bound
    estimate applies to `server`: it assumes the two add up on the server's one core, which
    holds for SQLite (in the server's process) and for a server that waits for the
    database, but not for an event loop (async server) with a database server, which works
    while a query waits."""
    top, _ = res.ceiling(server, limit)
    alone = database_alone(res, limit)
    micro = res.meta.get("micro") or {}
    event_loop = res.meta.get("event_loop", {}).get(server, server.startswith("asgi"))
    if (
        alone is None
        or not math.isfinite(top)
        or (event_loop and micro.get("database") != "sqlite")
    ):
        return None
    return 1000 / top, alone


def database_bound_rps(res: Results, server: str, limit: int) -> float:
    """The database-bound estimate: 1 / (the ceiling's time per request + the database alone's
    time for the rows), in requests/s; NaN where it does not apply (bound_inputs)."""
    inputs = bound_inputs(res, server, limit)
    return math.nan if inputs is None else 1000 / (inputs[0] + inputs[1]["rows_ms"])


def ceiling_bound(res: Results, server: str, limit: int) -> str:
    """How close any mode could come to the ceiling, estimated from the ceiling's time per
    request and the database-alone timings of the same run: a mode does at least what the
    ceiling's request does, plus fetching the rows (bound_inputs says when it applies)."""
    inputs = bound_inputs(res, server, limit)
    if inputs is None:
        return ""
    ceiling_ms, alone = inputs
    other = "" if alone.get("json_same_document", True) else ", a document with other values"
    return (
        f" Estimate: in-process the database alone needs {fnum(alone['rows_ms'])} ms to hand {limit} rows to "
        f"Python ({fnum(alone['json_ms'])} ms to write the JSON itself{other}) against {fnum(ceiling_ms)} ms "
        f"for the ceiling's whole request; if these add up on one core, a mode that reads the rows reaches "
        f"about {ceiling_ms / (ceiling_ms + alone['rows_ms']):.0%} of the ceiling at best "
        f"({fnum(1000 / (ceiling_ms + alone['rows_ms']))} req/s, the database-bound estimate), one that has the "
        f"database write the JSON {ceiling_ms / (ceiling_ms + alone['json_ms']):.0%}."
    )


def _status(ok: list[bool]) -> str:
    return "met" if all(ok) else "not met"


def _missing(res: Results, trusted: Results | None, needed: list[tuple[str, str, int]]) -> str:
    """'' when every needed cell has a trustworthy run; else what is missing and why."""
    not_run = [f"{s} {m} @{lim}" for s, m, lim in needed if res.cell(s, m, lim) is None]
    untrusted = [
        f"{s} {m} @{lim}"
        for s, m, lim in needed
        if res.cell(s, m, lim) is not None and (trusted is None or trusted.cell(s, m, lim) is None)
    ]
    parts = ([f"not run: {', '.join(not_run)}"] if not_run else []) + (
        [f"no trustworthy run: {', '.join(untrusted)}"] if untrusted else []
    )
    return "; ".join(parts)


def fitted_costs(res: Results, server: str, modes: tuple[str, ...]) -> str:
    """The fitted fixed and per-row costs behind a ratio: a cost per request that every mode
    pays alike (HTTP, the server, Django, building the query) narrows a per-row ratio."""
    fits = {m: fit for m in modes if (fit := res.fit(server, m)) is not None}
    if len(fits) < len(modes):
        return ""
    if unreliable := [f"{m}: {f.unreliable}" for m, f in fits.items() if f.unreliable]:
        return f" Fitted cost per request: fit unreliable ({'; '.join(unreliable)})."
    parts = ", ".join(
        f"{m} {fnum(f.fixed_ms, 2)} ms + {fnum(f.per_row_us, 1)} µs/row" for m, f in fits.items()
    )
    return f" Fitted cost per request: {parts}."


def _g1(goal: Goal, res: Results, t: Results | None, rows: int) -> list[GoalResult]:
    """WSGI: raw against drf and drf-validated."""
    need_drf, need_validated = goal.thresholds["raw/drf"], goal.thresholds["raw/drf-validated"]
    modes = ("raw", "drf", "drf-validated")
    wants = f"under wsgi at {rows} rows, raw >= {times(need_drf)} drf and >= {times(need_validated)} drf-validated"
    miss = _missing(res, t, [("wsgi", m, rows) for m in modes])
    if miss or t is None:  # when t is None, miss says why
        return [GoalResult(goal.id, wants, "not measured", miss.capitalize() + ".")]
    a = t.paired_ratio(("wsgi", "raw", rows), ("wsgi", "drf", rows))
    b = t.paired_ratio(("wsgi", "raw", rows), ("wsgi", "drf-validated", rows))
    return [
        GoalResult(
            goal.id,
            wants,
            _status([a >= need_drf, b >= need_validated]),
            f"raw {fnum(t.rps('wsgi', 'raw', rows))}, drf {fnum(t.rps('wsgi', 'drf', rows))}, "
            f"drf-validated {fnum(t.rps('wsgi', 'drf-validated', rows))} req/s: raw/drf {fratio(a)} "
            f"(needs ×{need_drf:g}), raw/drf-validated {fratio(b)} (needs ×{need_validated:g})."
            + fitted_costs(t, "wsgi", modes),
        )
    ]


def _g2(goal: Goal, res: Results, t: Results | None, rows: int) -> list[GoalResult]:
    """ASGI's fast modes against WSGI's raw."""
    need = goal.thresholds["of wsgi raw"]
    wants = f"under asgi at {rows} rows, orjson and raw each >= {share(need)} of raw under wsgi"
    miss = _missing(
        res, t, [("asgi", "orjson", rows), ("asgi", "raw", rows), ("wsgi", "raw", rows)]
    )
    if miss or t is None:  # when t is None, miss says why
        return [GoalResult(goal.id, wants, "not measured", miss.capitalize() + ".")]
    a = t.paired_ratio(("asgi", "orjson", rows), ("wsgi", "raw", rows))
    b = t.paired_ratio(("asgi", "raw", rows), ("wsgi", "raw", rows))
    same_mode = t.paired_ratio(("asgi", "orjson", rows), ("wsgi", "orjson", rows))
    # The same mode on both servers separates what ASGI costs from what the mode costs.
    server_share = (
        f" The same orjson mode under asgi is {same_mode:.0%} of itself under wsgi."
        if math.isfinite(same_mode)
        else ""
    )
    return [
        GoalResult(
            goal.id,
            wants,
            _status([a >= need, b >= need]),
            f"asgi orjson {fnum(t.rps('asgi', 'orjson', rows))}, asgi raw {fnum(t.rps('asgi', 'raw', rows))}, "
            f"wsgi raw {fnum(t.rps('wsgi', 'raw', rows))} req/s: orjson {a:.0%}, raw {b:.0%} of wsgi raw "
            f"(needs {share(need)})." + server_share,
        )
    ]


def _g3(goal: Goal, res: Results, t: Results | None, rows: int) -> list[GoalResult]:
    """The ASGI ceiling against the WSGI ceiling."""
    need = goal.thresholds["of the wsgi ceiling"]
    wants = f"the asgi ceiling (floor) at {rows} rows >= {share(need)} of the wsgi ceiling"
    ca, wa = t.ceiling("asgi", rows) if t else (math.nan, "")
    cw, ww = t.ceiling("wsgi", rows) if t else (math.nan, "")
    if t is None or not (math.isfinite(ca) and math.isfinite(cw)):
        miss = _missing(
            res,
            t,
            [
                (s, d, rows)
                for s, v in (("asgi", ca), ("wsgi", cw))
                if not math.isfinite(v)
                for d in DIAGNOSTICS
            ],
        )
        return [GoalResult(goal.id, wants, "not measured", miss.capitalize() + ".")]
    r = ca / cw
    bounds = "; ".join(
        f"{s} {why}" for s in ("asgi", "wsgi") if (why := t.ceiling_limited_by(s, rows))
    )
    return [
        GoalResult(
            goal.id,
            wants,
            _status([r >= need]),
            f"asgi {fnum(ca)} req/s ({wa}), wsgi {fnum(cw)} req/s ({ww}): {r:.0%} (needs {share(need)})."
            + (f" Caution, {bounds}." if bounds else ""),
        )
    ]


def _g4(goal: Goal, res: Results, t: Results | None, rows: int) -> list[GoalResult]:
    """On each server, the best mode against the database-bound estimate (issue 11's G4)."""
    need = goal.thresholds["of the database-bound estimate"]
    out = []
    for s in res.servers:
        key = f"{goal.id} {s}"
        wants = (
            f"on {s} at {rows} rows, the best mode >= {share(need)} of the database-bound estimate"
        )
        top, which = t.ceiling(s, rows) if t else (math.nan, "")
        modes = [m for m in t.modes_on(s) if math.isfinite(t.rps(s, m, rows))] if t else []
        if t is None or not math.isfinite(top) or not modes:
            ran = [(s, d, rows) for d in DIAGNOSTICS if res.cell(s, d, rows) is not None]
            unknown = res.ceiling_unknown(s)
            no_ceiling = f"ceiling {unknown}" if unknown else "no ceiling measured (not run)"
            miss = (
                (_missing(res, t, ran) if ran else no_ceiling)
                if not math.isfinite(top)
                else f"no trustworthy run of any mode on {s} @{rows}"
            )
            out.append(GoalResult(key, wants, "not measured", miss[0].upper() + miss[1:] + "."))
            continue
        best = max(modes, key=lambda m: t.rps(s, m, rows))
        bound = database_bound_rps(t, s, rows)
        why = t.ceiling_limited_by(s, rows)
        figures = (
            f"best mode {best} {fnum(t.rps(s, best, rows))} req/s, ceiling {fnum(top)} req/s ({which}): "
            f"{t.rps(s, best, rows) / top:.0%} of the ceiling."
            + (f" Caution, ceiling {why}." if why else "")
        )
        if not math.isfinite(bound):
            why_not = (
                "the database-alone timing is measured in-process on this checkout, not on the remote deployment"
                if res.is_remote(s)
                else "the micro benchmark's database-alone timing is missing, or an async "
                "server with a database server overlaps the query with other work"
            )
            out.append(
                GoalResult(
                    key, wants, "not measured", f"{figures} No database-bound estimate: {why_not}."
                )
            )
            continue
        r = t.rps(s, best, rows) / bound
        out.append(
            GoalResult(
                key,
                wants,
                _status([r >= need]),
                figures + f" Database-bound estimate "
                f"{fnum(bound)} req/s: {r:.0%} of it (needs {share(need)})."
                + ceiling_bound(t, s, rows),
            )
        )
    return out


def _same_server_ratio(
    goal: Goal, res: Results, t: Results | None, rows: int, mode: str, others: dict[str, str]
) -> list[GoalResult]:
    """On every server that ran `mode`: `mode` over each of `others` (threshold key -> mode)."""
    servers = [s for s in res.servers if res.cell(s, mode, rows) is not None]
    wants_parts = ", ".join(f">= {times(goal.thresholds[k])} {m}" for k, m in others.items())
    if not servers:
        return [
            GoalResult(
                goal.id,
                f"at {rows} rows, {mode} {wants_parts} on the same server",
                "not measured",
                f"Not run: {mode} @{rows} on any server.",
            )
        ]
    out = []
    for s in servers:
        wants = f"on {s} at {rows} rows, {mode} {wants_parts}"
        miss = _missing(res, t, [(s, mode, rows), *((s, m, rows) for m in others.values())])
        if miss or t is None:  # when t is None, miss says why
            out.append(GoalResult(f"{goal.id} {s}", wants, "not measured", miss.capitalize() + "."))
            continue
        ratios = {k: t.paired_ratio((s, mode, rows), (s, m, rows)) for k, m in others.items()}
        figures = f"{mode} {fnum(t.rps(s, mode, rows))} req/s; " + ", ".join(
            f"{m} {fnum(t.rps(s, m, rows))} req/s: {fratio(ratios[k])} (needs ×{goal.thresholds[k]:g})"
            for k, m in others.items()
        )
        out.append(
            GoalResult(
                f"{goal.id} {s}",
                wants,
                _status([ratios[k] >= goal.thresholds[k] for k in others]),
                figures + ".",
            )
        )
    return out


def _g5(goal: Goal, res: Results, t: Results | None, rows: int) -> list[GoalResult]:
    """raw-msgspec against raw on the same server: validated output at raw speed."""
    return _same_server_ratio(goal, res, t, rows, "raw-msgspec", {"raw-msgspec/raw": "raw"})


def _g6(goal: Goal, res: Results, t: Results | None, rows: int) -> list[GoalResult]:
    """msgspec against orjson and drf-validated on the same server."""
    return _same_server_ratio(
        goal,
        res,
        t,
        rows,
        "msgspec",
        {"msgspec/orjson": "orjson", "msgspec/drf-validated": "drf-validated"},
    )


def micro_ratio(res: Results, mode: str, other: str, rows: int) -> str:
    """The same ratio in-process (the micro benchmark: the view alone, no server), as a
    sentence; '' when the micro benchmark did not time both at `rows` rows."""
    mine, theirs = micro_ms(res, mode, rows), micro_ms(res, other, rows)
    if not (math.isfinite(mine) and math.isfinite(theirs)):
        return ""
    return (
        f" In-process (the view alone): {mode} {fnum(mine)} ms, {other} {fnum(theirs)} ms: "
        f"{fratio(theirs / mine)}."
    )


def _over_ninja(
    goal: Goal, res: Results, t: Results | None, rows: int, mode: str
) -> list[GoalResult]:
    """`mode` against ninja on the same server, with the in-process ratio beside it: what
    the server's own cost per request leaves of the view's speed-up."""
    results = _same_server_ratio(goal, res, t, rows, mode, {f"{mode}/ninja": "ninja"})
    for result in results:
        if result.status != "not measured":
            result.figures += micro_ratio(res, mode, "ninja", rows)
    return results


def _g10(goal: Goal, res: Results, t: Results | None, rows: int) -> list[GoalResult]:
    """Pydantic used the fast way (the pydantic mode) against ninja."""
    return _over_ninja(goal, res, t, rows, "pydantic")


def _g11(goal: Goal, res: Results, t: Results | None, rows: int) -> list[GoalResult]:
    """ninja with the orjson renderer and .values() against ninja as documented."""
    return _over_ninja(goal, res, t, rows, "ninja-values")


def _best_against(
    goal: Goal,
    res: Results,
    t: Results | None,
    rows: int,
    reference: tuple[str, str],
    candidates: list[tuple[str, str]],
    what: str,
) -> list[GoalResult]:
    """The fastest of `candidates` (server, mode) against the `reference` cell, paired per repeat."""
    key = next(iter(goal.thresholds))
    need = goal.thresholds[key]
    wants = f"at {rows} rows, {what} >= {times(need)} {reference[1]} ({reference[0]})"
    ref = (*reference, rows)
    measured = [(s, m) for s, m in candidates if t is not None and math.isfinite(t.rps(s, m, rows))]
    if res.cell(*ref) is None or t is None or t.cell(*ref) is None or not measured:
        miss = _missing(res, t, [ref]) or f"no trustworthy run of {what} @{rows}"
        return [GoalResult(goal.id, wants, "not measured", miss[0].upper() + miss[1:] + ".")]
    s, m = max(measured, key=lambda c: t.rps(c[0], c[1], rows))
    r = t.paired_ratio((s, m, rows), ref)
    return [
        GoalResult(
            goal.id,
            wants,
            _status([r >= need]),
            f"{m} on {s} {fnum(t.rps(s, m, rows))} req/s, {reference[1]} {fnum(t.rps(*ref))} req/s: "
            f"{fratio(r)} (needs ×{need:g}).",
        )
    ]


def _django_cells(res: Results, validated: bool) -> list[tuple[str, str]]:
    """Every (server, mode) measured that Django serves (its URLconf or django-bolt), not the reference app."""
    return [
        (s, m)
        for s in res.servers
        if s != "fastapi"
        for m in res.modes_on(s)
        if not validated or res.validates(m)
    ]


def _g7(goal: Goal, res: Results, t: Results | None, rows: int) -> list[GoalResult]:
    return _best_against(
        goal,
        res,
        t,
        rows,
        ("fastapi", "fastapi-orjson"),
        _django_cells(res, False),
        "the best Django mode (any server)",
    )


def _g8(goal: Goal, res: Results, t: Results | None, rows: int) -> list[GoalResult]:
    return _best_against(
        goal,
        res,
        t,
        rows,
        ("fastapi", "fastapi-model"),
        _django_cells(res, True),
        "the best validated Django mode (any server)",
    )


def _g9(goal: Goal, res: Results, t: Results | None, rows: int) -> list[GoalResult]:
    """The project's ASGI handler against stock Django's, for raw."""
    need = goal.thresholds["asgi/asgi-stock raw"]
    wants = f"raw at {rows} rows under asgi >= {times(need)} raw under asgi-stock (the project's handler against stock)"
    miss = _missing(res, t, [("asgi", "raw", rows), ("asgi-stock", "raw", rows)])
    if miss or t is None:  # when t is None, miss says why
        return [GoalResult(goal.id, wants, "not measured", miss.capitalize() + ".")]
    r = t.paired_ratio(("asgi", "raw", rows), ("asgi-stock", "raw", rows))
    ceilings = ", ".join(
        f"{s} ceiling {fnum(c)} req/s ({w})"
        for s in ("asgi", "asgi-stock")
        for c, w in [t.ceiling(s, rows)]
        if math.isfinite(c)
    )
    return [
        GoalResult(
            goal.id,
            wants,
            _status([r >= need]),
            f"asgi raw {fnum(t.rps('asgi', 'raw', rows))}, asgi-stock raw "
            f"{fnum(t.rps('asgi-stock', 'raw', rows))} req/s: {fratio(r)} (needs ×{need:g})."
            + (f" {ceilings}." if ceilings else ""),
        )
    ]


def recommended_setup(res: Results) -> str:
    """The compression setup the project recommended when the run was made (meta.json's plan:
    its setups per axis, or before the other axes compression's list alone), or ''."""
    setups = res.meta.get("plan", {}).get("setups") or []
    if isinstance(setups, dict):
        setups = setups.get(COMPRESSION.name) or []
    return next((e["name"] for e in setups if e.get("recommended")), "")


def compressed_label(server: str, setup: str) -> str:
    """`server` (a label: its other axes' setups kept) under the compression setup `setup`."""
    return relabel(server, compression=setup)


def _compression_goal(
    goal: Goal,
    res: Results,
    t: Results | None,
    rows: int,
    wants_what: str,
    judge: Callable[[Results, str, str], tuple[bool, str]],
    needs: list[str],
) -> list[GoalResult]:
    """On every server that ran `raw` under the recommended setup at `rows` rows: `judge(t,
    server, recommended)` -> (met, figures), from the cells `needs` names (setups) beside it."""
    recommended = recommended_setup(res)
    if not recommended:
        return [
            GoalResult(
                goal.id,
                f"at {rows} rows, raw with the recommended compression setup {wants_what}",
                "not measured",
                "No compression setup was recorded as recommended (a run before compression).",
            )
        ]
    servers = [
        s
        for s in dict.fromkeys(r.server for r in res.rows)
        if res.cell(compressed_label(s, recommended), "raw", rows) is not None
    ]
    if not servers:
        return [
            GoalResult(
                goal.id,
                f"at {rows} rows, raw with {recommended} {wants_what}",
                "not measured",
                f"Not run: raw under {recommended} @{rows} on any server.",
            )
        ]
    out = []
    for s in servers:
        wants = f"on {s} at {rows} rows, raw with {recommended} {wants_what}"
        cells = [(compressed_label(s, setup), "raw", rows) for setup in [recommended, *needs]]
        miss = _missing(res, t, cells)
        if miss or t is None:
            out.append(GoalResult(f"{goal.id} {s}", wants, "not measured", miss.capitalize() + "."))
            continue
        met, figures = judge(t, s, recommended)
        out.append(GoalResult(f"{goal.id} {s}", wants, _status([met]), figures))
    return out


def _g12(goal: Goal, res: Results, t: Results | None, rows: int) -> list[GoalResult]:
    """The recommended setup against no compression, for raw on the same server."""
    need = goal.thresholds["recommended/none raw"]

    def judge(t: Results, s: str, rec: str) -> tuple[bool, str]:
        r = t.paired_ratio((compressed_label(s, rec), "raw", rows), (s, "raw", rows))
        return r >= need, (
            f"raw with {rec} {fnum(t.rps(compressed_label(s, rec), 'raw', rows))} req/s, with none "
            f"{fnum(t.rps(s, 'raw', rows))} req/s: {fratio(r)} (needs ×{need:g})."
        )

    return _compression_goal(
        goal, res, t, rows, f">= {times(need)} raw with none", judge, [COMPRESSION.default]
    )


def _g13(goal: Goal, res: Results, t: Results | None, rows: int) -> list[GoalResult]:
    """The recommended setup's bytes on the wire against the document's."""
    most = goal.thresholds["wire/document bytes"]

    def judge(t: Results, s: str, rec: str) -> tuple[bool, str]:
        c = t.cell(compressed_label(s, rec), "raw", rows)
        assert c is not None
        wire, document = c.median("wire_bytes"), c.median("bytes")
        share_sent = wire / document if document else math.nan
        return share_sent <= most, (
            f"{fnum(wire)} bytes on the wire for the {fnum(document)}-byte document: "
            f"{share_sent:.1%} (at most {share(most)})."
        )

    return _compression_goal(
        goal, res, t, rows, f"sends <= {share(most)} of the document's bytes", judge, []
    )


def _g14(goal: Goal, res: Results, t: Results | None, rows: int) -> list[GoalResult]:
    """The recommended setup against Django's GZipMiddleware as shipped, for raw."""
    need = goal.thresholds["recommended/django-gzip raw"]

    def judge(t: Results, s: str, rec: str) -> tuple[bool, str]:
        gz = compressed_label(s, "django-gzip")
        r = t.paired_ratio((compressed_label(s, rec), "raw", rows), (gz, "raw", rows))
        return r >= need, (
            f"raw with {rec} {fnum(t.rps(compressed_label(s, rec), 'raw', rows))} req/s, with django-gzip "
            f"{fnum(t.rps(gz, 'raw', rows))} req/s: {fratio(r)} (needs ×{need:g})."
        )

    return _compression_goal(
        goal, res, t, rows, f">= {times(need)} raw with django-gzip", judge, ["django-gzip"]
    )


def _study_cell(stack: str, mode: str, rows: int) -> tuple[str, str, int]:
    """The case study's app serving `mode` at `rows` rows on the stack called `stack`."""
    return (relabel(STUDY_SERVER, stack=stack), mode, rows)


# Where a run of one stack finds the goals of the stacks measured.
THEN_AND_NOW_POINTER = (
    "this run measured one stack; `make then-and-now` measures the stacks of 2023 beside today's "
    "(a committed run: docs/results.md)"
)


def _one_stack(goal: Goal, res: Results, wants: str) -> list[GoalResult]:
    """The goal's one line when the run measured no stack but today's ([] otherwise)."""
    if any(r.deployment[STACK.name] != STACK.default for r in res.rows):
        return []
    return [GoalResult(goal.id, wants, "not measured", f"Not run: {THEN_AND_NOW_POINTER}.")]


def _g15(goal: Goal, res: Results, t: Results | None, rows: int) -> list[GoalResult]:
    """On the study's stack, the study's order of its three variants and its dict/model ratio."""
    low, high = goal.thresholds["dict/model at least"], goal.thresholds["dict/model at most"]
    model, dict_, orjson = (_study_cell(STUDY_STACK, m, rows) for m in STUDY_VARIANTS)
    wants = (
        f"on stack {STUDY_STACK} at {rows} rows, the study's order fastapi-model < fastapi-dict < "
        f"fastapi-orjson, fastapi-dict/fastapi-model within {times(low)}-{times(high)} (the study: "
        "~1.67x)"
    )
    if one := _one_stack(goal, res, wants):
        return one
    miss = _missing(res, t, [model, dict_, orjson])
    if miss or t is None:
        return [GoalResult(goal.id, wants, "not measured", miss.capitalize() + ".")]
    ratio = t.paired_ratio(dict_, model)
    orjson_over_dict = t.paired_ratio(orjson, dict_)
    return [
        GoalResult(
            goal.id,
            wants,
            _status([low <= ratio <= high, orjson_over_dict > 1]),
            f"fastapi-model {fnum(t.rps(*model))}, fastapi-dict {fnum(t.rps(*dict_))}, "
            f"fastapi-orjson {fnum(t.rps(*orjson))} req/s: dict/model {fratio(ratio)} (needs "
            f"{times(low)}-{times(high)}), orjson/dict {fratio(orjson_over_dict)} (needs > ×1), "
            f"orjson/model {fratio(t.paired_ratio(orjson, model))} (the study: ~4x).",
        )
    ]


def _g16(goal: Goal, res: Results, t: Results | None, rows: int) -> list[GoalResult]:
    """Today against the study's stack: response_model many times faster, and the order of the
    first two variants reversed."""
    need = goal.thresholds["today/2023-08 fastapi-model"]
    today = STACK.default
    model_now, dict_now = (_study_cell(today, m, rows) for m in STUDY_VARIANTS[:2])
    model_then = _study_cell(STUDY_STACK, "fastapi-model", rows)
    wants = (
        f"at {rows} rows, fastapi-model on {today} >= {times(need)} fastapi-model on "
        f"{STUDY_STACK}, and on {today} fastapi-model > fastapi-dict (the study's order reversed)"
    )
    if one := _one_stack(goal, res, wants):
        return one
    miss = _missing(res, t, [model_now, dict_now, model_then])
    if miss or t is None:
        return [GoalResult(goal.id, wants, "not measured", miss.capitalize() + ".")]
    gain = t.paired_ratio(model_now, model_then)
    reversed_ = t.paired_ratio(model_now, dict_now)
    return [
        GoalResult(
            goal.id,
            wants,
            _status([gain >= need, reversed_ > 1]),
            f"fastapi-model {fnum(t.rps(*model_now))} req/s on {today}, {fnum(t.rps(*model_then))} "
            f"on {STUDY_STACK}: {fratio(gain)} (needs ×{need:g}); on {today} fastapi-dict "
            f"{fnum(t.rps(*dict_now))} req/s: model/dict {fratio(reversed_)} (needs > ×1).",
        )
    ]


def _g17(goal: Goal, res: Results, t: Results | None, rows: int) -> list[GoalResult]:
    """The Django modes of 2023 against today's, per server and mode: the ratio, reported
    whatever it is (no threshold: what changed, not a target)."""
    today = STACK.default
    pairs = [
        (server, relabel(server, stack=STUDY_STACK), m)
        for server in res.servers
        if server == relabel(server, stack=today) and server != STUDY_SERVER
        for m in res.modes_on(server)
        if res.cell(relabel(server, stack=STUDY_STACK), m, rows) is not None
    ]
    wants = f"at {rows} rows, each Django mode on {today} against itself on {STUDY_STACK}"
    if one := _one_stack(goal, res, wants):
        return one
    if not pairs:
        return [
            GoalResult(
                goal.id,
                wants,
                "not measured",
                f"Not run: no Django mode @{rows} on both {STUDY_STACK} and {today}.",
            )
        ]
    out = []
    for now, then, mode in pairs:
        key = f"{goal.id} {now} {mode}"
        what = f"{mode} on {now} at {rows} rows, {today} against {STUDY_STACK}"
        miss = _missing(res, t, [(now, mode, rows), (then, mode, rows)])
        if miss or t is None:
            out.append(GoalResult(key, what, "not measured", miss.capitalize() + "."))
            continue
        out.append(
            GoalResult(
                key,
                what,
                "reported",
                f"{fnum(t.rps(now, mode, rows))} req/s on {today}, {fnum(t.rps(then, mode, rows))} "
                f"on {STUDY_STACK}: {fratio(t.paired_ratio((now, mode, rows), (then, mode, rows)))}.",
            )
        )
    return out


GOALS: tuple[Goal, ...] = (
    Goal("G1", "issue 5", {"raw/drf": 10.0, "raw/drf-validated": 20.0}, _g1),
    Goal("G2", "issue 5", {"of wsgi raw": 0.8}, _g2),
    Goal("G3", "issue 5", {"of the wsgi ceiling": 0.5}, _g3),
    Goal("G4", "issue 11", {"of the database-bound estimate": 0.6}, _g4),
    Goal("G5", "issue 11", {"raw-msgspec/raw": 0.85}, _g5),
    Goal("G6", "issue 11", {"msgspec/orjson": 0.85, "msgspec/drf-validated": 5.0}, _g6),
    Goal("G7", "issue 12", {"best Django/fastapi-orjson": 1.2}, _g7),
    Goal("G8", "issue 12", {"best validated Django/fastapi-model": 1.5}, _g8),
    Goal("G9", "issue 12", {"asgi/asgi-stock raw": 1.5}, _g9),
    Goal("G10", "issue 22", {"pydantic/ninja": 3.0}, _g10),
    Goal("G11", "issue 22", {"ninja-values/ninja": 2.0}, _g11),
    Goal("G12", "issue 21", {"recommended/none raw": 0.85}, _g12, axis=COMPRESSION.name),
    Goal("G13", "issue 21", {"wire/document bytes": 0.35}, _g13, axis=COMPRESSION.name),
    Goal("G14", "issue 21", {"recommended/django-gzip raw": 1.6}, _g14, axis=COMPRESSION.name),
    # The case study at its source (issue 28): its app on its 2023 stack and today's.
    Goal(
        "G15",
        "issue 28",
        {"dict/model at least": 1.3, "dict/model at most": 2.2},
        _g15,
        axis=STACK.name,
    ),
    Goal("G16", "issue 28", {"today/2023-08 fastapi-model": 10.0}, _g16, axis=STACK.name),
    Goal("G17", "issue 28", {}, _g17, axis=STACK.name),
)


def evaluate_goals(
    res: Results, rows: int = GOAL_ROWS, goals: tuple[Goal, ...] = GOALS
) -> tuple[list[GoalResult], str]:
    """The goals at `rows` rows, from trustworthy rows only (medians of repeats; ratios
    between two cells are taken within each repeat, then the median, like the speed-ups); a
    goal of an axis (compression's, the stacks') from the runs whose other axes are at their
    defaults, every other from the runs on the default deployment (every axis at its default).
    Returns the results and a sentence on which rows were left out."""
    plain = res.on_default_deployment()
    plain_trusted = plain.trusted() if plain is not None else None
    at = [r for r in res.rows if r.limit == rows]
    bad = [r for r in at if not r.trustworthy]
    if not at:
        note = f"No run at {rows} rows: no goal could be measured."
    elif bad:
        note = (
            f"Evaluated from trustworthy runs only: {len(bad)} of {len(at)} runs at {rows} rows failed their "
            f"checks and were left out ({', '.join(sorted({f'{r.served_by} {r.mode}' for r in bad}))})."
        )
    else:
        note = f"Evaluated from all {len(at)} runs at {rows} rows (every one passed its checks)."
    results = []
    for goal in goals:
        if goal.axis:
            along = res.along(goal.axis) or res
            results += goal.evaluate(goal, along, along.trusted(), rows)
        else:
            results += goal.evaluate(goal, plain or res, plain_trusted, rows)
    return results, note
