"""What a session measures: which servers, under which deployments (each axis's setups, the
compression cut of `make bench`), run which modes at which limits, with what load (`make bench`'s
default cut, `--full`, a `--target`'s own modes), checked before anything starts."""

from __future__ import annotations

import argparse
import socket
from dataclasses import dataclass, field
from typing import TypedDict

from loadtest.axes import COMPRESSION, STACK, Deployment, split_label
from loadtest.cli import CheckError, asked_axes, parse_int_list
from loadtest.load.wrk import headline_cells
from loadtest.report.case_study import (
    STUDY_PROFILE_MODE,
    STUDY_REQUESTS_PER_USER,
    STUDY_SERVER,
    STUDY_STACK,
    STUDY_USERS,
    STUDY_VARIANTS,
)
from loadtest.report.goals import GOAL_ROWS
from loadtest.request import DEFAULT_LIMITS, DIAGNOSTICS
from loadtest.serving import stacks as stacks_module
from loadtest.serving.axes import (
    chosen,
    deployments_on,
    none_runs,
    refuse_for_target,
    refuse_unknown,
    runs_none_of,
    server_axes,
    setup_entries,
    usable_setups,
)
from loadtest.serving.compression import recommended_setup
from loadtest.serving.deployment import TARGET
from loadtest.serving.modes import ModeMap
from loadtest.serving.servers import SERVERS, refuse_unknown_servers
from loadtest.sweep import FRACTIONS, SweepOptions


class Preset(TypedDict):
    """A session's defaults: servers and limits as their options write them."""

    servers: str
    limits: str
    duration: float
    warmup: float
    repeats: int


# `make bench`: every chosen server at GOAL_ROWS with its modes and its ceiling (the other
# Django servers with SIDE_MODES only; asgi without STEP_MODES), and asgi and wsgi also at the
# other limits with LADDER_MODES (three limits for their per-row fit). Measured budget in
# docs/methodology.md.
QUICK: Preset = {
    "servers": "asgi,wsgi,asgi-stock,granian-wsgi,granian-asgi,fastapi,bolt",
    "limits": "1,100,1000",
    "duration": 1.5,
    "warmup": 0.25,
    "repeats": 3,
}
LADDER_MODES = ("drf-validated", "raw")
# The every-limit servers that also run LADDER_MODES at every limit, for their per-row fit (the
# micro benchmark and the instruction ladder give every mode's per-row cost without a server).
FIT_SERVERS = ("wsgi",)
SIDE_MODES = ("raw",)
# The modes that take DRF's and ninja's paths apart one step at a time: by default on the
# sync server only (STEP_SERVER), where their goals are judged; on asgi too they would double
# their runs to measure the same steps again.
STEP_MODES = ("drf-values", "ninja-orjson", "ninja-values", "ninja-basemodel", "pydantic")
STEP_SERVER = "wsgi"
# `make bench-full`: the whole matrix: every server, every mode, every limit, every diagnostic.
FULL: Preset = {
    "servers": ",".join(SERVERS),
    "limits": ",".join(map(str, DEFAULT_LIMITS)),
    "duration": 5.0,
    "warmup": 1.0,
    "repeats": 3,
}
# After its closed-loop runs, bench sweeps a few cells at GOAL_ROWS open-loop (their capacity at the
# latency target, a column of the frameworks table): (server, mode, offered rates as fractions of
# the cell's closed-loop median). `make bench`: the two fastest modes, validated and not, on one
# server with three rates each (drf-validated's rough point did not fit the budget); each rate's
# window, longer up to its longest for a p99 of 1,000 requests, after its warm-up
# (SWEEP_WINDOWS_S). --full: four modes on asgi and wsgi at every fraction.
QUICK_SWEEPS: tuple[tuple[str, str, tuple[float, ...]], ...] = (
    ("wsgi", "raw", (0.5, 0.85, 1.05)),
    ("wsgi", "msgspec", (0.5, 0.85, 1.05)),
)
# `make bench`'s wrk check: the headline cells of the two servers every goal compares, without
# compression; --full or --servers: every server's (and compressed `raw`).
QUICK_WRK_SERVERS = ("asgi", "wsgi")
FULL_SWEEPS = tuple(
    (server, mode, FRACTIONS)
    for server in ("asgi", "wsgi")
    for mode in ("raw", "msgspec", "drf", "drf-validated")
)
# (window, longest window, warm-up) of each rate.
SWEEP_WINDOWS_S = {"quick": (4.0, 6.0, 0.5), "full": (10.0, 30.0, 1.0)}
# Compression in `make bench` (without --compression): on COMPRESSION_SERVER, COMPRESSION_MODES at
# GOAL_ROWS (--full: at every limit) under each of DEFAULT_COMPRESSION too, beside `none`.
COMPRESSION_SERVER = "wsgi"
COMPRESSION_MODES = ("raw", "msgspec", "drf")
DEFAULT_COMPRESSION = ("django-gzip", recommended_setup())
# Seconds one run costs beyond warm-up and window: stopping the users, waiting for the server
# to be idle, writing the row (measured here: 0.3-0.5 s).
RUN_OVERHEAD_S = 0.45
# One run of the case study's own load profile (its users x 5 requests at 1000 rows) after the
# steady runs, for the estimate: measured 23-25 s on its stack (~13 req/s), 2-3 s on the others.
STUDY_PROFILE_RUN_S = 10.0


