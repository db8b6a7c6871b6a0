"""The ceiling (floor diagnostics), the targets' evaluation and the memory table, on
synthetic recorded rows. The targets themselves are checked by the runner on real runs;
here only the logic that judges them is tested."""
import math

import pytest

from loadtest.report import render, tables
from loadtest.report.results import Results, Row
from loadtest.report.targets import evaluate_targets


def row(server, mode, limit, repeat, rps, trustworthy=True, rss=100.0, server_cpu=99.0, loadgen_cpu=50.0):
    return Row(server=server, mode=mode, limit=limit, repeat=repeat, rps=rps, p50_ms=1.0, p95_ms=2.0, p99_ms=3.0,
               failures=0, bytes=1000, timing_ms={}, server_rss_mb=rss, trustworthy=trustworthy,
               note="" if trustworthy else "other processes used 80% of a CPU",
               server_cpu_pct=server_cpu, loadgen_cpu_pct=loadgen_cpu)


# requests/s at 1000 rows per server and endpoint, for two repeats (the second 10% slower).
MET = {
    "wsgi": {"drf-validated": 10, "drf": 20, "orjson": 150, "raw": 250, "floor": 400, "floor-async": 300},
    "asgi": {"drf-validated": 9, "drf": 18, "orjson": 210, "raw": 220, "floor": 350, "floor-async": 420},
}


def results(table=MET, limits=(1000,), repeats=2, untrusted=(), extra=()):
    rows = []
    for k in range(1, repeats + 1):
        for lim in limits:
            for server, modes in table.items():
                for mode, rps in modes.items():
                    bad = (server, mode, k) in untrusted
                    rows.append(row(server, mode, lim, k, rps * (1 - 0.1 * (k - 1)) * (1000 / lim), not bad))
    rows += list(extra)
    plan = {"modes": ["drf-validated", "drf", "orjson", "raw"], "servers": list(table)}
    return Results(rows, {"plan": plan, "database": {"max_limit": 1440}})


def by_key(res):
    targets, note = evaluate_targets(res)
    return {t.key: t for t in targets}, note


def test_diagnostics_are_not_modes():
    res = results()
    assert res.modes == ["drf-validated", "drf", "orjson", "raw"]
    assert res.diagnostics == ["floor", "floor-async"]
    md = render.render_markdown(res)
    speed = md[md.index("## Speed-up"):md.index("## ASGI and WSGI")]
    assert "floor" not in speed
    requests = md[md.index("## Requests/s"):md.index("## % of ceiling")]
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
    table = {s: {m: v for m, v in modes.items() if not m.startswith("floor")} for s, modes in MET.items()}
    res = results(table)
    assert tables.ceiling_table(res) is None
    assert "were not measured (--no-floor)" in render.render_markdown(res)
    got, _ = by_key(res)
    assert got["T1"].status == "met"
    assert got["T3"].status == got["T4 asgi"].status == "not measured"
    assert "Not run: asgi floor @1000" in got["T3"].figures


def test_all_targets_met_with_their_figures():
    got, note = by_key(results())
    assert [t.status for t in got.values()] == ["met"] * 5
    assert list(got) == ["T1", "T2", "T3", "T4 wsgi", "T4 asgi"]
    assert "raw/drf ×12.5" in got["T1"].figures and "raw/drf-validated ×25.0" in got["T1"].figures
    assert "orjson 84%, raw 88% of wsgi raw" in got["T2"].figures
    assert got["T2"].figures.endswith("The same orjson mode under asgi is 140% of itself under wsgi.")
    assert "asgi 399 req/s (floor-async), wsgi 380 req/s (floor): 105%" in got["T3"].figures
    assert "best mode raw 238 req/s, ceiling 380 req/s (floor): 62%" in got["T4 wsgi"].figures
    assert note.startswith("Evaluated from all 24 runs")


def test_targets_not_met():
    table = {s: dict(modes) for s, modes in MET.items()}
    table["wsgi"]["drf-validated"] = 13  # raw only ×19.2
    table["asgi"]["orjson"] = 150  # 60% of wsgi raw
    table["asgi"]["floor-async"] = 150  # asgi ceiling = floor 350 -> 350 / 400 still met
    table["asgi"]["raw"] = 100  # best asgi mode orjson 150 of 350: 43%
    got, _ = by_key(results(table))
    assert got["T1"].status == "not met" and "needs ×20" in got["T1"].figures
    assert got["T2"].status == "not met" and "orjson 60%" in got["T2"].figures
    assert got["T3"].status == "met"
    assert got["T4 asgi"].status == "not met" and "best mode orjson" in got["T4 asgi"].figures
    assert got["T4 wsgi"].status == "met"


def test_untrustworthy_rows_are_left_out_and_said_so():
    # Repeat 1 of wsgi raw is untrustworthy: the paired ratios use repeat 2 only.
    res = results(untrusted={("wsgi", "raw", 1)})
    got, note = by_key(res)
    assert "1 of 24 runs at 1000 rows failed their checks and were left out (wsgi raw)" in note
    assert "raw 225, drf 19.0" in got["T1"].figures  # repeat 2 alone: 250 x 0.9
    # With every run of a needed cell untrustworthy, the target is not measured.
    res = results(untrusted={("wsgi", "raw", 1), ("wsgi", "raw", 2)})
    got, _ = by_key(res)
    assert got["T1"].status == got["T2"].status == "not measured"
    assert got["T1"].figures == "No trustworthy run: wsgi raw @1000."
    assert got["T4 wsgi"].status == "not met"  # the best trustworthy mode is then orjson: 150 of 380
    assert "best mode orjson" in got["T4 wsgi"].figures


