"""The measuring steps of a comparison session (`bench`), in the order it takes them: the micro
benchmark and the instruction ladder in-process, the machine's quiet before the runs, each run
under load (checked, a results.csv row), the wrk check beside the headline cells, the case
study's own load profile and the open-loop sweeps after the runs; and what meta.json records of
the stacks measured. bench.py starts the servers and drives the steps."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import psutil

from loadtest.axes import COMPRESSION, STACK, Deployment
from loadtest.cli import CheckError, fmt_duration, log
from loadtest.load.wrk import HEADLINE_ROWS, PairedCheck, wrk_available
from loadtest.plan import Plan
from loadtest.report.capacity import CAPACITY_CSV, CapacityWriter
from loadtest.report.case_study import STUDY_REQUESTS_PER_USER, STUDY_USERS
from loadtest.report.goals import GOAL_ROWS
from loadtest.report.results import STUDY_PROFILE_CSV, Results, ResultsWriter, Row, load_rows
from loadtest.report.unknowns import wrk_skip_reason
from loadtest.request import candle_path
from loadtest.run_checks import MIN_REQUESTS, OTHER_CPU_LIMIT, untrustworthy_reasons
from loadtest.serving.checks import Document
from loadtest.serving.compression import compression_of, expected_answer, setup_named
from loadtest.serving.deployment import RemoteServer, RequestOptions
from loadtest.serving.servers import PROJECT_ROOT, ServerProcess, pin_to, system_busy_seconds
from loadtest.serving.stacks import stack_description
from loadtest.session import Session
from loadtest.stats import summarize
from loadtest.sweep import rates_from, sweep_cell

# What a session runs on the runner's own interpreter whatever stack its servers run: they
# measure today's stack only (meta.json says so beside the stacks' versions).
ON_TODAYS_STACK = (
    "the settings probe (the modes and database the servers see)",
    "migrating and seeding the database",
    "the micro benchmark",
    "the instruction ladder",
    "the load generator, the checks and the report",
)


def stacks_meta(plan: Plan) -> dict:
    """meta.json's record of the stacks the servers ran: each one's versions, asked of its own
    interpreter, and what ran on today's whatever the stack."""
    return {
        "stacks": {name: stack_description(name) for name in plan.axes[STACK.name]},
        "on_todays_stack": list(ON_TODAYS_STACK),
    }


def run_micro(plan: Plan, session: Session, out: Path) -> dict | None:
    """The in-process micro benchmark of the Django modes asked for (None: there is none), in a
    subprocess pinned to the server's CPU."""
    django_modes = plan.django_modes()
    if not django_modes:
        return None
    log("micro benchmark (views in-process, no HTTP) ...")
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "loadtest.inprocess.micro",
            "--modes",
            ",".join(django_modes),
            "--limits",
            ",".join(map(str, plan.limits)),
            "--pair",
            plan.pair,
            "--interval",
            plan.interval,
            "--compression",
            ",".join(plan.axes[COMPRESSION.name]),
            "--json",
            str(out / "micro.json"),
            "--quiet",
        ],
        cwd=PROJECT_ROOT,
        env=session.env,
        capture_output=True,
        text=True,
        preexec_fn=pin_to(session.layout.server),
        timeout=900,
    )
    (out / "micro.txt").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise CheckError(f"the micro benchmark failed:\n{(result.stdout + result.stderr)[-2000:]}")
    log(result.stdout.rstrip())
    log(f"micro benchmark took {time.monotonic() - started:.0f} s")
    return json.loads((out / "micro.json").read_text())


# The instruction ladder's limits (those within the API's range are counted).
INSTRUCTION_LIMITS = (1, 100, 1000, 1440)
# Its measured wall time on the reference machine (two valgrind processes, one per core), for the estimate.
INSTRUCTIONS_ESTIMATE_S = 60.0
# The micro benchmark's, likewise.
MICRO_ESTIMATE_S = 15.0


# The fast modes the ladder also counts under each compression setup of the plan, so that the
# codec's share of a request is visible without the noise of timing.
COMPRESSED_LADDER_MODES = ("raw",)


def compressed_variants(plan: Plan, modes: list[str]) -> list[str]:
    """`raw+<setup>` for every setup of the plan that compresses in a Django process."""
    return [
        Deployment(compression=setup).label(mode)
        for mode in COMPRESSED_LADDER_MODES
        if mode in modes
        for setup in plan.axes[COMPRESSION.name]
        if setup_named(setup).compresses_in_django
    ]