@dataclass
class Plan:
    modes: list[str]  # the modes asked for, in report order (all servers' modes by default)
    limits: list[int]  # every limit any server runs
    # Every server under each of its deployments, as loadtest.axes labels it (`wsgi`,
    # `wsgi+zstd-1`): each is a server process of its own.
    servers: list[str]
    profile: str
    users: int
    requests_per_user: int
    duration: float
    warmup: float
    repeats: int
    processes: int
    pair: str
    interval: str
    # Processes of every server (--workers) and Locust workers on other hosts (--expect-workers).
    workers: int = 1
    expect_workers: int = 0
    # Diagnostic endpoints measured like modes, after them (the ceiling); never counted as modes.
    diagnostics: list[str] = field(default_factory=list)
    # The registry's entries (settings probe): which servers serve each mode.
    registry: list[dict] = field(default_factory=list)
    # What runs: per server (and setup), per limit, its modes then its diagnostics.
    cells: dict[str, dict[int, list[str]]] = field(default_factory=dict)
    # Open-loop sweeps after the runs: (server, mode, fractions) at GOAL_ROWS, and how.
    sweeps: list[tuple[str, str, tuple[float, ...]]] = field(default_factory=list)
    sweep_options: SweepOptions = field(default_factory=SweepOptions)
    # Per axis, the setups measured (registry order), and every axis's registry entries (meta.json).
    axes: dict[str, list[str]] = field(default_factory=lambda: chosen({}))
    setups: dict[str, list[dict]] = field(default_factory=setup_entries)
    # The servers whose headline cells wrk checks too (None: every server of the plan).
    wrk_servers: tuple[str, ...] | None = None
    # After the steady runs, the case study's own load profile (seed) on these (server label,
    # mode) at GOAL_ROWS: its app's response_model on every stack, when the plan has its stack.
    study_profile: list[tuple[str, str]] = field(default_factory=list)
    # What the plan left out and why, one line each (a stack not built, a server whose stack
    # serves none of the modes asked for).
    left_out: list[str] = field(default_factory=list)

    def endpoints_on(self, server: str, limit: int | None = None) -> list[str]:
        """What `server` runs at `limit` (None: at any limit), modes first, in report order."""
        at = self.cells.get(server, {})
        names = {n for lim, endpoints in at.items() if limit in (None, lim) for n in endpoints}
        registry = ModeMap(self.registry)
        return [n for n in [*registry.modes, *registry.diagnostics] if n in names]

    def modes_on(self, server: str) -> list[str]:
        return [n for n in self.endpoints_on(server) if n not in DIAGNOSTICS]

    def limits_on(self, server: str) -> list[int]:
        return sorted(self.cells.get(server, {}))

    def django_modes(self) -> list[str]:
        """The plan's modes with a Django view: what runs in-process (micro, instructions)."""
        registry = ModeMap(self.registry)
        return [m for m in self.modes if registry.entries[m]["django"]]

    def runs(self) -> list[tuple[int, int, str, str]]:
        """(repeat, limit, server, mode) in the order they run: interleaved so that what
        is compared is measured close together; every other repeat goes through the servers
        and modes backwards, so none is always first after a change of limit."""
        out = []
        for repeat in range(1, self.repeats + 1):
            step = 1 if repeat % 2 else -1
            for limit in self.limits:
                for server in self.servers[::step]:
                    out += [
                        (repeat, limit, server, mode)
                        for mode in self.endpoints_on(server, limit)[::step]
                    ]
        return out

    def estimate_s(self) -> float:
        """Seconds the runs and the servers' start-up will take (a run: warm-up, window, overhead;
        the seed profile: about as long as a steady run)."""
        per_run = self.warmup + self.duration + RUN_OVERHEAD_S
        # A rate: its warm-up, at most its longest window, ~1 s for its stragglers and checks.
        per_rate = self.sweep_options.warmup + self.sweep_options.max_window + 1.0
        return (
            len(self.runs()) * per_run
            + sum(len(fractions) for _, _, fractions in self.sweeps) * per_rate
            + len(self.study_profile) * self.repeats * STUDY_PROFILE_RUN_S
            + sum(
                SERVERS[name].startup_s
                for name, _ in map(split_label, self.servers)
                if name in SERVERS
            )
        )

    def describe_servers(self) -> str:
        """Per server and limit, what runs (one line each), the study's profile after them, and
        what was left out."""
        lines = [
            f"  {s} @{lim}: {', '.join(self.endpoints_on(s, lim))}"
            for s in self.servers
            for lim in self.limits_on(s)
        ]
        if self.study_profile:
            cells = ", ".join(f"{s} {m}" for s, m in self.study_profile)
            lines.append(
                f"  then the case study's load profile ({STUDY_USERS} users x "
                f"{STUDY_REQUESTS_PER_USER} requests) @{GOAL_ROWS}: {cells}"
            )
        return "\n".join([*lines, *(f"  ({line})" for line in self.left_out)])

    def wrk_cells(self) -> list[tuple[str, str]]:
        """(server, mode) of the headline cells wrk measures too (the steady profile's only); under
        a compression setup `raw` only (drf's long wrk windows would cost a minute of the budget)."""
        if self.profile != "steady":
            return []
        return [
            (s, m)
            for s, m in headline_cells(self.servers, self.modes_on, self.limits)
            if (split_label(s)[1][COMPRESSION.name] == COMPRESSION.default or m == "raw")
            and (self.wrk_servers is None or s in self.wrk_servers)
        ]

    def describe_load(self) -> str:
        where = (
            f"; the users spread over {self.expect_workers} Locust workers on load hosts"
            if self.expect_workers
            else ""
        )
        if self.profile == "seed":
            return (
                f"seed profile (the case study's): {self.users} users x {self.requests_per_user} requests "
                f"= {self.users * self.requests_per_user} per run, {self.repeats} repeat(s){where}"
            )
        return (
            f"steady profile: {self.users} users without wait; warm-up >= {self.warmup:g} s and one "
            f"response per user, then {self.duration:g} s measured; {self.repeats} repeat(s){where}"
        )


