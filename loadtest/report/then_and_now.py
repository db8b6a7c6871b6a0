"""The case study checked at its source (issue 28): its app and the Django modes of its day on
the stacks of 2023 beside today's, from one run's recorded rows (`--stacks`). The then-and-now
table with the study's published figures beside it, the versions each stack ran, a model of the
study's 1000-row figure from its 1-row figure and the per-row cost measured on its stack, and its
own load profile (60 users x 5 requests) with the slowest response beside its ~8 s."""

from __future__ import annotations

import math

from loadtest.axes import STACK, relabel, split_label
from loadtest.report.case_study import (
    STUDY_ONE_ROW_RPS,
    STUDY_REQUESTS_PER_USER,
    STUDY_ROWS,
    STUDY_RPS,
    STUDY_SERVER,
    STUDY_SLOWEST_S,
    STUDY_STACK,
    STUDY_USERS,
    STUDY_VARIANTS,
    published,
)
from loadtest.report.frameworks import instants_note
from loadtest.report.numbers import fnum, fratio, rows_label
from loadtest.report.results import Results, Row
from loadtest.report.steps import load_server
from loadtest.report.tables import Table

TODAY = STACK.default
# The versions the table gives per stack: (meta.json's key of stack_description, heading).
VERSIONS = (
    ("python", "Python"),
    ("fastapi", "FastAPI"),
    ("pydantic", "Pydantic"),
    ("starlette", "Starlette"),
    ("uvicorn", "uvicorn"),
    ("django", "Django"),
    ("djangorestframework", "DRF"),
    ("django_ninja", "django-ninja"),
)


def stack_of(label: str) -> str:
    return split_label(label)[1][STACK.name]


def base_of(label: str) -> str:
    """A server label without its stack (`wsgi+stack=2023-08` -> `wsgi`)."""
    return relabel(label, stack=TODAY)


def on_stack(base: str, stack: str) -> str:
    """The label of server `base` on the stack called `stack`."""
    return relabel(base, stack=stack)


def stack_runs(res: Results) -> Results | None:
    """The runs along the stack axis (every other axis at its default) when the run measured a
    stack besides today's; None otherwise."""
    along = res.along(STACK.name)
    if along is None or not any(stack_of(s) != TODAY for s in along.servers):
        return None
    return along


def stacks_measured(res: Results) -> list[str]:
    """The stacks of the run, the oldest first: the stacks of stacks/ in the order the plan
    recorded them, today last."""
    seen = list(dict.fromkeys(stack_of(s) for s in res.servers))
    planned = (res.meta.get("plan", {}).get("axes") or {}).get(STACK.name) or []
    ordered = [s for s in planned if s in seen] + [s for s in seen if s not in planned]
    return [s for s in ordered if s != TODAY] + ([TODAY] if TODAY in ordered else [])


def table_limits(res: Results) -> list[int]:
    """The limits the table shows: 1 and STUDY_ROWS where a stack other than today's was
    measured (`make bench` runs the study's stack at STUDY_ROWS only), else the extremes of
    those limits."""
    old = sorted({lim for s, _, lim in res.cells if stack_of(s) != TODAY})
    wanted = [lim for lim in (1, STUDY_ROWS) if lim in old]
    return wanted or sorted({old[0], old[-1]})


def variants(res: Results) -> list[tuple[str, str]]:
    """(server without its stack, mode) measured on two stacks or more: the study's app first,
    then the Django modes, each server's in report order."""
    found = list(dict.fromkeys(base_of(s) for s in res.servers))
    bases = sorted(found, key=lambda b: (split_label(b)[0] != STUDY_SERVER, found.index(b)))
    out = []
    for base in bases:
        for mode in res.modes:
            on = [s for s in res.servers if base_of(s) == base and mode in res.modes_on(s)]
            if len({stack_of(s) for s in on}) >= 2:
                out.append((base, mode))
    return out


