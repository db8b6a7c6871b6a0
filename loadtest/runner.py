"""`python -m loadtest`: every mode x row count x server under Locust, then the report.

Steps: check the settings (refuse DEBUG), migrate and seed if needed, run the in-process
micro benchmark, start each server pinned to one CPU, check that every mode answers the
same document, then measure the runs in an interleaved order (repeat > limit > server >
mode, so modes compared side by side are measured within a minute), checking each run's
own sanity, and write results.csv, report.md and report.html.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from . import report
from .checks import (
    CheckError,
    add_target_options,
    check_same_document,
    check_server_debug_off,
    command_main,
    prepare_database,
    probe_settings,
    refuse_debug,
    results_dir,
)
from .machine import machine_info
from .servers import PROJECT_ROOT, SERVERS, CpuProbe, ServerProcess, is_local_postgres, pin_to, system_busy_seconds
from .stats import summarize
from .target import DEFAULT_LIMITS, candle_path, parse_int_list, parse_name_list

CSV_COLUMNS = [
    "server", "mode", "limit", "repeat", "rps", "p50_ms", "p95_ms", "p99_ms", "failures", "bytes",
    "db_ms", "serialize_ms", "render_ms", "server_rss_mb", "trustworthy", "note",
    # beyond the columns: what the checks and the report also use
    "requests", "duration_s", "mean_ms", "max_ms", "server_cpu_pct", "loadgen_cpu_pct",
    "db_cpu_pct", "other_cpu_pct", "locust_report",
]
# Fewer requests than this in a measured window make a row untrustworthy.
MIN_REQUESTS = 20
# Locust's own warning threshold, for the busiest load-generating process (% of a core).
LOADGEN_CPU_LIMIT = 90.0
# CPU used by anything but the server, the load generator and the local database during a
# window (% of one core): another benchmark on the machine would skew the comparison.
OTHER_CPU_LIMIT = 25.0

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
    p.add_argument("--modes", type=parse_name_list, help="comma-separated modes (default: all, in report order)")
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
    p.add_argument("--no-locust-html", action="store_true", help="do not keep Locust's HTML report per run (~1 MB each)")
    p.add_argument("--no-floor", action="store_true",
                   help=f"do not measure the diagnostics {', '.join(report.DIAGNOSTICS)} (the server's ceiling)")
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

    @property
    def endpoints(self) -> list[str]:
        return [*self.modes, *self.diagnostics]

    def runs(self) -> list[tuple[int, int, str, str]]:
        """(repeat, limit, server, mode) in the order they run: interleaved so that what
        is compared is measured close together; every other repeat goes through the servers
        and modes backwards, so none is always first after a change of limit."""
        out = []
        for repeat in range(1, self.repeats + 1):
            step = 1 if repeat % 2 else -1
            for limit in self.limits:
                for server in self.servers[::step]:
                    out += [(repeat, limit, server, mode) for mode in self.endpoints[::step]]
        return out

    def describe_load(self) -> str:
        if self.profile == "seed":
            return (f"seed profile (the case study's): {self.users} users x {self.requests_per_user} requests "
                    f"= {self.users * self.requests_per_user} per run, {self.repeats} repeat(s)")
        return (f"steady profile: {self.users} users without wait; warm-up >= {self.warmup:g} s and one "
                f"response per user, then {self.duration:g} s measured; {self.repeats} repeat(s)")


def make_plan(args: argparse.Namespace, all_modes: list[str]) -> Plan:
    preset = FULL if args.full else QUICK
    modes = args.modes or all_modes
    unknown = [m for m in modes if m not in all_modes]
    if unknown:
        raise CheckError(f"unknown mode(s): {', '.join(unknown)} (the project has {', '.join(all_modes)})")
    modes = [m for m in all_modes if m in modes]  # report order
    servers = args.servers or preset["servers"].split(",")
    unknown = [s for s in servers if s not in SERVERS]
    if unknown:
        raise CheckError(f"unknown server(s): {', '.join(unknown)} (choose from {', '.join(SERVERS)})")
    if any(not 1 <= limit <= 1440 for limit in args.limits):
        raise CheckError("limits must be within 1..1440 (the API's range)")
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
        diagnostics=[] if getattr(args, "no_floor", False) else list(report.DIAGNOSTICS),
    )
    if plan.users < 1 or plan.repeats < 1 or plan.processes < 1 or plan.duration <= 0 or plan.warmup < 0:
        raise CheckError("--users, --repeats and --processes must be >= 1, --duration > 0, --warmup >= 0")
    return plan


def cpu_layout(processes: int) -> tuple[set[int] | None, set[int] | None, str]:
    """(server CPUs, load-generator CPUs, a sentence for the report)."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(cpus) >= 2:
        server, loadgen = {cpus[0]}, set(cpus[1:])
        text = (f"server pinned to CPU {cpus[0]}, Locust ({processes} process{'es' if processes > 1 else ''}) "
                f"to CPU {', '.join(map(str, cpus[1:]))}")
        if processes > len(loadgen):
            text += f" (note: {processes} Locust processes share {len(loadgen)} CPU(s), which cannot add capacity)"
        return server, loadgen, text
    return None, None, (
        f"only {len(cpus) or 1} CPU available: server and Locust share it, so absolute numbers are low "
        "and the load generator competes with the server; ratios are still measured side by side"
    )


