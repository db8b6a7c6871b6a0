"""The ceiling (floor diagnostics), the goals' evaluation and the memory table, on
synthetic recorded rows. The goals themselves are checked by the runner on real runs;
here only the logic that judges them is tested."""

import math

import pytest

from loadtest.report import render, tables
from loadtest.report.goals import evaluate_goals
from loadtest.report.pick import what_to_pick
from loadtest.report.results import Results, Row
from loadtest.report.steps import steps_table


def row(
    server, mode, limit, repeat, rps, trustworthy=True, rss=100.0, server_cpu=99.0, loadgen_cpu=50.0
):
    return Row(
        server=server,
        mode=mode,
        limit=limit,
        repeat=repeat,
        rps=rps,
        p50_ms=1.0,
        p95_ms=2.0,
        p99_ms=3.0,
        failures=0,
        bytes=1000,
        timing_ms={},
        server_rss_mb=rss,
        trustworthy=trustworthy,
        note="" if trustworthy else "other processes used 80% of a CPU",
        server_cpu_pct=server_cpu,
        loadgen_cpu_pct=loadgen_cpu,
    )


def picked(res: Results, decision: str) -> str | None:
    """The line of What to pick that starts with `decision` (in bold), or None."""
    return next((line for line in what_to_pick(res) if line.startswith(f"**{decision}**")), None)


# requests/s at 1000 rows per server and endpoint, for two repeats (the second 10% slower).
MET = {
    "wsgi": {
        "drf-validated": 10,
        "drf": 20,
        "orjson": 150,
        "raw": 250,
        "floor": 400,
        "floor-async": 300,
    },
    "asgi": {
        "drf-validated": 9,
        "drf": 18,
        "orjson": 210,
        "raw": 220,
        "floor": 350,
        "floor-async": 420,
    },
}


def results(table=MET, limits=(1000,), repeats=2, untrusted=(), extra=()):
    rows = []
    for k in range(1, repeats + 1):
        for lim in limits:
            for server, modes in table.items():
                for mode, rps in modes.items():
                    bad = (server, mode, k) in untrusted
                    rows.append(
                        row(server, mode, lim, k, rps * (1 - 0.1 * (k - 1)) * (1000 / lim), not bad)
                    )
    rows += list(extra)
    plan = {"modes": ["drf-validated", "drf", "orjson", "raw"], "servers": list(table)}
    return Results(rows, {"plan": plan, "database": {"max_limit": 1440}, "micro": MICRO})


# The micro benchmark's database alone at 1000 rows: 1 ms to fetch the rows (the G4 estimate).
ALONE = {
    "limit": 1000,
    "rows_ms": 1.0,
    "json_ms": 2.0,
    "json_same_document": True,
    "json_same_bytes": True,
}
MICRO = {"rows": [], "database": "sqlite", "database_alone": [ALONE]}


def by_key(res):
    goals, note = evaluate_goals(res)
    return {t.key: t for t in goals}, note


def test_diagnostics_are_not_modes():
    res = results()
    assert res.modes == ["drf-validated", "drf", "orjson", "raw"]
    assert res.diagnostics == ["floor", "floor-async"]
    md = render.render_markdown(res)
    speed = md[md.index("## Speed-up") : md.index("## Server against server")]
    assert "floor" not in speed
    requests = md[md.index("## Requests/s") : md.index("## % of ceiling")]
    assert "| floor" not in requests


def test_ceiling_is_the_higher_diagnostic_and_says_which():
    res = results()
    assert res.ceiling("wsgi", 1000) == (pytest.approx(380), "floor")  # median of 400 and 360
    assert res.ceiling("asgi", 1000) == (pytest.approx(399), "floor-async")
    assert res.pct_of_ceiling("asgi", "raw", 1000) == pytest.approx(100 * 209 / 399)
    assert math.isnan(res.ceiling("asgi", 1)[0])
    table = tables.ceiling_table(res)
    col = table.headers.index("asgi @1000")
    rows = {r[0]: r for r in table.rows}
    assert rows["ceiling = the higher one"][col] == "floor-async"
    assert rows["raw"][col] == f"{100 * 209 / 399:.0f}%"
    assert rows["floor-async req/s (diagnostic)"][col] == "399"


