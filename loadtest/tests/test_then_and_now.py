"""The case study at its source (issue 28) without a server: the plan of a then-and-now session
(each stack's servers asked only for the modes that stack serves, the study's load profile after
the runs), the documents of a stack that writes the same data another way, and the report's
then-and-now table, model, load profile and goals G15-G17 on synthetic recorded rows. The live
run: test_then_and_now_live.py."""

from pathlib import Path

import pytest

from loadtest import bench
from loadtest.axes import Deployment
from loadtest.cli import PROJECT_ROOT, CheckError
from loadtest.report import render
from loadtest.report.goals import GOALS, evaluate_goals
from loadtest.report.pick import pick_study_lesson, what_to_pick
from loadtest.report.results import Results, Row
from loadtest.report.then_and_now import (
    per_rows_ms,
    stacks_measured,
    study_model_table,
    study_profile_note,
    study_profile_table,
    then_and_now_table,
    versions_table,
)
from loadtest.serving import stacks
from loadtest.serving.checks import Document, spelled_differently, spelling
from loadtest.serving.modes import ModeMap, registry_entries

OLD = ("2023-08", "2023-08-fresh")
THEN_AND_NOW = ["--stacks", "today,2023-08,2023-08-fresh", "--servers", "fastapi,wsgi"]


@pytest.fixture
def built(monkeypatch):
    """Every stack of stacks/ built, as far as the plan can tell (no interpreter is run)."""
    monkeypatch.setattr(
        stacks, "usable_stacks", lambda names, **_: ({n: Path(f"/{n}/python") for n in names}, [])
    )
    monkeypatch.setattr(stacks, "stack_python", lambda name, **_: Path(f"/{name}/python"))


def plan_for(argv):
    return bench.make_plan(bench.build_parser().parse_args(argv), registry_entries(), 1440)


# -- the plan ---------------------------------------------------------------------------------


def test_each_stacks_servers_are_asked_only_for_the_modes_that_stack_serves(built):
    plan = plan_for([*THEN_AND_NOW, "--limits", "1,1000"])
    assert plan.servers == [
        "fastapi",
        "fastapi+stack=2023-08",
        "fastapi+stack=2023-08-fresh",
        "wsgi",
        "wsgi+stack=2023-08",
        "wsgi+stack=2023-08-fresh",
    ]
    assert plan.axes["stack"] == ["today", *OLD]
    study = ["fastapi-model", "fastapi-dict", "fastapi-orjson", "floor"]
    for label in plan.servers[:3]:
        assert plan.endpoints_on(label, 1) == plan.endpoints_on(label, 1000) == study
    today = plan.modes_on("wsgi")
    # django-ninja 0.22 (Pydantic v1) on 2023-08, Pydantic v2's TypeAdapter on 2023-08-fresh.
    assert plan.modes_on("wsgi+stack=2023-08") == [m for m in today if m != "pydantic"]
    assert plan.modes_on("wsgi+stack=2023-08-fresh") == [m for m in today if "ninja" not in m]
    assert {"bolt", "bolt-raw"}.isdisjoint(m for s in plan.servers for m in plan.modes_on(s))
    assert plan.left_out == []
    # The study's own profile after the runs, its response_model variant on every stack.
    assert plan.study_profile == [(label, "fastapi-model") for label in plan.servers[:3]]
    assert "then the case study's load profile (60 users x 5 requests) @1000" in (
        plan.describe_servers()
    )


def test_a_server_whose_stack_serves_none_of_its_modes_asked_for_is_left_out(built):
    plan = plan_for(["--stacks", "today,2023-08", "--servers", "wsgi", "--modes", "pydantic"])
    assert plan.servers == ["wsgi"]
    assert plan.left_out == [
        "wsgi+stack=2023-08 left out: stack 2023-08 serves none of its modes asked for (pydantic)"
    ]
    with pytest.raises(CheckError, match=r"^wsgi\+stack=2023-08 left out: stack 2023-08 serves"):
        plan_for(["--stacks", "2023-08", "--servers", "wsgi", "--modes", "pydantic"])