def run_instructions(plan: Plan, session: Session, out: Path) -> dict | None:
    """The instruction ladder (loadtest/instructions.py) of the plan's modes, saved as
    instructions.json; None, with a line saying why, when valgrind cannot run here. Before the
    servers start both cores are free: one valgrind process per core, the server's first."""
    from loadtest.inprocess.instructions import instruction_ladder_split, unavailable_reason
    from loadtest.report.ladder import ladder_markdown, ladder_to_json

    reason = unavailable_reason()
    if reason:
        log(f"instruction ladder skipped: {reason}")
        return None
    # Counted in-process through Django's URLconf: not bolt's or the FastAPI reference's modes.
    modes = plan.django_modes()
    if not modes:
        log("instruction ladder skipped: no mode of this plan has a Django view")
        return None
    modes += compressed_variants(plan, modes)
    limits = [lim for lim in INSTRUCTION_LIMITS if lim <= session.settings["max_limit"]]
    cpu_sets = (
        [session.layout.server, session.layout.loadgen]
        if session.layout.loadgen
        else [session.layout.server]
    )
    log(
        f"instruction ladder: {len(modes)} modes x {len(limits)} limits under callgrind "
        f"({len(cpu_sets)} valgrind process(es)) ..."
    )
    try:
        ladder = instruction_ladder_split(
            modes, limits, cpu_sets, pair=plan.pair, interval=plan.interval, env=session.env
        )
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        log(
            f"instruction ladder failed, the report will say it was not counted: {str(exc)[-1500:]}"
        )
        return None
    data = ladder_to_json(ladder)
    (out / "instructions.json").write_text(json.dumps(data, indent=1))
    log(ladder_markdown(ladder))
    log(f"instruction ladder took {ladder.seconds:.0f} s")
    return data


def machine_quiet_pct(servers: list[ServerProcess | RemoteServer], seconds: float = 1.0) -> float:
    """CPU used by other processes over `seconds` while nothing is measured (% of a core)."""
    me = psutil.Process()

    def ours() -> float:
        t = me.cpu_times()
        return t.user + t.system + sum(s.cpu_seconds() for s in servers)

    busy0, ours0 = system_busy_seconds(), ours()
    time.sleep(seconds)
    busy1, ours1 = system_busy_seconds(), ours()
    return max(0.0, (busy1 - busy0) - (ours1 - ours0)) / seconds * 100


def check_machine_quiet(servers: list[ServerProcess | RemoteServer], meta: dict) -> None:
    """Warn (and record) when other processes keep the machine busy before the first run."""
    quiet = machine_quiet_pct(servers)
    meta["busy_before_pct"] = round(quiet, 1)
    if quiet > OTHER_CPU_LIMIT:
        log(
            f"WARNING: with the servers idle, other processes use {quiet:.0f}% of a CPU; runs disturbed "
            "by them will be marked not trustworthy"
        )


def measure_one(
    loadgen,
    plan: Plan,
    server: ServerProcess | RemoteServer,
    mode: str,
    limit: int,
    repeat: int,
    expected: Document,
    local_postgres: bool,
) -> tuple[Row, object]:
    """One run against one server (or the target) under its deployment, its compression setup's
    Accept-Encoding on every request: measured, checked, as a results row (and its Measurement)."""
    from loadtest.load.generator import CandleRequest

    loadgen.point_at(server.base_url)
    request = CandleRequest(
        mode, limit, plan.pair, plan.interval, **expected_answer(expected, server.deployment)
    )
    lingering = server.wait_disconnected()
    server.reset_peak_rss()
    pids = server.pids()
    probe = server.cpu_probe(local_postgres)
    if plan.profile == "seed":
        m = loadgen.seed(request, plan.users, plan.requests_per_user, probe)
    else:
        m = loadgen.steady(request, plan.users, plan.warmup, plan.duration, probe, MIN_REQUESTS)
    restarted = server.pids() != pids
    server.wait_idle()
    rss = server.peak_rss_mb()
    key = {
        "server": server.name,
        "deployment": server.deployment,
        "bytes": len(expected.body),
        "mode": mode,
        "limit": limit,
        "repeat": repeat,
        "workers": server.workers,
        "serving_processes": probe.serving_processes(),
        "worker_requests": m.worker_requests,
        "worker_cpu_pct": m.worker_cpu_pct,
    }
    if not m.samples:
        return Row(
            **key, rps=0.0, trustworthy=False, note="; ".join(["no request completed", *m.notes])
        ), m
    stats = summarize(m.samples, m.duration_s)
    reasons = untrustworthy_reasons(stats, m, request.size_slack)
    if restarted:
        reasons.append("a server process was replaced during the run")
    if lingering:
        reasons.append(f"{lingering} connection(s) of an earlier run were still open on the server")
    return Row(
        **key,
        rps=stats.rps,
        p50_ms=stats.p50_ms,
        p95_ms=stats.p95_ms,
        p99_ms=stats.p99_ms,
        failures=stats.failures,
        wire_bytes=stats.bytes,  # Locust's length of the undecoded body
        timing_ms=stats.timing_ms,
        server_rss_mb=rss,
        trustworthy=not reasons,
        note="; ".join(reasons),
        requests=stats.requests,
        duration_s=stats.duration_s,
        mean_ms=stats.mean_ms,
        max_ms=stats.max_ms,
        server_cpu_pct=m.server_cpu_pct,
        loadgen_cpu_pct=m.loadgen_cpu_pct,
        db_cpu_pct=m.db_cpu_pct,
        other_cpu_pct=m.other_cpu_pct,
    ), m