def test_no_ceiling_without_floor_runs():
    table = {
        s: {m: v for m, v in modes.items() if not m.startswith("floor")} for s, modes in MET.items()
    }
    res = results(table)
    assert tables.ceiling_table(res) is None
    assert "were not measured (--no-floor)" in render.render_markdown(res)
    got, _ = by_key(res)
    assert got["G1"].status == "met"
    assert got["G3"].status == got["G4 asgi"].status == "not measured"
    assert "Not run: asgi floor @1000" in got["G3"].figures


def test_all_goals_met_with_their_figures():
    got, note = by_key(results())
    assert list(got)[:12] == [
        "G1",
        "G2",
        "G3",
        "G4 wsgi",
        "G4 asgi",
        "G5",
        "G6",
        "G7",
        "G8",
        "G9",
        "G10",
        "G11",
    ]
    assert [got[k].status for k in list(got)[:5]] == ["met"] * 5
    assert "raw/drf ×12.5" in got["G1"].figures and "raw/drf-validated ×25.0" in got["G1"].figures
    assert "orjson 84%, raw 88% of wsgi raw" in got["G2"].figures
    assert got["G2"].figures.endswith(
        "The same orjson mode under asgi is 140% of itself under wsgi."
    )
    assert "asgi 399 req/s (floor-async), wsgi 380 req/s (floor): 105%" in got["G3"].figures
    # G4: 1 / (2.63 ms for the ceiling's request + 1.00 ms for the rows) = 275 req/s.
    assert (
        "best mode raw 238 req/s, ceiling 380 req/s (floor): 62% of the ceiling. Database-bound estimate "
        "275 req/s: 86% of it (needs 60%)."
    ) in got["G4 wsgi"].figures
    # The modes and servers of issues 11 and 12 were not run here.
    assert got["G5"].figures == "Not run: raw-msgspec @1000 on any server."
    assert got["G7"].figures == "Not run: fastapi fastapi-orjson @1000."
    assert got["G9"].figures == "Not run: asgi-stock raw @1000."
    assert got["G10"].figures == "Not run: pydantic @1000 on any server."
    assert all(
        got[k].status == "not measured" for k in ("G5", "G6", "G7", "G8", "G9", "G10", "G11")
    )
    assert note.startswith("Evaluated from all 24 runs")


# Issue 11's and 12's modes and servers at 1000 rows (validates: from the registry in the plan).
NEW = {
    "wsgi": {**MET["wsgi"], "msgspec": 140, "raw-msgspec": 230},
    "asgi": {**MET["asgi"], "msgspec": 190, "raw-msgspec": 150},
    "asgi-stock": {"raw": 140, "floor": 300},
    "fastapi": {"fastapi-model": 60, "fastapi-orjson": 150, "floor": 250},
}
VALIDATES = {"drf-validated", "msgspec", "raw-msgspec", "fastapi-model"}