def machine_quiet_pct(servers: list[ServerProcess], seconds: float = 1.0) -> float:
    """CPU used by other processes over `seconds` while nothing is measured (% of a core)."""
    import psutil

    me = psutil.Process()

    def ours() -> float:
        t = me.cpu_times()
        return t.user + t.system + sum(s.cpu_seconds() for s in servers)

    busy0, ours0 = system_busy_seconds(), ours()
    time.sleep(seconds)
    busy1, ours1 = system_busy_seconds(), ours()
    return max(0.0, (busy1 - busy0) - (ours1 - ours0)) / seconds * 100


def fmt_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def log(message: str = "") -> None:
    print(message, flush=True)


def run_micro(plan: Plan, env: dict[str, str], out: Path, cpus: set[int] | None) -> dict | None:
    log("micro benchmark (views in-process, no HTTP) ...")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "loadtest.micro", "--modes", ",".join(plan.modes),
         "--limits", ",".join(map(str, plan.limits)), "--pair", plan.pair, "--interval", plan.interval,
         "--json", str(out / "micro.json"), "--quiet"],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, preexec_fn=pin_to(cpus), timeout=900,
    )
    (out / "micro.txt").write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        raise CheckError(f"the micro benchmark failed:\n{(result.stdout + result.stderr)[-2000:]}")
    log(result.stdout.rstrip())
    log(f"micro benchmark took {time.monotonic() - started:.0f} s")
    return json.loads((out / "micro.json").read_text())


def judge(stats, measurement) -> list[str]:
    """Why a run cannot be trusted (empty when it can)."""
    reasons = []
    if stats.failures:
        reasons.append(f"{stats.failures} failed request(s)")
    if measurement.locust_cpu_warning:
        reasons.append("Locust CPU warning")
    if measurement.loadgen_cpu_pct >= LOADGEN_CPU_LIMIT:
        reasons.append(f"load generator at {measurement.loadgen_cpu_pct:.0f}% CPU")
    if measurement.other_cpu_pct > OTHER_CPU_LIMIT:
        reasons.append(f"other processes used {measurement.other_cpu_pct:.0f}% of a CPU")
    if stats.requests < MIN_REQUESTS:
        reasons.append(f"only {stats.requests} requests measured")
    if not measurement.warmup_complete:
        reasons.append(f"warm-up incomplete after {measurement.warmup_s:.1f} s")
    if len(stats.body_sizes) > 1:
        reasons.append(f"body sizes varied: {', '.join(map(str, stats.body_sizes))}")
    reasons.extend(measurement.notes)
    return reasons


