"""One measuring session: the servers' environment, checked settings, the CPU layout (server
pinned to its CPU(s), Locust to the others) and starting a server on it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from loadtest.axes import Deployment
from loadtest.cli import log
from loadtest.serving.axes import check_served, default_env, launch, served_deployment
from loadtest.serving.checks import (
    check_server_debug_off,
    explained_http_errors,
    target_modes_document,
)
from loadtest.serving.database import prepare_database
from loadtest.serving.deployment import RemoteServer, RequestOptions, on_this_machine
from loadtest.serving.machine import machine_info
from loadtest.serving.redis_server import redis_env
from loadtest.serving.servers import ServerProcess, ServerSpec
from loadtest.serving.settings_probe import (
    mode_names,
    probe_settings,
    refuse_debug,
    refuse_unreachable_database,
)

# candleproject/settings.py's ALLOWED_HOSTS when DJANGO_ALLOWED_HOSTS is unset.
DEFAULT_ALLOWED_HOSTS = "localhost,127.0.0.1,[::1]"


def server_env() -> dict[str, str]:
    """This process's environment as the servers get it (the project's settings, unbuffered output,
    every deployment axis's variable at its default: the runner sets each per server, never the
    shell, e.g. CANDLEBENCH_COMPRESSION)."""
    env = default_env(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "candleproject.settings")
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass(frozen=True)
class CpuLayout:
    """Which CPUs the server and the load generator get (None: no pinning) and a sentence for reports."""

    server: set[int] | None
    loadgen: set[int] | None
    text: str

    @property
    def shared(self) -> set[int]:
        """CPUs the server and the load generator both run on (empty: they are pinned apart)."""
        return (self.server or set()) & (self.loadgen or set())

    def pin_load_generator(self) -> None:
        """Pin this process (the in-process Locust) to the load generator's CPUs."""
        if self.loadgen:
            os.sched_setaffinity(0, self.loadgen)


def _cpus_text(cpus: list[int]) -> str:
    return f"CPU{'s' if len(cpus) > 1 else ''} {', '.join(map(str, cpus))}"


def cpu_layout(processes: int = 1, workers: int = 1, generator: str = "Locust") -> CpuLayout:
    """The server's `workers` processes on the first `workers` usable CPUs, the load generator
    (`processes` of them; `generator` names it in the text) on the rest; when the server takes
    every CPU, the generator shares the last one with it."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) < 2:
        return CpuLayout(
            None,
            None,
            (
                f"only {len(cpus) or 1} CPU available: server and {generator} share it, so absolute numbers are low "
                "and the load generator competes with the server; ratios are still measured side by side"
            ),
        )
    server_cpus = cpus[: min(workers, len(cpus))]
    loadgen_cpus = cpus[len(server_cpus) :] or cpus[-1:]
    server, loadgen = set(server_cpus), set(loadgen_cpus)
    who = "server" if workers == 1 else f"server ({workers} worker processes)"
    locust = f"{generator} ({processes} process{'es' if processes > 1 else ''})"
    text = f"{who} pinned to {_cpus_text(server_cpus)}, {locust} to {_cpus_text(loadgen_cpus)}"
    if workers > len(cpus):
        text += f" (note: {workers} server processes share {len(cpus)} CPUs)"
    if server & loadgen:
        text += (
            f"; the server shares {_cpus_text(sorted(server & loadgen))} with the load generator, so its "
            f"extra process competes with {generator} for that core and cannot add a whole core of capacity"
        )
    elif processes > len(loadgen):
        text += f" (note: {processes} {generator} processes share {len(loadgen)} CPU(s), which cannot add capacity)"
    return CpuLayout(server, loadgen, text)


def target_cpu_layout(processes: int = 1, on_this_machine: bool = False) -> CpuLayout:
    """Against a target the runner did not start: Locust on every CPU this process may use;
    the target's CPUs are not the runner's to choose or to know."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    where = (
        "the target listens on this machine but was not started or pinned by the runner"
        if on_this_machine
        else "the target runs elsewhere (its CPUs unknown)"
    )
    used = f"CPU {', '.join(map(str, cpus))}" if cpus else "every CPU"
    return CpuLayout(
        None,
        set(cpus) or None,
        f"{where}; Locust ({processes} process{'es' if processes > 1 else ''}) on {used}",
    )