def test_issue_11_and_12_goals_on_the_same_server_and_across_frameworks():
    res = results(NEW)
    registry = [
        {"name": m, "validates": m in VALIDATES}
        for m in (
            "drf-validated",
            "drf",
            "orjson",
            "msgspec",
            "raw",
            "raw-msgspec",
            "fastapi-model",
            "fastapi-orjson",
        )
    ]
    res = Results(res.rows, {**res.meta, "plan": {**res.meta["plan"], "registry": registry}})
    got, _ = by_key(res)
    assert (
        got["G5 wsgi"].status == "met"
        and "raw 238 req/s: ×0.92 (needs ×0.85)" in got["G5 wsgi"].figures
    )
    assert got["G5 asgi"].status == "not met" and "raw 209 req/s: ×0.68" in got["G5 asgi"].figures
    assert "G5 asgi-stock" not in got  # raw-msgspec was not run there
    assert got["G6 asgi"].status == "met" and "×0.90 (needs ×0.85)" in got["G6 asgi"].figures
    assert "×21.1 (needs ×5)" in got["G6 asgi"].figures
    assert got["G7"].status == "met"
    assert (
        got["G7"].figures == "raw on wsgi 238 req/s, fastapi-orjson 142 req/s: ×1.67 (needs ×1.2)."
    )
    # The best validated mode served by Django: raw-msgspec under wsgi (not fastapi-model itself).
    assert got["G8"].figures.startswith(
        "raw-msgspec on wsgi 218 req/s, fastapi-model 57.0 req/s: ×3.83"
    )
    assert got["G9"].status == "met" and "×1.57 (needs ×1.5)" in got["G9"].figures
    md = render.render_markdown(res)
    frameworks = md[md.index("## Frameworks and servers at 1000 rows") : md.index("## Goals")]
    # The report opens with what to pick, before any table.
    pick = md[md.index("## What to pick") : md.index("## Frameworks and servers")]
    assert md.index("## What to pick") < md.index("|")
    assert (
        "| fastapi | fastapi-model | yes | 57.0 | 238 (floor) | 24% | 74 → ~12 (~10 over repeated "
        "runs) |" in frameworks
    )
    # Fastest first; what to pick (said once, first), from the run's numbers.
    assert (
        frameworks.index("| wsgi | raw |")
        < frameworks.index("| asgi | raw |")
        < frameworks.index("| fastapi |")
    )
    # One line per decision, each with its figure.
    assert (
        pick.index(
            "- **Validated or not** (1000 rows): raw-msgspec on wsgi validates every row at "
            "218 req/s, ×0.92 the fastest unvalidated (raw on wsgi, 238 req/s)."
        )
        > 0
    )
    assert "Validated or not" not in frameworks
    assert (
        "- **Server**: it matters once the mode is fast: raw at 1000 rows from 133 req/s "
        "(asgi-stock) to 238 (wsgi), ×1.79." in pick
    )
    assert pick.index("**Validated or not**") < pick.index("**Server**") < pick.index("**On DRF**")
    # Tables against drf-validated or across servers show a dash where a server lacks a mode.
    speed = md[md.index("## Speed-up") : md.index("## Server against server")]
    assert "fastapi" not in speed  # it has no drf-validated
    pairs = md[md.index("## Server against server") : md.index("## Latency")]
    assert "asgi over asgi-stock" in pairs and "| drf | - |" in pairs


def test_goals_not_met():
    table = {s: dict(modes) for s, modes in MET.items()}
    table["wsgi"]["drf-validated"] = 13  # raw only ×19.2
    table["asgi"]["orjson"] = 150  # 60% of wsgi raw
    table["asgi"]["floor-async"] = 150  # asgi ceiling = floor 350 -> 350 / 400 still met
    table["asgi"]["raw"] = 100  # best asgi mode orjson 150 of 350: 43%
    got, _ = by_key(results(table))
    assert got["G1"].status == "not met" and "needs ×20" in got["G1"].figures
    assert got["G2"].status == "not met" and "orjson 60%" in got["G2"].figures
    assert got["G3"].status == "met"
    # asgi: the best mode orjson 142 req/s against 1 / (2.86 ms + 1 ms) = 259 req/s: 55%.
    assert got["G4 asgi"].status == "not met" and "best mode orjson" in got["G4 asgi"].figures
    assert got["G4 wsgi"].status == "met"


def test_untrustworthy_rows_are_left_out_and_said_so():
    # Repeat 1 of wsgi raw is untrustworthy: the paired ratios use repeat 2 only.
    res = results(untrusted={("wsgi", "raw", 1)})
    got, note = by_key(res)
    assert "1 of 24 runs at 1000 rows failed their checks and were left out (wsgi raw)" in note
    assert "raw 225, drf 19.0" in got["G1"].figures  # repeat 2 alone: 250 x 0.9
    # With every run of a needed cell untrustworthy, the target is not measured.
    res = results(untrusted={("wsgi", "raw", 1), ("wsgi", "raw", 2)})
    got, _ = by_key(res)
    assert got["G1"].status == got["G2"].status == "not measured"
    assert got["G1"].figures == "No trustworthy run: wsgi raw @1000."
    assert (
        got["G4 wsgi"].status == "not met"
    )  # the best trustworthy mode is then orjson: 142 of 275 (52%)
    assert "best mode orjson" in got["G4 wsgi"].figures


