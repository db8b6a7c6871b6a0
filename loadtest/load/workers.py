"""`python -m loadtest worker --master HOST:PORT`: Locust worker processes on a load host, running
the project's locustfile for a runner started with --expect-workers (one run; they exit with it)."""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from loadtest.cli import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    CheckError,
    HelpFormatter,
    command_main,
    log,
    parse_host_port,
)
from loadtest.serving.servers import PROJECT_ROOT, pin_to

LOCUSTFILE = Path(__file__).resolve().parents[1] / "locustfile.py"


def locust_worker_command(master_host: str, master_port: int) -> list[str]:
    """One `locust --worker` process with the project's locustfile (its flush protocol and CPU report)."""
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--worker",
        "--master-host",
        master_host,
        "--master-port",
        str(master_port),
        "--loglevel",
        "WARNING",
    ]


def start_locust_workers(
    master_host: str,
    master_port: int,
    count: int,
    cpus: set[int] | None = None,
    log_dir: Path | None = None,
) -> tuple[list[subprocess.Popen], list[IO[bytes]]]:
    """`count` worker processes (pinned to `cpus`, output to log_dir/locust-worker-<i>.log, else
    to this process's own); the processes and the open log files, for the caller to close."""
    workers: list[subprocess.Popen] = []
    logs: list[IO[bytes]] = []
    if log_dir:  # against a --target no server made it
        log_dir.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        path = log_dir / f"locust-worker-{i}.log" if log_dir else None
        out = open(path, "ab") if path else None  # noqa: SIM115 - stop_locust_workers closes it
        if out:
            logs.append(out)
        workers.append(
            subprocess.Popen(
                locust_worker_command(master_host, master_port),
                cwd=PROJECT_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT if out else None,
                preexec_fn=pin_to(cpus),
                start_new_session=True,
            )
        )
    return workers, logs


def stop_locust_workers(
    workers: list[subprocess.Popen], logs: list[IO[bytes]], timeout: float = 10.0
) -> None:
    """Terminate the workers still running (killed after `timeout`) and close their logs."""
    for w in workers:
        if w.poll() is None:
            w.terminate()
    for w in workers:
        try:
            w.wait(timeout)
        except subprocess.TimeoutExpired:
            w.kill()
            w.wait(5)
    for out in logs:
        out.close()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m loadtest worker",
        description="Locust workers on this host for a runner started with --expect-workers N --master-bind "
        "HOST:PORT. They make the requests; the runner measures. They wait for the master, serve one "
        "run and exit when it ends. Needs the project's checkout and its requirements, no database.",
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--master",
        required=True,
        type=parse_host_port,
        help="the runner's --master-bind address as this host reaches it, HOST:PORT",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help="worker processes on this host (each counts as one of the runner's --expect-workers; "
        "about one per core)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    if args.processes < 1:
        raise CheckError("--processes must be >= 1")
    host, port = args.master
    workers, logs = start_locust_workers(host, port, args.processes)
    log(
        f"{args.processes} Locust worker process(es) for the master at {host}:{port} (pids "
        f"{', '.join(str(w.pid) for w in workers)}); they exit when the run ends"
    )
    stopping = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    try:
        while not stopping and any(w.poll() is None for w in workers):
            time.sleep(0.2)
    except KeyboardInterrupt:
        stopping.append(signal.SIGINT)
    finally:
        stop_locust_workers(workers, logs)
    if stopping:
        return EXIT_INTERRUPTED
    codes = [w.returncode for w in workers]
    failed = [c for c in codes if c]
    if failed:
        log(f"{len(failed)} of {len(workers)} worker(s) ended with an error (exit codes {codes})")
    return max(codes) if failed else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    return command_main(run, build_parser(), argv)
