"""`python -m loadtest`: every mode x row count x server under Locust, each run checking itself,
then results.csv and the report."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

from .cli import (
    CheckError,
    add_target_options,
    command_main,
    fmt_duration,
    log,
    parse_int_list,
    parse_name_list,
    results_dir,
)
from .report.render import write_reports
from .report.results import ResultsWriter, Row
from .run_checks import MIN_REQUESTS, OTHER_CPU_LIMIT, untrustworthy_reasons
from .servers import PROJECT_ROOT, SERVERS, CpuProbe, ServerProcess, pin_to, system_busy_seconds
from .session import Session, open_session
from .settings_probe import is_local_postgres, refuse_unknown_modes
from .startup_checks import check_same_document
from .stats import summarize
from .target import DEFAULT_LIMITS, DIAGNOSTICS, candle_path

# `make bench`: every mode at every limit under ASGI and WSGI, in well under 10 minutes.
QUICK = {"servers": "asgi,wsgi", "duration": 1.5, "warmup": 0.25, "repeats": 3}
# `make bench-full`: the whole matrix.
FULL = {"servers": "asgi,wsgi,asgi-gunicorn", "duration": 5.0, "warmup": 1.0, "repeats": 3}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m loadtest",
        description="Compare the candle endpoint's modes under Locust load, per row count and server.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--modes", type=parse_name_list,
                   help="comma-separated modes (default: all, in report order); each server runs those it serves")
    p.add_argument("--limits", type=parse_int_list, default=list(DEFAULT_LIMITS), help="comma-separated row counts")
    p.add_argument("--servers", type=parse_name_list, help=f"of {', '.join(SERVERS)} (default: {QUICK['servers']}; "
                   f"--full: {FULL['servers']})")
    p.add_argument("--profile", choices=["steady", "seed"], default="steady",
                   help="steady: N users without wait for a fixed time; seed: the case study's 60 users x 5 requests")
    p.add_argument("--users", type=int, help="concurrent users (default: 16 steady, 60 seed)")
    p.add_argument("--requests-per-user", type=int, default=5, help="seed profile: requests each user makes")
    p.add_argument("--duration", type=float, help=f"steady: measured seconds per run (default {QUICK['duration']:g}, "
                   f"--full {FULL['duration']:g})")
    p.add_argument("--warmup", type=float, help=f"steady: minimum warm-up seconds per run (default {QUICK['warmup']:g}, "
                   f"--full {FULL['warmup']:g}); it also lasts until every user got one response")
    p.add_argument("--repeats", type=int, help=f"runs per mode, limit and server (default {QUICK['repeats']}, "
                   f"--full {FULL['repeats']})")
    p.add_argument("--full", action="store_true", help="the whole matrix: all servers, longer runs, 3 repeats")
    p.add_argument("--processes", type=int, default=1,
                   help="Locust processes; >1 runs Locust distributed (a master in this process plus N workers)")
    add_target_options(p)
    p.add_argument("--no-micro", action="store_true", help="skip the in-process micro benchmark")
    p.add_argument("--no-instructions", action="store_true",
                   help="skip the instruction ladder (instructions per request under valgrind, ~1 min)")
    p.add_argument("--locust-html", action="store_true", help="keep Locust's HTML report of every run (~1 MB each)")
    p.add_argument("--no-floor", action="store_true",
                   help=f"do not measure the diagnostics {', '.join(DIAGNOSTICS)} (the server's ceiling)")
    return p


@dataclass
class Plan:
    modes: list[str]
    limits: list[int]
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
    # Diagnostic endpoints measured like modes, after them, at every server and limit
    # (the ceiling); never counted as modes in the report.
    diagnostics: list[str] = field(default_factory=list)
    # Per started server, the modes it lists at GET /api/modes (unknown until it started:
    # then every requested mode is assumed).
    served: dict[str, list[str]] = field(default_factory=dict)

    def modes_on(self, server: str) -> list[str]:
        """The requested modes `server` serves, in report order."""
        served = self.served.get(server)
        return [m for m in self.modes if served is None or m in served]

    def endpoints_on(self, server: str) -> list[str]:
        return [*self.modes_on(server), *self.diagnostics]

    def runs(self) -> list[tuple[int, int, str, str]]:
        """(repeat, limit, server, mode) in the order they run: interleaved so that what
        is compared is measured close together; every other repeat goes through the servers
        and modes backwards, so none is always first after a change of limit."""
        out = []
        for repeat in range(1, self.repeats + 1):
            step = 1 if repeat % 2 else -1
            for limit in self.limits:
                for server in self.servers[::step]:
                    out += [(repeat, limit, server, mode) for mode in self.endpoints_on(server)[::step]]
        return out

    def describe_load(self) -> str:
        if self.profile == "seed":
            return (f"seed profile (the case study's): {self.users} users x {self.requests_per_user} requests "
                    f"= {self.users * self.requests_per_user} per run, {self.repeats} repeat(s)")
        return (f"steady profile: {self.users} users without wait; warm-up >= {self.warmup:g} s and one "
                f"response per user, then {self.duration:g} s measured; {self.repeats} repeat(s)")


def make_plan(args: argparse.Namespace, known_modes: list[str], max_limit: int) -> Plan:
    """The session's plan from the options; refuses unknown modes or servers and limits
    outside the API's 1..max_limit."""
    preset = FULL if args.full else QUICK
    modes = args.modes or known_modes
    refuse_unknown_modes(modes, known_modes)
    modes = [m for m in known_modes if m in modes]  # report order
    servers = args.servers or preset["servers"].split(",")
    unknown = [s for s in servers if s not in SERVERS]
    if unknown:
        raise CheckError(f"unknown server(s): {', '.join(unknown)} (choose from {', '.join(SERVERS)})")
    if any(not 1 <= limit <= max_limit for limit in args.limits):
        raise CheckError(f"limits must be within 1..{max_limit} (the API's range)")
    plan = Plan(
        modes=modes,
        limits=sorted(set(args.limits)),
        servers=list(dict.fromkeys(servers)),
        profile=args.profile,
        users=args.users or (60 if args.profile == "seed" else 16),
        requests_per_user=args.requests_per_user,
        duration=args.duration if args.duration is not None else preset["duration"],
        warmup=args.warmup if args.warmup is not None else preset["warmup"],
        repeats=args.repeats if args.repeats is not None else preset["repeats"],
        processes=args.processes,
        pair=args.pair,
        interval=args.interval,
        diagnostics=[] if args.no_floor else list(DIAGNOSTICS),
    )
    if plan.users < 1 or plan.repeats < 1 or plan.processes < 1 or plan.duration <= 0 or plan.warmup < 0:
        raise CheckError("--users, --repeats and --processes must be >= 1, --duration > 0, --warmup >= 0")
    return plan