def test_targets_need_1000_rows_and_the_servers():
    got, note = by_key(results(limits=(100,)))
    assert note == "No run at 1000 rows: no target could be measured."
    assert all(t.status == "not measured" for t in got.values())
    only_asgi = results({"asgi": MET["asgi"]})
    got, _ = by_key(only_asgi)
    assert got["T1"].figures.startswith("Not run: wsgi raw @1000")
    assert "T4 wsgi" not in got and got["T4 asgi"].status == "met"


def test_targets_section_comes_first_and_is_printed():
    res = results()
    md = render.render_markdown(res)
    assert md.index("## Targets") < md.index("## At a glance") < md.index("## % of ceiling")
    assert "| T3 | MET |" in md
    text = render.summary_text(res)
    assert "Targets at 1000 rows:" in text and "T4 asgi MET" in text
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
    rows = [r if (r.server, r.mode) != ("wsgi", "floor") else
            row("wsgi", "floor", 1000, r.repeat, r.rps, server_cpu=75.0, loadgen_cpu=88.0) for r in res.rows]
    res = Results(rows, res.meta)
    why = res.ceiling_limited_by("wsgi", 1000)
    assert why == "lower bound: the server used 75% of its core, the load generator 88% of its own"
    table = tables.ceiling_table(res)
    assert {r[0]: r for r in table.rows}["ceiling = the higher one"][table.headers.index("wsgi @1000")] == "floor ↓"
    got, _ = by_key(res)
    assert got["T4 wsgi"].figures.endswith(f"Caution, ceiling {why}.")
    assert got["T3"].figures.endswith(f"Caution, wsgi {why}.")
    assert "Caution" not in got["T4 asgi"].figures


def test_t4_estimates_how_far_the_database_alone_lets_any_mode_go():
    res = results()
    assert "Estimate" not in by_key(res)[0]["T4 wsgi"].figures  # no micro benchmark recorded
    # wsgi ceiling 380 req/s: 2.63 ms a request; fetching the rows 1.0 ms, the JSON 2.0 ms.
    alone = {"limit": 1000, "rows_ms": 1.0, "json_ms": 2.0, "json_same_document": True, "json_same_bytes": True}
    res = Results(res.rows, {**res.meta, "micro": {"rows": [], "database": "sqlite", "database_alone": [alone]}})
    got = by_key(res)[0]
    assert got["T4 wsgi"].figures.endswith(
        "Estimate: in-process the database alone needs 1.00 ms to hand 1000 rows to Python (2.00 ms to write the "
        "JSON itself) against 2.63 ms for the ceiling's whole request; if these add up on one core, a mode that "
        "reads the rows reaches about 72% of the ceiling at best, one that has the database write the JSON 57%.")
    assert "Estimate" in got["T4 asgi"].figures
    table = tables.micro_table(res)
    assert ["database alone: fetch the rows", "1.00 ms", "-", "-"] in table.rows
    assert "⚠" not in table.caption
    # With a database server, the asgi event loop works while a query waits: no estimate there.
    differs = dict(alone, json_same_document=False)
    res = Results(res.rows, {**res.meta, "micro": {"rows": [], "database": "postgresql", "database_alone": [differs]}})
    got = by_key(res)[0]
    assert "Estimate" not in got["T4 asgi"].figures
    assert "(2.00 ms to write the JSON itself, a document with other values)" in got["T4 wsgi"].figures
    assert "⚠ At 1000 rows the database's JSON had other values" in tables.micro_table(res).caption


def test_t1_gives_the_fitted_costs_behind_its_ratios_when_there_are_three_limits():
    assert "Fitted" not in by_key(results())[0]["T1"].figures  # one limit: nothing to fit
    figures = by_key(results(limits=(10, 100, 1000)))[0]["T1"].figures
    assert figures.endswith("Fitted cost per request: raw 0.00 ms + 4.2 µs/row, drf 0.00 ms + 52.6 µs/row, "
                            "drf-validated 0.00 ms + 105.3 µs/row.")
    # Two limits: a line through two points shows no error, so no figure is given as a result.
    figures = by_key(results(limits=(100, 1000)))[0]["T1"].figures
    assert "Fitted cost per request: fit unreliable (raw: only two limits" in figures
    assert "µs/row" not in figures


def test_a_target_is_one_id_one_owner_and_its_text_follows_its_thresholds():
    import dataclasses

    from loadtest.report.targets import TARGETS

    assert [t.id for t in TARGETS] == ["T1", "T2", "T3", "T4"] and all(t.owner for t in TARGETS)
    t1 = TARGETS[0]
    assert by_key(results())[0]["T1"].goal == "under wsgi at 1000 rows, raw >= 10x drf and >= 20x drf-validated"
    # Raise one threshold: the goal, the figures and the verdict change with it.
    stricter = dataclasses.replace(t1, thresholds={**t1.thresholds, "raw/drf": 15.0})
    (result,), _ = evaluate_targets(results(), targets=(stricter,))
    assert result.goal == "under wsgi at 1000 rows, raw >= 15x drf and >= 20x drf-validated"
    assert "(needs ×15)" in result.figures and result.status == "not met"  # raw/drf is ×12.5
    t2 = dataclasses.replace(TARGETS[1], thresholds={"of wsgi raw": 0.9})
    (result,), _ = evaluate_targets(results(), targets=(t2,))
    assert "each >= 90% of raw under wsgi" in result.goal and "(needs 90%)" in result.figures