def measure_all(
    plan: Plan,
    servers: dict[str, ServerProcess | RemoteServer],
    loadgen,
    sizes: dict[tuple[str, str, int], Document],
    out: Path,
    local_postgres: bool,
    locust_html: bool,
    wrk: PairedCheck | None = None,
) -> None:
    """Every planned run, in order, each written to results.csv as soon as it is measured; a
    headline cell's run again with wrk right after it (wrk.json)."""
    runs = plan.runs()
    if locust_html:
        (out / "locust").mkdir(exist_ok=True)
    with open(out / "results.csv", "w", newline="") as f:
        writer = ResultsWriter(f)
        t_runs = time.monotonic()
        for i, (repeat, limit, name, mode) in enumerate(runs, 1):
            server = servers[name]
            if not server.alive():
                raise RuntimeError(f"the {name} server died:\n{server.log_tail()}")
            row, _ = measure_one(
                loadgen,
                plan,
                server,
                mode,
                limit,
                repeat,
                sizes[(name, mode, limit)],
                local_postgres,
            )
            if locust_html:
                row.locust_report = f"locust/{name}-{mode}-{limit}-r{repeat}.html"
                (out / row.locust_report).write_text(loadgen.html_report())
            writer.write(row)
            elapsed = time.monotonic() - t_runs
            left = elapsed / i * (len(runs) - i)
            flag = "ok" if row.trustworthy else "NOT TRUSTWORTHY: " + row.note
            p50 = f"p50 {row.p50_ms:7.1f} ms" if row.requests else ""
            log(
                f"[{i:>{len(str(len(runs)))}}/{len(runs)}] {name:<13} {mode:<13} limit={limit:<5} r{repeat} "
                f"{row.rps:9.1f} req/s {p50}  {flag} | {fmt_duration(elapsed)} elapsed, ~{fmt_duration(left)} left"
            )
            if (
                wrk is not None
                and wrk.wants(name, mode, limit)
                and not measure_with_wrk(wrk, plan, server, mode, repeat)
            ):
                wrk = None
    if wrk is not None and wrk.runs:
        (out / "wrk.json").write_text(json.dumps(wrk.results(), indent=1))


def wrk_check(
    plan: Plan,
    servers: dict[str, ServerProcess | RemoteServer],
    cpus: set[int] | None,
    request: RequestOptions | None = None,
) -> PairedCheck | None:
    """The headline cells to measure again with wrk (loadtest/wrk.py) right after Locust's run of
    each, pinned to the load generator's CPU(s) like Locust, with as many connections as Locust
    has users and the target's headers. None, with a line saying why, when wrk is not installed,
    the plan has no headline cell, or for an https target without --insecure (wrk checks no
    TLS certificate)."""
    tls_reason = request is not None and wrk_skip_reason(
        next(iter(servers.values())).base_url, request.insecure
    )
    if tls_reason:
        log(f"wrk check skipped: {tls_reason}")
        return None
    if not wrk_available():
        log(
            "wrk check skipped: wrk is not installed (Debian: apt-get install wrk; .ci/run installs it)"
        )
        return None
    cells = plan.wrk_cells()
    if not cells:
        log(
            "wrk check skipped: no headline cell (raw or drf at 1000 rows, steady profile) in this plan"
        )
        return None
    log(
        f"wrk check: {len(cells)} headline cell(s) at {HEADLINE_ROWS} rows, each measured with wrk right after "
        f"Locust's run in every repeat ({plan.users} connections, {plan.duration:g} s or ten response times)"
    )
    return PairedCheck(
        cells, plan.users, plan.duration, cpus, request.header_lines() if request else ()
    )