def plan_cells(
    modes: ModeMap, server: str, args: argparse.Namespace, limits: list[int], diagnostics: list[str]
) -> dict[int, list[str]]:
    """What `server` runs at each limit. --full or --modes: its modes asked for and its
    diagnostics at each of its limits. The default plan: a server of its own modes runs them
    all; asgi and wsgi (every_limit) run every mode at GOAL_ROWS (STEP_MODES on STEP_SERVER
    only) and LADDER_MODES at the other limits; the other Django servers SIDE_MODES. Servers
    that are not every_limit run at GOAL_ROWS only (else the largest limit) unless --limits
    or --full say otherwise."""
    spec = SERVERS[server]
    top = GOAL_ROWS if GOAL_ROWS in limits else limits[-1]
    ceiling = [
        d
        for d in modes.served_by(server, diagnostics=True)
        if d in diagnostics and (args.full or d in spec.ceiling)
    ]
    asked = modes.modes_on(server, args.modes)
    at = limits if args.full or args.limits is not None or spec.every_limit else [top]
    if args.full or args.modes is not None or not modes.runs_django(server):
        return {lim: [*asked, *ceiling] for lim in at}
    if not spec.every_limit:
        return {lim: [*(m for m in asked if m in SIDE_MODES), *ceiling] for lim in at}
    if server != STEP_SERVER:
        asked = [m for m in asked if m not in STEP_MODES]
    return {
        lim: [*asked, *ceiling]
        if lim == top
        else [m for m in asked if m in LADDER_MODES and server in FIT_SERVERS]
        for lim in at
        if lim == top or server in FIT_SERVERS
    }


WILDCARD_HOSTS = ("0.0.0.0", "::", "*")


