"""The deployment axes: one mechanism for compression, stack and the axes to come. A fake
environment-variable axis, registered here, goes through everything a real one does: its option,
the plan's servers and labels, the environment a server is started with, the start-up echo check,
results.csv's column and back, and meta.json's setups; the stack axis's interpreter reaches the
server's command (live: a real server, its environment and interpreter read back)."""

import csv
import dataclasses
import sys
from pathlib import Path

import psutil
import pytest

from candles.api.registry import DJANGO_ONLY
from loadtest import axes as axes_module
from loadtest import bench, capacity, soak, spike
from loadtest import session as session_module
from loadtest.axes import (
    Axis,
    Deployment,
    axes,
    relabel,
    split_label,
)
from loadtest.cli import CheckError
from loadtest.report.results import Results, ResultsWriter, Row, columns, load_rows
from loadtest.serving import axes as serving_axes
from loadtest.serving import stacks
from loadtest.serving.axes import (
    ServerAxis,
    Setup,
    check_served,
    deployments_on,
    launch,
    refuse_unknown,
    server_axes,
    setup_entries,
)
from loadtest.serving.modes import registry_entries
from loadtest.serving.servers import SERVERS, ServerProcess
from loadtest.session import CpuLayout, Session

TUNING = Axis("tuning", "plain", "--tuning", "tuning setup", "tuning setups (a test's)")


def tuning_axis(echo: str = "tuning") -> ServerAxis:
    return ServerAxis(
        TUNING,
        lambda: (
            Setup("plain", "as shipped"),
            Setup("fast", "tuned: Django's servers only", kinds=DJANGO_ONLY),
        ),
        env="CANDLEBENCH_TUNING",
        echo=echo,
    )


@pytest.fixture
def tuning(monkeypatch):
    """The fake axis registered after the real ones, as an axis added later is."""
    monkeypatch.setattr(axes_module, "AXES", (*axes_module.AXES, TUNING))
    monkeypatch.setattr(serving_axes, "SERVER_AXES", (*serving_axes.SERVER_AXES, tuning_axis()))
    return TUNING


def plan_for(argv):
    return bench.make_plan(bench.build_parser().parse_args(argv), registry_entries(), 1440)


# -- labels -----------------------------------------------------------------------------------


def test_todays_labels_stay_as_they_were():
    assert Deployment().label("wsgi") == "wsgi"
    assert Deployment(compression="zstd-1", stack="today").label("wsgi") == "wsgi+zstd-1"
    assert split_label("wsgi+zstd-1") == ("wsgi", Deployment(compression="zstd-1"))
    assert split_label("raw+django-gzip")[1]["compression"] == "django-gzip"  # in-process
    defaults = dict(split_label("wsgi")[1])
    assert defaults == {a.name: a.default for a in axes()}
    assert {"compression": "none", "stack": "today"}.items() <= defaults.items()


def test_every_axis_set_is_named_in_axis_order_and_splits_back():
    deployment = Deployment(stack="2023-08", compression="zstd-1")
    assert deployment.label("fastapi") == "fastapi+zstd-1+stack=2023-08"
    assert Deployment(stack="2023-08").label("fastapi") == "fastapi+stack=2023-08"
    assert split_label("fastapi+zstd-1+stack=2023-08") == ("fastapi", deployment)
    assert relabel("fastapi+zstd-1+stack=2023-08", compression="none") == "fastapi+stack=2023-08"
    assert deployment.describe() == "zstd-1, stack 2023-08"
    assert deployment.as_notes() == "; compression zstd-1; stack 2023-08"


@pytest.mark.parametrize(
    "label", ["wsgi+zstd-1+br-1", "wsgi+nosuch=none", "wsgi+stack=", "wsgi+stack=a+stack=b"]
)
def test_a_label_no_deployment_makes_is_refused(label):
    with pytest.raises(ValueError):
        split_label(label)


def test_the_registry_keeps_every_label_unambiguous():
    names = [a.name for a in axes()]
    assert len(set(names)) == len(names) and len({a.option for a in axes()}) == len(names)
    assert [a.name for a in server_axes()] == names  # every axis has its servers' side
    assert sum(a.bare for a in axes()) <= 1  # one axis may name its setup alone
    everything = [*SERVERS, *(e["name"] for e in registry_entries())]
    for a in server_axes():
        assert a.axis.default in a.names()
        assert bool(a.env) + (a.python is not None) == 1  # applied one way
        everything += a.names()
    assert not [n for n in everything if "+" in n or "=" in n]