# -- the steps of a session, in order ---------------------------------------------------------

def run_micro(plan: Plan, session: Session, out: Path) -> dict:
    """The in-process micro benchmark in a subprocess pinned to the server's CPU."""
    log("micro benchmark (views in-process, no HTTP) ...")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "loadtest.micro", "--modes", ",".join(plan.modes),
         "--limits", ",".join(map(str, plan.limits)), "--pair", plan.pair, "--interval", plan.interval,
         "--json", str(out / "micro.json"), "--quiet"],
        cwd=PROJECT_ROOT, env=session.env, capture_output=True, text=True, preexec_fn=pin_to(session.layout.server),
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


def run_instructions(plan: Plan, session: Session, out: Path) -> dict | None:
    """The instruction ladder (loadtest/instructions.py) of the plan's modes, saved as
    instructions.json; None, with a line saying why, when valgrind cannot run here. Before the
    servers start both cores are free: one valgrind process per core, the server's first."""
    from .instructions import instruction_ladder_split, ladder_markdown, ladder_to_json, unavailable_reason

    reason = unavailable_reason()
    if reason:
        log(f"instruction ladder skipped: {reason}")
        return None
    limits = [lim for lim in INSTRUCTION_LIMITS if lim <= session.settings["max_limit"]]
    cpu_sets = [session.layout.server, session.layout.loadgen] if session.layout.loadgen else [session.layout.server]
    log(f"instruction ladder: {len(plan.modes)} modes x {len(limits)} limits under callgrind "
        f"({len(cpu_sets)} valgrind process(es)) ...")
    try:
        ladder = instruction_ladder_split(plan.modes, limits, cpu_sets, pair=plan.pair, interval=plan.interval,
                                          env=session.env)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        log(f"instruction ladder failed, the report will say it was not counted: {str(exc)[-1500:]}")
        return None
    data = ladder_to_json(ladder)
    (out / "instructions.json").write_text(json.dumps(data, indent=1))
    log(ladder_markdown(ladder))
    log(f"instruction ladder took {ladder.seconds:.0f} s")
    return data


