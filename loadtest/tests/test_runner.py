"""The runner's plan, its per-run checks and its bookkeeping (no server, no Locust)."""

import math
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from candles.api.registry import django_modes
from loadtest import bench, session, steps
from loadtest import plan as plan_module
from loadtest.cli import CheckError, fmt_duration
from loadtest.load.wrk import estimate_s as wrk_estimate_s
from loadtest.run_checks import untrustworthy_reasons
from loadtest.serving import stacks
from loadtest.serving.modes import registry_entries
from loadtest.serving.servers import SERVERS
from loadtest.serving.settings_probe import is_local_postgres, refuse_debug
from loadtest.stats import summarize

DJANGO = [
    "drf-validated",
    "drf",
    "drf-orjson",
    "drf-values",
    "ninja",
    "ninja-orjson",
    "ninja-values",
    "ninja-basemodel",
    "json",
    "pydantic",
    "orjson",
    "msgspec",
    "raw",
    "raw-msgspec",
]


def plan_for(argv, max_limit=1440):
    return bench.make_plan(bench.build_parser().parse_args(argv), registry_entries(), max_limit)


@pytest.fixture
def study_stack(monkeypatch):
    """Whether the case study's stack is built here, as the test says (`built(True)`)."""

    def built(ready: bool) -> None:
        def stack_python(name, **_):
            if ready:
                return Path(f"/stacks/{name}/bin/python")
            raise CheckError("install it")

        monkeypatch.setattr(stacks, "stack_python", stack_python)

    return built


def test_default_plan_every_server_at_1000_rows_and_wsgi_at_three_limits(study_stack):
    study_stack(True)
    plan = plan_for([])
    assert plan.servers == [
        "asgi",
        "wsgi",
        "wsgi+django-gzip",
        "wsgi+zstd-1",
        "asgi-stock",
        "granian-wsgi",
        "granian-asgi",
        "fastapi",
        "fastapi+stack=2023-08",
        "bolt",
    ]
    assert plan.limits == [1, 100, 1000]
    assert plan.profile == "steady" and plan.users == 16
    cells = {(s, lim): plan.endpoints_on(s, lim) for s in plan.servers for lim in plan.limits_on(s)}
    # Every Django mode and the ceiling at 1000 rows; floor-async only where it can be the ceiling
    # (ASGI); the steps that take DRF and ninja apart on wsgi only.
    assert plan_module.STEP_SERVER == "wsgi"
    assert cells[("wsgi", 1000)] == [*DJANGO, "floor"]
    assert cells[("asgi", 1000)] == [
        *(m for m in DJANGO if m not in plan_module.STEP_MODES),
        "floor",
        "floor-async",
    ]
    assert set(plan_module.STEP_MODES) < set(DJANGO)
    # Three limits for the per-row fit of the ladder's two ends, on gunicorn.
    assert cells[("wsgi", 1)] == cells[("wsgi", 100)] == list(plan_module.LADDER_MODES)
    assert plan.limits_on("asgi") == [1000]
    # The other servers at 1000 rows only; a server's own modes all run.
    assert cells[("asgi-stock", 1000)] == ["raw", "floor", "floor-async"]
    assert cells[("granian-wsgi", 1000)] == ["raw", "floor"]
    assert cells[("fastapi", 1000)] == ["fastapi-model", "fastapi-dict", "fastapi-orjson", "floor"]
    # The case study's app on its own stack too, when built: its three variants, no ceiling.
    assert cells[("fastapi+stack=2023-08", 1000)] == [
        "fastapi-model",
        "fastapi-dict",
        "fastapi-orjson",
    ]
    assert plan.axes["stack"] == ["today", "2023-08"] and plan.study_profile == []
    assert cells[("bolt", 1000)] == ["bolt", "bolt-raw", "floor"]
    # Compression: raw, msgspec and drf on wsgi at 1000 rows under django-gzip and the
    # recommended setup too (beside none); no ceiling.
    for setup in ("django-gzip", "zstd-1"):
        assert cells[(f"wsgi+{setup}", 1000)] == ["drf", "msgspec", "raw"]
    assert plan.axes["compression"] == ["none", "django-gzip", "zstd-1"]
    assert {lim for s, lim in cells if s not in ("asgi", "wsgi")} == {1000}
    runs = plan.runs()
    assert len(runs) == sum(map(len, cells.values())) * plan.repeats
    # wrk checks the headline cells of asgi and wsgi, uncompressed, by default.
    assert plan.wrk_cells() == [("asgi", "raw"), ("asgi", "drf"), ("wsgi", "raw"), ("wsgi", "drf")]
    # Budget of `make bench` (docs/methodology.md): the runner's own estimate of the session
    # (server start-up, runs, sweeps, the wrk check, micro and the instruction ladder) under
    # 9.5 min; the estimates run ~10-15% above what a fresh-clone run measures, and the venv and
    # seeding add ~1 min, so that it stays under 10 min.
    session = (
        plan.estimate_s()
        + wrk_estimate_s(len(plan.wrk_cells()), plan.repeats, plan.duration)
        + steps.MICRO_ESTIMATE_S
        + steps.INSTRUCTIONS_ESTIMATE_S
    )
    assert session < 9.5 * 60


