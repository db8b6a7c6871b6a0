"""Load from several hosts: the runner as the master of Locust workers started elsewhere with
`python -m loadtest worker`; its options, its per-worker bookkeeping, and real runs (workers in
other network namespaces feeding the master, too few workers, a worker lost mid-run)."""

import argparse
import contextlib
import csv
import json
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from loadtest import bench
from loadtest.cli import parse_host_port
from loadtest.load import workers
from loadtest.report.results import Results, Row, from_csv, load_rows, to_csv
from loadtest.report.tables import load_workers_table
from loadtest.run_checks import untrustworthy_reasons
from loadtest.serving.servers import PROJECT_ROOT as PROJECT
from loadtest.serving.servers import free_port
from loadtest.session import allow_host
from loadtest.stats import Collector, requests_by_source, summarize
from loadtest.tests.live_servers import SHORT_RUN, run_loadtest


def test_host_port_is_parsed_or_refused():
    assert parse_host_port("10.0.0.5:5557") == ("10.0.0.5", 5557)
    assert parse_host_port("[::1]:5557") == ("::1", 5557)
    assert parse_host_port("master.example:1") == ("master.example", 1)
    for bad in ("10.0.0.5", ":5557", "host:", "host:0", "host:65536", "host:x"):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_host_port(bad)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--expect-workers", "2"], "--expect-workers needs --master-bind HOST:PORT"),
        (["--master-bind", "127.0.0.1:5557"], "--master-bind needs --expect-workers N"),
        (
            ["--expect-workers", "2", "--master-bind", "127.0.0.1:5557", "--processes", "2"],
            "--processes starts local Locust workers, --expect-workers waits for workers on other hosts",
        ),
        (
            ["--expect-workers", "2", "--master-bind", "0.0.0.0:5557"],
            "must be an address the load hosts reach",
        ),
        (["--expect-workers", "-1"], "--expect-workers must be >= 1"),
        (
            ["--expect-workers", "2", "--master-bind", "127.0.0.1:5557", "--workers-wait", "0"],
            "--workers-wait must be > 0",
        ),
    ],
)
def test_inconsistent_load_options_are_refused_in_one_line_before_anything_starts(
    argv, message, capsys
):
    assert bench.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("candlebench refuses to run: ") and message in err and "\n" not in err