def test_the_study_profile_needs_its_stack_and_the_steady_profile(built):
    assert plan_for(["--stacks", "today", "--servers", "fastapi"]).study_profile == []
    assert plan_for([*THEN_AND_NOW, "--limits", "1"]).study_profile == []  # no 1000 rows
    assert plan_for([*THEN_AND_NOW, "--profile", "seed"]).study_profile == []
    plan = plan_for([*THEN_AND_NOW, "--repeats", "2"])
    without = plan.estimate_s()
    plan.study_profile = []
    assert without > plan.estimate_s()  # the estimate counts it


def test_the_registry_says_each_modes_stacks_and_an_older_one_means_every_stack():
    modes = ModeMap(registry_entries())
    assert modes.entries["raw"]["stacks"] is None
    assert modes.entries["bolt"]["stacks"] == ["today"]
    assert not modes.runs_on_stack("ninja", "2023-08-fresh")
    assert modes.runs_on_stack("ninja", "2023-08") and modes.runs_on_stack("raw", "2023-08")
    older = ModeMap([{"name": "bolt", "servers": ["bolt"], "django": False, "diagnostic": False}])
    assert older.runs_on_stack("bolt", "2023-08")


# -- documents --------------------------------------------------------------------------------


def test_a_stack_that_writes_utc_as_an_offset_is_told_apart_from_another_spelling():
    z = b'{"data":[{"basetm":"2023-08-24T00:00:00Z","o":1.0}]}'
    offset = z.replace(b'Z"', b'+00:00"')
    assert spelling(z, z) == ""
    assert spelling(offset, z) == "UTC as +00:00"
    assert spelling(offset.replace(b"1.0", b"1"), z) == "another JSON spelling"
    documents = {
        ("fastapi-model", 1): Document(offset, len(offset)),
        ("fastapi-orjson", 1): Document(offset, len(offset)),
        ("fastapi-model", 100): Document(offset, len(offset)),
        ("raw", 1): Document(z, len(z)),
    }
    reference = {1: ("wsgi raw", z)}
    assert spelled_differently(documents, reference) == {
        "fastapi-model": "UTC as +00:00",
        "fastapi-orjson": "UTC as +00:00",
    }


# -- the report -------------------------------------------------------------------------------

# req/s of (server, stack, mode) at 1 and 1000 rows; the second repeat 10% slower.
MEASURED = {
    ("fastapi", "2023-08", "fastapi-model"): (1500, 13.6),
    ("fastapi", "2023-08", "fastapi-dict"): (1600, 21.9),
    ("fastapi", "2023-08", "fastapi-orjson"): (1800, 300),
    ("fastapi", "today", "fastapi-model"): (2000, 255),
    ("fastapi", "today", "fastapi-dict"): (2100, 59),
    ("fastapi", "today", "fastapi-orjson"): (2200, 300),
    ("wsgi", "2023-08", "drf-validated"): (500, 18),
    ("wsgi", "today", "drf-validated"): (450, 16),
    ("wsgi", "2023-08", "drf"): (600, 40),
    ("wsgi", "today", "drf"): (500, 38),
    ("wsgi", "2023-08", "ninja"): (700, 30),
    ("wsgi", "today", "ninja"): (650, 44),
    ("wsgi", "2023-08-fresh", "drf"): (610, 41),
}
VERSIONS = {
    "2023-08": {
        "name": "2023-08",
        "python": "3.11.7",
        "fastapi": "0.99.1",
        "pydantic": "1.10.12",
        "pydantic_compiled": True,
        "pydantic_core": None,
        "starlette": "0.27.0",
        "uvicorn": "0.23.2",
        "django": "4.2.4",
        "djangorestframework": "3.14.0",
        "django_ninja": "0.22.2",
    },
    "today": {
        "name": "today",
        "python": "3.13.0",
        "fastapi": "0.163.2",
        "pydantic": "2.14.4",
        "pydantic_compiled": None,
        "pydantic_core": "2.50.5",
        "django_ninja": "1.7.1",
    },
}