# -- a fake environment-variable axis, end to end -----------------------------------------------


def test_an_axis_gets_its_option_and_its_combinations_in_the_plan(tuning):
    plan = plan_for(
        [
            *("--tuning", "plain,fast", "--compression", "none,zstd-1"),
            *("--servers", "wsgi,fastapi", "--modes", "raw", "--limits", "1000", "--no-floor"),
        ]
    )
    # Each server once per combination it runs (fastapi: neither zstd-1 nor fast).
    assert plan.servers == [
        "wsgi",
        "wsgi+tuning=fast",
        "wsgi+zstd-1",
        "wsgi+zstd-1+tuning=fast",
        "fastapi",
    ]
    assert plan.axes == {
        **{a.name: [a.default] for a in axes()},
        "compression": ["none", "zstd-1"],
        "tuning": ["plain", "fast"],
    }
    assert plan.estimate_s() > sum(SERVERS[split_label(s)[0]].startup_s for s in plan.servers)
    assert plan.setups["tuning"] == [
        {"name": "plain", "description": "as shipped", "servers": list(SERVERS)},
        {
            "name": "fast",
            "description": "tuned: Django's servers only",
            "servers": [s for s in SERVERS if s not in ("fastapi", "bolt")],
        },
    ]
    assert bench.server_labels(plan)["wsgi+zstd-1+tuning=fast"].endswith(
        "; compression zstd-1; tuning fast"
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--tuning", "turbo"],
            r"^unknown tuning setup\(s\): turbo \(the project has plain, fast\)$",
        ),
        (
            ["--tuning", "fast", "--servers", "wsgi,fastapi"],
            r"^fastapi runs none of the tuning setups asked for \(fast\); it runs plain$",
        ),
        (["--tuning", "fast", "--servers", "fastapi,bolt"], r"^fastapi runs none of the tuning"),
    ],
)
def test_an_axis_refuses_what_cannot_run_in_one_line(tuning, argv, message):
    with pytest.raises(CheckError, match=message):
        plan_for(argv)


def test_every_command_takes_the_axis_and_refuses_alike(tuning):
    args = capacity.build_parser().parse_args(["--servers", "fastapi", "--tuning", "fast"])
    with pytest.raises(CheckError, match="fastapi runs none of the tuning setups"):
        capacity.check_args(args)
    args = capacity.build_parser().parse_args(["--target", "http://h", "--tuning", "fast"])
    with pytest.raises(CheckError, match="--tuning applies to the servers the runner starts"):
        capacity.check_args(args)
    args = spike.build_parser().parse_args(["--servers", "fastapi", "--tuning", "fast"])
    with pytest.raises(CheckError, match="fastapi runs none of the tuning setups"):
        spike.check_args(args)
    args = soak.build_parser().parse_args(["--server", "bolt", "--tuning", "plain,fast"])
    with pytest.raises(CheckError, match="bolt does not run the tuning setup"):
        soak.check_args(args)
    assert deployments_on("bolt", {"tuning": ["plain", "fast"]}) == [Deployment()]


def test_a_server_gets_the_axis_in_its_environment_and_never_the_shells(tuning, monkeypatch):
    monkeypatch.setenv("CANDLEBENCH_TUNING", "fast")  # left in the shell: never used
    env = session_module.server_env()
    assert env["CANDLEBENCH_TUNING"] == "plain" and env["CANDLEBENCH_COMPRESSION"] == "none"
    started, python = launch(env, Deployment(tuning="fast", compression="zstd-1"))
    assert (
        started["CANDLEBENCH_TUNING"] == "fast" and started["CANDLEBENCH_COMPRESSION"] == "zstd-1"
    )
    assert python == sys.executable  # today's stack


def test_the_server_must_echo_the_setup_it_was_started_with(tuning):
    fast = Deployment(tuning="fast")
    check_served("wsgi+tuning=fast", {"tuning": "fast"}, fast)
    check_served("fastapi", {}, Deployment())  # a server that says nothing runs the default
    with pytest.raises(CheckError, match="started with CANDLEBENCH_TUNING=fast but its /api/modes"):
        check_served("wsgi+tuning=fast", {"tuning": "plain"}, fast)
    with pytest.raises(CheckError, match="says it runs plain"):
        check_served("wsgi+tuning=fast", {}, fast)