def test_the_estimate_counts_runs_and_server_start_up():
    plan = plan_for(["--servers", "bolt", "--repeats", "1"])
    per_run = plan.warmup + plan.duration + plan_module.RUN_OVERHEAD_S
    assert plan.estimate_s() == pytest.approx(3 * per_run + SERVERS["bolt"].startup_s)


def test_the_study_stack_is_left_out_of_the_default_plan_saying_so_when_not_built(
    study_stack, monkeypatch
):
    study_stack(False)
    monkeypatch.setenv("CANDLEBENCH_REQUIRE_TOOLS", "1")  # not asked for: never an error
    plan = plan_for([])
    assert "fastapi+stack=2023-08" not in plan.servers and plan.axes["stack"] == ["today"]
    assert plan.left_out == ["stack 2023-08 left out: install it"]
    assert plan.describe_servers().endswith("\n  (stack 2023-08 left out: install it)")
    # --modes, --limits or --stacks cut the plan themselves: no look at the study's stack.
    study_stack(True)
    fastapi = ["--servers", "fastapi"]
    for argv in (
        [*fastapi, "--modes", "fastapi-model"],
        [*fastapi, "--limits", "1000"],
        ["--stacks", "today"],
    ):
        assert "fastapi+stack=2023-08" not in plan_for(argv).servers


def test_full_plan_is_the_whole_matrix(study_stack):
    study_stack(False)
    plan = plan_for(["--full"])
    compressed = ["wsgi+django-gzip", "wsgi+zstd-1"]
    assert [s for s in plan.servers if s not in compressed] == list(SERVERS)
    assert plan.repeats == 3 and plan.duration > plan_for([]).duration
    # The compression cut at every limit: its per-row cost.
    assert plan.endpoints_on("wsgi+zstd-1", 1) == ["drf", "msgspec", "raw"]
    assert all(plan.limits_on(s) == [1, 100, 1000, 1440] for s in plan.servers)
    assert plan.endpoints_on("wsgi", 1) == [*DJANGO, "floor", "floor-async"]
    assert plan.endpoints_on("bolt", 1) == ["bolt", "bolt-raw", "floor"]


def test_modes_filter_within_each_server_and_own_modes_always_run():
    plan = plan_for(["--modes", "raw,bolt", "--servers", "asgi,fastapi,bolt", "--no-floor"])
    assert plan.endpoints_on("asgi") == ["raw"]
    assert plan.endpoints_on("bolt") == ["bolt"]  # --modes names one of its modes
    assert plan.endpoints_on("fastapi") == [
        "fastapi-model",
        "fastapi-dict",
        "fastapi-orjson",
    ]  # it names none
    # Explicit --limits: every server at every limit.
    plan = plan_for(["--servers", "fastapi,bolt", "--limits", "1,1000"])
    assert plan.limits_on("fastapi") == plan.limits_on("bolt") == [1, 1000]


def test_a_django_server_without_any_mode_asked_for_is_refused():
    with pytest.raises(CheckError, match=r"^asgi serves none of the modes asked for \(bolt\)"):
        plan_for(["--modes", "bolt", "--servers", "asgi,bolt"])