def _rps_text(res: Results, label: str, mode: str, limit: int) -> str:
    c = res.cell(label, mode, limit)
    if c is None:
        return "-"
    return fnum(c.rps.median) + ("" if c.trustworthy else " ⚠")


def across(res: Results, base: str, mode: str, limit: int, now: str, then: str) -> float:
    """`mode` on server `base` at `limit`: the stack `now` over the stack `then`, paired within
    each repeat (the stacks' runs are interleaved in one session), then the median."""
    return res.paired_ratio((on_stack(base, now), mode, limit), (on_stack(base, then), mode, limit))


def then_and_now_table(res: Results) -> Table | None:
    """Each variant's requests/s at 1 and STUDY_ROWS rows on every stack, today over the study's
    stack, and the study's published figures beside them; None when the run measured one stack."""
    st = stack_runs(res)
    if st is None:
        return None
    stacks, limits = stacks_measured(st), table_limits(st)
    top = limits[-1]
    compare = STUDY_STACK in stacks and TODAY in stacks
    body = []
    for base, mode in variants(st):
        row = [mode, base]
        for stack in stacks:
            row += [_rps_text(st, on_stack(base, stack), mode, lim) for lim in limits]
        if compare:
            row.append(fratio(across(st, base, mode, top, TODAY, STUDY_STACK)))
        row.append(" / ".join(p for lim in limits if (p := published(mode, lim))) or "")
        body.append(row)
    if not body:
        return None
    headers = [
        "variant",
        "server",
        *(f"{stack}: {rows_label(lim)}" for stack in stacks for lim in limits),
        *([f"{TODAY} ÷ {STUDY_STACK} @{top}"] if compare else []),
        "the study published (its machine)",
    ]
    return Table(
        headers,
        body,
        "Then and now: requests/s (median of repeats) of the case study's three variants and the "
        "Django modes of its day, served from each stack's venv in one session, on the same rows, "
        "every run with its usual checks (⚠: a run failed them). The ratio is taken within each "
        "repeat, then the median. The last column is what the study published for its app, "
        f"measured on its machine (its 1-row figure, then {rows_label(STUDY_ROWS)}): compare "
        "ratios, not absolute figures.",
        align_left=2,
    )


def versions_table(res: Results) -> Table | None:
    """What each stack of the run ran (meta.json's `stacks`, asked of its own interpreter)."""
    described = res.meta.get("stacks") or {}
    stacks = [s for s in stacks_measured(res) if s in described]
    if not stacks:
        return None
    body = []
    for stack in stacks:
        d = described[stack]
        row = [stack]
        for key, _ in VERSIONS:
            value = d.get(key) or "-"
            if key == "pydantic" and d.get("pydantic_compiled"):
                value += " (compiled)"
            elif key == "pydantic" and d.get("pydantic_core"):
                value += f" (pydantic-core {d['pydantic_core']})"
            row.append(str(value))
        body.append(row)
    return Table(
        ["stack", *(heading for _, heading in VERSIONS)],
        body,
        "The versions each stack ran, as its own interpreter reported them (-: not installed). "
        "The load generator, the checks and the report ran on today's.",
    )


def per_rows_ms(res: Results, label: str, mode: str) -> float:
    """What the rows add to a request on one core: 1/requests/s at STUDY_ROWS rows minus at 1
    row, in ms (NaN unless both were measured)."""
    one, many = res.rps(label, mode, 1), res.rps(label, mode, STUDY_ROWS)
    if not (one > 0 and many > 0):
        return math.nan
    return 1000 / many - 1000 / one