class StandInProcess:
    """What Session.start_server starts, without a process: what it was given, and stop()."""

    echo: dict = {}

    def __init__(self, spec, env, cpus, log_path, host, deployment, python):
        self.spec, self.env, self.log_path, self.deployment = spec, env, log_path, deployment
        self.python, self.base_url, self.stopped = python, "http://stand-in", False
        StandInProcess.last = self

    def wait_ready(self):
        return {"modes": [{"name": "raw"}], **self.echo}

    def stop(self):
        self.stopped = True


def stand_in_session(monkeypatch) -> Session:
    monkeypatch.setattr(session_module, "ServerProcess", StandInProcess)
    monkeypatch.setattr(session_module, "check_server_debug_off", lambda url: None)
    return Session(session_module.server_env(), {}, CpuLayout(None, None, ""), {})


def test_a_session_starts_a_server_under_its_deployment_and_checks_the_echo(
    tuning, monkeypatch, tmp_path
):
    session = stand_in_session(monkeypatch)
    monkeypatch.setattr(StandInProcess, "echo", {"tuning": "fast"})
    server, modes = session.start_server(SERVERS["wsgi"], tmp_path, Deployment(tuning="fast"))
    assert modes == ["raw"] and server.env["CANDLEBENCH_TUNING"] == "fast"
    assert server.log_path.name == "server-wsgi+tuning=fast.log"
    monkeypatch.setattr(StandInProcess, "echo", {})  # the server runs the default: refused
    with pytest.raises(CheckError, match="wsgi\\+tuning=fast was started with"):
        session.start_server(SERVERS["wsgi"], tmp_path, Deployment(tuning="fast"))
    assert StandInProcess.last.stopped


def test_results_csv_gets_the_axis_column_and_reads_it_back(tuning, tmp_path):
    rows = [
        Row("wsgi", "raw", 1000, 1, 300.0),
        Row("wsgi", "raw", 1000, 1, 280.0, deployment=Deployment(tuning="fast")),
    ]
    with open(tmp_path / "results.csv", "w", newline="") as f:
        ResultsWriter(f).write_all(rows)
    header = (tmp_path / "results.csv").read_text().splitlines()[0]
    later = ",".join(a.name for a in axes() if a.name != "compression")
    assert header.endswith(f",compression,wire_bytes,{later}") and columns()[-1] == "tuning"
    assert [r["tuning"] for r in csv.DictReader((tmp_path / "results.csv").open())] == [
        "plain",
        "fast",
    ]
    loaded = load_rows(tmp_path / "results.csv")
    assert [r.deployment for r in loaded] == [Deployment(), Deployment(tuning="fast")]
    res = Results(loaded)
    assert res.servers == ["wsgi", "wsgi+tuning=fast"] and res.varied_axes() == {
        "tuning": "tuning setup"
    }
    assert res.on_default_deployment().servers == ["wsgi"]  # the headline tables' runs


def test_an_older_results_csv_loads_with_the_axes_defaults(tuning, tmp_path):
    (tmp_path / "results.csv").write_text(
        "server,mode,limit,repeat,rps,compression\nwsgi,raw,1000,1,300.0,zstd-1\n"
    )
    (row,) = load_rows(tmp_path / "results.csv")
    defaults = {a.name: a.default for a in axes()}
    assert dict(row.deployment) == {**defaults, "compression": "zstd-1", "tuning": "plain"}
    assert row.served_by == "wsgi+zstd-1"


def test_meta_records_every_axis_setups(tuning):
    entries = setup_entries()
    assert list(entries) == [a.name for a in axes()] and list(entries)[-1] == "tuning"
    assert entries["compression"][0]["accept_encoding"] == "identity"  # compression's own details
    stack_entries = {e["name"]: e for e in entries["stack"]}
    assert list(stack_entries) == stacks.stack_names()  # today, then the folders of stacks/
    assert stack_entries["today"]["servers"] == list(SERVERS)
    # A stack of 2023 runs the servers whose packages it pins: no granian, bolt or uvicorn-worker.
    assert stack_entries["2023-08"]["servers"] == ["asgi", "wsgi", "asgi-stock", "fastapi"]
    assert stack_entries["2023-08"]["description"].startswith("the case study's most likely stack")