def check_load_options(args: argparse.Namespace, target: bool = False) -> str:
    """Refuse (CheckError, one line) inconsistent --workers/--processes/--expect-workers/--master-bind
    options and a master address this machine cannot listen on, before anything starts. Returns
    the address the started servers listen on (--master-bind's host with --expect-workers).
    Against a --target no server starts here: --workers has nothing to apply to, and the master
    may listen on every interface."""
    if args.workers < 1:
        raise CheckError("--workers must be >= 1")
    if target and args.workers != 1:
        raise CheckError(
            "--workers sets the processes of the servers the runner starts; a --target runs as "
            "many as its deployment does"
        )
    if args.expect_workers < 0:
        raise CheckError("--expect-workers must be >= 1 (0: no workers on other hosts)")
    if not args.expect_workers:
        if args.master_bind:
            raise CheckError(
                "--master-bind needs --expect-workers N (how many workers will connect)"
            )
        return "127.0.0.1"
    if args.processes > 1:
        raise CheckError(
            "--processes starts local Locust workers, --expect-workers waits for workers on other "
            "hosts: use one (several per load host: python -m loadtest worker --processes K)"
        )
    if not args.master_bind:
        raise CheckError(
            "--expect-workers needs --master-bind HOST:PORT (an address the load hosts reach this "
            "machine at)"
        )
    if args.workers_wait <= 0:
        raise CheckError("--workers-wait must be > 0 seconds")
    host, port = args.master_bind
    if host in WILDCARD_HOSTS and not target:
        raise CheckError(
            f"--master-bind {host}: the servers the runner starts listen on this host, so it must be "
            "an address the load hosts reach this machine at, not a wildcard"
        )
    try:
        with socket.socket(
            socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM
        ) as probe:
            probe.bind((host, port))
    except OSError as exc:
        raise CheckError(
            f"--master-bind {host}:{port}: cannot listen there ({exc.strerror or exc})"
        ) from None
    return host


def make_plan(args: argparse.Namespace, registry: list[dict], max_limit: int) -> Plan:
    """The session's plan from the options and the registry; refuses unknown modes or servers,
    a Django server that serves none of the modes asked for, limits outside 1..max_limit and
    inconsistent load options (check_load_options)."""
    check_load_options(args)
    preset = FULL if args.full else QUICK
    modes = ModeMap(registry)
    if args.modes:
        modes.refuse_unknown(args.modes)
    servers = list(dict.fromkeys(args.servers or preset["servers"].split(",")))
    refuse_unknown_servers(servers)
    modes.refuse_servers_without_modes(servers, args.modes)
    limits = sorted(set(args.limits or parse_int_list(preset["limits"])))
    if any(not 1 <= limit <= max_limit for limit in limits):
        raise CheckError(f"limits must be within 1..{max_limit} (the API's range)")
    diagnostics = [] if args.no_floor else list(DIAGNOSTICS)
    cells = {s: plan_cells(modes, s, args, limits, diagnostics) for s in servers}
    cells, measured, left_out = deployment_cells(cells, args, modes)
    plan = plan_from_options(args, preset, modes, limits, diagnostics, cells, measured)
    plan.left_out = left_out
    if asked_axes(args)[STACK.name] is not None:  # --stacks: the then-and-now plan
        plan.study_profile = study_profile_cells(plan)
    if not args.full and not args.servers:
        plan.wrk_servers = QUICK_WRK_SERVERS
    if plan.profile == "steady" and not args.no_capacity:
        window, longest, warmup = SWEEP_WINDOWS_S["full" if args.full else "quick"]
        plan.sweeps = [
            (s, m, fractions)
            for s, m, fractions in (FULL_SWEEPS if args.full else QUICK_SWEEPS)
            if m in cells.get(s, {}).get(GOAL_ROWS, [])
        ]
        plan.sweep_options = SweepOptions(duration=window, max_window=longest, warmup=warmup)
    return plan


