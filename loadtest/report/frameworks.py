"""The frameworks-and-servers table at 1000 rows (every server, each of its modes, its own
ceiling), with the case study's published figures beside the FastAPI rows, said to be of its
2023 stack (the then-and-now table sets them beside its app on that stack)."""

from __future__ import annotations

import math

from loadtest.axes import STACK, split_label
from loadtest.report.case_study import STUDY_SERVER, STUDY_STACK, published
from loadtest.report.numbers import fnum, rows_label
from loadtest.report.results import Results
from loadtest.report.tables import Table
from loadtest.report.unknowns import UNKNOWN_REMOTE

STUDY_COLUMN = f"the case study, on its {STUDY_STACK} stack"


def case_study_cell(server: str, mode: str, limit: int) -> str:
    """The study's published figure beside its app's row (its app, any stack)."""
    if split_label(server)[0] != STUDY_SERVER:
        return ""
    return " → ".join(p for lim in dict.fromkeys((1, limit)) if (p := published(mode, lim)))


def case_study_note(res: Results) -> str:
    """What the study's column is, and where its app on the study's own stack is."""
    on_its_stack = STUDY_STACK in ((res.meta.get("plan") or {}).get("axes") or {}).get(
        STACK.name, []
    )
    where = (
        "the then-and-now table below sets them beside its app served on that stack in this run"
        if on_its_stack
        else "beside today's figures they differ because the software did: its app on that "
        "stack, measured beside today's, is in the then-and-now results (docs/results.md, "
        "`make then-and-now`)"
    )
    return (
        f" The last column quotes the figures the case study published for its FastAPI app (req/s; "
        f"1 row → {rows_label(1000)}), measured on its machine on the software of {STUDY_STACK} "
        f"(FastAPI 0.99 on Pydantic v1, docs/stacks.md), not here: {where}."
    )


def ranked(res: Results, limit: int) -> list[tuple[str, str, float]]:
    """(server, mode, median requests/s) of every measured cell at `limit`, fastest first."""
    cells = [(s, m, res.rps(s, m, limit)) for s in res.servers for m in res.modes_on(s)]
    return sorted([c for c in cells if math.isfinite(c[2])], key=lambda c: -c[2])


def instants_note(res: Results) -> str:
    """Which servers' documents were compared as instants rather than bytes, and why: the
    endpoints that wrote the document another way, when the run recorded them (per stack: on
    2023-08 the FastAPI app's every variant writes UTC as +00:00), else the servers."""
    spelled = {
        s: modes for s, modes in res.meta.get("spelled_differently", {}).items() if s in res.servers
    }
    if spelled:
        each = "; ".join(
            f"{s}'s {', '.join(modes)} ({', '.join(sorted(set(modes.values())))})"
            for s, modes in spelled.items()
        )
        return (
            f" {each} wrote the same document another way, so they were compared with the others "
            "as parsed JSON with times as instants, not byte for byte."
        )
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
                case_study_cell(s, m, lim),
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
            STUDY_COLUMN,
        ],
        body,
        f"Frameworks and servers at {rows_label(lim)}, fastest first: median requests/s, each "
        "server's own ceiling (its floor diagnostic) and the share of it."
        + case_study_note(res)
        + capacity_note(res)
        + instants_note(res),
        align_left=3,
    )
