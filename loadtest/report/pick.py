"""The report's "What to pick": one line per decision a reader makes, each with the figure this
run measured for it, in the order a reader meets them. A line is a small function of the
recorded results (None or '': nothing measured for it, the line left out); PICKS lists them,
so a line of its own (a deployment axis's, say) is one function appended there. The figures
behind each line stay in their tables."""

from __future__ import annotations

import math
from collections.abc import Callable

from loadtest.axes import CACHE, COMPRESSION, relabel, split_label
from loadtest.report.case_study import STUDY_ROWS, STUDY_SERVER, STUDY_VARIANTS
from loadtest.report.compression import codec_alone, compressed_servers, compression_limit
from loadtest.report.frameworks import ranked
from loadtest.report.gc_goals import recommended_in
from loadtest.report.goals import compressed_label, recommended_setup
from loadtest.report.numbers import fnum, fratio, rows_label
from loadtest.report.results import Results
from loadtest.report.steps import load_server, ninja_advice, ratio_text
from loadtest.report.then_and_now import second_pass, study_lesson

Pick = Callable[[Results], str | None]


def default_runs(res: Results) -> Results:
    """The runs with every axis at its default (what the frameworks table and the hero read)."""
    return res.on_default_deployment() or res


def _fastest(
    res: Results, limit: int, *, validated: bool
) -> tuple[tuple[str, str, float], str] | None:
    """The fastest (server, mode, requests/s) that validates (or not) among the runs that passed
    their checks; when none of those does, among all runs, with " ⚠" to say so, rather than a
    line that silently leaves it out (one disturbed run must not drop a line of the report)."""
    trusted = res.trusted()
    for subset, mark in ((trusted, ""), (res, " ⚠ its runs failed their checks")):
        rows = (
            [r for r in ranked(subset, limit) if res.validates(r[1]) == validated] if subset else []
        )
        if rows:
            return rows[0], "" if subset is res and not trusted else mark
    return None


def pick_validation(res: Results) -> str | None:
    """Validated or not: the fastest validated server x mode, against the fastest unvalidated."""
    res = default_runs(res)
    lim = res.chart_limit
    plain = _fastest(res, lim, validated=False)
    checked = _fastest(res, lim, validated=True)
    if checked is None and plain is None:
        return None
    if checked is None:
        assert plain is not None
        (s, m, rps), mark = plain
        return (
            f"**Validated or not** ({rows_label(lim)}): no validated mode ran; the fastest, {m} on "
            f"{s}, serves {fnum(rps)} req/s{mark}."
        )
    (s, m, rps), mark = checked
    text = f"**Validated or not** ({rows_label(lim)}): {m} on {s} validates every row at {fnum(rps)} req/s{mark}"
    if plain:
        (ps, pm, prps), pmark = plain
        text += f", {fratio(rps / prps)} the fastest unvalidated ({pm} on {ps}, {fnum(prps)} req/s{pmark})"
    return text + "."


def pick_server(res: Results) -> str | None:
    """Which server: the best and worst for one mode run on several, for large responses (and
    the same ratio for small ones, where measured)."""
    res = default_runs(res)
    lim = res.chart_limit
    t = res.trusted() or res
    mode = next(
        (
            m
            for m in ("raw", *t.modes)
            if sum(math.isfinite(t.rps(s, m, lim)) for s in t.servers) >= 2
        ),
        None,
    )
    if mode is None:
        return None

    def spread(limit: int) -> tuple[tuple[float, str], tuple[float, str]] | None:
        on = sorted(
            ((t.rps(s, mode, limit), s) for s in t.servers if math.isfinite(t.rps(s, mode, limit))),
            reverse=True,
        )
        return (on[0], on[-1]) if len(on) >= 2 else None

    large = spread(lim)
    assert large is not None
    (best, bs), (worst, ws) = large
    text = (
        f"**Server**: it matters once the mode is fast: {mode} at {rows_label(lim)} from "
        f"{fnum(worst)} req/s ({ws}) to {fnum(best)} ({bs}), {fratio(best / worst)}"
    )
    small = spread(res.limits[0]) if res.limits[0] != lim else None
    if small:
        text += f"; at {rows_label(res.limits[0])} {fratio(small[0][0] / small[1][0])}"
    return text + "."


def pick_drf(res: Results) -> str | None:
    """On DRF: what its second validation pass costs, and what DRF itself costs against raw."""
    res = default_runs(res)
    lim = res.chart_limit
    t = res.trusted()
    both = [s for s in res.servers if all(res.cell(s, m, lim) for m in ("drf-validated", "drf"))]
    if not both:
        return None
    # The server of the steps table (the one that ran most of DRF's and ninja's modes) first.
    preferred = load_server(res, lim)
    server = preferred if preferred is not None and preferred in both else both[0]
    text = (
        f"**On DRF** ({server}, {rows_label(lim)}): dropping its second validation pass "
        "(drf-validated → drf, the response_model analogue) serves "
        f"{ratio_text(res, t, (server, 'drf', lim), (server, 'drf-validated', lim))}"
    )
    if raw := ratio_text(res, t, (server, "raw", lim), (server, "drf", lim)):
        text += f"; DRF's serializer itself costs {raw} (raw over drf)"
    if res.cell(server, "msgspec", lim):
        text += (
            "; validating with msgspec instead serves "
            f"{ratio_text(res, t, (server, 'msgspec', lim), (server, 'drf-validated', lim))} "
            "drf-validated"
        )
    return text + "."


