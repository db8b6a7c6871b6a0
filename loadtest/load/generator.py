"""The load generator: Locust driven in-process for a whole session (locally, or as the master of
`locust --worker` processes it starts or that connect from other hosts), measuring runs cut to
one window of per-request samples.

Importing it imports Locust, which patches the standard library with gevent: import it first
in a process that uses it (loadtest/__main__.py does).
"""

from __future__ import annotations

import math
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import gevent
import psutil
from locust import events
from locust.argument_parser import get_parser
from locust.env import Environment
from locust.html import get_html_report
from locust.runners import STATE_MISSING, LocalRunner, MasterRunner
from locust.stats import stats_history

from loadtest import locustfile
from loadtest.cli import CheckError
from loadtest.load.workers import start_locust_workers, stop_locust_workers
from loadtest.run_checks import MAX_WARMUP_S, MAX_WINDOW_FACTOR
from loadtest.serving.deployment import RequestOptions
from loadtest.serving.servers import PROJECT_ROOT, free_port
from loadtest.stats import Sample, requests_by_source, span, window

# Seconds to wait for the Locust workers (local ones start in ~2 s; remote ones are started by hand).
LOCAL_WORKERS_WAIT_S = 60.0
REMOTE_WORKERS_WAIT_S = 120.0


def interrupt_main_greenlet_only() -> None:
    """Call once Locust (gevent) is imported, from the main greenlet. Python raises Ctrl-C's
    KeyboardInterrupt in whichever greenlet runs; in a Locust user's, gevent prints a
    traceback before passing it on. This raises it in the main greenlet only (where the
    command stops its servers), by way of gevent's loop when another greenlet runs."""
    main = gevent.getcurrent()
    hub = gevent.get_hub()

    def on_sigint(signum, frame) -> None:
        if gevent.getcurrent() is main:
            raise KeyboardInterrupt
        hub.loop.run_callback(main.throw, KeyboardInterrupt)

    signal.signal(signal.SIGINT, on_sigint)


@dataclass
class CandleRequest:
    """What every user requests: one mode's candles at one limit with an Accept-Encoding ("":
    Locust's own), and the body size expected back on the wire (within `size_slack` bytes)."""

    mode: str
    limit: int
    pair: str
    interval: str
    expect_bytes: int
    accept_encoding: str = ""
    size_slack: int = 0


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
    # Distributed mode, per Locust worker ("host#index"): requests it made in the window and the
    # CPU it used (its own reading, % of one core); `busiest` is the one of loadgen_cpu_pct.
    worker_requests: dict[str, int] = field(default_factory=dict)
    worker_cpu_pct: dict[str, float] = field(default_factory=dict)
    busiest: str = ""