def test_goals_need_1000_rows_and_the_servers():
    got, note = by_key(results(limits=(100,)))
    assert note == "No run at 1000 rows: no goal could be measured."
    assert all(t.status == "not measured" for t in got.values())
    only_asgi = results({"asgi": MET["asgi"]})
    got, _ = by_key(only_asgi)
    assert got["G1"].figures.startswith("Not run: wsgi raw @1000")
    assert "G4 wsgi" not in got and got["G4 asgi"].status == "met"


def test_goals_section_comes_first_and_is_printed():
    res = results()
    md = render.render_markdown(res)
    assert md.index("## Goals") < md.index("## At a glance") < md.index("## % of ceiling")
    assert "| G3 | MET |" in md
    text = render.summary_text(res)
    assert "Goals at 1000 rows:" in text and "G4 asgi MET" in text
    assert "asgi ceiling @1000: 399 req/s (floor-async)" in text


def test_memory_table_at_1440_rows_with_its_caveat():
    res = results(limits=(1000, 1440), extra=[row("asgi", "raw", 1440, 3, 100, rss=130.0)])
    table = tables.rss_table(res)
    assert "Peak RSS at 1440 rows" in table.caption
    rows = {r[0]: r for r in table.rows}
    assert rows["raw"][table.headers.index("asgi MiB")] == "130.0 (min 100.0)"
    assert rows["drf"][table.headers.index("wsgi MiB")] == "100.0"
    assert "floor (diagnostic)" in rows
    md = render.render_markdown(res)
    assert "## Memory" in md and "high-water mark" in md
    # Without a run at 1440 rows the largest limit stands in, and the caption says so.
    assert "1440 rows were not run" in tables.rss_table(results()).caption


def test_a_ceiling_the_server_did_not_saturate_is_a_lower_bound():
    res = results()
    assert res.ceiling_limited_by("wsgi", 1000) == ""
    # The wsgi floor runs with the server at 75% of its core and Locust at 88% of its own.
    rows = [
        r
        if (r.server, r.mode) != ("wsgi", "floor")
        else row("wsgi", "floor", 1000, r.repeat, r.rps, server_cpu=75.0, loadgen_cpu=88.0)
        for r in res.rows
    ]
    res = Results(rows, res.meta)
    why = res.ceiling_limited_by("wsgi", 1000)
    assert why == "lower bound: the server used 75% of its core, the load generator 88% of its own"
    table = tables.ceiling_table(res)
    assert {r[0]: r for r in table.rows}["ceiling = the higher one"][
        table.headers.index("wsgi @1000")
    ] == "floor ↓"
    got, _ = by_key(res)
    assert f"Caution, ceiling {why}." in got["G4 wsgi"].figures
    assert got["G3"].figures.endswith(f"Caution, wsgi {why}.")
    assert "Caution" not in got["G4 asgi"].figures