def test_runs_are_interleaved_repeat_limit_server_mode():
    plan = plan_for(
        [
            "--modes",
            "raw,drf",
            "--limits",
            "1000,1",
            "--repeats",
            "2",
            "--no-floor",
            "--servers",
            "asgi,wsgi",
        ]
    )
    assert plan.modes == ["drf", "raw"]  # report order, whatever the option's order
    assert plan.diagnostics == []
    runs = plan.runs()
    assert runs[:5] == [
        (1, 1, "asgi", "drf"),
        (1, 1, "asgi", "raw"),
        (1, 1, "wsgi", "drf"),
        (1, 1, "wsgi", "raw"),
        (1, 1000, "asgi", "drf"),
    ]
    # The second repeat goes backwards through servers and modes.
    assert runs[8:10] == [(2, 1, "wsgi", "raw"), (2, 1, "wsgi", "drf")]
    assert len(set(runs)) == len(runs) == 16


def test_seed_profile_defaults_to_the_case_studys_60_users():
    plan = plan_for(["--profile", "seed"])
    assert plan.users == 60 and plan.requests_per_user == 5
    assert "300 per run" in plan.describe_load()


@pytest.mark.parametrize(
    "argv",
    [
        ["--modes", "nope"],
        ["--servers", "iis"],
        ["--limits", "0"],
        ["--limits", "1441"],
        ["--repeats", "0"],
        ["--modes", "floor"],
    ],
)
def test_bad_options_are_refused(argv):
    with pytest.raises(CheckError):
        plan_for(argv)


def test_debug_on_is_refused():
    with pytest.raises(CheckError, match="DEBUG"):
        refuse_debug({"debug": True})
    refuse_debug({"debug": False})


def measurement(**kw):
    base = {
        "locust_cpu_warning": False,
        "loadgen_cpu_pct": 40.0,
        "other_cpu_pct": 2.0,
        "warmup_complete": True,
        "warmup_s": 0.6,
        "notes": [],
        "busiest": "",
    }
    base.update(kw)
    return SimpleNamespace(**base)


def run_stats(n=100, failures=0, sizes=(100,)):
    samples = [(0.0, 0.5, 5.0, i >= failures, sizes[i % len(sizes)], "", "x") for i in range(n)]
    return summarize(samples, 1.0)


def test_a_clean_run_is_trustworthy():
    assert untrustworthy_reasons(run_stats(), measurement()) == []


@pytest.mark.parametrize(
    "stats_kw,measure_kw,expected",
    [
        ({"failures": 3}, {}, "3 failed request(s)"),
        ({}, {"locust_cpu_warning": True}, "Locust CPU warning"),
        ({}, {"loadgen_cpu_pct": 93.0}, "load generator at 93% CPU"),
        ({}, {"other_cpu_pct": 60.0}, "other processes used 60% of a CPU"),
        ({"n": 12}, {}, "only 12 requests measured"),
        ({}, {"warmup_complete": False, "warmup_s": 10.0}, "warm-up incomplete after 10.0 s"),
        ({"sizes": (100, 90)}, {}, "body sizes varied: 90, 100"),
    ],
)
def test_each_check_marks_the_run(stats_kw, measure_kw, expected):
    reasons = untrustworthy_reasons(run_stats(**stats_kw), measurement(**measure_kw))
    assert reasons == [expected]