def test_a_master_address_this_machine_cannot_listen_on_is_refused(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert bench.main(["--expect-workers", "1", "--master-bind", f"127.0.0.1:{port}"]) == 2
    assert f"--master-bind 127.0.0.1:{port}: cannot listen there" in capsys.readouterr().err


def test_the_worker_command_runs_the_projects_locustfile_against_the_master():
    command = workers.locust_worker_command("10.0.0.5", 5557)
    assert command[:3] == [sys.executable, "-m", "locust"]
    assert Path(command[command.index("-f") + 1]) == PROJECT / "loadtest" / "locustfile.py"
    assert "--worker" in command and command[command.index("--master-host") + 1] == "10.0.0.5"
    assert command[command.index("--master-port") + 1] == "5557"
    assert workers.main(["--master", "10.0.0.5:5557", "--processes", "0"]) == 2


def test_samples_from_workers_are_counted_per_worker():
    collector = Collector()
    collector.record(1.0, 1.1, 100.0, True, 10, "", "raw limit=1")
    collector.extend([[1.0, 1.2, 200.0, True, 10, "", "raw limit=1"]] * 2, source="hostA_1")
    collector.extend([(1.0, 1.3, 300.0, False, 0, "", "raw limit=1")], source="hostB_2")
    samples = collector.drain()
    assert requests_by_source(samples) == {"": 1, "hostA_1": 2, "hostB_2": 1}
    stats = summarize(samples, 1.0)  # the source does not change what is measured
    assert (stats.requests, stats.failures, stats.max_ms) == (4, 1, 200.0)


def test_a_saturated_worker_marks_the_run_and_is_named():
    stats = summarize([(0.0, 0.5, 5.0, True, 100, "", "x")] * 50, 1.0)
    window = argparse.Namespace(
        locust_cpu_warning=False,
        loadgen_cpu_pct=97.0,
        other_cpu_pct=0.0,
        warmup_complete=True,
        warmup_s=0.5,
        notes=[],
        busiest="loadhost-b#1",
    )
    assert untrustworthy_reasons(stats, window) == [
        "load generator at 97% CPU (worker loadhost-b#1)"
    ]


def test_per_worker_columns_survive_the_csv_and_the_report_flags_a_saturated_worker():
    rows = [
        Row(
            "wsgi",
            "raw",
            100,
            r,
            rps=100.0,
            requests=200,
            worker_requests={"a#0": 90, "b#1": 110},
            worker_cpu_pct={"a#0": 40.0, "b#1": 95.0 if r == 2 else 50.0},
        )
        for r in (1, 2)
    ]
    back = [from_csv(to_csv(r)) for r in rows]
    assert back[0].worker_requests == {"a#0": 90, "b#1": 110} and back[1].worker_cpu_pct == {
        "a#0": 40.0,
        "b#1": 95.0,
    }
    table = load_workers_table(Results(back))
    assert [r[0] for r in table.rows] == ["a#0", "b#1"]
    assert table.rows[0][1:] == ["2", "180", "45–45%", "40–40%", "no"]
    assert table.rows[1][1:] == ["2", "220", "55–55%", "50–95%", "⚠ 1 run(s)"]
    assert load_workers_table(Results([Row("wsgi", "raw", 100, 1, rps=1.0)])) is None


def test_the_servers_answer_requests_addressed_to_the_master_bind_host():
    assert (
        allow_host({}, "10.0.0.5")["DJANGO_ALLOWED_HOSTS"] == "localhost,127.0.0.1,[::1],10.0.0.5"
    )
    assert (
        allow_host({"DJANGO_ALLOWED_HOSTS": "a.example"}, "127.0.0.1")["DJANGO_ALLOWED_HOSTS"]
        == "a.example,127.0.0.1"
    )
    assert allow_host({"DJANGO_ALLOWED_HOSTS": "*"}, "10.0.0.5")["DJANGO_ALLOWED_HOSTS"] == "*"


# -- real runs ----------------------------------------------------------------------------------


def _kill_tree(proc: subprocess.Popen) -> None:
    """Stop a `python -m loadtest worker` (or `ip netns exec` of one) and the Locust workers it started."""
    with contextlib.suppress(psutil.NoSuchProcess):
        tree = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
        for p in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
    proc.wait(10)


@contextlib.contextmanager
def load_workers(
    env: dict[str, str],
    master: str,
    logs: Path,
    count: int = 2,
    prefixes: list[list[str]] | None = None,
):
    """`count` `python -m loadtest worker --master MASTER` processes (each run through its prefix,
    e.g. `ip netns exec NS`), stopped at the end whatever happened."""
    procs = []
    try:
        for i in range(count):
            prefix = prefixes[i] if prefixes else []
            with open(logs / f"worker-{i}.log", "wb") as log:
                procs.append(
                    subprocess.Popen(
                        [*prefix, sys.executable, "-m", "loadtest", "worker", "--master", master],
                        cwd=PROJECT,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        yield procs
    finally:
        for p in procs:
            _kill_tree(p)


def start_runner(
    env: dict[str, str], out: Path, master: str, *args: str
) -> tuple[subprocess.Popen, Path]:
    """The runner as the master of 2 workers (SHORT_RUN plus `args`); its output in out.parent/bench.log."""
    log_path = out.parent / "bench.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "loadtest",
                *SHORT_RUN,
                "--expect-workers",
                "2",
                "--master-bind",
                master,
                "--out",
                str(out),
                *args,
            ],
            cwd=PROJECT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return proc, log_path


def finish(proc: subprocess.Popen, log_path: Path, timeout: float = 180) -> tuple[int, str]:
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
    return proc.returncode, log_path.read_text(errors="replace")


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def worker_namespaces(require_tool):
    """Two network namespaces ("load hosts"), each joined to this one by a veth pair on its own
    10.231.x.0/24 and routed through it; yields (namespaces, this side's address in the first
    subnet). Removed at the end, even on failure. Skipped without root or namespaces."""
    require_tool(os.geteuid() == 0, "needs root to create network namespaces (ip netns)")
    require_tool(shutil.which("ip") is not None, "needs iproute2's ip command")
    suffix, third = secrets.token_hex(3), random.randrange(1, 250)
    created = []
    try:
        for i in (0, 1):
            ns, host_if, ns_if, net = (
                f"cbw{i}-{suffix}",
                f"cbh{i}{suffix}",
                f"cbn{i}{suffix}",
                f"10.231.{third + i}",
            )
            added = _ip("netns", "add", ns)
            if added.returncode:
                require_tool(False, f"cannot create a network namespace: {added.stderr.strip()}")
            created.append(ns)
            for step in (
                ["link", "add", host_if, "type", "veth", "peer", "name", ns_if, "netns", ns],
                ["addr", "add", f"{net}.1/24", "dev", host_if],
                ["link", "set", host_if, "up"],
                ["-n", ns, "addr", "add", f"{net}.2/24", "dev", ns_if],
                ["-n", ns, "link", "set", ns_if, "up"],
                ["-n", ns, "link", "set", "lo", "up"],
                ["-n", ns, "route", "add", "default", "via", f"{net}.1"],
            ):
                done = _ip(*step)
                assert done.returncode == 0, f"ip {' '.join(step)}: {done.stderr}"
        yield created, f"10.231.{third}.1"
    finally:
        for ns in created:
            _ip("netns", "delete", ns)  # takes its end of the veth pair, and so the pair, along


@pytest.mark.live
@pytest.mark.netns
def test_workers_in_other_network_namespaces_feed_the_master(
    bench_env, tmp_path, worker_namespaces
):
    """The master and the server in this namespace, a worker in each of two others reaching them
    over veth links: every request the master counts was made by one of the two workers."""
    namespaces, address = worker_namespaces
    master = f"{address}:{free_port(address)}"
    out = tmp_path / "run"
    proc, log_path = start_runner(bench_env, out, master, "--workers-wait", "60")
    with load_workers(
        bench_env, master, tmp_path, prefixes=[["ip", "netns", "exec", ns] for ns in namespaces]
    ):
        code, log = finish(proc, log_path)
    assert code == 0, log[-4000:]
    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    assert len(rows) == 1
    row = from_csv(rows[0])
    assert len(row.worker_requests) == 2 and all(n > 0 for n in row.worker_requests.values()), rows[
        0
    ]
    assert sum(row.worker_requests.values()) == row.requests > 0
    assert set(row.worker_cpu_pct) == set(row.worker_requests) and all(
        v > 0 for v in row.worker_cpu_pct.values()
    )
    meta = json.loads((out / "meta.json").read_text())
    assert sorted(meta["load_workers"]) == sorted(row.worker_requests)
    assert (
        f"wsgi: gunicorn, 1 sync worker, gunicorn.conf.py without worker recycling on {address}:"
        in log
    )
    assert "## Load generator workers" in (out / "report.md").read_text()


@pytest.mark.live
@pytest.mark.netns
def test_the_runner_refuses_to_measure_with_fewer_workers_than_asked(bench_env, tmp_path):
    master = f"127.0.0.1:{free_port()}"
    proc, log_path = start_runner(bench_env, tmp_path / "run", master, "--workers-wait", "5")
    with load_workers(bench_env, master, tmp_path, count=1):
        code, log = finish(proc, log_path)
    assert code == 2, log[-3000:]
    assert (
        f"candlebench refuses to run: only 1 of 2 Locust workers connected to the master at {master} "
        "(within 5 s); refusing to measure with fewer"
    ) in log
    assert not (tmp_path / "run" / "results.csv").exists()


@pytest.mark.live
@pytest.mark.netns
def test_a_worker_lost_during_a_run_stops_the_session_with_a_clear_message(bench_env, tmp_path):
    master = f"127.0.0.1:{free_port()}"
    proc, log_path = start_runner(
        bench_env, tmp_path / "run", master, "--duration", "10", "--workers-wait", "60"
    )
    with load_workers(bench_env, master, tmp_path) as workers:
        deadline = time.monotonic() + 120
        while "Locust workers:" not in log_path.read_text(errors="replace"):
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.2)
        time.sleep(2)  # the first run is under way
        _kill_tree(workers[1])
        code, log = finish(proc, log_path)
    assert code == 2, log[-3000:]
    assert (
        "disconnected during the run (1 of 2 left); stopped rather than measure less load than asked"
        in log
    )


@pytest.mark.live
def test_local_workers_are_counted_like_workers_of_other_hosts(bench_env, tmp_path):
    """--processes 2: the runner starts the two workers itself; the same per-worker bookkeeping."""
    out = tmp_path / "run"
    result = run_loadtest(bench_env, *SHORT_RUN, "--processes", "2", "--out", str(out))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    [row] = load_rows(out / "results.csv")
    assert len(row.worker_requests) == 2 and all(n > 0 for n in row.worker_requests.values())
    assert sum(row.worker_requests.values()) == row.requests
    assert row.loadgen_cpu_pct == pytest.approx(max(row.worker_cpu_pct.values()), abs=1)