@dataclass
class Session:
    """What every command that puts a server under load starts from."""

    env: dict[str, str]
    settings: dict
    layout: CpuLayout
    machine: dict
    # The address the started servers listen on (the load generator's hosts must reach it).
    server_host: str = "127.0.0.1"

    @property
    def database_text(self) -> str:
        return (
            f"{self.settings['vendor']} {self.settings['db_version']} ({self.settings['database']})"
        )

    def prepare_database(self) -> None:
        """Migrate, and seed when empty (logged)."""
        log("migrating and seeding if the database is empty ...")
        for line in prepare_database(self.env):
            log("  " + line)

    def start_server(
        self, spec: ServerSpec, out: Path, deployment: Deployment | None = None
    ) -> tuple[ServerProcess, list[str]]:
        """Start `spec` under `deployment` (its environment and interpreter; None: every axis's
        default), pinned to the server CPU(s) on the session's address, wait for it, check DEBUG
        is off and that it runs that deployment; the server and the modes it lists at GET
        /api/modes. A server that fails a check is stopped."""
        deployment = Deployment() if deployment is None else deployment
        label = deployment.label(spec.name)
        env, python = launch(self.env, deployment)
        env = redis_env(env, deployment)
        server = ServerProcess(
            spec,
            env,
            self.layout.server,
            out / "logs" / f"server-{label}.log",
            self.server_host,
            deployment,
            python,
        )
        try:
            document = server.wait_ready()
            modes = mode_names(document)
            check_served(label, document, deployment)
            check_server_debug_off(server.base_url)
        except BaseException:
            server.stop()
            raise
        return server, modes


def allow_host(env: dict[str, str], host: str) -> dict[str, str]:
    """`env` with `host` added to DJANGO_ALLOWED_HOSTS (the settings' default list when unset),
    so that the servers answer requests addressed to it."""
    allowed = [
        h.strip()
        for h in env.get("DJANGO_ALLOWED_HOSTS", DEFAULT_ALLOWED_HOSTS).split(",")
        if h.strip()
    ]
    if host not in allowed and "*" not in allowed:
        allowed.append(host)
    return {**env, "DJANGO_ALLOWED_HOSTS": ",".join(allowed)}


def open_session(
    processes: int = 1, workers: int = 1, server_host: str = "127.0.0.1", generator: str = "Locust"
) -> Session:
    """Lay out the CPUs, pin this process to the load generator's, and check the settings
    the servers will see (refusing DEBUG and an unreachable database); the servers will
    listen on `server_host`."""
    layout = cpu_layout(processes, workers, generator)
    machine = machine_info()  # before pinning: the CPUs this machine offers
    layout.pin_load_generator()
    env = allow_host(server_env(), server_host)
    settings = probe_settings(env)
    refuse_debug(settings)
    refuse_unreachable_database(settings)
    session = Session(env, settings, layout, machine, server_host)
    log(f"database: {session.database_text}; DEBUG off")
    return session


@dataclass
class Target:
    """A running deployment to measure (--target): this machine's CPUs for Locust, the load
    generator's machine, the stand-in for its server process and its GET /api/modes."""

    layout: CpuLayout
    machine: dict
    server: RemoteServer
    modes_document: dict


def open_target(url: str, processes: int, request: RequestOptions) -> Target:
    """Lay out this machine's CPUs for Locust and pin this process to them, then check over
    HTTP that `url` answers as candlebench with DEBUG off (CheckError in one line if not)."""
    here = on_this_machine(url)
    layout = target_cpu_layout(processes, here)
    machine = machine_info()  # the load generator's: the target's is not known
    layout.pin_load_generator()
    with explained_http_errors(url):
        document = target_modes_document(url, request)
        check_server_debug_off(url, request)
    return Target(layout, machine, RemoteServer(url, here, served_deployment(document)), document)