def deployment_cells(
    cells: dict[str, dict[int, list[str]]], args: argparse.Namespace, modes: ModeMap
) -> tuple[dict[str, dict[int, list[str]]], dict[str, list[str]], list[str]]:
    """Every server's cells under each deployment it runs (serving.axes.deployments_on: every
    combination of the setups each axis's option asks for, an axis not asked at its default),
    keyed by its label, each server followed by its deployments, each deployment's cells cut to
    what its stack serves (stack_cells); per axis the setups measured; and a line for each
    setup or server left out. A setup this machine cannot run (a stack not built) is left out
    (serving.axes.usable_setups); a server that runs none of an axis's setups asked for is
    refused when --servers names it, left out of the default servers; a deployment whose stack
    serves none of the server's modes asked for is left out. Without --compression: `none`, and
    on COMPRESSION_SERVER, beside its default deployment, COMPRESSION_MODES at GOAL_ROWS under
    DEFAULT_COMPRESSION, unless --modes or --limits cut the plan themselves (--full: every limit)."""
    asked, left_out = usable_setups(asked_axes(args))
    refuse_unknown(asked)
    out: dict[str, dict[int, list[str]]] = {}
    for server, at in cells.items():
        runs = deployments_on(server, asked)
        if not runs and args.servers:  # asked for by name: refused; by default: left out
            raise CheckError(runs_none_of(server, asked))
        for deployment in runs:
            label, stack = deployment.label(server), deployment[STACK.name]
            served = stack_cells(at, modes, stack)
            if served:
                out[label] = served
            else:
                asked_modes = sorted({m for endpoints in at.values() for m in endpoints})
                left_out.append(
                    f"{label} left out: stack {stack} serves none of its modes asked for "
                    f"({', '.join(m for m in asked_modes if m not in DIAGNOSTICS)})"
                )
        if Deployment() in runs and asked[COMPRESSION.name] is None:
            out |= compression_cut(server, at, args)
        if Deployment() in runs and asked[STACK.name] is None:
            cut, missing = study_cut(server, at, args)
            out |= cut
            left_out += missing
    if not out:
        raise CheckError("; ".join(left_out) if left_out else none_runs(cells, asked))
    measured = {
        a.name: [s for s in a.names() if s in (asked[a.name] or [a.axis.default])]
        for a in server_axes()
    }
    if asked[COMPRESSION.name] is None:
        measured[COMPRESSION.name] += [
            s
            for s in DEFAULT_COMPRESSION
            if Deployment(compression=s).label(COMPRESSION_SERVER) in out
        ]
    if asked[STACK.name] is None and Deployment(stack=STUDY_STACK).label(STUDY_SERVER) in out:
        measured[STACK.name].append(STUDY_STACK)
    return out, measured, left_out


def study_cut(
    server: str, at: dict[int, list[str]], args: argparse.Namespace
) -> tuple[dict[str, dict[int, list[str]]], list[str]]:
    """`make bench`'s look at the case study's own stack (without --stacks): beside the study's
    app on today's stack, its variants at GOAL_ROWS on STUDY_STACK too, when that stack is built
    (else a line saying what to install, never an error: it was not asked for), unless --modes or
    --limits cut the plan themselves."""
    variants = [m for m in at.get(GOAL_ROWS, []) if m in STUDY_VARIANTS]
    if server != STUDY_SERVER or args.modes is not None or args.limits is not None or not variants:
        return {}, []
    try:
        stacks_module.stack_python(STUDY_STACK, root=stacks_module.PROJECT_ROOT)
    except CheckError as exc:  # never an error, CANDLEBENCH_REQUIRE_TOOLS or not: not asked for
        return {}, [f"stack {STUDY_STACK} left out: {exc}"]
    return {Deployment(stack=STUDY_STACK).label(server): {GOAL_ROWS: variants}}, []


def stack_cells(
    at: dict[int, list[str]], modes: ModeMap, stack: str
) -> dict[int, list[str]] | None:
    """A server's cells (limit -> endpoints) cut to the endpoints the stack called `stack`
    serves (the registry's Mode.stacks: on 2023-08 no pydantic and no bolt, ...); None when
    no mode is left (its diagnostics alone measure nothing)."""
    cut = {
        lim: [e for e in endpoints if modes.runs_on_stack(e, stack)]
        for lim, endpoints in at.items()
    }
    cut = {lim: endpoints for lim, endpoints in cut.items() if endpoints}
    if not any(e not in DIAGNOSTICS for endpoints in cut.values() for e in endpoints):
        return None
    return cut


def study_profile_cells(plan: Plan) -> list[tuple[str, str]]:
    """Where the case study's own load profile runs after a steady session that --stacks asked
    for: when the plan serves its app's STUDY_PROFILE_MODE at GOAL_ROWS on its stack
    (STUDY_STACK), on every stack of the plan that serves it there, so its slowest response
    reads beside today's."""
    if plan.profile != "steady":
        return []
    cells = [
        (label, STUDY_PROFILE_MODE)
        for label in plan.servers
        if STUDY_PROFILE_MODE in plan.cells[label].get(GOAL_ROWS, [])
    ]
    stacks = {split_label(label)[1][STACK.name] for label, _ in cells}
    return cells if STUDY_STACK in stacks else []