def test_t4_estimates_how_far_the_database_alone_lets_any_mode_go():
    res = results()
    bare = Results(res.rows, {**res.meta, "micro": None})
    assert by_key(bare)[0]["G4 wsgi"].status == "not measured"  # no micro benchmark recorded
    assert "Estimate" not in by_key(bare)[0]["G4 wsgi"].figures
    # wsgi ceiling 380 req/s: 2.63 ms a request; fetching the rows 1.0 ms, the JSON 2.0 ms.
    alone = {
        "limit": 1000,
        "rows_ms": 1.0,
        "json_ms": 2.0,
        "json_same_document": True,
        "json_same_bytes": True,
    }
    res = Results(
        res.rows,
        {**res.meta, "micro": {"rows": [], "database": "sqlite", "database_alone": [alone]}},
    )
    got = by_key(res)[0]
    assert got["G4 wsgi"].figures.endswith(
        "Estimate: in-process the database alone needs 1.00 ms to hand 1000 rows to Python (2.00 ms to write the "
        "JSON itself) against 2.63 ms for the ceiling's whole request; if these add up on one core, a mode that "
        "reads the rows reaches about 72% of the ceiling at best (275 req/s, the database-bound estimate), one that "
        "has the database write the JSON 57%."
    )
    assert "Estimate" in got["G4 asgi"].figures
    table = tables.micro_table(res)
    assert ["database alone: fetch the rows", "1.00 ms", "-", "-"] in table.rows
    assert "⚠" not in table.caption
    # With a database server, the asgi event loop works while a query waits: no estimate there.
    differs = dict(alone, json_same_document=False)
    res = Results(
        res.rows,
        {**res.meta, "micro": {"rows": [], "database": "postgresql", "database_alone": [differs]}},
    )
    got = by_key(res)[0]
    assert "Estimate" not in got["G4 asgi"].figures
    assert (
        "(2.00 ms to write the JSON itself, a document with other values)" in got["G4 wsgi"].figures
    )
    assert "⚠ At 1000 rows the database's JSON had other values" in tables.micro_table(res).caption


def test_t1_gives_the_fitted_costs_behind_its_ratios_from_three_limits():
    assert "Fitted" not in by_key(results())[0]["G1"].figures  # one limit: nothing to fit
    assert (
        "Fitted" not in by_key(results(limits=(100, 1000)))[0]["G1"].figures
    )  # two points always fit a line
    figures = by_key(results(limits=(1, 100, 1000)))[0]["G1"].figures
    assert (
        "Fitted cost per request: raw " in figures
    )  # its fixed cost is 0 up to rounding: 0.00 or -0.00
    assert figures.endswith(
        "ms + 4.2 µs/row, drf 0.00 ms + 52.6 µs/row, drf-validated 0.00 ms + 105.3 µs/row."
    )


def test_a_target_is_one_id_one_owner_and_its_text_follows_its_thresholds():
    import dataclasses

    from loadtest.report.goals import GOALS

    assert [t.id for t in GOALS] == [f"G{i}" for i in range(1, 18)]
    assert all(t.owner for t in GOALS)
    t1 = GOALS[0]
    assert (
        by_key(results())[0]["G1"].wants
        == "under wsgi at 1000 rows, raw >= 10x drf and >= 20x drf-validated"
    )
    # Raise one threshold: the goal, the figures and the verdict change with it.
    stricter = dataclasses.replace(t1, thresholds={**t1.thresholds, "raw/drf": 15.0})
    (result,), _ = evaluate_goals(results(), goals=(stricter,))
    assert result.wants == "under wsgi at 1000 rows, raw >= 15x drf and >= 20x drf-validated"
    assert "(needs ×15)" in result.figures and result.status == "not met"  # raw/drf is ×12.5
    t2 = dataclasses.replace(GOALS[1], thresholds={"of wsgi raw": 0.9})
    (result,), _ = evaluate_goals(results(), goals=(t2,))
    assert "each >= 90% of raw under wsgi" in result.wants and "(needs 90%)" in result.figures


# Issue 22's steps at 1000 rows on wsgi, and ninja on asgi without them.
STEPS = {
    "wsgi": {
        **MET["wsgi"],
        "ninja": 40,
        "ninja-orjson": 50,
        "ninja-values": 70,
        "ninja-basemodel": 110,
        "pydantic": 130,
    },
    "asgi": {**MET["asgi"], "ninja": 38},
}
# The micro benchmark's ms per request at 1000 rows.
STEPS_MICRO = {
    "ninja": 19.0,
    "ninja-orjson": 14.5,
    "ninja-values": 10.5,
    "ninja-basemodel": 5.5,
    "pydantic": 5.0,
    "raw": 2.0,
}


