"""The load generator: Locust driven in-process for a whole session (locally, or as the master of
`locust --worker` processes), measuring runs cut to one window of per-request samples.

Importing it imports Locust, which patches the standard library with gevent: import it first
in a process that uses it (loadtest/__main__.py does).
"""
from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gevent
import psutil
from locust import events
from locust.argument_parser import get_parser
from locust.env import Environment
from locust.html import get_html_report
from locust.runners import MasterRunner
from locust.stats import stats_history

from . import locustfile
from .deployment import RequestOptions
from .servers import PROJECT_ROOT, free_port, pin_to
from .run_checks import MAX_WARMUP_S, MAX_WINDOW_FACTOR
from .stats import Sample, span, window


@dataclass
class Target:
    mode: str
    limit: int
    pair: str
    interval: str
    expect_bytes: int


@dataclass
class Measurement:
    samples: list[Sample]
    duration_s: float
    loadgen_cpu_pct: float  # the busiest load-generating process, % of one core
    locust_cpu_warning: bool
    warmup_s: float
    warmup_complete: bool
    started: float
    ended: float
    # CPU over the same window, % of one core: the server's process tree, the database's
    # processes (PostgreSQL on this machine) and everything else on the machine.
    server_cpu_pct: float = math.nan
    db_cpu_pct: float = math.nan
    other_cpu_pct: float = math.nan
    notes: list[str] = field(default_factory=list)