def start_servers(plan: Plan, session: Session, out: Path, meta: dict,
                  servers: dict[str, ServerProcess]) -> dict[int, int]:
    """Start every planned server (into `servers`, so the caller stops them), learn the modes
    each serves, and check that they all answer one document per limit. Returns its size
    per limit."""
    for name in plan.servers:
        spec = SERVERS[name]
        server, served = session.start_server(spec, out)
        servers[name] = server
        plan.served[name] = served
        modes = plan.modes_on(name)
        skipped = [m for m in plan.modes if m not in modes]
        if not modes:
            raise CheckError(f"{name} serves none of the modes asked for (it lists {', '.join(served)})")
        # The diagnostics too: the ceiling must be measured with the real answer's bytes.
        documents = check_same_document(server.base_url, plan.endpoints_on(name), plan.limits,
                                        lambda m, lim: candle_path(m, lim, plan.pair, plan.interval))
        sizes = {doc.limit: doc.bytes for doc in documents}
        meta.setdefault("documents", sizes)
        if meta["documents"] != sizes:
            raise CheckError(f"{name} answers different documents than {plan.servers[0]}")
        meta.setdefault("server_affinity", {})[name] = server.affinity()
        also = f" (and {', '.join(plan.diagnostics)})" if plan.diagnostics else ""
        not_served = f"; it does not serve {', '.join(skipped)}" if skipped else ""
        log(f"{name}: {spec.description} on port {server.port}, CPU(s) {server.affinity()}; "
            f"{len(modes)} modes{also} answer byte-identical documents{not_served}")
    meta["served"] = dict(plan.served)
    return meta["documents"]


def machine_quiet_pct(servers: list[ServerProcess], seconds: float = 1.0) -> float:
    """CPU used by other processes over `seconds` while nothing is measured (% of a core)."""
    me = psutil.Process()

    def ours() -> float:
        t = me.cpu_times()
        return t.user + t.system + sum(s.cpu_seconds() for s in servers)

    busy0, ours0 = system_busy_seconds(), ours()
    time.sleep(seconds)
    busy1, ours1 = system_busy_seconds(), ours()
    return max(0.0, (busy1 - busy0) - (ours1 - ours0)) / seconds * 100


def check_machine_quiet(servers: list[ServerProcess], meta: dict) -> None:
    """Warn (and record) when other processes keep the machine busy before the first run."""
    quiet = machine_quiet_pct(servers)
    meta["busy_before_pct"] = round(quiet, 1)
    if quiet > OTHER_CPU_LIMIT:
        log(f"WARNING: with the servers idle, other processes use {quiet:.0f}% of a CPU; runs disturbed "
            "by them will be marked not trustworthy")