def study_model_table(res: Results) -> Table | None:
    """A model, not a measurement: the study's 1-row request time (its fixed cost per request,
    its database access: 1/74 s) plus what STUDY_ROWS rows add per request as measured on its
    stack here, as requests/s, beside the study's own figures."""
    st = stack_runs(res) or res
    label = on_stack(STUDY_SERVER, STUDY_STACK)
    fixed = 1000 / STUDY_ONE_ROW_RPS
    body = []
    for mode in STUDY_VARIANTS:
        added = per_rows_ms(st, label, mode)
        if not math.isfinite(added):
            continue
        body.append(
            [
                mode,
                fnum(st.rps(label, mode, 1)),
                fnum(st.rps(label, mode, STUDY_ROWS)),
                fnum(added),
                fnum(1000 / (fixed + added)),
                published(mode),
            ]
        )
    if not body:
        return None
    return Table(
        [
            "variant",
            f"req/s here, 1 row ({STUDY_STACK})",
            f"req/s here, {rows_label(STUDY_ROWS)}",
            f"what {STUDY_ROWS - 1} more rows add, ms",
            f"model: {fnum(fixed)} ms + that, req/s",
            "the study published",
        ],
        body,
        f"A model, labelled as one: the study's request at 1 row took 1/{STUDY_ONE_ROW_RPS:g} s = "
        f"{fnum(fixed)} ms on its machine, nearly all of it its fixed cost per request (its "
        "database access: with one row there is nothing for Pydantic to do); what the rows add is "
        f"measured here on its stack ({STUDY_STACK}: 1/req/s at {rows_label(STUDY_ROWS)} minus at "
        "1 row, one core). Their sum, as requests/s, is what the study would have measured if its "
        "machine spent on the rows what this one does.",
        align_left=1,
    )


def study_profile_rows(res: Results) -> list[Row]:
    """The runs of the study's own load profile (seed.csv), oldest stack first."""
    order = {s: i for i, s in enumerate(stacks_measured(res) or [TODAY])}
    return sorted(res.seed, key=lambda r: (order.get(r.deployment[STACK.name], 99), r.repeat))


def study_profile_table(res: Results) -> Table | None:
    """The study's load profile on each stack: requests/s, mean and slowest response, beside
    its ~8 s, and Little's law's mean wait (users / requests/s)."""
    rows = study_profile_rows(res)
    if not rows:
        return None
    users = STUDY_USERS
    body = [
        [
            r.served_by,
            r.mode,
            str(r.repeat),
            str(r.requests),
            fnum(r.rps) + ("" if r.trustworthy else " ⚠"),
            fnum(1000 / r.rps) if r.rps > 0 else "-",
            fnum(users / r.rps) if r.rps > 0 else "-",
            fnum(r.mean_ms / 1000),
            fnum(r.max_ms / 1000),
            f"~{STUDY_SLOWEST_S:g}" if r.deployment[STACK.name] == STUDY_STACK else "",
        ]
        for r in rows
    ]
    return Table(
        [
            "server",
            "variant",
            "repeat",
            "requests",
            "req/s",
            "one request's server time, ms",
            f"{users} users ÷ req/s, s",
            "mean response, s",
            "slowest response, s",
            "the study's slowest, s",
        ],
        body,
        f"The study's own load profile at {rows_label(STUDY_ROWS)}: {users} users, each making "
        f"{STUDY_REQUESTS_PER_USER} requests without waiting (its JMeter threads and loops), all "
        "starting at once.",
        align_left=2,
    )