# -- the stack axis ---------------------------------------------------------------------------


def test_the_stack_axis_runs_todays_interpreter_and_refuses_an_unknown_stack():
    assert launch({}, Deployment())[1] == sys.executable
    assert SERVERS["wsgi"].command("h", 1, "/x/bin/python")[0] == "/x/bin/python"
    with pytest.raises(
        CheckError,
        match=r"^unknown stack\(s\): 2019 \(the project has today, 2023-08, 2023-08-fresh\)$",
    ):
        plan_for(["--stacks", "2019"])
    plan = plan_for(["--stacks", "today", "--servers", "wsgi", "--modes", "raw", "--limits", "1"])
    assert plan.servers == ["wsgi"] and plan.axes["stack"] == ["today"]


def test_every_server_says_its_stack_and_one_that_says_another_is_refused():
    runs = {"modes": [], "stack": {"name": "2023-08", "python": "3.11.7"}}
    check_served("wsgi+stack=2023-08", runs, Deployment(stack="2023-08"))
    with pytest.raises(
        CheckError,
        match=r"^wsgi\+stack=2023-08 was started with the stack 2023-08 but its /api/modes says it "
        r"runs today$",
    ):
        check_served(
            "wsgi+stack=2023-08", {**runs, "stack": {"name": "today"}}, Deployment(stack="2023-08")
        )
    with pytest.raises(CheckError, match=r"started with the stack today but .* runs 2023-08"):
        check_served("wsgi", runs, Deployment())
    check_served("wsgi", {"modes": []}, Deployment())  # a server of before the stacks: not checked
    assert serving_axes.served_deployment(runs) == Deployment(stack="2023-08")


def test_a_target_runs_its_own_stack():
    args = bench.build_parser().parse_args(["--target", "http://h", "--stacks", "2023-08"])
    with pytest.raises(
        CheckError,
        match=r"the target runs the stack today \(its /api/modes says so\); --stacks can only "
        r"name that one, not 2023-08",
    ):
        bench.make_target_plan(args, [{"name": "raw"}])
    entries = [{"name": "raw", "servers": ["target"], "django": True, "diagnostic": False}]
    plan = bench.make_target_plan(args, entries, Deployment(stack="2023-08"))
    assert plan.servers == ["target+stack=2023-08"] and plan.axes["stack"] == ["2023-08"]


def fake_python(folder: Path, marker: Path) -> Path:
    """A stack's interpreter stand-in, its venv built: notes its arguments, then runs this venv's
    Python (so the server it starts says it runs today)."""
    python = folder / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(f'#!/bin/sh\necho "$@" > {marker}\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    (folder / stacks.INSTALLED_STAMP).write_text("")
    return python


@pytest.fixture
def old_stack(monkeypatch, tmp_path):
    """A stack `old` of a project root in tmp_path (stacks/old pins gunicorn and names Python
    3.11.7, which a pyenv in tmp_path has); its venv .venv-stack-old, not built yet."""
    folder = tmp_path / "stacks" / "old"
    folder.mkdir(parents=True)
    (folder / "requirements.txt").write_text("# Stack old: a pinned set\ngunicorn==23.0.0\n")
    (folder / ".python-version").write_text("3.11.7\n")
    base = tmp_path / "pyenv" / "versions" / "3.11.7" / "bin" / "python3"
    base.parent.mkdir(parents=True)
    base.write_text("")
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path / "pyenv"))
    monkeypatch.delenv("CANDLEBENCH_REQUIRE_TOOLS", raising=False)
    monkeypatch.setattr(stacks, "PROJECT_ROOT", tmp_path)
    return tmp_path / ".venv-stack-old"