def measure_one(loadgen, plan: Plan, server: ServerProcess, mode: str, limit: int, repeat: int,
                expect_bytes: int, local_postgres: bool) -> tuple[Row, object]:
    """One run against one server: measured, checked, as a results row (and its Measurement)."""
    from .loadgen import Target

    loadgen.point_at(server.base_url)
    target = Target(mode, limit, plan.pair, plan.interval, expect_bytes)
    lingering = server.wait_disconnected()
    server.reset_peak_rss()
    pids = server.pids()
    probe = CpuProbe(server, local_postgres)
    if plan.profile == "seed":
        m = loadgen.seed(target, plan.users, plan.requests_per_user, probe)
    else:
        m = loadgen.steady(target, plan.users, plan.warmup, plan.duration, probe, MIN_REQUESTS)
    restarted = server.pids() != pids
    server.wait_idle()
    rss = server.peak_rss_mb()
    key = {"server": server.spec.name, "mode": mode, "limit": limit, "repeat": repeat, "workers": server.spec.workers}
    if not m.samples:
        return Row(**key, rps=0.0, trustworthy=False, note="; ".join(["no request completed", *m.notes])), m
    stats = summarize(m.samples, m.duration_s)
    reasons = untrustworthy_reasons(stats, m)
    if restarted:
        reasons.append("a server process was replaced during the run")
    if lingering:
        reasons.append(f"{lingering} connection(s) of an earlier run were still open on the server")
    return Row(
        **key, rps=stats.rps, p50_ms=stats.p50_ms, p95_ms=stats.p95_ms, p99_ms=stats.p99_ms,
        failures=stats.failures, bytes=stats.bytes, timing_ms=stats.timing_ms, server_rss_mb=rss,
        trustworthy=not reasons, note="; ".join(reasons), requests=stats.requests, duration_s=stats.duration_s,
        mean_ms=stats.mean_ms, max_ms=stats.max_ms, server_cpu_pct=m.server_cpu_pct,
        loadgen_cpu_pct=m.loadgen_cpu_pct, db_cpu_pct=m.db_cpu_pct, other_cpu_pct=m.other_cpu_pct,
    ), m


def measure_all(plan: Plan, servers: dict[str, ServerProcess], loadgen, documents: dict[int, int], out: Path,
                local_postgres: bool, locust_html: bool) -> None:
    """Every planned run, in order, each written to results.csv as soon as it is measured."""
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
            row, m = measure_one(loadgen, plan, server, mode, limit, repeat, documents[limit], local_postgres)
            if locust_html:
                row.locust_report = f"locust/{name}-{mode}-{limit}-r{repeat}.html"
                (out / row.locust_report).write_text(loadgen.html_report())
            writer.write(row)
            elapsed = time.monotonic() - t_runs
            left = elapsed / i * (len(runs) - i)
            flag = "ok" if row.trustworthy else "NOT TRUSTWORTHY: " + row.note
            p50 = f"p50 {row.p50_ms:7.1f} ms" if row.requests else ""
            log(f"[{i:>{len(str(len(runs)))}}/{len(runs)}] {name:<13} {mode:<13} limit={limit:<5} r{repeat} "
                f"{row.rps:9.1f} req/s {p50}  {flag} | {fmt_duration(elapsed)} elapsed, ~{fmt_duration(left)} left")


def measure_wrk(plan: Plan, servers: dict[str, ServerProcess], session: Session, out: Path) -> list[dict] | None:
    """The headline cells again with wrk (loadtest/wrk.py), pinned to the load generator's CPU
    like Locust, with as many connections as Locust has users; saved as wrk.json. None, with a
    line saying why, when wrk is not installed or the plan has no headline cell."""
    from . import wrk

    if not wrk.wrk_available():
        log("wrk check skipped: wrk is not installed (Debian: apt-get install wrk; .ci/run installs it)")
        return None
    cells = wrk.headline_cells(plan.servers, plan.modes_on, plan.limits) if plan.profile == "steady" else []
    if not cells:
        log("wrk check skipped: no headline cell (raw or drf at 1000 rows, steady profile) in this plan")
        return None
    log(f"wrk check: {len(cells)} headline cell(s) at {wrk.HEADLINE_ROWS} rows, {plan.users} connections, "
        f"{plan.repeats} x {plan.duration:g} s each ...")
    measured = []
    for name, mode in cells:
        server = servers[name]
        server.wait_disconnected()
        url = server.base_url + candle_path(mode, wrk.HEADLINE_ROWS, plan.pair, plan.interval)
        try:
            cell = wrk.measure_cell(name, mode, wrk.HEADLINE_ROWS, url, plan.users, plan.duration, plan.repeats,
                                    session.layout.loadgen)
        except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
            log(f"wrk check stopped, the report has no Locust/wrk table: {exc}")
            return None
        server.wait_idle()
        log(f"  wrk {name:<13} {mode:<6} {cell.wrk_rps:9.1f} req/s")
        measured.append(cell.as_json())
    (out / "wrk.json").write_text(json.dumps(measured, indent=1))
    return measured