def row(server, stack, mode, limit, repeat, rps, **kw):
    return Row(
        server, mode, limit, repeat, rps, deployment=Deployment(stack=stack), trustworthy=True, **kw
    )


def stack_results(measured=MEASURED, seed=()) -> Results:
    rows = [
        row(server, stack, mode, limit, repeat, rps * (1 if repeat == 1 else 0.9))
        for (server, stack, mode), by_limit in measured.items()
        for limit, rps in zip((1, 1000), by_limit)
        for repeat in (1, 2)
    ]
    meta = {
        "plan": {"axes": {"stack": ["today", *OLD]}, "registry": []},
        "stacks": VERSIONS,
        "on_todays_stack": ["the micro benchmark"],
        "spelled_differently": {
            "fastapi+stack=2023-08": {"fastapi-model": "UTC as +00:00"},
        },
    }
    res = Results(rows, meta)
    res.seed = list(seed)
    return res


def test_the_then_and_now_table_sets_each_stack_beside_the_studys_figures():
    res = stack_results()
    assert stacks_measured(res) == ["2023-08", "2023-08-fresh", "today"]  # the oldest first
    table = then_and_now_table(res)
    assert table.headers == [
        "variant",
        "server",
        "2023-08: 1 row",
        "2023-08: 1000 rows",
        "2023-08-fresh: 1 row",
        "2023-08-fresh: 1000 rows",
        "today: 1 row",
        "today: 1000 rows",
        "today ÷ 2023-08 @1000",
        "the study published (its machine)",
    ]
    rows = {(r[1], r[0]): r for r in table.rows}
    # The study's app first, then the Django modes; a mode measured on two stacks or more.
    assert [r[0] for r in table.rows] == [
        "fastapi-model",
        "fastapi-dict",
        "fastapi-orjson",
        "drf-validated",
        "drf",
        "ninja",
    ]
    # Medians of the repeats (the second 10% slower); the ratio within each repeat.
    assert rows[("fastapi", "fastapi-model")][2:] == [
        "1,425",
        "12.9",
        "-",
        "-",
        "1,900",
        "242",
        "×18.8",
        "74 / ~12 (~10 over repeated runs)",
    ]
    assert rows[("fastapi", "fastapi-orjson")][-1] == "~4x fastapi-model's (~48)"
    assert rows[("wsgi", "drf")][2:9] == ["570", "38.0", "580", "39.0", "475", "36.1", "×0.95"]
    assert rows[("wsgi", "ninja")][4:6] == ["-", "-"]  # no ninja on 2023-08-fresh
    # The study's stack at 1000 rows only (make bench): no column of 1 row.
    at_1000 = {k: v if k[1] == "today" else (float("nan"), v[1]) for k, v in MEASURED.items()}
    res = stack_results(at_1000)
    res = Results([r for r in res.rows if r.rps == r.rps], res.meta)  # the NaN runs never ran
    assert then_and_now_table(res).headers[2:5] == [
        "2023-08: 1000 rows",
        "2023-08-fresh: 1000 rows",
        "today: 1000 rows",
    ]
    # One stack measured: no table.
    today = {k: v for k, v in MEASURED.items() if k[1] == "today"}
    assert then_and_now_table(stack_results(today)) is None


def test_the_versions_of_each_stack_and_pydantic_compiled_or_its_core():
    table = versions_table(stack_results())
    assert table.headers[:4] == ["stack", "Python", "FastAPI", "Pydantic"]
    assert table.rows[0][:4] == ["2023-08", "3.11.7", "0.99.1", "1.10.12 (compiled)"]
    assert table.rows[1][:4] == ["today", "3.13.0", "0.163.2", "2.14.4 (pydantic-core 2.50.5)"]
    assert table.rows[1][-2] == "-"  # DRF not recorded: not installed