def test_a_stack_whose_venv_is_missing_is_left_out_saying_what_to_build(
    old_stack, tmp_path, monkeypatch
):
    missing = r"stack old's venv \.venv-stack-old is not built: `make stack STACK=old`"
    with pytest.raises(CheckError, match=missing):
        refuse_unknown({"stack": ["today", "old"]})
    plan = plan_for(["--stacks", "today,old", "--servers", "wsgi", "--modes", "raw"])
    assert plan.servers == ["wsgi"] and plan.axes["stack"] == ["today"]
    assert plan.left_out == [
        "stack old left out: stack old's venv .venv-stack-old is not built: `make stack STACK=old`"
    ]
    assert "(stack old left out: " in plan.describe_servers()
    with pytest.raises(CheckError, match=f"^stack old left out: {missing}$"):
        plan_for(["--stacks", "old", "--servers", "wsgi", "--modes", "raw"])
    monkeypatch.setenv("CANDLEBENCH_REQUIRE_TOOLS", "1")
    with pytest.raises(CheckError, match=f"CANDLEBENCH_REQUIRE_TOOLS=1 but {missing}"):
        plan_for(["--stacks", "today,old", "--servers", "wsgi", "--modes", "raw"])
    monkeypatch.delenv("CANDLEBENCH_REQUIRE_TOOLS")
    python = fake_python(old_stack, tmp_path / "marker")
    refuse_unknown({"stack": ["today", "old"]})
    assert launch({}, Deployment(stack="old"))[1] == str(python)
    plan = plan_for(["--stacks", "today,old", "--servers", "wsgi", "--modes", "raw"])
    assert plan.servers == ["wsgi", "wsgi+stack=old"] and plan.left_out == []
    # The stack runs the servers whose packages it pins: gunicorn, not uvicorn.
    with pytest.raises(CheckError, match=r"^asgi runs none of the stacks asked for \(old\)"):
        plan_for(["--stacks", "old", "--servers", "asgi", "--modes", "raw"])


@pytest.mark.live
def test_a_real_server_runs_under_its_deployments_variable_and_interpreter(
    bench_env, old_stack, tmp_path, monkeypatch
):
    """wsgi started under a fake axis (not echoed) and the stack `old` (its interpreter a
    wrapper that notes its arguments, its stack not checked): the process has the variable and
    ran the wrapper. With the stack checked, the server, which says it runs today, is refused and
    stopped; so is one under the fake axis echoed, which the real server does not echo."""
    real = serving_axes.SERVER_AXES
    stack = next(a for a in real if a.name == "stack")
    unchecked = dataclasses.replace(stack, served=None)

    def with_tuning(stack_axis, tuning):  # every real axis kept, the stack's swapped, tuning added
        return (*(stack_axis if a is stack else a for a in real), tuning)

    monkeypatch.setattr(axes_module, "AXES", (*axes_module.AXES, TUNING))
    monkeypatch.setattr(serving_axes, "SERVER_AXES", with_tuning(unchecked, tuning_axis("")))
    marker = tmp_path / "marker"
    fake_python(old_stack, marker)
    env = {**serving_axes.default_env(bench_env), "PYTHONUNBUFFERED": "1"}
    session = Session(env, {}, CpuLayout(None, None, ""), {})
    deployment = Deployment(tuning="fast", stack="old")
    server, modes = session.start_server(SERVERS["wsgi"], tmp_path, deployment)
    try:
        assert "raw" in modes and server.served_by == "wsgi+stack=old+tuning=fast"
        environ = psutil.Process(server.proc.pid).environ()
        assert environ["CANDLEBENCH_TUNING"] == "fast"
        assert environ["CANDLEBENCH_COMPRESSION"] == "none"
        assert marker.read_text().startswith("-m gunicorn --bind")
        assert (tmp_path / "logs" / "server-wsgi+stack=old+tuning=fast.log").is_file()
    finally:
        server.stop()
    started = []

    class Recorded(ServerProcess):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(session_module, "ServerProcess", Recorded)
    monkeypatch.setattr(serving_axes, "SERVER_AXES", with_tuning(stack, tuning_axis("")))
    with pytest.raises(
        CheckError,
        match=r"wsgi\+stack=old was started with the stack old but its /api/modes says it runs today",
    ):
        session.start_server(SERVERS["wsgi"], tmp_path, Deployment(stack="old"))
    assert len(started) == 1 and not started[0].alive()  # the refused server was stopped
    monkeypatch.setattr(serving_axes, "SERVER_AXES", with_tuning(stack, tuning_axis()))
    with pytest.raises(CheckError, match="started with CANDLEBENCH_TUNING=fast but its /api/modes"):
        session.start_server(SERVERS["wsgi"], tmp_path, Deployment(tuning="fast"))
    assert len(started) == 2 and not started[1].alive()
