"""The runner's plan, its per-run checks and its bookkeeping (no server, no Locust)."""
import math
import os
from types import SimpleNamespace

import pytest

from loadtest import runner, session
from loadtest.cli import CheckError, fmt_duration
from loadtest.run_checks import untrustworthy_reasons
from loadtest.servers import SERVERS
from loadtest.settings_probe import is_local_postgres, refuse_debug
from loadtest.stats import summarize

MODES = ["drf-validated", "drf", "drf-orjson", "ninja", "json", "orjson", "raw"]


def plan_for(argv):
    return runner.make_plan(runner.build_parser().parse_args(argv), MODES, 1440)


def test_default_plan_covers_every_mode_and_limit_under_asgi_and_wsgi():
    plan = plan_for([])
    assert plan.modes == MODES
    assert plan.limits == [1, 100, 1000, 1440]
    assert plan.servers == ["asgi", "wsgi"]
    assert plan.profile == "steady" and plan.users == 16
    # The floor diagnostics (the ceiling) run by default at every server and limit.
    assert plan.diagnostics == ["floor", "floor-async"]
    runs = plan.runs()
    assert len(runs) == (7 + 2) * 4 * 2 * plan.repeats
    endpoints = [*MODES, "floor", "floor-async"]
    assert {(s, m, lim) for _, lim, s, m in runs} == {(s, m, lim) for s in ["asgi", "wsgi"] for m in endpoints for lim in [1, 100, 1000, 1440]}
    # Budget of `make bench`: every run is warm-up + window + a little; with set-up, micro
    # benchmark and report it has to stay under 10 min.
    assert len(runs) * (plan.warmup + plan.duration + 0.4) < 8.5 * 60


def test_full_plan_is_the_whole_matrix():
    plan = plan_for(["--full"])
    assert plan.servers == list(SERVERS)
    assert plan.repeats == 3 and plan.duration > plan_for([]).duration


def test_runs_are_interleaved_repeat_limit_server_mode():
    plan = plan_for(["--modes", "raw,drf", "--limits", "1000,1", "--repeats", "2", "--no-floor"])
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
    [["--modes", "nope"], ["--servers", "iis"], ["--limits", "0"], ["--limits", "1441"], ["--repeats", "0"]],
)
def test_bad_options_are_refused(argv):
    with pytest.raises(CheckError):
        plan_for(argv)


def test_debug_on_is_refused():
    with pytest.raises(CheckError, match="DEBUG"):
        refuse_debug({"debug": True})
    refuse_debug({"debug": False})


def measurement(**kw):
    base = {"locust_cpu_warning": False, "loadgen_cpu_pct": 40.0, "other_cpu_pct": 2.0, "warmup_complete": True,
            "warmup_s": 0.6, "notes": []}
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


def test_latest_symlink_points_at_the_newest_run(tmp_path):
    first, second = tmp_path / "20250101-000000", tmp_path / "20250102-000000"
    first.mkdir()
    second.mkdir()
    (first / "results.csv").write_text("kept\n")
    runner.update_latest(first)
    runner.update_latest(second)
    latest = tmp_path / "latest"
    assert latest.is_symlink() and os.readlink(latest) == second.name
    # The older run's folder is kept as it was: nothing is deleted.
    assert (first / "results.csv").read_text() == "kept\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["20250101-000000", "20250102-000000", "latest"]


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
    plan = plan_for(["--modes", "raw", "--limits", "1000", "--repeats", "2"])
    assert plan.modes == ["raw"] and plan.endpoints_on("asgi") == ["raw", "floor", "floor-async"]
    runs = plan.runs()
    assert runs[:3] == [(1, 1000, "asgi", "raw"), (1, 1000, "asgi", "floor"), (1, 1000, "asgi", "floor-async")]
    # Backwards in the second repeat, like the modes.
    assert runs[6:9] == [(2, 1000, "wsgi", "floor-async"), (2, 1000, "wsgi", "floor"), (2, 1000, "wsgi", "raw")]
    assert len(runs) == 3 * 2 * 2


def test_every_command_names_its_results_directory_alike(tmp_path):
    from datetime import UTC, datetime

    from loadtest import soak, spike
    from loadtest.cli import RESULTS_DIR, results_dir

    started = datetime(2026, 11, 25, 1, 2, 3, tzinfo=UTC)
    assert results_dir(None, started) == RESULTS_DIR.resolve() / "20261125-010203"
    assert results_dir(None, started, "soak") == RESULTS_DIR.resolve() / "20261125-010203-soak"
    assert results_dir(tmp_path / "mine", started, "spike") == (tmp_path / "mine").resolve()
    for parser in (runner.build_parser(), spike.build_parser(), soak.build_parser()):
        args = parser.parse_args(["--pair", "binance/USDT/ETH", "--interval", "5m", "--out", "x"])
        assert (args.pair, args.interval, str(args.out)) == ("binance/USDT/ETH", "5m", "x")
    assert "<timestamp>-soak" in soak.build_parser().format_help()


def test_each_server_runs_the_requested_modes_it_serves():
    """Modes belong to servers: the runner learns them from each server's GET /api/modes."""
    from loadtest.settings_probe import mode_names

    plan = plan_for(["--modes", "drf,raw", "--limits", "1000", "--repeats", "1", "--no-floor"])
    # A later field ("validates") and a mode not asked for are tolerated.
    wsgi_doc = {"modes": [{"name": "raw", "description": "d", "path": "/p", "validates": False},
                          {"name": "json", "description": "d", "path": "/p"}]}
    plan.served = {"asgi": MODES, "wsgi": mode_names(wsgi_doc)}
    assert plan.modes_on("asgi") == ["drf", "raw"] and plan.modes_on("wsgi") == ["raw"]
    assert plan.runs() == [(1, 1000, "asgi", "drf"), (1, 1000, "asgi", "raw"), (1, 1000, "wsgi", "raw")]


def test_unknown_mode_is_refused_in_one_line():
    with pytest.raises(CheckError, match=r"^unknown mode\(s\): nope \(the project has drf-validated, "):
        plan_for(["--modes", "raw,nope"])


def test_locust_html_reports_only_when_asked():
    assert runner.build_parser().parse_args([]).locust_html is False
    assert runner.build_parser().parse_args(["--locust-html"]).locust_html is True


def test_limits_are_checked_against_the_apis_own_maximum():
    args = runner.build_parser().parse_args(["--limits", "1000"])
    with pytest.raises(CheckError, match=r"within 1\.\.500 \(the API's range\)"):
        runner.make_plan(args, MODES, 500)
    assert runner.make_plan(args, MODES, 1000).limits == [1000]


def test_the_instruction_ladder_is_skipped_with_a_clear_line_without_valgrind(monkeypatch, tmp_path, capsys):
    from loadtest import instructions, runner

    monkeypatch.setattr(instructions.shutil, "which", lambda name: None)
    assert runner.run_instructions(None, None, tmp_path) is None
    assert "instruction ladder skipped: valgrind is not installed" in capsys.readouterr().out
    assert not (tmp_path / "instructions.json").exists()


def test_no_instructions_is_an_option():
    from loadtest import runner

    assert runner.build_parser().parse_args(["--no-instructions"]).no_instructions is True
    assert runner.build_parser().parse_args([]).no_instructions is False