def test_the_model_of_the_studys_figure_is_its_fixed_cost_plus_the_rows_measured_on_its_stack():
    res = stack_results()
    added = per_rows_ms(res, "fastapi+stack=2023-08", "fastapi-model")
    # Medians of the two repeats: 1500 and 1350 -> 1425 at 1 row, 13.6 and 12.24 -> 12.92.
    assert added == pytest.approx(1000 / 12.92 - 1000 / 1425)
    table = study_model_table(res)
    model = {r[0]: r for r in table.rows}
    assert model["fastapi-model"][3:] == [
        "76.7",
        f"{1000 / (1000 / 74 + added):.1f}",
        "~12 (~10 over repeated runs)",
    ]
    assert model["fastapi-model"][4] == "11.1"
    assert table.caption.startswith("A model, labelled as one: ")
    assert "1/74 s = 13.5 ms" in table.caption


def test_the_studys_load_profile_with_its_slowest_response_and_why_it_is_the_queue():
    seed = [
        row("fastapi", "2023-08", "fastapi-model", 1000, 1, 12.5, requests=300, max_ms=7900.0),
        row("fastapi", "today", "fastapi-model", 1000, 1, 240, requests=300, max_ms=400.0),
    ]
    res = stack_results(seed=seed)
    table = study_profile_table(res)
    assert [r[0] for r in table.rows] == ["fastapi+stack=2023-08", "fastapi"]
    assert table.rows[0][4:] == ["12.5", "80.0", "4.80", "-", "7.90", "~8"]
    assert table.rows[1][-1] == ""  # the study gave its figure for its own stack only
    note = study_profile_note(res)
    assert "60 users keep 60 requests at one process serving ~12.5 per second" in note
    assert "60 ÷ 12.5 = 4.80 s" in note and "the slowest (7.90 s here, the study's ~8 s)" in note


def by_key(res):
    results, _ = evaluate_goals(res)
    return {r.key: r for r in results}


def test_the_studys_goals_on_its_stack_and_today():
    got = by_key(stack_results())
    assert [g.id for g in GOALS][-3:] == ["G15", "G16", "G17"]
    assert got["G15"].status == "met"
    assert got["G15"].figures.startswith(
        "fastapi-model 12.9, fastapi-dict 20.8, fastapi-orjson 285 req/s: dict/model ×1.61 (needs "
        "1.3x-2.2x), orjson/dict ×13.7 (needs > ×1)"
    )
    assert got["G16"].status == "met"
    assert got["G16"].figures == (
        "fastapi-model 242 req/s on today, 12.9 on 2023-08: ×18.8 (needs ×10); on today "
        "fastapi-dict 56.0 req/s: model/dict ×4.32 (needs > ×1)."
    )
    # The Django modes of 2023 against today's: the ratio, whatever it is.
    assert got["G17 wsgi drf"].status == "reported"
    assert got["G17 wsgi drf"].figures == "36.1 req/s on today, 38.0 on 2023-08: ×0.95."
    assert got["G17 wsgi ninja"].figures.endswith(": ×1.47.")


def test_the_studys_goals_not_met_say_the_figure():
    measured = {**MEASURED, ("fastapi", "2023-08", "fastapi-dict"): (1600, 40)}
    measured[("fastapi", "today", "fastapi-dict")] = (2100, 300)
    got = by_key(stack_results(measured))
    assert got["G15"].status == "not met" and "dict/model ×2.94 (needs 1.3x-2.2x)" in (
        got["G15"].figures
    )
    assert got["G16"].status == "not met" and "model/dict ×0.85 (needs > ×1)" in got["G16"].figures


def test_a_run_of_one_stack_points_at_the_then_and_now_run():
    today = {k: v for k, v in MEASURED.items() if k[1] == "today"}
    got = by_key(stack_results(today))
    for goal in ("G15", "G16", "G17"):
        assert got[goal].status == "not measured"
        assert "`make then-and-now`" in got[goal].figures
    assert "G17 wsgi drf" not in got


