"""The frameworks-and-servers table at 1000 rows (every server, each of its modes, its own
ceiling), the case study's published figures beside the FastAPI rows, and the generated
"what to pick" paragraph."""

from __future__ import annotations

import math

from loadtest.report.numbers import fnum, fratio, rows_label
from loadtest.report.results import Results
from loadtest.report.steps import ninja_advice
from loadtest.report.tables import Table
from loadtest.report.unknowns import UNKNOWN_REMOTE

# What the case study measured on its own machine (not here): requests/s at 1000 rows.
CASE_STUDY: dict[str, str] = {
    "fastapi-model": "74 → ~12 req/s with response_model",
    "fastapi-dict": "~20 req/s without response_model",
    "fastapi-orjson": "~4x with orjson",
}


def ranked(res: Results, limit: int) -> list[tuple[str, str, float]]:
    """(server, mode, median requests/s) of every measured cell at `limit`, fastest first."""
    cells = [(s, m, res.rps(s, m, limit)) for s in res.servers for m in res.modes_on(s)]
    return sorted([c for c in cells if math.isfinite(c[2])], key=lambda c: -c[2])


def instants_note(res: Results) -> str:
    """Which servers' documents were compared as instants rather than bytes, and why."""
    servers = [s for s, how in res.meta.get("document_equality", {}).items() if how == "instants"]
    if not servers:
        return ""
    return (
        f" {', '.join(servers)}: the documents equal the others' as parsed JSON with times compared as "
        "instants, not byte for byte: fastapi-orjson writes UTC as +00:00 where the project (and Pydantic) "
        "write Z, so its body is 5 bytes longer per row."
    )


def slo_ms(res: Results) -> float:
    """The latency target of the run's open-loop sweep."""
    return next(iter(res.capacity.values())).slo_ms


def capacity_note(res: Results) -> str:
    """What the capacity column is, when the run swept some cells open-loop."""
    if not res.capacity:
        return ""
    return (
        f" Capacity at p99 ≤ {fnum(slo_ms(res))} ms: the highest rate offered open-loop (requests "
        "starting on a schedule, latency from when each should have started) that kept its p99 "
        'within the target with nothing dropped ("R not met": the next rate tried, which did not; '
        "the capacity lies between the two); - where the run swept no rates (capacity.md)."
    )


def frameworks_table(res: Results) -> Table | None:
    lim = res.chart_limit
    rows = ranked(res, lim)
    if not rows:
        return None
    body = []
    for s, m, rps in rows:
        top, which = res.ceiling(s, lim)
        c = res.cell(s, m, lim)
        missing = UNKNOWN_REMOTE if res.ceiling_unknown(s) else "-"
        capacity = res.capacity.get((s, m, lim))
        body.append(
            [
                s,
                m,
                "yes" if res.validates(m) else "no",
                fnum(rps) + ("" if c is not None and c.trustworthy else " ⚠"),
                *([capacity.text if capacity else "-"] if res.capacity else []),
                f"{fnum(top)} ({which})" if math.isfinite(top) else missing,
                f"{res.pct_of_ceiling(s, m, lim):.0f}%" if math.isfinite(top) else missing,
                CASE_STUDY.get(m, ""),
            ]
        )
    return Table(
        [
            "server",
            "mode",
            "validates",
            "req/s",
            *([f"capacity at p99 ≤ {fnum(slo_ms(res))} ms"] if res.capacity else []),
            "its ceiling",
            "% of ceiling",
            "the case study measured",
        ],
        body,
        f"Frameworks and servers at {rows_label(lim)}, fastest first: median requests/s, each "
        "server's own ceiling (its floor diagnostic) and the share of it. The last column quotes the "
        "case study's published figures for its FastAPI app, measured on its machine, not here."
        + capacity_note(res)
        + instants_note(res),
        align_left=3,
    )


def what_to_pick(res: Results) -> str:
    """A few sentences from this run's numbers: the fastest unvalidated and validated
    server x mode at the chart limit, what the server choice changes for small and large
    responses, and what a django-ninja user should change first."""
    lim = res.chart_limit
    trusted = res.trusted()
    if not ranked(res, lim):
        return "Nothing was measured at the largest limit: no recommendation."
    parts = [] if trusted else ["(No run passed its checks: these figures are not to be trusted.)"]
    plain = _fastest(res, trusted, lim, validated=False)
    checked = _fastest(res, trusted, lim, validated=True)
    if plain:
        (s, m, rps), mark = plain
        parts.append(
            f"Fastest without validation at {rows_label(lim)}: {m} on {s}, {fnum(rps)} req/s{mark}."
        )
    if checked:
        (s, m, rps), mark = checked
        text = f"Fastest with every row validated: {m} on {s}, {fnum(rps)} req/s"
        if plain:
            text += f" ({fratio(rps / plain[0][2])} the fastest unvalidated)"
        parts.append(text + mark + ".")
    for size, label in ((res.limits[0], "small"), (lim, "large")):
        if size == lim and label == "small":
            continue
        spread = _server_spread(res, size)
        if spread:
            parts.append(f"For {label} responses ({rows_label(size)}) the server changes {spread}.")
    if advice := ninja_advice(res):
        parts.append(advice)
    return " ".join(parts)


def _fastest(
    res: Results, trusted: Results | None, limit: int, *, validated: bool
) -> tuple[tuple[str, str, float], str] | None:
    """The fastest (server, mode, requests/s) that validates (or not) among the runs that passed
    their checks; when none of those does, among all runs, with " ⚠" to say so, rather than a
    verdict that silently leaves it out (one disturbed run must not drop a line of the report)."""
    for subset, mark in ((trusted, ""), (res, " ⚠ its runs failed their checks")):
        rows = (
            [r for r in ranked(subset, limit) if res.validates(r[1]) == validated] if subset else []
        )
        if rows:
            return rows[0], "" if subset is res and not trusted else mark
    return None


def _server_spread(res: Results, limit: int) -> str:
    """The best and worst server for one mode measured on two servers or more at `limit`
    (raw if it was, else the first such mode)."""
    t = res.trusted() or res
    candidates = [
        m
        for m in ("raw", *t.modes)
        if sum(math.isfinite(t.rps(s, m, limit)) for s in t.servers) >= 2
    ]
    if not candidates:
        return ""
    mode = candidates[0]
    on = sorted(
        ((t.rps(s, mode, limit), s) for s in t.servers if math.isfinite(t.rps(s, mode, limit))),
        reverse=True,
    )
    (best, bs), (worst, ws) = on[0], on[-1]
    return (
        f"{mode} from {fnum(worst)} req/s ({ws}) to {fnum(best)} ({bs}), {fratio(best / worst)}"
        + (
            f"; its ceiling from {fnum(_ceil(t, on[-1][1], limit))} to {fnum(_ceil(t, on[0][1], limit))} req/s"
            if math.isfinite(_ceil(t, on[0][1], limit))
            and math.isfinite(_ceil(t, on[-1][1], limit))
            else ""
        )
    )


def _ceil(res: Results, server: str, limit: int) -> float:
    return res.ceiling(server, limit)[0]