def study_profile_note(res: Results) -> str:
    """What the slowest response of a closed loop at saturation is: time in the queue."""
    rows = [r for r in study_profile_rows(res) if r.deployment[STACK.name] == STUDY_STACK]
    if not rows or not all(r.rps > 0 for r in rows):
        return ""
    users = STUDY_USERS
    rps = sorted(r.rps for r in rows)[len(rows) // 2]
    slowest = max(r.max_ms for r in rows) / 1000
    return (
        f"Why a response takes seconds when serving one takes {fnum(1000 / rps)} ms: the profile is "
        f"a closed loop at saturation. {users} users keep {users} requests at one process serving "
        f"~{fnum(rps)} per second, so a request waits in the queue behind up to {users - 1} others: "
        f"by Little's law the mean response is about {users} ÷ {fnum(rps)} = {fnum(users / rps)} s, "
        f"and the slowest ({fnum(slowest)} s here, the study's ~{STUDY_SLOWEST_S:g} s) is the "
        "unluckiest place in that queue. It measures the queue, not the service: at an offered load "
        "below the server's capacity nobody waits (the study saw no degradation with 10 users)."
    )


def study_lesson(res: Results) -> str:
    """One sentence: does the study's lesson (response_model costs, orjson fixes it) hold on
    its stack, and on today's? '' unless the run measured its app on both."""
    st = stack_runs(res)
    if st is None:
        return ""
    then_label, now_label = on_stack(STUDY_SERVER, STUDY_STACK), STUDY_SERVER
    cells = [(label, m) for label in (then_label, now_label) for m in STUDY_VARIANTS[:2]]
    if not all(math.isfinite(st.rps(label, m, STUDY_ROWS)) for label, m in cells):
        return ""
    then = st.paired_ratio(
        (then_label, "fastapi-dict", STUDY_ROWS), (then_label, "fastapi-model", STUDY_ROWS)
    )
    now = st.paired_ratio(
        (now_label, "fastapi-model", STUDY_ROWS), (now_label, "fastapi-dict", STUDY_ROWS)
    )
    model_gain = across(st, STUDY_SERVER, "fastapi-model", STUDY_ROWS, TODAY, STUDY_STACK)
    return (
        f"on its {STUDY_STACK} stack dropping response_model served {fratio(then)} "
        f"(the study: ~{STUDY_RPS['fastapi-dict'] / STUDY_RPS['fastapi-model']:.2g}x); today "
        f"response_model is the faster path ({fratio(now)} the dict path) and serves "
        f"{fratio(model_gain)} what it did on {STUDY_STACK}"
    )


def second_pass(res: Results) -> str:
    """DRF's second validation pass (the response_model analogue: drf over drf-validated, paired)
    at STUDY_ROWS on each stack that ran both, oldest first; '' where none did. DRF has no
    Pydantic: what Pydantic v2 changed for FastAPI is not expected to change this."""
    st = stack_runs(res)
    if st is None:
        return ""
    parts = []
    # The server of the steps table first (the one that ran most of DRF's and ninja's modes).
    preferred = load_server(res.on_default_deployment() or res, STUDY_ROWS)
    for stack in stacks_measured(st):
        labels = [s for s in st.servers if stack_of(s) == stack and base_of(s) != STUDY_SERVER]
        labels.sort(key=lambda s: base_of(s) != preferred)
        for label in labels:
            cells = [(label, m, STUDY_ROWS) for m in ("drf", "drf-validated")]
            if all(st.cell(*c) for c in cells):
                parts.append(f"{fratio(st.paired_ratio(*cells))} on {stack} ({base_of(label)})")
                break
    return ", ".join(parts)


def todays_parts(res: Results) -> str:
    """What ran on today's stack whatever the servers' stack (meta.json's on_todays_stack)."""
    parts = res.meta.get("on_todays_stack") or []
    if not parts:
        return ""
    return (
        f"Whatever stack a server ran, these ran on {TODAY}'s interpreter and measured nothing of "
        f"another stack: {', '.join(parts)}; their figures elsewhere in this report are {TODAY}'s."
    )


def then_and_now_items(res: Results) -> list:
    """The section's paragraphs and tables, in order ([] when the run measured one stack)."""
    st = stack_runs(res)
    table = then_and_now_table(res)
    if st is None or table is None:
        return []
    items: list = [table]
    if lesson := study_lesson(res):
        items.append(f"The case study's lesson: {lesson}.")
    if drf := second_pass(res):
        items.append(
            "DRF, which has no Pydantic, validates its answer again in Python on every stack: "
            f"dropping that second pass (drf-validated → drf) serves {drf}."
        )
    if versions := versions_table(res):
        items.append(versions)
    if note := instants_note(st):
        items.append("Documents were checked per stack before measuring:" + note)
    if model := study_model_table(res):
        items.append(model)
    if profile := study_profile_table(res):
        items.append(profile)
        if note := study_profile_note(res):
            items.append(note)
    if today := todays_parts(res):
        items.append(today)
    return items