def pick_ninja(res: Results) -> str | None:
    """On django-ninja: the change that saves most, and all the steps together."""
    advice = ninja_advice(default_runs(res))
    return f"**On django-ninja**: {advice}." if advice else None


def pick_compression(res: Results) -> str | None:
    """Compression: the recommended setup against none and Django's gzip, and its bytes."""
    along = res.along(COMPRESSION.name)
    recommended = recommended_setup(res)
    if along is None or not recommended:
        return None
    lim = compression_limit(along)
    t = along.trusted()
    for server in compressed_servers(along):
        label = compressed_label(server, recommended)
        c = along.cell(label, "raw", lim)
        if c is None:
            continue
        text = (
            f"**Compression**: {recommended} (CANDLEBENCH_COMPRESSION={recommended}), not Django's "
            f"GZipMiddleware: on {server} raw with it serves "
            f"{ratio_text(along, t, (label, 'raw', lim), (server, 'raw', lim))} of none"
        )
        gz = compressed_label(server, "django-gzip")
        if along.cell(gz, "raw", lim):
            text += f", {ratio_text(along, t, (label, 'raw', lim), (gz, 'raw', lim))} django-gzip"
        if document := c.median("bytes"):
            text += f", sending {c.median('wire_bytes') / document:.0%} of the bytes"
        codec = codec_alone(along).get(recommended)
        if codec:
            text += f" (its codec alone {fnum(codec['ms'])} ms a document)"
        return text + "."
    return None


def pick_study_lesson(res: Results) -> str | None:
    """What the case study's lesson means now: from this run's stacks when it measured them,
    else today's FastAPI order here and where the stacks of 2023 were measured."""
    lesson = study_lesson(res)
    if lesson:
        drf = second_pass(res)
        return (
            f"**The case study's lesson now**: {lesson}; DRF, which has no Pydantic, still pays "
            + (
                f"for its second pass (dropping it serves {drf})."
                if drf
                else "for its second pass."
            )
        )
    res = default_runs(res)
    cells = [(STUDY_SERVER, m, STUDY_ROWS) for m in STUDY_VARIANTS[:2]]
    if not all(res.cell(*c) for c in cells):
        return None
    return (
        f"**The case study's lesson now**: on today's stack response_model is FastAPI's faster path "
        f"(fastapi-model {ratio_text(res, res.trusted(), *cells)} fastapi-dict here, the study's order "
        "reversed); on its own 2023 stack, `make then-and-now` (a committed run: docs/results.md)."
    )


def pick_cache(res: Results) -> str | None:
    """Caching, when this run measured a cache setup: a cached mode against itself uncached. A
    bench repeats one URL and writes nothing (all hits): the mix is make cache's."""
    along = res.along(CACHE.name)
    if along is None:
        return None
    lim = along.chart_limit
    for label in along.servers:
        server, deployment = split_label(label)
        for mode in ("drf", "raw"):
            if deployment[CACHE.name] != CACHE.default and along.cell(server, mode, lim):
                ratio = ratio_text(along, along.trusted(), (label, mode, lim), (server, mode, lim))
                if ratio:
                    return (
                        f"**Caching** ({deployment[CACHE.name]}, {mode} on {server}, "
                        f"{rows_label(lim)}): {ratio} uncached here, where every request repeats "
                        "one URL and nothing writes; at a mix with a writer, `make cache` "
                        "(docs/caching.md)."
                    )
    return None


# The modes whose tail the collector makes, in the order the tail's line looks for them.
TAIL_MODES = ("drf", "drf-validated", "ninja")


def pick_tail(res: Results) -> str | None:
    """The tail: the capacity at the latency target at 1000 rows of the first of
    TAIL_MODES swept, under Python's default collector and, when swept, under the recommended GC
    setup (docs/gc.md)."""
    setups = res.meta.get("plan", {}).get("setups")
    recommended = recommended_in(setups) if isinstance(setups, dict) else ""
    cells = [
        (key, base)
        for key, base in res.capacity.items()
        if key[1] in TAIL_MODES and key[2] == 1000 and split_label(key[0])[1].is_default
    ]
    if not cells:
        return None
    (server, mode, limit), base = min(cells, key=lambda c: TAIL_MODES.index(c[0][1]))
    text = (
        f"**The tail** ({mode}, {rows_label(limit)}, {server}): capacity at p99 ≤ "
        f"{fnum(base.slo_ms)} ms {base.text} under Python's default collector"
    )
    fixed = res.capacity.get((relabel(server, gc=recommended), mode, limit))
    if recommended and fixed:
        return text + f", {fixed.text} with CANDLEBENCH_GC={recommended} (docs/gc.md)."
    return text + (
        f"; CANDLEBENCH_GC={recommended or 'its recommended setup'} takes the collector out of "
        "the requests (`make tail` measures by how much; docs/gc.md)."
    )


# One function per line, in the order the report lists them.
PICKS: tuple[Pick, ...] = (
    pick_validation,
    pick_server,
    pick_drf,
    pick_ninja,
    pick_compression,
    pick_study_lesson,
    pick_cache,
    pick_tail,
)


def what_to_pick(res: Results, picks: tuple[Pick, ...] = PICKS) -> list[str]:
    """The lines of every pick that has a figure in this run (a first line saying so when no run
    passed its checks)."""
    if not ranked(default_runs(res), default_runs(res).chart_limit):
        return ["Nothing was measured at the largest limit: no recommendation."]
    lines = (
        []
        if res.trusted()
        else ["(No run passed its checks: these figures are not to be trusted.)"]
    )
    return lines + [line for pick in picks if (line := pick(res))]