def test_what_to_pick_says_what_the_studys_lesson_means_now():
    line = pick_study_lesson(stack_results())
    assert line == (
        "**The case study's lesson now**: on its 2023-08 stack dropping response_model served "
        "×1.61 (the study: ~1.7x); today response_model is the faster path (×4.32 the dict path) "
        "and serves ×18.8 what it did on 2023-08; DRF, which has no Pydantic, still pays for its "
        "second pass (dropping it serves ×2.22 on 2023-08 (wsgi), ×2.38 on today (wsgi))."
    )
    # A run of today's stack alone: today's order, and where the stacks of 2023 are.
    today = {k: v for k, v in MEASURED.items() if k[1] == "today"}
    assert pick_study_lesson(stack_results(today)).startswith(
        "**The case study's lesson now**: on today's stack response_model is FastAPI's faster "
        "path (fastapi-model ×4.32 fastapi-dict here"
    )


def test_what_to_pick_is_a_list_of_small_functions_one_line_each():
    def lines(*picks):
        return what_to_pick(stack_results(), picks)

    assert lines() == []
    assert lines(lambda res: "**Cache**: on.", lambda res: None) == ["**Cache**: on."]


def test_the_report_has_the_then_and_now_section_after_the_frameworks_table():
    res = stack_results()
    md = render.render_markdown(res)
    section = md[md.index("## Then and now") : md.index("## Goals")]
    assert md.index("## Frameworks and servers") < md.index("## Then and now")
    assert "| today ÷ 2023-08 @1000 |" in section and "| 2023-08 | 3.11.7 |" in section
    assert "The case study's lesson: on its 2023-08 stack" in section
    assert (
        "dropping that second pass (drf-validated → drf) serves ×2.22 on 2023-08 (wsgi), ×2.38"
        in (section)
    )
    assert "fastapi+stack=2023-08's fastapi-model (UTC as +00:00) wrote the same document" in (
        section
    )
    assert "A model, labelled as one" in section
    assert "these ran on today's interpreter and measured nothing of another stack: the micro" in (
        section
    )
    # The frameworks table (today's stack) says where the study's figures are measured.
    frameworks = md[md.index("## Frameworks and servers") : md.index("## Then and now")]
    assert "the case study, on its 2023-08 stack" in frameworks
    assert "the then-and-now table below" in frameworks
    assert "Then and now: requests/s" in render.summary_text(res)
    page = render.render_html(res)
    assert page.index("<h2>Then and now") < page.index("<h2>Goals</h2>")


def test_the_committed_run_behind_the_readmes_verdict_still_draws_it():
    """docs/results/2026-12-07-then-and-now, redrawn by today's code: the README's table and
    the goals it quotes."""
    res = Results.load(PROJECT_ROOT / "docs" / "results" / "2026-12-07-then-and-now")
    rows = {(r[1], r[0]): r for r in then_and_now_table(res).rows}
    at_1000 = {mode: (r[3], r[7], r[8]) for (_, mode), r in rows.items()}
    assert at_1000["fastapi-model"] == ("17.3", "235", "×13.2")
    assert at_1000["fastapi-dict"] == ("26.0", "63.3", "×2.46")
    assert at_1000["fastapi-orjson"] == ("398", "400", "×1.03")
    assert at_1000["drf-validated"][2] == "×1.04" and at_1000["ninja"][2] == "×2.30"
    got = by_key(res)
    assert (got["G15"].status, got["G16"].status) == ("met", "met")
    assert "dict/model ×1.44" in got["G15"].figures
    assert [r[4] for r in study_model_table(res).rows] == ["14.1", "19.3", "63.3"]
    assert max(r.max_ms for r in res.seed if r.deployment["stack"] == "2023-08") == pytest.approx(
        3705, abs=1
    )