def steps_results(table=STEPS, micro=STEPS_MICRO, untrusted=()):
    res = results(table, untrusted=untrusted)
    rows = [{"mode": m, "limit": 1000, "ms": ms} for m, ms in micro.items()]
    return Results(res.rows, {**res.meta, "micro": {**MICRO, "rows": rows}})


def test_issue_22_goals_on_the_server_that_ran_the_steps_with_the_in_process_ratio():
    got, _ = by_key(steps_results())
    assert got["G10 wsgi"].status == "met"
    assert got["G10 wsgi"].wants == "on wsgi at 1000 rows, pydantic >= 3x ninja"
    assert got["G10 wsgi"].figures == (
        "pydantic 124 req/s; ninja 38.0 req/s: ×3.25 (needs ×3). "
        "In-process (the view alone): pydantic 5.00 ms, ninja 19.0 ms: ×3.80."
    )
    assert got["G11 wsgi"].status == "not met"
    assert "ninja 38.0 req/s: ×1.75 (needs ×2)" in got["G11 wsgi"].figures
    assert got["G11 wsgi"].figures.endswith("ninja-values 10.5 ms, ninja 19.0 ms: ×1.81.")
    assert "G10 asgi" not in got  # the steps ran on wsgi only
    # Without ninja on the same server: not measured, and no in-process figure is offered.
    no_ninja = {"wsgi": {m: v for m, v in STEPS["wsgi"].items() if m != "ninja"}}
    got, _ = by_key(steps_results(no_ninja))
    assert got["G10 wsgi"].status == "not measured"
    assert got["G10 wsgi"].figures == "Not run: wsgi ninja @1000."


def test_where_ninjas_time_goes_step_by_step():
    res = steps_results()
    table = steps_table(res)
    assert table.headers[-2:] == ["req/s on wsgi", "× the chain's first"]
    rows = {r[1]: r for r in table.rows}
    assert [r[1] for r in table.rows] == [
        "ninja",
        "ninja-orjson",
        "ninja-values",
        "ninja-basemodel",
        "pydantic",
        "drf-validated",
        "drf",
        "raw",
    ]
    assert rows["ninja"][2:] == ["19.0 ms", "-", "38.0", ""]
    # Each step's saving as a share of ninja's time; requests/s over ninja within each repeat.
    assert rows["ninja-orjson"][2:] == ["14.5 ms (-24%)", "-", "47.5", "×1.25"]
    assert rows["ninja-basemodel"][2] == "5.50 ms (-26%)"
    assert rows["pydantic"][0].startswith("ninja's operation → a plain Django view")
    # DRF's chain: two of its modes ran (only the load measured them); msgspec did not run.
    assert rows["drf"][2:] == ["-", "-", "19.0", "×2.00"]
    assert rows["raw"][0] == "for scale" and rows["raw"][2] == "2.00 ms"
    md = render.render_markdown(res)
    section = md[md.index("## Where ninja's and DRF's time goes at 1000 rows") :]
    assert section.index("| ninja-orjson |") < section.index("## At a glance")
    # What to pick says what a ninja user should change first, from the in-process figures,
    # and what all the steps bring under load; each step's figures stay in the table.
    assert picked(res, "On django-ninja") == (
        "**On django-ninja**: change first ninja's Schema (its getter, Python per field) → a plain "
        "Pydantic model (26% of ninja's in-process time); all the steps together (pydantic): "
        "×3.25 ninja's requests/s on wsgi."
    )
    assert "Where ninja's and DRF's time goes" in render.summary_text(res)


