"""The servers the runner compares (one entry each: name, description, command) and how a
started one is watched and stopped."""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import psutil

from candles.api.registry import ServerKind
from loadtest.axes import Deployment
from loadtest.cli import PROJECT_ROOT, CheckError

# uvicorn's production options. --limit-concurrency sheds overload: past this many open
# connections *or* request tasks a new request gets an immediate 503 instead of waiting in an
# unbounded queue. A keep-alive connection can hold two tasks at once (Django still finishing
# the answered request while the next one arrives): measured, the case study's 60 seed users
# peaked at 60 connections and 120 tasks, so 100 shed them. 200 is twice the largest load the
# runner applies on purpose, and bounds the wait of an admitted request to ~200 requests of
# service time (~0.8 s for raw, ~6 s for drf at 1000 rows on one core).
UVICORN_LIMIT_CONCURRENCY = 200
# Finish in-flight requests for up to this long on SIGTERM (gunicorn.conf.py's graceful_timeout).
UVICORN_GRACEFUL_SECONDS = 10


def direct_opener(*handlers: urllib.request.BaseHandler) -> urllib.request.OpenerDirector:
    """urllib without the shell's proxy (http_proxy, ...): the runner's checks reach a server the
    way the load does (neither Locust's FastHttpUser nor wrk reads a proxy from the environment),
    and a proxy could not reach the servers the runner starts on 127.0.0.1 anyway."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), *handlers)


PROJECT_ASGI_APP = "candleproject.asgi:application"
PROJECT_WSGI_APP = "candleproject.wsgi:application"
STOCK_ASGI_APP = "candleproject.asgi_stock:application"
FASTAPI_APP = "loadtest.reference.fastapi_app:app"


def uvicorn_command(
    host: str,
    port: int,
    *,
    app: str,
    limit_concurrency: int,
    workers: int = 1,
    python: str = sys.executable,
) -> list[str]:
    """uvicorn with the production options and `workers` processes; `limit_concurrency` (per
    process) 0 turns shedding off."""
    return [
        python,
        "-m",
        "uvicorn",
        app,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
        "--lifespan",
        "off",
        "--timeout-keep-alive",
        "5",
        "--timeout-graceful-shutdown",
        str(UVICORN_GRACEFUL_SECONDS),
        *(["--limit-concurrency", str(limit_concurrency)] if limit_concurrency else []),
    ]


def gunicorn_command(
    host: str,
    port: int,
    *,
    app: str,
    worker_class: str,
    workers: int = 1,
    python: str = sys.executable,
) -> list[str]:
    """gunicorn reads the project's gunicorn.conf.py (the production settings) from the working
    directory; the command line sets the address, `workers` worker processes, and turns worker
    recycling (max_requests) off, so that a restart cannot fall into a measured window."""
    return [
        python,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--max-requests",
        "0",
        "--log-level",
        "warning",
        "--worker-class",
        worker_class,
        app,
    ]


def granian_command(
    host: str,
    port: int,
    *,
    interface: str,
    app: str,
    workers: int = 1,
    backpressure: int | None = None,
    python: str = sys.executable,
) -> list[str]:
    """granian (Rust HTTP server) with `workers` processes of one single-threaded runtime each.

    --interface is always given (granian's default is RSGI); --blocking-threads 1 runs the
    application on one Python thread per worker, like one gunicorn sync worker and like the
    project's ASGI handler; no websockets, warnings only (the access log is off by default).
    `asginl` is granian's ASGI without the lifespan protocol, which Django does not speak
    (uvicorn's --lifespan off). granian never sheds load with a 503: past `backpressure`
    requests at once per worker (default: the backlog) a connection waits to be accepted.
    """
    command = [
        python,
        "-m",
        "granian",
        "--interface",
        interface,
        app,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--blocking-threads",
        "1",
        "--runtime-mode",
        "st",
        "--no-ws",
        "--log-level",
        "warning",
    ]
    if interface.startswith("asgi"):
        command += ["--loop", "uvloop"]
    if backpressure:
        command += ["--backpressure", str(backpressure)]
    return command


def bolt_command(
    host: str, port: int, *, workers: int = 1, threads: int = 1, python: str = sys.executable
) -> list[str]:
    """django-bolt's runbolt as a production server: `workers` processes of `threads` handler
    threads each, no reload, no admin. It reads DATABASE_URL and runs from the project's root;
    its settings (candleproject/bolt_settings.py) add django_bolt and name the API in BOLT_API."""
    return [
        python,
        "manage.py",
        "runbolt",
        "--settings",
        "candleproject.bolt_settings",
        "--host",
        host,
        "--port",
        str(port),
        "--processes",
        str(workers),
        "--workers",
        str(threads),
        "--no-admin",
    ]


# How a server's documents must equal the others': byte for byte, or as parsed JSON with
# times compared as instants (the FastAPI reference's orjson mode writes +00:00 for Z).
BYTES = "bytes"
INSTANTS = "instants"


@dataclass(frozen=True)
class ServerSpec:
    """One server the runner can start: `build(host, port, python=..., workers=..., **options)`
    is its command line run by the interpreter `python` (a stack's, loadtest/serving/stacks.py),
    `app_kind` what it runs (the registry's kinds of server say which modes that serves)."""

    name: str
    description: str
    build: Callable[..., list[str]]
    app_kind: ServerKind = field(kw_only=True)
    options: Mapping[str, object] = field(default_factory=dict)
    # Processes serving requests (the runner's --workers; a column of results.csv).
    workers: int = 1
    # The default plan runs it at every limit (else at 1000 rows only; --full: every limit).
    every_limit: bool = False
    # The ceiling diagnostics the default plan measures on it (--full: all it serves).
    # floor-async under a WSGI server pays async_to_sync per request and never sets the ceiling.
    ceiling: tuple[str, ...] = ("floor",)
    same_document: str = BYTES
    # Seconds from start to answering, for the runner's estimate (measured here, rounded up).
    startup_s: float = 3.0
    # What it does past its capacity (spike and soak report it).
    overload: str = ""
    # Runs an event loop, which works on other requests while a query waits (the report's
    # database-bound estimate does not apply to it with a database server).
    event_loop: bool = False

    def command(self, host: str, port: int, python: str = sys.executable) -> list[str]:
        return self.build(host, port, python=python, workers=self.workers, **self.options)

    def with_workers(self, workers: int) -> ServerSpec:
        """The same server run with `workers` processes serving requests."""
        if workers < 1:
            raise ValueError("workers must be >= 1")
        return replace(self, workers=workers)

    @property
    def label(self) -> str:
        """Its description, saying how many processes serve when that is not the one it names."""
        return (
            self.description
            if self.workers == 1
            else f"{self.description}; run with {self.workers} processes"
        )

    def with_options(self, **options: object) -> ServerSpec:
        """The same server with some command options replaced (e.g. limit_concurrency)."""
        return replace(self, options={**self.options, **options})


SHEDS = f"uvicorn: an immediate 503 past --limit-concurrency {UVICORN_LIMIT_CONCURRENCY}"
QUEUES_GUNICORN = "gunicorn: queues in its accept backlog, never a 503"
QUEUES_GRANIAN = "granian: queues (--backpressure bounds work in flight, not waiting), never a 503"
UVICORN = {"limit_concurrency": UVICORN_LIMIT_CONCURRENCY}
ASGI_CEILING = ("floor", "floor-async")

SERVERS: dict[str, ServerSpec] = {
    spec.name: spec
    for spec in (
        ServerSpec(
            "asgi",
            "uvicorn, 1 process, uvloop + httptools, no access log (the case study's set-up)",
            uvicorn_command,
            {"app": PROJECT_ASGI_APP, **UVICORN},
            every_limit=True,
            ceiling=ASGI_CEILING,
            overload=SHEDS,
            event_loop=True,
            app_kind=ServerKind.DJANGO,
        ),
        ServerSpec(
            "wsgi",
            "gunicorn, 1 sync worker, gunicorn.conf.py without worker recycling",
            gunicorn_command,
            {"app": PROJECT_WSGI_APP, "worker_class": "sync"},
            every_limit=True,
            startup_s=5.0,
            overload=QUEUES_GUNICORN,
            app_kind=ServerKind.DJANGO,
        ),
        # uvicorn.workers is deprecated in uvicorn 0.54; the worker lives in uvicorn-worker.
        ServerSpec(
            "asgi-gunicorn",
            "gunicorn, 1 uvicorn_worker.UvicornWorker (uvloop + httptools), "
            "gunicorn.conf.py without worker recycling",
            gunicorn_command,
            {"app": PROJECT_ASGI_APP, "worker_class": "uvicorn_worker.UvicornWorker"},
            ceiling=ASGI_CEILING,
            overload=SHEDS.replace("uvicorn", "uvicorn's worker"),
            event_loop=True,
            app_kind=ServerKind.DJANGO,
        ),
        ServerSpec(
            "asgi-stock",
            "uvicorn as asgi, serving stock Django (its own ASGIHandler, MIDDLEWARE for "
            "every path: a thread per request)",
            uvicorn_command,
            {"app": STOCK_ASGI_APP, **UVICORN},
            ceiling=ASGI_CEILING,
            overload=SHEDS,
            event_loop=True,
            app_kind=ServerKind.DJANGO,
        ),
        ServerSpec(
            "granian-wsgi",
            "granian --interface wsgi, 1 worker, 1 blocking thread, single-threaded runtime",
            granian_command,
            {"interface": "wsgi", "app": PROJECT_WSGI_APP},
            overload=QUEUES_GRANIAN,
            app_kind=ServerKind.DJANGO,
        ),
        ServerSpec(
            "granian-asgi",
            "granian --interface asginl, 1 worker, 1 blocking thread, uvloop",
            granian_command,
            {"interface": "asginl", "app": PROJECT_ASGI_APP},
            ceiling=ASGI_CEILING,
            overload=QUEUES_GRANIAN,
            event_loop=True,
            app_kind=ServerKind.DJANGO,
        ),
        ServerSpec(
            "fastapi",
            "the case study's FastAPI app (loadtest/reference) under uvicorn as asgi",
            uvicorn_command,
            {"app": FASTAPI_APP, **UVICORN},
            same_document=INSTANTS,
            overload=SHEDS,
            event_loop=True,
            app_kind=ServerKind.FASTAPI,
        ),
        ServerSpec(
            "bolt",
            "django-bolt's runbolt (Rust HTTP server), 1 process, 1 worker thread",
            bolt_command,
            {"threads": 1},
            startup_s=3.5,
            overload="runbolt (Actix): not characterised here yet; the spike table shows it",
            app_kind=ServerKind.BOLT,
        ),
    )
}


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def pin_to(cpus: set[int] | None):
    """A preexec_fn that pins the child (and everything it forks) to `cpus`."""
    if not cpus:
        return None

    def preexec() -> None:
        os.sched_setaffinity(0, cpus)

    return preexec


class ServerProcess:
    """One running server: a process tree pinned to the server CPU(s)."""

    def __init__(
        self,
        spec: ServerSpec,
        env: dict[str, str],
        cpus: set[int] | None,
        log_path: Path,
        host: str = "127.0.0.1",
        deployment: Deployment | None = None,
        python: str = sys.executable,
    ) -> None:
        self.spec = spec
        # The setup of every axis it runs under (`env` and `python` carry them out).
        self.deployment = Deployment() if deployment is None else deployment
        self.host = host
        self.port = free_port(host)
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(log_path, "ab")  # noqa: SIM115 - the server writes it; stop() closes it
        self.proc = subprocess.Popen(
            spec.command(host, self.port, python),
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=pin_to(cpus),
            start_new_session=True,
        )
        self.ps = psutil.Process(self.proc.pid)
        self._cpu: dict[int, float] = {}
        self._started = time.monotonic()
        self.started_s = math.nan  # seconds from start until it answered (wait_ready)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def served_by(self) -> str:
        """Its name with its deployment, as plans and results name it: `wsgi+zstd-1`."""
        return self.deployment.label(self.spec.name)

    @property
    def workers(self) -> int:
        return self.spec.workers

    def cpu_probe(self, local_postgres: bool) -> CpuProbe:
        """What the load generator reads before and after a window (see CpuProbe)."""
        return CpuProbe(self, local_postgres)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 60.0) -> dict:
        """Wait until GET /api/modes answers 200 and return its JSON document."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(
                    f"{self.spec.name} server exited with code {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                with direct_opener().open(self.base_url + "/api/modes", timeout=5) as response:
                    if response.status == 200:
                        self.started_s = time.monotonic() - self._started
                        return json.loads(response.read())
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
                last = str(exc)
            time.sleep(0.1)
        raise RuntimeError(f"{self.spec.name} server did not answer within {timeout:.0f}s ({last})")

    def processes(self) -> list[psutil.Process]:
        try:
            return [self.ps, *self.ps.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def pids(self) -> frozenset[int]:
        return frozenset(p.pid for p in self.processes())

    def cpu_by_process(self) -> dict[int, float]:
        """User + system CPU time each process of the server tree has used so far (by pid).

        Kept per process and only ever growing: a worker that is replaced keeps the time
        it used, so the difference of two readings is never negative.
        """
        for p in self.processes():
            try:
                t = p.cpu_times()
            except psutil.NoSuchProcess:
                continue
            self._cpu[p.pid] = max(self._cpu.get(p.pid, 0.0), t.user + t.system)
        return dict(self._cpu)

    def cpu_seconds(self) -> float:
        """User + system CPU time the server tree has used so far."""
        return sum(self.cpu_by_process().values())

    def reset_peak_rss(self) -> bool:
        """Reset the kernel's peak-RSS mark (VmHWM) of every server process (Linux >= 4.0)."""
        done = True
        for p in self.processes():
            try:
                with open(f"/proc/{p.pid}/clear_refs", "w") as f:
                    f.write("5")
            except OSError:
                done = False
        return done

    def peak_rss_mb(self) -> float:
        """Peak RSS since the last reset, summed over the server's processes, in MiB.

        Falls back to the current RSS where /proc/<pid>/status has no VmHWM.
        """
        total = 0
        for p in self.processes():
            hwm = _vm_hwm_bytes(p.pid)
            if hwm is None:
                try:
                    hwm = p.memory_info().rss
                except psutil.NoSuchProcess:
                    continue
            total += hwm
        return total / 2**20

    def rss_mb(self) -> float:
        """Current RSS summed over the server's processes, in MiB (one that just exited counts 0)."""
        total = 0
        for p in self.processes():
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                continue
        return total / 2**20

    def affinity(self) -> list[int]:
        cpus: set[int] = set()
        for p in self.processes():
            with contextlib.suppress(psutil.NoSuchProcess, AttributeError):
                cpus.update(p.cpu_affinity())
        return sorted(cpus)

    def wait_idle(
        self, timeout: float = 10.0, interval: float = 0.05, threshold: float = 0.1
    ) -> float:
        """Wait until the server uses less than `threshold` of a CPU (requests left over
        from a stopped run are done). Returns the seconds waited."""
        started = time.monotonic()
        last = self.cpu_seconds()
        while time.monotonic() - started < timeout:
            time.sleep(interval)
            now = self.cpu_seconds()
            if now - last < threshold * interval:
                break
            last = now
        return time.monotonic() - started

    def open_connections(self) -> int:
        """Client connections the server holds open on its port (ESTABLISHED, all its processes)."""
        count = 0
        for p in self.processes():
            try:
                count += sum(
                    1
                    for c in p.net_connections("tcp")
                    if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == self.port
                )
            except psutil.Error:
                continue
        return count

    def wait_disconnected(self, timeout: float = 10.0, interval: float = 0.05) -> int:
        """Wait until no client connection is open on the server (an earlier run's keep-alive
        connections would count against a connection limit); returns how many are left."""
        deadline = time.monotonic() + timeout
        while (left := self.open_connections()) and time.monotonic() < deadline:
            time.sleep(interval)
        return left

    def stop(self, timeout: float = 10.0) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()


def _vm_hwm_bytes(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def system_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy so far (all CPUs; interrupts excluded,
    since loopback traffic of the benchmark itself lands there; stolen time included)."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + getattr(t, "steal", 0.0)


def postgres_cpu_seconds() -> float:
    """CPU seconds of the PostgreSQL server processes on this machine."""
    total = 0.0
    for p in psutil.process_iter(["name", "cpu_times"]):
        name = p.info.get("name") or ""
        times = p.info.get("cpu_times")
        if name.startswith("postgres") and times is not None:
            total += times.user + times.system
    return total


# A server process that used less of a core than this during a window served (almost) nothing:
# gunicorn's or uvicorn's supervisor, an idle worker.
SERVING_CPU_PCT = 5.0


class CpuProbe:
    """Cumulative CPU seconds of the server, the local database and the whole machine;
    the load generator turns two readings (the window's edges) into shares of the window."""

    def __init__(self, server: ServerProcess, local_postgres: bool) -> None:
        self.server = server
        self.local_postgres = local_postgres
        self._edges: list[tuple[float, dict[int, float]]] = []

    def __call__(self) -> dict[str, float]:
        by_process = self.server.cpu_by_process()
        self._edges = [*self._edges[:1], (time.monotonic(), by_process)]
        reading = {"server": sum(by_process.values()), "busy": system_busy_seconds()}
        if self.local_postgres:
            reading["db"] = postgres_cpu_seconds()
        return reading

    def serving_processes(self, min_pct: float = SERVING_CPU_PCT) -> int:
        """Server processes that used at least `min_pct` of a core between the first and the
        last reading (0 before two readings)."""
        if len(self._edges) < 2:
            return 0
        (t0, first), (t1, last) = self._edges
        seconds = max(t1 - t0, 1e-9)
        return sum(
            1 for pid, cpu in last.items() if (cpu - first.get(pid, 0.0)) / seconds * 100 >= min_pct
        )


def refuse_unknown_servers(servers: list[str]) -> None:
    """One line naming the servers there are."""
    unknown = [s for s in servers if s not in SERVERS]
    if unknown:
        raise CheckError(
            f"unknown server(s): {', '.join(unknown)} (choose from {', '.join(SERVERS)})"
        )