def num(value: float, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    return f"{value:.{digits}f}"


def run(args: argparse.Namespace) -> int:
    t_start = time.monotonic()
    started_at = datetime.now(UTC)
    out = results_dir(args.out, started_at)
    server_cpus, loadgen_cpus, layout = cpu_layout(args.processes)
    machine = machine_info()  # before pinning this process to the load generator's CPUs
    if loadgen_cpus:
        os.sched_setaffinity(0, loadgen_cpus)

    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "candleproject.settings")
    env["PYTHONUNBUFFERED"] = "1"

    log(f"candlebench: results will be in {out}")
    settings_info = probe_settings(env)
    refuse_debug(settings_info)
    db_text = f"{settings_info['vendor']} {settings_info['db_version']} ({settings_info['database']})"
    if settings_info["db_error"]:
        raise CheckError(f"cannot connect to the database: {settings_info['db_error']}")
    log(f"database: {db_text}; DEBUG off")
    plan = make_plan(args, settings_info["modes"])
    log("migrating and seeding if the database is empty ...")
    for line in prepare_database(env):
        log("  " + line)

    runs = plan.runs()
    diag = f" + {len(plan.diagnostics)} diagnostics ({', '.join(plan.diagnostics)})" if plan.diagnostics else ""
    log(f"plan: {len(plan.modes)} modes{diag} x {len(plan.limits)} limits x {len(plan.servers)} servers x "
        f"{plan.repeats} repeats = {len(runs)} runs; {plan.describe_load()}; {layout}")

    out.mkdir(parents=True, exist_ok=True)
    micro = None if args.no_micro else run_micro(plan, env, out, server_cpus)

    # Every server runs for the whole session (idle ones cost nothing), so the run order
    # can interleave servers as well as modes.
    servers: dict[str, ServerProcess] = {}
    loadgen = None
    meta = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "argv": sys.argv[1:],
        "plan": plan.__dict__,
        "load": plan.describe_load(),
        "cpu_layout": layout,
        "server_cpus": sorted(server_cpus) if server_cpus else [],
        "loadgen_cpus": sorted(loadgen_cpus) if loadgen_cpus else [],
        "machine": machine,
        "database": settings_info,
        "servers": {name: SERVERS[name].description for name in plan.servers},
        "micro": micro,
        "request": candle_path("<mode>", 0, plan.pair, plan.interval).replace("limit=0", "limit=N"),
    }
    csv_path = out / "results.csv"
    try:
        for name in plan.servers:
            server = ServerProcess(SERVERS[name], env, server_cpus, out / "logs" / f"server-{name}.log")
            servers[name] = server
            modes_doc = server.wait_ready()
            served = [m["name"] for m in modes_doc["modes"]]
            if served != settings_info["modes"]:
                raise CheckError(f"{name}: /api/modes lists {served}, expected {settings_info['modes']}")
            check_server_debug_off(server.base_url)
            # The diagnostics too: the ceiling must be measured with the real answer's bytes.
            documents = check_same_document(
                server.base_url, plan.endpoints, plan.limits, lambda m, lim: candle_path(m, lim, plan.pair, plan.interval)
            )
            meta.setdefault("documents", {lim.limit: lim.bytes for lim in documents})
            if meta["documents"] != {lim.limit: lim.bytes for lim in documents}:
                raise CheckError(f"{name} answers different documents than {plan.servers[0]}")
            meta.setdefault("server_affinity", {})[name] = server.affinity()
            also = f" (and {', '.join(plan.diagnostics)})" if plan.diagnostics else ""
            log(f"{name}: {SERVERS[name].description} on port {server.port}, CPU(s) {server.affinity()}; "
                f"all {len(plan.modes)} modes{also} answer byte-identical documents")
        expected_bytes = meta["documents"]
        local_postgres = is_local_postgres(settings_info)
        quiet = machine_quiet_pct(list(servers.values()))
        meta["busy_before_pct"] = round(quiet, 1)
        if quiet > OTHER_CPU_LIMIT:
            log(f"WARNING: with the servers idle, other processes use {quiet:.0f}% of a CPU; runs disturbed "
                "by them will be marked not trustworthy")

        from .loadgen import LoadGenerator, Target  # imports Locust (gevent)

        loadgen = LoadGenerator("http://127.0.0.1", args.processes, loadgen_cpus, out / "logs")
        (out / "locust").mkdir(exist_ok=True)
        with open(csv_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            t_runs = time.monotonic()
            for i, (repeat, limit, name, mode) in enumerate(runs, 1):
                server = servers[name]
                if not server.alive():
                    raise RuntimeError(f"the {name} server died:\n{server.log_tail()}")
                loadgen.env.host = server.base_url
                loadgen.options.host = server.base_url
                target = Target(mode, limit, plan.pair, plan.interval, expected_bytes[limit])
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
                stats = summarize(m.samples, m.duration_s) if m.samples else None
                report_name = ""
                if not args.no_locust_html:
                    report_name = f"locust/{name}-{mode}-{limit}-r{repeat}.html"
                    (out / report_name).write_text(loadgen.html_report())
                if stats is None:
                    reasons = ["no request completed", *m.notes]
                    row = {"server": name, "mode": mode, "limit": limit, "repeat": repeat, "rps": "0",
                           "requests": 0, "trustworthy": "no", "note": "; ".join(reasons)}
                else:
                    reasons = judge(stats, m)
                    if restarted:
                        reasons.append("a server process was replaced during the run")
                    row = {
                        "server": name, "mode": mode, "limit": limit, "repeat": repeat,
                        "rps": num(stats.rps, 2), "p50_ms": num(stats.p50_ms), "p95_ms": num(stats.p95_ms),
                        "p99_ms": num(stats.p99_ms), "failures": stats.failures, "bytes": stats.bytes,
                        "db_ms": num(stats.timing_ms.get("db", math.nan), 4),
                        "serialize_ms": num(stats.timing_ms.get("serialize", math.nan), 4),
                        "render_ms": num(stats.timing_ms.get("render", math.nan), 4),
                        "server_rss_mb": num(rss, 1), "trustworthy": "no" if reasons else "yes",
                        "note": "; ".join(reasons), "requests": stats.requests,
                        "duration_s": num(stats.duration_s), "mean_ms": num(stats.mean_ms),
                        "max_ms": num(stats.max_ms), "server_cpu_pct": num(m.server_cpu_pct, 0),
                        "loadgen_cpu_pct": num(m.loadgen_cpu_pct, 0), "db_cpu_pct": num(m.db_cpu_pct, 0),
                        "other_cpu_pct": num(m.other_cpu_pct, 0),
                    }
                row["locust_report"] = report_name
                writer.writerow(row)
                f.flush()
                elapsed = time.monotonic() - t_runs
                left = elapsed / i * (len(runs) - i)
                flag = "ok" if not reasons else "NOT TRUSTWORTHY: " + "; ".join(reasons)
                p50 = f"p50 {stats.p50_ms:7.1f} ms" if stats else ""
                log(f"[{i:>{len(str(len(runs)))}}/{len(runs)}] {name:<13} {mode:<13} limit={limit:<5} r{repeat} "
                    f"{float(row['rps']):9.1f} req/s {p50}  {flag} | {fmt_duration(elapsed)} elapsed, "
                    f"~{fmt_duration(left)} left")
    finally:
        if loadgen is not None:
            loadgen.close()
        for server in servers.values():
            server.stop()

    meta["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    meta["elapsed_s"] = round(time.monotonic() - t_start, 1)
    (out / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
    summary = report.write_reports(out)
    meta["elapsed_s"] = round(time.monotonic() - t_start, 1)
    (out / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
    update_latest(out)
    log("")
    log(summary)
    log("")
    log(f"report: {out / 'report.md'}  |  {out / 'report.html'}")
    log(f"total time {fmt_duration(time.monotonic() - t_start)}")
    return 0


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


def main(argv: list[str] | None = None) -> int:
    return command_main(run, build_parser(), argv)