def compression_cut(
    server: str, at: dict[int, list[str]], args: argparse.Namespace
) -> dict[str, dict[int, list[str]]]:
    """`make bench`'s compression beside a server's default deployment (see deployment_cells)."""
    if server != COMPRESSION_SERVER or args.modes is not None or args.limits is not None:
        return {}
    cut = {
        lim: [m for m in endpoints if m in COMPRESSION_MODES]
        for lim, endpoints in at.items()
        if args.full or lim == GOAL_ROWS
    }
    cut = {lim: endpoints for lim, endpoints in cut.items() if endpoints}
    if not cut:
        return {}
    return {Deployment(compression=setup).label(server): cut for setup in DEFAULT_COMPRESSION}


def make_target_plan(
    args: argparse.Namespace, registry: list[dict], deployment: Deployment | None = None
) -> Plan:
    """The plan against a target, from its own /api/modes (`registry`, and the `deployment` it
    says it runs: the only one it can be measured under; each axis's option may name only its
    setup there, serving.axes.refuse_for_target): the modes asked for (default: all it lists;
    one it does not serve is refused) and the floor diagnostics it serves. As for asgi and wsgi
    by default: every mode and the ceiling at GOAL_ROWS, LADDER_MODES at the other limits;
    --modes, --limits or --full: all of them at every limit. The API's largest limit is the
    target's to check (it answers 400 beyond it)."""
    check_load_options(args, target=True)
    deployment = Deployment() if deployment is None else deployment
    refuse_for_target(asked_axes(args), deployment)
    preset = FULL if args.full else QUICK
    served = ModeMap(registry)
    missing = [m for m in args.modes or [] if m not in served.modes]
    if missing:
        raise CheckError(
            f"the target does not serve {', '.join(missing)} (its /api/modes lists "
            f"{', '.join(served.modes)})"
        )
    limits = sorted(set(args.limits or parse_int_list(preset["limits"])))
    if limits[0] < 1:
        raise CheckError("limits must be >= 1")
    diagnostics = [] if args.no_floor else list(DIAGNOSTICS)
    modes = served.modes_on(TARGET, args.modes)
    ceiling = [d for d in served.served_by(TARGET, diagnostics=True) if d in diagnostics]
    top = GOAL_ROWS if GOAL_ROWS in limits else limits[-1]
    everything = args.full or args.modes is not None or args.limits is not None
    at = {
        lim: [*modes, *ceiling]
        if everything or lim == top
        else [m for m in modes if m in LADDER_MODES]
        for lim in limits
    }
    cells = {deployment.label(TARGET): {k: v for k, v in at.items() if v}}
    measured = {name: [setup] for name, setup in deployment.items()}
    return plan_from_options(args, preset, served, limits, diagnostics, cells, measured)


def plan_from_options(
    args: argparse.Namespace,
    preset: Preset,
    modes: ModeMap,
    limits: list[int],
    diagnostics: list[str],
    cells: dict[str, dict[int, list[str]]],
    measured: dict[str, list[str]] | None = None,
) -> Plan:
    """The Plan of `cells` (a server's label -> limit -> endpoints) under each axis's `measured`
    setups with the load the options and the preset ask for; refuses a load that cannot be run."""
    plan = Plan(
        modes=[m for m in modes.modes if args.modes is None or m in args.modes],
        limits=limits,
        servers=list(cells),
        profile=args.profile,
        users=args.users or (60 if args.profile == "seed" else 16),
        requests_per_user=args.requests_per_user,
        duration=args.duration if args.duration is not None else preset["duration"],
        warmup=args.warmup if args.warmup is not None else preset["warmup"],
        repeats=args.repeats if args.repeats is not None else preset["repeats"],
        processes=args.processes,
        workers=args.workers,
        expect_workers=args.expect_workers,
        pair=args.pair,
        interval=args.interval,
        diagnostics=diagnostics,
        registry=list(modes.entries.values()),
        cells=cells,
        axes=measured or chosen({}),
    )
    if (
        plan.users < 1
        or plan.repeats < 1
        or plan.processes < 1
        or plan.duration <= 0
        or plan.warmup < 0
    ):
        raise CheckError(
            "--users, --repeats and --processes must be >= 1, --duration > 0, --warmup >= 0"
        )
    return plan