def measure_with_wrk(
    check: PairedCheck, plan: Plan, server: ServerProcess | RemoteServer, mode: str, repeat: int
) -> bool:
    """The run Locust just made, again with wrk; False (and a line saying why) when wrk failed,
    which ends the check for the session."""
    server.wait_disconnected()
    url = server.base_url + candle_path(mode, HEADLINE_ROWS, plan.pair, plan.interval)
    label = server.served_by
    try:
        run = check.measure(
            label, mode, repeat, url, compression_of(server.deployment).accept_encoding
        )
    except (RuntimeError, ValueError) as exc:
        log(f"wrk check stopped, the report has no Locust/wrk table: {exc}")
        return False
    server.wait_idle()
    log(f"      wrk {label:<13} {mode:<13} limit={HEADLINE_ROWS:<5} r{repeat} {run.rps:9.1f} req/s")
    return True


def run_study_profile(
    plan: Plan,
    servers: dict[str, ServerProcess | RemoteServer],
    loadgen,
    sizes: dict[tuple[str, str, int], Document],
    out: Path,
    local_postgres: bool,
) -> None:
    """The case study's own load profile (its users x requests, `--profile seed`) on the plan's
    study_profile cells at GOAL_ROWS, `repeats` times, into STUDY_PROFILE_CSV (results.csv's
    schema): its slowest response on its stack beside today's."""
    if not plan.study_profile:
        return
    study = replace(
        plan, profile="seed", users=STUDY_USERS, requests_per_user=STUDY_REQUESTS_PER_USER
    )
    log(f"the case study's load profile: {study.describe_load()}")
    with open(out / STUDY_PROFILE_CSV, "w", newline="") as f:
        writer = ResultsWriter(f)
        for repeat in range(1, plan.repeats + 1):
            for name, mode in plan.study_profile:
                row, _ = measure_one(
                    loadgen,
                    study,
                    servers[name],
                    mode,
                    GOAL_ROWS,
                    repeat,
                    sizes[(name, mode, GOAL_ROWS)],
                    local_postgres,
                )
                writer.write(row)
                flag = "ok" if row.trustworthy else "NOT TRUSTWORTHY: " + row.note
                log(
                    f"      {name:<13} {mode:<13} limit={GOAL_ROWS:<5} r{repeat} {row.rps:9.1f} req/s, "
                    f"slowest {row.max_ms / 1000:.2f} s  {flag}"
                )


def sweep_capacity(
    plan: Plan,
    servers: dict[str, ServerProcess | RemoteServer],
    loadgen,
    sizes: dict[tuple[str, str, int], Document],
    out: Path,
    local_postgres: bool,
) -> None:
    """The plan's open-loop sweeps into capacity.csv: each cell's rates are fractions of its
    closed-loop median over this session's repeats (loadtest/sweep.py)."""
    if not plan.sweeps:
        return
    from loadtest.load.generator import CandleRequest

    measured = Results(load_rows(out / "results.csv"))
    log(
        f"open-loop sweeps at {GOAL_ROWS} rows (capacity at p99 <= "
        f"{plan.sweep_options.slo_ms:g} ms): {', '.join(f'{s} {m}' for s, m, _ in plan.sweeps)}"
    )
    with open(out / CAPACITY_CSV, "w", newline="") as f:
        writer = CapacityWriter(f)
        for name, mode, fractions in plan.sweeps:
            closed = measured.rps(name, mode, GOAL_ROWS)
            if not closed > 0:
                log(f"{name} {mode}: no closed-loop requests/s to sweep from; not swept")
                continue
            server = servers[name]
            loadgen.point_at(server.base_url)
            request = CandleRequest(
                mode,
                GOAL_ROWS,
                plan.pair,
                plan.interval,
                **expected_answer(sizes[(name, mode, GOAL_ROWS)], server.deployment),
            )
            sweep_cell(
                loadgen,
                server,
                request,
                plan.sweep_options,
                partial(server.cpu_probe, local_postgres),
                rates=rates_from(closed, fractions),
                on_row=writer.write,
                log=log,
                closed_loop_rps=closed,
            )