class ManagedEnvironment(Environment):
    """Locust's Environment driven by LoadGenerator: the locustfile sees candlebench_managed and
    leaves the samples to it; its message handlers fill the flush acknowledgements ((token,
    worker id)) and the workers' reports (by worker id)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.candlebench_managed = True
        self.candlebench_flush_acks: list[tuple[str, str]] = []
        self.candlebench_worker_reports: dict[str, dict[str, Any]] = {}


class LoadGenerator:
    """One Locust Environment for a session: point it at a server, set what users request, measure.

    processes > 1: this process is the master of that many local `locust --worker` processes;
    expect_workers N: the master, bound to master_bind (host, port), of N workers started on
    other hosts (`python -m loadtest worker`). It refuses to measure with fewer workers than
    asked, and a worker lost during a run stops the session (CheckError)."""

    def __init__(
        self,
        host: str,
        processes: int = 1,
        cpus: set[int] | None = None,
        log_dir: Path | None = None,
        request: RequestOptions | None = None,
        *,
        expect_workers: int = 0,
        master_bind: tuple[str, int] | None = None,
        workers_wait_s: float = REMOTE_WORKERS_WAIT_S,
    ) -> None:
        self.expected = expect_workers or (processes if processes > 1 else 0)
        self.distributed = self.expected > 0
        parser = get_parser(default_config_files=[])
        self.options = parser.parse_args(["--headless", "--host", host, "--stop-timeout", "0"])
        # Every user's headers and TLS checking (the locustfile's --header, --insecure; sent to workers too).
        request = request or RequestOptions()
        vars(self.options).update(header=request.header_lines(), insecure=request.insecure)
        self.env = ManagedEnvironment(
            user_classes=[locustfile.CandleUser],
            events=events,
            host=host,
            parsed_options=self.options,
            locustfile=str(Path(locustfile.__file__).relative_to(PROJECT_ROOT)),
            stop_timeout=0,
        )
        self.runner: MasterRunner | LocalRunner
        self.workers: list[subprocess.Popen] = []
        self._worker_logs: list[IO[bytes]] = []
        self._roster: list[str] = []  # the ids of the workers measuring, as they connected
        if expect_workers:
            bind_host, port = master_bind or ("127.0.0.1", free_port())
            self.runner = self.env.create_master_runner(
                master_bind_host=bind_host, master_bind_port=port
            )
            events.init.fire(environment=self.env, runner=self.runner, web_ui=None)
            self._wait_for_workers(f"{bind_host}:{port}", workers_wait_s)
        elif processes > 1:
            port = free_port()
            self.runner = self.env.create_master_runner(
                master_bind_host="127.0.0.1", master_bind_port=port
            )
            events.init.fire(environment=self.env, runner=self.runner, web_ui=None)
            self.workers, self._worker_logs = start_locust_workers(
                "127.0.0.1", port, processes, cpus, log_dir
            )
            self._wait_for_workers(f"127.0.0.1:{port}", LOCAL_WORKERS_WAIT_S)
        else:
            self.runner = self.env.create_local_runner()
            events.init.fire(environment=self.env, runner=self.runner, web_ui=None)
        self._history = gevent.spawn(stats_history, self.runner)
        self._me = psutil.Process()
        self._boot_id = locustfile.boot_id()

    # -- distributed mode -------------------------------------------------------------
    @property
    def master(self) -> MasterRunner:
        """The runner, in distributed mode: the master of the Locust workers."""
        if not isinstance(self.runner, MasterRunner):
            raise RuntimeError("this LoadGenerator has no Locust workers (not distributed)")
        return self.runner

    def _wait_for_workers(self, address: str, timeout: float) -> None:
        """Wait until the expected workers are ready; refuse (CheckError) to measure with fewer."""
        deadline = time.monotonic() + timeout
        while len(self.master.clients.ready) < self.expected:
            exited = [w.pid for w in self.workers if w.poll() is not None]
            if exited or time.monotonic() > deadline:
                why = (
                    f"local worker process(es) {exited} exited"
                    if exited
                    else f"within {timeout:.0f} s"
                )
                raise CheckError(
                    f"only {len(self.master.clients.ready)} of {self.expected} Locust workers connected to the "
                    f"master at {address} ({why}); refusing to measure with fewer"
                    + (
                        ""
                        if self.workers
                        else f" (start one per load process with: python -m loadtest worker "
                        f"--master {address})"
                    )
                )
            gevent.sleep(0.1)
        self._roster = [c.id for c in self.master.clients.ready]

    def worker_label(self, client_id: str) -> str:
        """A worker as reports name it: its host name and Locust's index of it (host#0, host#1, ...)."""
        return f"{client_id.rsplit('_', 1)[0]}#{self.master.get_worker_index(client_id)}"

    def worker_labels(self) -> list[str]:
        return [self.worker_label(i) for i in self._roster]

    def _present(self) -> set[str]:
        return {c.id for c in self.master.clients.values() if c.state != STATE_MISSING}

    def _check_workers(self) -> None:
        """Stop the session (CheckError) when a worker of the roster went missing or quit:
        Locust would hand its users to the others and the run would silently measure less load."""
        lost = [i for i in self._roster if i not in self._present()]
        if lost:
            raise CheckError(
                f"Locust worker(s) {', '.join(map(self.worker_label, lost))} disconnected during the run "
                f"({len(self._roster) - len(lost)} of {len(self._roster)} left); stopped rather than measure "
                "less load than asked (the runs measured so far are in results.csv)"
            )

    def _await_roster(self, timeout: float = 10.0) -> None:
        """Before spawning: every worker of the roster ready again (after a stop a worker leaves
        the master's list until it reports ready), else CheckError."""
        deadline = time.monotonic() + timeout
        while not {c.id for c in self.master.clients.ready}.issuperset(self._roster):
            if time.monotonic() > deadline:
                self._check_workers()
                raise CheckError(
                    f"Locust workers not ready again within {timeout:.0f} s after the last run"
                )
            gevent.sleep(0.05)

    def _flush_workers(self, timeout: float = 10.0) -> None:
        """Ask every worker for the samples it holds (and its CPU reading); wait for all answers."""
        token = f"{time.time():.6f}"
        acks = self.env.candlebench_flush_acks
        acks.clear()
        # To each worker by id: just after a stop a worker is briefly off the master's list.
        for client_id in self._roster:
            # The workers echo the token as sent.
            self.master.send_message(
                locustfile.FLUSH_MESSAGE,
                token,  # type: ignore[arg-type]  # Locust annotates dict, sends any msgpack value
                client_id=client_id,
            )
        deadline = time.monotonic() + timeout
        while not {node for t, node in acks if t == token}.issuperset(self._roster):
            if time.monotonic() > deadline:
                self._check_workers()
                silent = [self.worker_label(i) for i in self._roster if (token, i) not in acks]
                raise CheckError(
                    f"Locust worker(s) {', '.join(silent)} did not send their samples within "
                    f"{timeout:.0f} s"
                )
            gevent.sleep(0.02)

    # -- measurement --------------------------------------------------------------------
    def _samples(self) -> list[Sample]:
        if self.distributed:
            self._flush_workers()
        return locustfile.COLLECTOR.drain()

    def _completed(self) -> int:
        if self.distributed:
            self._flush_workers()
        return len(locustfile.COLLECTOR)

    def _completed_since(self, t0: float) -> int:
        if self.distributed:
            self._flush_workers()
        return sum(1 for s in locustfile.COLLECTOR.samples if s[1] > t0)

    def _cpu_seconds(self) -> dict[str, float]:
        """CPU seconds used so far by this process ("") and, in distributed mode, by every
        worker of the roster (its id; the worker's own reading, sent with a flush)."""
        t = self._me.cpu_times()
        out = {"": t.user + t.system}
        if self.distributed:
            self._flush_workers()
            reports = self.env.candlebench_worker_reports
            out |= {i: reports[i]["cpu_s"] for i in self._roster if i in reports}
        return out

    def _on_this_machine(self, client_id: str) -> bool:
        report = self.env.candlebench_worker_reports.get(client_id, {})
        return report.get("boot_id") == self._boot_id

    @staticmethod
    def _probe(probe: Callable[[], dict[str, float]] | None) -> dict[str, float]:
        return probe() if probe else {}

    def _cpu_shares(
        self,
        m: Measurement,
        cpu0: dict[str, float],
        cpu1: dict[str, float],
        probe0: dict[str, float],
        probe1: dict[str, float],
        seconds: float,
    ) -> None:
        """Fill in the CPU shares (% of one core) of the load generator (per worker in
        distributed mode), server, database and of everything else on the machine over `seconds`."""
        per_process = {k: (cpu1[k] - cpu0[k]) / seconds * 100 for k in cpu0 if k in cpu1}
        if self.distributed:
            workers = {k: v for k, v in per_process.items() if k}
            m.worker_cpu_pct = {self.worker_label(k): v for k, v in workers.items()}
            busiest = max(workers, key=workers.__getitem__, default="")
            m.loadgen_cpu_pct = workers.get(busiest, 0.0)
            m.busiest = self.worker_label(busiest) if busiest else ""
        else:
            m.loadgen_cpu_pct = per_process.get("", 0.0)
        # Workers on other hosts use no CPU of this machine.
        here = sum(v for k, v in per_process.items() if not k or self._on_this_machine(k))
        delta = {k: (probe1[k] - probe0[k]) / seconds * 100 for k in probe0 if k in probe1}
        m.server_cpu_pct = delta.get("server", math.nan)
        m.db_cpu_pct = delta.get("db", math.nan)
        if "busy" in delta:
            known = here + sum(
                v for k, v in delta.items() if k in ("server", "db") and math.isfinite(v)
            )
            m.other_cpu_pct = max(0.0, delta["busy"] - known)

    def _count_workers(self, m: Measurement) -> None:
        """Distributed mode: the requests of each worker of the roster among the run's samples."""
        if self.distributed:
            counts = requests_by_source(m.samples)
            m.worker_requests = {self.worker_label(i): counts.get(i, 0) for i in self._roster}

    def _sleep(self, seconds: float) -> None:
        """Sleep; in distributed mode checking the workers every half second meanwhile."""
        if not self.distributed:
            gevent.sleep(seconds)
            return
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            gevent.sleep(min(0.5, left))
            self._check_workers()

    def _cpu_warning(self) -> bool:
        if isinstance(self.runner, MasterRunner):
            return bool(self.runner.worker_cpu_warning_emitted)
        return bool(self.runner.cpu_warning_emitted)

    # -- the public controls (the runner, spike and soak) --------------------------------
    def point_at(self, base_url: str) -> None:
        """Send the next runs' requests to the server at `base_url`."""
        self.env.host = self.options.host = base_url

    def set_request(
        self, request: CandleRequest, profile: str = "steady", requests_per_user: int = 0
    ) -> None:
        """What every user requests next, and how (the locustfile's options); forgets old samples."""
        vars(self.options).update(
            mode=request.mode,
            limit=request.limit,
            pair=request.pair,
            interval=request.interval,
            expect_bytes=request.expect_bytes,
            expect_bytes_slack=request.size_slack,
            accept_encoding=request.accept_encoding,
            load_profile=profile,
            requests_per_user=requests_per_user,
        )
        self.discard_samples()

    def discard_samples(self) -> None:
        """Drop the per-request samples collected so far (a caller that counts otherwise keeps memory flat)."""
        locustfile.COLLECTOR.drain()

    def start(self, users: int) -> None:
        """Spawn `users` users (at most 100 a second) that request back to back (in distributed
        mode spread over every worker of the roster)."""
        if self.distributed:
            self._await_roster()
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
        """Run a Locust LoadTestShape (set_request first); end_shape() after it ended."""
        self.env.shape_class = shape
        shape.runner = self.runner
        if self.distributed:
            self._await_roster()
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

    def steady(
        self,
        request: CandleRequest,
        users: int,
        warmup: float,
        duration: float,
        probe: Callable[[], dict[str, float]] | None = None,
        min_requests: int = 0,
        max_warmup: float = MAX_WARMUP_S,
    ) -> Measurement:
        """Users request back to back; after a warm-up of at least `warmup` seconds and
        at least one completed request per user (so the server queue is full and leftovers
        of the previous run are done), measure `duration` seconds (longer, up to
        MAX_WINDOW_FACTOR x, until `min_requests` completed)."""
        self.set_request(request)
        self.start(users)
        spawned = time.time()
        complete = False
        while True:
            gevent.sleep(0.25 if self.distributed else 0.05)
            if self.distributed:
                self._check_workers()
            elapsed = time.time() - spawned
            if elapsed >= warmup and self._completed() >= users:
                complete = True
                break
            if elapsed >= max(max_warmup, warmup):
                break
        cpu0, probe0 = self._cpu_seconds(), self._probe(probe)
        self.runner.stats.reset_all()
        t0 = time.time()
        self._sleep(duration)
        # A slow case (e.g. 8 requests/s) would leave a window with too few requests to
        # count on: extend it until `min_requests` completed, up to MAX_WINDOW_FACTOR x duration.
        while (
            self._completed_since(t0) < min_requests
            and time.time() - t0 < MAX_WINDOW_FACTOR * duration
        ):
            gevent.sleep(0.25 if self.distributed else 0.05)
        if self.distributed:
            self._check_workers()
        t1 = time.time()
        cpu1, probe1 = self._cpu_seconds(), self._probe(probe)
        warning = self._cpu_warning()
        self.stop()
        samples = window(self._samples(), t0, t1)
        m = Measurement(samples, t1 - t0, 0.0, warning, t0 - spawned, complete, t0, t1)
        self._cpu_shares(m, cpu0, cpu1, probe0, probe1, t1 - t0)
        self._count_workers(m)
        return m

    def seed(
        self,
        request: CandleRequest,
        users: int,
        requests_per_user: int,
        probe: Callable[[], dict[str, float]] | None = None,
        timeout: float = 900,
    ) -> Measurement:
        """The case study's shape: every user makes `requests_per_user` requests and stops;
        measured from the first request's start to the last response."""
        self.set_request(request, "seed", requests_per_user)
        self.runner.stats.reset_all()
        cpu0, probe0 = self._cpu_seconds(), self._probe(probe)
        w0 = time.time()
        self.start(users)
        expected = users * requests_per_user
        deadline = time.monotonic() + timeout
        notes = []
        while True:
            gevent.sleep(0.5 if self.distributed else 0.1)
            if self.distributed:
                self._check_workers()
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
        self._count_workers(m)
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
            stop_locust_workers(self.workers, self._worker_logs)
