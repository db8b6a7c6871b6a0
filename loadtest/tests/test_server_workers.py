"""--workers N: every server kind's command gets its processes flag, the CPU layout gives the server
CPUs 0..N-1 and says when it shares one with Locust, and one real run serves from N processes."""

import csv
import json
import os

import pytest

from loadtest import bench, session
from loadtest.cli import CheckError
from loadtest.report.results import Results, Row, from_csv, to_csv
from loadtest.serving.servers import SERVERS
from loadtest.tests.live_servers import SHORT_RUN, run_loadtest

# The flag each server kind takes for its number of processes.
PROCESSES_FLAG = {
    "uvicorn_command": "--workers",
    "gunicorn_command": "--workers",
    "granian_command": "--workers",
    "bolt_command": "--processes",
}


def flag_value(command: list[str], flag: str) -> str:
    assert command.count(flag) == 1, command
    return command[command.index(flag) + 1]


@pytest.mark.parametrize("name", list(SERVERS))
def test_every_server_kind_starts_as_many_processes_as_asked(name):
    spec = SERVERS[name]
    flag = PROCESSES_FLAG[spec.build.__name__]
    assert flag_value(spec.command("127.0.0.1", 8123), flag) == "1"
    three = spec.with_workers(3)
    assert flag_value(three.command("127.0.0.1", 8123), flag) == "3"
    assert (
        three.workers == 3
        and "run with 3 processes" in three.label
        and spec.label == spec.description
    )
    if name == "bolt":  # runbolt's --workers are threads per process: still one
        assert flag_value(three.command("127.0.0.1", 8123), "--workers") == "1"
    with pytest.raises(ValueError):
        spec.with_workers(0)


def test_the_server_takes_the_first_cpus_and_the_report_says_when_it_shares_locusts(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    one = session.cpu_layout(1, 1)
    assert (one.server, one.loadgen, one.shared) == ({0}, {1}, set())
    two = session.cpu_layout(1, 2)
    assert (two.server, two.loadgen, two.shared) == ({0, 1}, {1}, {1})
    assert two.text.startswith(
        "server (2 worker processes) pinned to CPUs 0, 1, Locust (1 process) to CPU 1"
    )
    assert "shares CPU 1 with the load generator" in two.text
    # Another load generator (cachemix's asyncio client) is named as what it is, not as Locust.
    client = session.cpu_layout(1, 2, "the mix's asyncio client")
    assert "Locust" not in client.text and client.text.startswith(
        "server (2 worker processes) pinned to CPUs 0, 1, the mix's asyncio client (1 process)"
    )
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5}, raising=False)
    four = session.cpu_layout(2, 4)
    assert (four.server, four.loadgen, four.shared) == ({0, 1, 2, 3}, {4, 5}, set())
    assert "shares" not in four.text
    many = session.cpu_layout(1, 8)
    assert (
        many.server == {0, 1, 2, 3, 4, 5}
        and many.loadgen == {5}
        and "8 server processes share 6 CPUs" in many.text
    )


def test_workers_below_one_are_refused_in_one_line(capsys):
    assert bench.main(["--workers", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "candlebench refuses to run: --workers must be >= 1"
    with pytest.raises(CheckError):
        bench.make_plan(bench.build_parser().parse_args(["--workers", "-1"]), [], 1440)


def test_the_workers_and_serving_processes_columns_survive_the_csv():
    row = Row("wsgi", "raw", 1000, 1, rps=10.0, workers=2, serving_processes=2)
    cells = to_csv(row)
    assert (cells["workers"], cells["serving_processes"]) == ("2", "2")
    back = from_csv(cells)
    assert (back.workers, back.serving_processes) == (2, 2)


def test_a_ceiling_is_judged_against_all_the_servers_cores():
    """Two processes at 120% of a core together used 60% of their two cores: not saturated."""
    rows = [
        Row(
            "wsgi",
            "floor",
            1000,
            1,
            rps=900.0,
            workers=2,
            server_cpu_pct=120.0,
            loadgen_cpu_pct=95.0,
        ),
        Row("wsgi", "raw", 1000, 1, rps=500.0, workers=2, server_cpu_pct=190.0),
    ]
    res = Results(rows)
    assert res.ceiling_limited_by("wsgi", 1000) == (
        "lower bound: the server used 60% of its 2 cores, the load generator 95% of its own"
    )
    rows[0].server_cpu_pct = 190.0
    assert Results(rows).ceiling_limited_by("wsgi", 1000) == ""


@pytest.mark.live
def test_gunicorn_with_two_workers_serves_from_two_processes(bench_env, tmp_path):
    """A short real run: both worker processes served, results.csv and the report say 2."""
    out = tmp_path / "run"
    result = run_loadtest(bench_env, *SHORT_RUN, "--workers", "2", "--out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    assert [(r["server"], r["mode"], r["workers"]) for r in rows] == [("wsgi", "raw", "2")]
    # gunicorn's master and its two workers; both workers used the CPU, the idle master did not.
    assert rows[0]["serving_processes"] == "2", rows[0]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["server_workers"] == 2 and "run with 2 processes" in meta["servers"]["wsgi"]
    cpus = len(os.sched_getaffinity(0))
    if cpus >= 2:
        assert meta["server_affinity"]["wsgi"] == [0, 1]
    if cpus == 2:  # the second worker takes the load generator's core, and the report says so
        assert meta["shared_cpus"] == [1]
    md = (out / "report.md").read_text()
    assert "Server processes: 2 per server" in md