class LoadGenerator:
    """One Locust Environment for a session: point it at a server, set a target, measure."""

    def __init__(self, host: str, processes: int = 1, cpus: set[int] | None = None,
                 log_dir: Path | None = None, request: RequestOptions | None = None) -> None:
        self.processes = processes
        parser = get_parser(default_config_files=[])
        self.options = parser.parse_args(["--headless", "--host", host, "--stop-timeout", "0"])
        # Every user's headers and TLS checking (the locustfile's --header, --insecure; sent to workers too).
        request = request or RequestOptions()
        vars(self.options).update(header=request.header_lines(), insecure=request.insecure)
        self.env = Environment(
            user_classes=[locustfile.CandleUser],
            events=events,
            host=host,
            parsed_options=self.options,
            locustfile=str(Path(locustfile.__file__).relative_to(PROJECT_ROOT)),
            stop_timeout=0,
        )
        self.env.candlebench_managed = True
        self.env.candlebench_flush_acks = []
        self.workers: list[subprocess.Popen] = []
        self._worker_logs = []
        if processes > 1:
            port = free_port()
            self.runner = self.env.create_master_runner(master_bind_host="127.0.0.1", master_bind_port=port)
            events.init.fire(environment=self.env, runner=self.runner, web_ui=None)
            self._start_workers(port, cpus, log_dir)
        else:
            self.runner = self.env.create_local_runner()
            events.init.fire(environment=self.env, runner=self.runner, web_ui=None)
        self._history = gevent.spawn(stats_history, self.runner)
        self._me = psutil.Process()

    # -- distributed mode -------------------------------------------------------------
    def _start_workers(self, port: int, cpus: set[int] | None, log_dir: Path | None) -> None:
        cmd = [sys.executable, "-m", "locust", "-f", str(Path(locustfile.__file__)), "--worker",
               "--master-host", "127.0.0.1", "--master-port", str(port), "--loglevel", "WARNING"]
        if log_dir:  # against a target no server made it
            log_dir.mkdir(parents=True, exist_ok=True)
        for i in range(self.processes):
            log = open(log_dir / f"locust-worker-{i}.log", "ab") if log_dir else subprocess.DEVNULL
            self._worker_logs.append(log)
            self.workers.append(
                subprocess.Popen(
                    cmd, cwd=PROJECT_ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    preexec_fn=pin_to(cpus), start_new_session=True,
                )
            )
        deadline = time.monotonic() + 60
        while len(self.runner.clients.ready) < self.processes:
            if time.monotonic() > deadline or any(w.poll() is not None for w in self.workers):
                raise RuntimeError(f"only {len(self.runner.clients.ready)} of {self.processes} Locust workers connected")
            gevent.sleep(0.1)

    def _flush_workers(self, timeout: float = 10.0) -> None:
        """Ask every worker for the samples it holds and wait for all answers."""
        token = f"{time.time():.6f}"
        acks: list = self.env.candlebench_flush_acks
        acks.clear()
        self.runner.send_message(locustfile.FLUSH_MESSAGE, token)
        deadline = time.monotonic() + timeout
        while sum(1 for a in acks if a == token) < self.processes:
            if time.monotonic() > deadline:
                raise RuntimeError("Locust workers did not send their samples in time")
            gevent.sleep(0.02)

    # -- measurement --------------------------------------------------------------------
    def _samples(self) -> list[Sample]:
        if self.processes > 1:
            self._flush_workers()
        return locustfile.COLLECTOR.drain()

    def _completed(self) -> int:
        if self.processes > 1:
            self._flush_workers()
        return len(locustfile.COLLECTOR)

    def _completed_since(self, t0: float) -> int:
        if self.processes > 1:
            self._flush_workers()
        return sum(1 for s in locustfile.COLLECTOR.samples if s[1] > t0)

    def _generator_processes(self) -> list[psutil.Process]:
        """The processes making requests; in distributed mode followed by this master."""
        if self.processes > 1:
            return [*(psutil.Process(w.pid) for w in self.workers), self._me]
        return [self._me]

    def _cpu_seconds(self) -> list[float]:
        out = []
        for p in self._generator_processes():
            t = p.cpu_times()
            out.append(t.user + t.system)
        return out

    @staticmethod
    def _probe(probe: Callable[[], dict[str, float]] | None) -> dict[str, float]:
        return probe() if probe else {}

    def _cpu_shares(self, m: Measurement, cpu0: list[float], cpu1: list[float], probe0: dict[str, float],
                    probe1: dict[str, float], seconds: float) -> None:
        """Fill in the CPU shares (% of one core) of the load generator, server, database
        and of everything else on the machine over `seconds`."""
        per_process = [(b - a) / seconds * 100 for a, b in zip(cpu0, cpu1)]
        workers = per_process[:-1] if self.processes > 1 else per_process
        m.loadgen_cpu_pct = max(workers, default=0.0)
        ours = sum(per_process)
        delta = {k: (probe1[k] - probe0[k]) / seconds * 100 for k in probe0 if k in probe1}
        m.server_cpu_pct = delta.get("server", math.nan)
        m.db_cpu_pct = delta.get("db", math.nan)
        if "busy" in delta:
            known = ours + sum(v for k, v in delta.items() if k in ("server", "db") and math.isfinite(v))
            m.other_cpu_pct = max(0.0, delta["busy"] - known)

    def _cpu_warning(self) -> bool:
        if isinstance(self.runner, MasterRunner):
            return bool(self.runner.worker_cpu_warning_emitted)
        return bool(self.runner.cpu_warning_emitted)

    # -- the public controls (the runner, spike and soak) --------------------------------
    def point_at(self, base_url: str) -> None:
        """Send the next runs' requests to the server at `base_url`."""
        self.env.host = self.options.host = base_url

    def set_target(self, target: Target, profile: str = "steady", requests_per_user: int = 0) -> None:
        """What every user requests next, and how (the locustfile's options); forgets old samples."""
        vars(self.options).update(
            mode=target.mode,
            limit=target.limit,
            pair=target.pair,
            interval=target.interval,
            expect_bytes=target.expect_bytes,
            load_profile=profile,
            requests_per_user=requests_per_user,
        )
        self.discard_samples()

    def discard_samples(self) -> None:
        """Drop the per-request samples collected so far (a caller that counts otherwise keeps memory flat)."""
        locustfile.COLLECTOR.drain()

    def start(self, users: int) -> None:
        """Spawn `users` users (at most 100 a second) that request back to back."""
        self.runner.cpu_warning_emitted = False
        if isinstance(self.runner, MasterRunner):
            self.runner.worker_cpu_warning_emitted = False
        self.runner.start(users, spawn_rate=min(users, 100))

    def stop(self) -> None:
        """Stop every user (in distributed mode: until every worker confirmed)."""
        self.runner.stop()
        if isinstance(self.runner, MasterRunner):
            # The master only marks itself stopped once every worker confirmed.
            deadline = time.monotonic() + 10
            while self.runner.state != "stopped" and time.monotonic() < deadline:
                gevent.sleep(0.05)

    def start_shape(self, shape) -> None:
        """Run a Locust LoadTestShape (set_target first); end_shape() after it ended."""
        self.env.shape_class = shape
        shape.runner = self.runner
        # Not headless while the shape runs: at its end Locust then stops the users instead of quitting.
        self.options.headless = False
        self.runner.cpu_warning_emitted = False
        self.runner.start_shape()

    def end_shape(self) -> None:
        """Stop the users and return to plain runs."""
        try:
            self.stop()
        finally:
            self.env.shape_class = None
            self.options.headless = True
            self.discard_samples()

    def steady(self, target: Target, users: int, warmup: float, duration: float,
               probe: Callable[[], dict[str, float]] | None = None, min_requests: int = 0,
               max_warmup: float = MAX_WARMUP_S) -> Measurement:
        """Users request back to back; after a warm-up of at least `warmup` seconds and
        at least one completed request per user (so the server queue is full and leftovers
        of the previous run are done), measure `duration` seconds (longer, up to
        MAX_WINDOW_FACTOR x, until `min_requests` completed)."""
        self.set_target(target)
        self.start(users)
        spawned = time.time()
        complete = False
        while True:
            gevent.sleep(0.05 if self.processes == 1 else 0.25)
            elapsed = time.time() - spawned
            if elapsed >= warmup and self._completed() >= users:
                complete = True
                break
            if elapsed >= max(max_warmup, warmup):
                break
        cpu0, probe0 = self._cpu_seconds(), self._probe(probe)
        self.runner.stats.reset_all()
        t0 = time.time()
        gevent.sleep(duration)
        # A slow case (e.g. 8 requests/s) would leave a window with too few requests to
        # count on: extend it until `min_requests` completed, up to MAX_WINDOW_FACTOR x duration.
        while self._completed_since(t0) < min_requests and time.time() - t0 < MAX_WINDOW_FACTOR * duration:
            gevent.sleep(0.05 if self.processes == 1 else 0.25)
        t1 = time.time()
        cpu1, probe1 = self._cpu_seconds(), self._probe(probe)
        warning = self._cpu_warning()
        self.stop()
        samples = window(self._samples(), t0, t1)
        m = Measurement(samples, t1 - t0, 0.0, warning, t0 - spawned, complete, t0, t1)
        self._cpu_shares(m, cpu0, cpu1, probe0, probe1, t1 - t0)
        return m

    def seed(self, target: Target, users: int, requests_per_user: int,
             probe: Callable[[], dict[str, float]] | None = None, timeout: float = 900) -> Measurement:
        """The case study's shape: every user makes `requests_per_user` requests and stops;
        measured from the first request's start to the last response."""
        self.set_target(target, "seed", requests_per_user)
        self.runner.stats.reset_all()
        cpu0, probe0 = self._cpu_seconds(), self._probe(probe)
        w0 = time.time()
        self.start(users)
        expected = users * requests_per_user
        deadline = time.monotonic() + timeout
        notes = []
        while True:
            gevent.sleep(0.1 if self.processes == 1 else 0.5)
            if self._completed() >= expected and self.runner.user_count == 0:
                break
            if time.monotonic() > deadline:
                notes.append(f"stopped after {timeout:.0f}s")
                break
        w1 = time.time()
        cpu1, probe1 = self._cpu_seconds(), self._probe(probe)
        warning = self._cpu_warning()
        self.stop()
        samples = self._samples()
        if not samples:
            return Measurement([], w1 - w0, 0.0, warning, 0.0, True, w0, w1, notes=notes)
        first, last = span(samples)
        if len(samples) < expected:
            notes.append(f"{len(samples)} of {expected} requests completed")
        m = Measurement(samples, last - first, 0.0, warning, 0.0, True, first, last, notes=notes)
        self._cpu_shares(m, cpu0, cpu1, probe0, probe1, w1 - w0)
        return m

    def html_report(self) -> str:
        return get_html_report(self.env, show_download_link=False)

    def close(self) -> None:
        try:
            if self.runner.state not in ("stopped", "ready"):
                self.runner.stop()
            self.runner.quit()
        finally:
            self._history.kill(block=False)
            for w in self.workers:
                if w.poll() is None:
                    w.terminate()
            for w in self.workers:
                try:
                    w.wait(10)
                except subprocess.TimeoutExpired:
                    w.kill()
            for log in self._worker_logs:
                if hasattr(log, "close"):
                    log.close()