def test_cpu_layout_pins_server_and_load_generator_apart(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    layout = session.cpu_layout(1)
    assert (layout.server, layout.loadgen) == ({0}, {1})
    assert "server pinned to CPU 0" in layout.text
    assert "cannot add capacity" in session.cpu_layout(4).text
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    layout = session.cpu_layout(1)
    assert layout.server is None and layout.loadgen is None and "only 1 CPU" in layout.text


def test_local_postgres_detection():
    assert is_local_postgres({"vendor": "postgresql", "host": "127.0.0.1"})
    assert is_local_postgres({"vendor": "postgresql", "host": "/var/run/postgresql"})
    assert not is_local_postgres({"vendor": "postgresql", "host": "db.example"})
    assert not is_local_postgres({"vendor": "sqlite", "host": ""})


def test_number_formatting_in_the_csv():
    from loadtest.report.results import Row, to_csv

    cells = to_csv(Row("asgi", "raw", 1000, 1, rps=1.23456, p50_ms=math.nan))
    assert cells["rps"] == "1.23"
    assert cells["p50_ms"] == ""
    assert fmt_duration(125.4) == "2:05"


def test_floor_diagnostics_run_after_the_modes_at_every_server_and_limit():
    plan = plan_for(
        ["--modes", "raw", "--limits", "1000", "--repeats", "2", "--servers", "asgi,wsgi"]
    )
    assert plan.modes == ["raw"] and plan.endpoints_on("asgi") == ["raw", "floor", "floor-async"]
    runs = plan.runs()
    assert runs[:3] == [
        (1, 1000, "asgi", "raw"),
        (1, 1000, "asgi", "floor"),
        (1, 1000, "asgi", "floor-async"),
    ]
    # Backwards in the second repeat, like the modes; wsgi measures only the sync floor.
    assert runs[5:8] == [
        (2, 1000, "wsgi", "floor"),
        (2, 1000, "wsgi", "raw"),
        (2, 1000, "asgi", "floor-async"),
    ]
    assert len(runs) == 5 * 2


def test_every_command_names_its_results_directory_alike(tmp_path):
    from datetime import UTC, datetime

    from loadtest import soak, spike
    from loadtest.cli import create_results_dir

    started = datetime(2026, 11, 25, 1, 2, 3, tzinfo=UTC)
    assert (
        create_results_dir(None, started, root=tmp_path) == tmp_path.resolve() / "20261125-010203"
    )
    assert (
        create_results_dir(None, started, "soak", root=tmp_path)
        == tmp_path.resolve() / "20261125-010203-soak"
    )
    assert create_results_dir(tmp_path / "mine", started, "spike") == (tmp_path / "mine").resolve()
    for parser in (bench.build_parser(), spike.build_parser(), soak.build_parser()):
        args = parser.parse_args(
            ["--pair", "binance/USDT/ETH", "--interval", "5m", "--out", "x", "--force"]
        )
        assert (args.pair, args.interval, str(args.out), args.force) == (
            "binance/USDT/ETH",
            "5m",
            "x",
            True,
        )
    assert "<timestamp>-soak" in soak.build_parser().format_help()


def test_unknown_mode_is_refused_in_one_line():
    with pytest.raises(
        CheckError, match=r"^unknown mode\(s\): nope \(the project has drf-validated, .*, bolt, "
    ):
        plan_for(["--modes", "raw,nope"])


def test_the_probe_reads_a_projects_own_mode_from_its_settings(monkeypatch):
    """The registry the runner plans from is the servers' (DJANGO_SETTINGS_MODULE's), own modes included."""
    from loadtest.serving.settings_probe import probe_settings
    from loadtest.session import server_env

    monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "candles.tests.own_mode_settings")
    monkeypatch.delenv("DJANGO_DEBUG", raising=False)
    registry = probe_settings(server_env())["registry"]
    plan = bench.make_plan(
        bench.build_parser().parse_args(["--modes", "orm-tuples", "--servers", "wsgi"]),
        registry,
        1440,
    )
    assert plan.endpoints_on("wsgi", 1000) == ["orm-tuples", "floor"]


def test_locust_html_reports_only_when_asked():
    assert bench.build_parser().parse_args([]).locust_html is False
    assert bench.build_parser().parse_args(["--locust-html"]).locust_html is True


def test_limits_are_checked_against_the_apis_own_maximum():
    with pytest.raises(CheckError, match=r"within 1\.\.500 \(the API's range\)"):
        plan_for(["--limits", "1000"], 500)
    assert plan_for(["--limits", "1000"], 1000).limits == [1000]


def test_the_instruction_ladder_is_skipped_with_a_clear_line_without_valgrind(
    monkeypatch, tmp_path, capsys
):
    from loadtest.inprocess import instructions

    monkeypatch.setattr(instructions.shutil, "which", lambda name: None)
    assert steps.run_instructions(None, None, tmp_path) is None
    assert "instruction ladder skipped: valgrind is not installed" in capsys.readouterr().out
    assert not (tmp_path / "instructions.json").exists()


def test_no_instructions_is_an_option():
    from loadtest import bench

    assert bench.build_parser().parse_args(["--no-instructions"]).no_instructions is True
    assert bench.build_parser().parse_args([]).no_instructions is False


def test_what_runs_in_process_is_the_plans_modes_with_a_django_view():
    # The micro benchmark and the instruction ladder call views through Django's URLconf:
    # bolt's and the FastAPI reference's modes are served by other servers only.
    plan = plan_for([])
    assert {"bolt", "bolt-raw", "fastapi-model"} <= set(plan.modes)
    assert plan.django_modes() == [m.name for m in django_modes()]