def update_latest(out: Path) -> None:
    """Point <out's parent>/latest at `out` (a relative symlink)."""
    link = out.parent / "latest"
    tmp = out.parent / f".latest-{os.getpid()}"
    try:
        if tmp.is_symlink():
            tmp.unlink()
        tmp.symlink_to(out.name)
        os.replace(tmp, link)
    except OSError as exc:
        log(f"(could not update {link}: {exc})")


def write_outputs(out: Path, meta: dict, t_start: float) -> None:
    """meta.json, the reports, the latest link; prints the summary."""
    meta["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    meta["elapsed_s"] = round(time.monotonic() - t_start, 1)
    (out / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
    summary = write_reports(out)
    meta["elapsed_s"] = round(time.monotonic() - t_start, 1)
    (out / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
    update_latest(out)
    log("")
    log(summary)
    log("")
    log(f"report: {out / 'report.md'}  |  {out / 'report.html'}")
    log(f"total time {fmt_duration(time.monotonic() - t_start)}")


def run(args: argparse.Namespace) -> int:
    t_start = time.monotonic()
    started_at = datetime.now(UTC)
    out = results_dir(args.out, started_at)
    log(f"candlebench: results will be in {out}")
    session = open_session(args.processes)
    plan = make_plan(args, session.settings["modes"], session.settings["max_limit"])
    session.prepare_database()
    diag = f" + {len(plan.diagnostics)} diagnostics ({', '.join(plan.diagnostics)})" if plan.diagnostics else ""
    log(f"plan: {len(plan.modes)} modes{diag} x {len(plan.limits)} limits x {len(plan.servers)} servers x "
        f"{plan.repeats} repeats = {len(plan.runs())} runs (fewer if a server does not serve a mode); "
        f"{plan.describe_load()}; {session.layout.text}")
    if not args.no_instructions:
        log(f"before the runs: the instruction ladder, ~{fmt_duration(INSTRUCTIONS_ESTIMATE_S)} (--no-instructions skips it)")

    out.mkdir(parents=True, exist_ok=True)
    micro = None if args.no_micro else run_micro(plan, session, out)
    if not args.no_instructions:
        run_instructions(plan, session, out)
    meta = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "argv": sys.argv[1:],
        "plan": plan.__dict__,
        "load": plan.describe_load(),
        "cpu_layout": session.layout.text,
        "server_cpus": sorted(session.layout.server or []),
        "loadgen_cpus": sorted(session.layout.loadgen or []),
        "machine": session.machine,
        "database": session.settings,
        "servers": {name: SERVERS[name].description for name in plan.servers},
        "micro": micro,
        "request": candle_path("<mode>", 0, plan.pair, plan.interval).replace("limit=0", "limit=N"),
    }
    # Every server runs for the whole session (idle ones cost nothing), so the run order
    # can interleave servers as well as modes.
    servers: dict[str, ServerProcess] = {}
    loadgen = None
    try:
        documents = start_servers(plan, session, out, meta, servers)
        check_machine_quiet(list(servers.values()), meta)
        from .loadgen import LoadGenerator  # imports Locust (gevent)

        loadgen = LoadGenerator("http://127.0.0.1", args.processes, session.layout.loadgen, out / "logs")
        measure_all(plan, servers, loadgen, documents, out, is_local_postgres(session.settings), args.locust_html)
        measure_wrk(plan, servers, session, out)
    finally:
        if loadgen is not None:
            loadgen.close()
        for server in servers.values():
            server.stop()
    write_outputs(out, meta, t_start)
    return 0


def main(argv: list[str] | None = None) -> int:
    return command_main(run, build_parser(), argv)