def test_the_steps_need_two_modes_of_a_chain():
    assert steps_table(results()) is not None  # drf-validated and drf under load
    only_drf = {s: {m: v for m, v in modes.items() if m != "drf"} for s, modes in MET.items()}
    assert steps_table(results(only_drf)) is None
    assert picked(results(), "On django-ninja") is None
    # A figure the row above lacks: no share for that step.
    micro = {m: ms for m, ms in STEPS_MICRO.items() if m != "ninja-basemodel"}
    rows = {r[1]: r for r in steps_table(steps_results(micro=micro)).rows}
    assert rows["ninja-basemodel"][2] == "-" and rows["pydantic"][2] == "5.00 ms"
    # A mode not measured at all: the next row says both changes, and its share covers both.
    table = {
        s: {m: v for m, v in modes.items() if m != "ninja-basemodel"} for s, modes in STEPS.items()
    }
    res = steps_results(table, micro)
    rows = {r[1]: r for r in steps_table(res).rows}
    assert "ninja-basemodel" not in rows and rows["pydantic"][2] == "5.00 ms (-29%)"
    assert rows["pydantic"][0] == (
        "ninja's Schema (its getter, Python per field) → a plain Pydantic model; "
        "ninja's operation → a plain Django view, TypeAdapter and dump_json()"
    )
    assert "change first ninja's Schema" in picked(res, "On django-ninja")
    assert "a plain Django view, TypeAdapter and dump_json() (29% of ninja's in-process" in (
        picked(res, "On django-ninja")
    )


def test_the_instruction_counts_pick_the_step_that_saves_most_when_counted():
    # In-process the Schema step saves most; counted, the renderer does (the counts decide).
    counts = {"ninja": 200e6, "ninja-orjson": 140e6, "ninja-values": 100e6, "pydantic": 56e6}
    res = steps_results()
    ladder = {
        "counts": {m: {"1000": n} for m, n in counts.items()},
        "base": "ninja",
        "database": "sqlite",
        "seconds": 1.0,
        "calls": {"1000": 1},
    }
    res = Results(res.rows, {**res.meta, "instructions": ladder})
    pick = picked(res, "On django-ninja")
    assert "change first renderer: stdlib json" in pick
    assert "(30% of ninja's instructions)" in pick
    assert pick.endswith("all the steps together (pydantic): ×3.25 ninja's requests/s on wsgi.")
    rows = {r[1]: r for r in steps_table(res).rows}
    assert rows["ninja-orjson"][3] == "140 M (-30%)" and rows["ninja-basemodel"][3] == "-"
    # The row after a mode that was not counted: the count without a share.
    assert rows["pydantic"][3] == "56.0 M"


def test_the_steps_fall_back_on_untrustworthy_runs_and_say_so():
    res = steps_results(untrusted={("wsgi", "ninja", 1), ("wsgi", "ninja", 2)})
    rows = {r[1]: r for r in steps_table(res).rows}
    assert rows["ninja"][4] == "38.0 ⚠" and rows["ninja-orjson"][4:] == ["47.5", "×1.25 ⚠"]
    assert "(pydantic): ×3.25 ⚠ ninja's requests/s on wsgi" in picked(res, "On django-ninja")
    assert by_key(res)[0]["G10 wsgi"].status == "not measured"  # the goals never fall back


def test_what_to_pick_names_a_kind_whose_runs_all_failed_their_checks_with_a_mark():
    """One disturbed run (a validated mode's only cell) must not drop its line from the verdict."""
    every_validated = {(s, "drf-validated", k) for s in MET for k in (1, 2)}
    res = results(untrusted=every_validated)
    res.meta["plan"]["registry"] = [{"name": "drf-validated", "validates": True}]
    assert picked(res, "Validated or not") == (
        "**Validated or not** (1000 rows): drf-validated on wsgi validates every row at 9.50 "
        "req/s ⚠ its runs failed their checks, ×0.04 the fastest unvalidated (raw on wsgi, 238 "
        "req/s)."
    )
    # Trusted runs of a kind are preferred to untrusted faster ones, without a mark.
    res = results(untrusted={("wsgi", "raw", 1), ("wsgi", "raw", 2)})
    res.meta["plan"]["registry"] = [{"name": "drf-validated", "validates": True}]
    assert picked(res, "Validated or not") == (
        "**Validated or not** (1000 rows): drf-validated on wsgi validates every row at 9.50 "
        "req/s, ×0.05 the fastest unvalidated (raw on asgi, 209 req/s)."
    )
