"""`python -m loadtest spike`: a sudden spike of users, then back to steady load; passes when the
server survives, answers every request 200 or 503 and recovers its latency (README.md, "Spike")."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

from loadtest.axes import Deployment, axes
from loadtest.cli import (
    CheckError,
    HelpFormatter,
    add_axes_options,
    add_target_options,
    asked_axes,
    command_main,
    create_results_dir,
    log,
    parse_name_list,
    verdict_exit_code,
)
from loadtest.overload import (
    STATUS_LOG,
    Record,
    classify,
    failure_kind,
    fmt,
    listen,
    open_overload_session,
    percentile_of,
    start_checked_server,
    still_answers,
)
from loadtest.serving.axes import deployments_on, refuse_unknown, runs_none_of
from loadtest.serving.compression import ExpectedAnswer, expected_answer
from loadtest.serving.servers import SERVERS, ServerProcess, refuse_unknown_servers

# -- the shape ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SpikePlan:
    users: int = 200
    baseline_users: int = 16
    baseline_s: float = 5.0
    spawn_s: float = 1.0
    hold_s: float = 10.0
    recovery_s: float = 10.0

    @property
    def spike_start(self) -> float:
        return self.baseline_s

    @property
    def drop(self) -> float:
        return self.baseline_s + self.spawn_s + self.hold_s

    @property
    def total(self) -> float:
        return self.drop + self.recovery_s

    def users_at(self, t: float) -> tuple[int, float] | None:
        """(users, spawn rate) at `t` seconds into the run; None once it is over."""
        if t < 0:
            raise ValueError("t must be >= 0")
        if t < self.spike_start:
            return self.baseline_users, float(self.baseline_users)  # all at once
        if t < self.drop:
            # 0 -> users within spawn_s seconds: a rate of users / spawn_s.
            return self.users, self.users / self.spawn_s
        if t < self.total:
            return self.baseline_users, float(self.users)  # back at once
        return None


def spike_shape(plan: SpikePlan):
    """A Locust LoadTestShape for `plan` (imports Locust). Locust calls tick() once a
    second; the shape notes the wall-clock time at which each phase first ticked."""
    from locust import LoadTestShape

    class SpikeShape(LoadTestShape):
        def __init__(self) -> None:
            super().__init__()
            self.plan = plan
            self.phase_started: dict[str, float] = {}

        def tick(self):
            t = self.get_run_time()
            current = self.plan.users_at(t)
            phase = (
                "baseline"
                if t < self.plan.spike_start
                else "spike"
                if t < self.plan.drop
                else "recovery"
                if current is not None
                else "end"
            )
            self.phase_started.setdefault(phase, time.time())
            return current

    return SpikeShape()


# -- the verdict --------------------------------------------------------------------------


@dataclass
class SpikeResult:
    baseline_requests: int
    baseline_p50_ms: float
    baseline_rps: float
    spike_requests: int
    spike_ok: int
    spike_shed: int
    spike_p50_ms: float
    spike_p99_ms: float
    spike_max_ms: float
    spike_ok_rps: float
    failures: int
    failure_kinds: dict[str, int]
    recovery_requests: int
    recovery_p50_ms: float
    recovered_after_s: float
    server_ok_after: bool
    worker_replaced: bool
    factor: float
    reasons: list[str] = field(default_factory=list)

    @property
    def shed_pct(self) -> float:
        return 100 * self.spike_shed / self.spike_requests if self.spike_requests else 0.0

    @property
    def recovery_ratio(self) -> float:
        if not (self.baseline_p50_ms > 0 and math.isfinite(self.recovery_p50_ms)):
            return math.nan
        return self.recovery_p50_ms / self.baseline_p50_ms

    @property
    def passed(self) -> bool:
        return not self.reasons


def spike_verdict(
    records: list[Record],
    phases: dict[str, float],
    end: float,
    *,
    factor: float = 1.5,
    baseline_skip_s: float = 1.0,
    settle_s: float = 2.0,
    server_ok_after: bool = True,
    worker_replaced: bool = False,
) -> SpikeResult:
    """Judge one spike run from its request records and the wall-clock phase starts
    (`phases`: baseline, spike, recovery; `end`: when the load stopped).

    Windows are by completion time: baseline = (baseline + baseline_skip_s, spike],
    spike = (spike, recovery + settle_s], recovery = (recovery + settle_s, end]. Latency
    percentiles are over 200 responses. Failures count over the whole run.
    """
    t_base, t_spike, t_rec = phases["baseline"], phases["spike"], phases["recovery"]
    t_settled = t_rec + settle_s

    def within(a: float, b: float) -> list[Record]:
        return [r for r in records if a < r[1] <= b]

    base = [r for r in within(t_base + baseline_skip_s, t_spike) if classify(r) == "ok"]
    spike = within(t_spike, t_settled)
    spike_ok = [r for r in spike if classify(r) == "ok"]
    recovery = [r for r in within(t_settled, end) if classify(r) == "ok"]
    failed = [r for r in records if classify(r) == "failed"]
    base_p50 = percentile_of([r[2] for r in base], 50)
    rec_p50 = percentile_of([r[2] for r in recovery], 50)

    # Seconds after the drop until the first one-second bucket whose p50 is back within
    # the factor (NaN: never within the run).
    recovered_after = math.nan
    if math.isfinite(base_p50):
        t = t_rec
        while t < end:
            bucket = [r[2] for r in within(t, min(t + 1, end)) if classify(r) == "ok"]
            if bucket and percentile_of(bucket, 50) <= factor * base_p50:
                recovered_after = t - t_rec
                break
            t += 1

    result = SpikeResult(
        baseline_requests=len(base),
        baseline_p50_ms=base_p50,
        baseline_rps=len(base) / max(1e-9, t_spike - t_base - baseline_skip_s),
        spike_requests=len(spike),
        spike_ok=len(spike_ok),
        spike_shed=sum(1 for r in spike if classify(r) == "shed"),
        spike_p50_ms=percentile_of([r[2] for r in spike_ok], 50),
        spike_p99_ms=percentile_of([r[2] for r in spike_ok], 99),
        spike_max_ms=max((r[2] for r in spike_ok), default=math.nan),
        spike_ok_rps=len(spike_ok) / max(1e-9, t_settled - t_spike),
        failures=len(failed),
        failure_kinds=dict(Counter(failure_kind(r) for r in failed).most_common()),
        recovery_requests=len(recovery),
        recovery_p50_ms=rec_p50,
        recovered_after_s=recovered_after,
        server_ok_after=server_ok_after,
        worker_replaced=worker_replaced,
        factor=factor,
    )
    reasons = result.reasons
    if not server_ok_after:
        reasons.append("the server did not answer /api/modes after the spike")
    if worker_replaced:
        reasons.append("a server process died or was replaced")
    if failed:
        kinds = ", ".join(f"{k} x{n}" for k, n in result.failure_kinds.items())
        reasons.append(f"{len(failed)} request(s) neither 200 nor 503: {kinds}")
    if not base:
        reasons.append("no baseline request completed")
    if not recovery:
        reasons.append("no request completed in the recovery window")
    elif math.isfinite(base_p50) and rec_p50 > factor * base_p50:
        reasons.append(
            f"recovery p50 {rec_p50:.1f} ms > {factor:g} x baseline p50 {base_p50:.1f} ms"
        )
    return result


def timeline(records: list[Record], start: float, end: float, shape: SpikePlan) -> list[dict]:
    """Per-second counts and p50 (200s only), for spike-timeline.csv."""
    rows = []
    for second in range(math.ceil(end - start)):
        a, b = start + second, start + second + 1
        rs = [r for r in records if a < r[1] <= b]
        ok = [r[2] for r in rs if classify(r) == "ok"]
        planned = shape.users_at(min(second, shape.total - 1e-9))
        rows.append(
            {
                "second": second,
                "planned_users": planned[0] if planned else 0,
                "ok": len(ok),
                "shed": sum(1 for r in rs if classify(r) == "shed"),
                "failed": sum(1 for r in rs if classify(r) == "failed"),
                "p50_ms": fmt(percentile_of(ok, 50)),
                "p99_ms": fmt(percentile_of(ok, 99)),
            }
        )
    return rows


# -- running --------------------------------------------------------------------------------


def run_spike(
    loadgen,
    server: ServerProcess,
    mode: str,
    limit: int,
    expected: ExpectedAnswer,
    plan: SpikePlan,
    pair: str,
    interval: str,
) -> tuple[list[Record], dict[str, float], float, float, float]:
    """One shape run (`expected`: the checked answer under the server's compression setup).
    Returns (records, phase starts, end, Locust CPU % during the spike, server peak RSS MiB)."""
    import gevent

    from loadtest.load.generator import CandleRequest

    listen()
    loadgen.point_at(server.base_url)
    loadgen.set_request(CandleRequest(mode, limit, pair, interval, **expected))
    shape = spike_shape(plan)
    server.reset_peak_rss()
    STATUS_LOG.drain()
    STATUS_LOG.active = True
    me = psutil.Process()
    cpu_at: dict[str, float] = {}
    try:
        loadgen.start_shape(shape)
        deadline = time.monotonic() + plan.total + 30
        while "end" not in shape.phase_started and time.monotonic() < deadline:
            for phase in ("spike", "recovery"):
                if phase in shape.phase_started and phase not in cpu_at:
                    t = me.cpu_times()
                    cpu_at[phase] = t.user + t.system
            gevent.sleep(0.05)
        end = shape.phase_started.get("end", time.time())
    finally:
        STATUS_LOG.active = False
        loadgen.end_shape()
    t = me.cpu_times()
    cpu_end = t.user + t.system
    phases = dict(shape.phase_started)
    cpu_pct = math.nan
    if "spike" in cpu_at and "recovery" in phases:
        spent = cpu_at.get("recovery", cpu_end) - cpu_at["spike"]
        cpu_pct = 100 * spent / max(1e-9, phases["recovery"] - phases["spike"])
    return STATUS_LOG.drain(), phases, end, cpu_pct, server.peak_rss_mb()


CSV_COLUMNS = [
    "server",
    "mode",
    "limit",
    "users",
    "baseline_users",
    "baseline_p50_ms",
    "baseline_rps",
    "spike_requests",
    "spike_ok",
    "spike_503",
    "spike_503_pct",
    "spike_p50_ms",
    "spike_p99_ms",
    "spike_max_ms",
    "spike_ok_rps",
    "failures",
    "failure_kinds",
    "recovery_p50_ms",
    "recovery_ratio",
    "recovered_after_s",
    "server_ok_after",
    "worker_replaced",
    "server_peak_rss_mb",
    "loadgen_cpu_pct",
    "verdict",
    "note",
    "compression",
]


def csv_row(
    server: str,
    mode: str,
    limit: int,
    plan: SpikePlan,
    r: SpikeResult,
    rss: float,
    cpu: float,
    deployment: Deployment | None = None,
) -> dict:
    """One spike.csv line, one column per deployment axis (spike.md and the summary name the
    server with its setups: served_by)."""
    return {
        **(deployment or Deployment()),
        "server": server,
        "mode": mode,
        "limit": limit,
        "users": plan.users,
        "baseline_users": plan.baseline_users,
        "baseline_p50_ms": fmt(r.baseline_p50_ms, 2),
        "baseline_rps": fmt(r.baseline_rps),
        "spike_requests": r.spike_requests,
        "spike_ok": r.spike_ok,
        "spike_503": r.spike_shed,
        "spike_503_pct": fmt(r.shed_pct),
        "spike_p50_ms": fmt(r.spike_p50_ms),
        "spike_p99_ms": fmt(r.spike_p99_ms),
        "spike_max_ms": fmt(r.spike_max_ms),
        "spike_ok_rps": fmt(r.spike_ok_rps),
        "failures": r.failures,
        "failure_kinds": "; ".join(f"{k} x{n}" for k, n in r.failure_kinds.items()),
        "recovery_p50_ms": fmt(r.recovery_p50_ms, 2),
        "recovery_ratio": fmt(r.recovery_ratio, 2),
        "recovered_after_s": fmt(r.recovered_after_s, 0),
        "server_ok_after": "yes" if r.server_ok_after else "no",
        "worker_replaced": "yes" if r.worker_replaced else "no",
        "server_peak_rss_mb": fmt(rss),
        "loadgen_cpu_pct": fmt(cpu, 0),
        "verdict": "pass" if r.passed else "FAIL",
        "note": "; ".join(r.reasons),
    }


def csv_columns() -> list[str]:
    """spike.csv's columns: CSV_COLUMNS, then each deployment axis's not among them."""
    return [*CSV_COLUMNS, *(a.name for a in axes() if a.name not in CSV_COLUMNS)]


def served_by(row: dict) -> str:
    """A spike.csv line's server with its deployment (`wsgi`, `wsgi+zstd-1`)."""
    return Deployment({a.name: row.get(a.name) or "" for a in axes()}).label(row["server"])


def summary_table(rows: list[dict]) -> str:
    head = (
        f"{'server':<6} {'mode':<6} {'base p50':>9} {'spike p50':>10} {'spike p99':>10} {'% 503':>6} "
        f"{'failures':>8} {'recov p50':>10} {'ratio':>6} {'verdict':>7}"
    )
    lines = [head]
    for r in rows:
        lines.append(
            f"{served_by(r):<6} {r['mode']:<6} {r['baseline_p50_ms']:>9} {r['spike_p50_ms']:>10} "
            f"{r['spike_p99_ms']:>10} {r['spike_503_pct']:>6} {r['failures']:>8} "
            f"{r['recovery_p50_ms']:>10} {r['recovery_ratio']:>6} {r['verdict']:>7}"
        )
    return "\n".join(lines)


def write_markdown(out: Path, rows: list[dict], meta: dict) -> None:
    plan = meta["plan"]
    lines = [
        "# Spike test",
        "",
        f"Started {meta['started_at']} UTC; {meta['layout']}; database {meta['database']}.",
        "",
        f"Shape per server x mode (Locust LoadTestShape): {plan['baseline_users']} users for {plan['baseline_s']:g} s "
        f"(baseline), then {plan['users']} users within {plan['spawn_s']:g} s, held {plan['hold_s']:g} s, then back to "
        f"{plan['baseline_users']} users for {plan['recovery_s']:g} s (recovery). Request: limit={meta['limit']} rows.",
        "",
        f"Servers: {'; '.join(f'{k}: {v}' for k, v in meta['servers'].items())}.",
        "",
        "Verdict: the server answers /api/modes right after and no process died; every request is 200 or 503; "
        f"the recovery p50 (after {meta['settle_s']:g} s of settling) is within {meta['factor']:g}x the baseline p50 "
        "(latencies of 200 responses, ms; the spike window runs from the spike to the end of settling).",
        "",
        "| server | mode | baseline p50 | spike p50 | spike p99 | spike 200/s | % 503 | failures | recovery p50 | "
        "ratio | back within factor after | Locust CPU | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {served_by(r)} | {r['mode']} | {r['baseline_p50_ms']} | {r['spike_p50_ms']} | {r['spike_p99_ms']} | "
            f"{r['spike_ok_rps']} | {r['spike_503_pct']} | {r['failures']} | {r['recovery_p50_ms']} | "
            f"{r['recovery_ratio']} | {r['recovered_after_s']} s | {r['loadgen_cpu_pct']}% | {r['verdict']} |"
        )
    lines += [
        "",
        "% 503 is the share of the spike window's responses that were 503: Locust users have no wait time, so "
        "a user that is shed retries at once and a few shed users make many fast 503s. *spike 200/s* is what "
        "the server kept serving meanwhile. uvicorn sheds past `--limit-concurrency` open connections; "
        "gunicorn's sync worker does not answer 503 but bounds its accept queue (`backlog` in gunicorn.conf.py): "
        "connections beyond it wait in the kernel (SYN retries), which shows as a long spike p99, not as errors.",
    ]
    notes = [f"- {served_by(r)} {r['mode']}: {r['note']}" for r in rows if r["note"]]
    if notes:
        lines += ["", "## Failed checks", "", *notes]
    lines += ["", "Per second: `spike-timeline.csv`. Server logs: `logs/`.", ""]
    (out / "spike.md").write_text("\n".join(lines))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m loadtest spike",
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--modes",
        type=parse_name_list,
        default=["drf", "raw"],
        help="comma-separated modes, each spiked in turn",
    )
    p.add_argument(
        "--servers",
        type=parse_name_list,
        default=["asgi", "wsgi"],
        help=f"comma-separated servers, of {', '.join(SERVERS)}",
    )
    p.add_argument(
        "--users", type=int, default=200, help="users at the spike (more than --baseline-users)"
    )
    p.add_argument(
        "--spawn-seconds", type=float, default=1.0, help="0 -> --users within this many seconds"
    )
    p.add_argument("--hold", type=float, default=10.0, help="seconds at --users")
    p.add_argument(
        "--baseline-users", type=int, default=16, help="users before and after the spike"
    )
    p.add_argument(
        "--baseline-seconds",
        type=float,
        default=5.0,
        help="seconds at --baseline-users before the spike (the first second is not measured)",
    )
    p.add_argument(
        "--recovery-seconds",
        type=float,
        default=10.0,
        help="seconds at --baseline-users after the spike (more than --settle)",
    )
    p.add_argument(
        "--settle",
        type=float,
        default=2.0,
        help="seconds after the drop not counted in the recovery p50",
    )
    p.add_argument(
        "--recovery-factor",
        type=float,
        default=1.5,
        help="recovery p50 must be within this x baseline p50",
    )
    p.add_argument("--limit", type=int, default=1000, help="rows per response")
    add_axes_options(p, "each server is started once under each combination of them it runs")
    p.add_argument(
        "--limit-concurrency",
        type=int,
        help="override uvicorn's --limit-concurrency "
        "(default: loadtest.serving.servers.UVICORN_LIMIT_CONCURRENCY)",
    )
    add_target_options(p, "spike")
    return p


def check_args(args: argparse.Namespace) -> None:
    """Every option that cannot make a spike, refused before any work (one line)."""
    refuse_unknown_servers(args.servers)
    refuse_unknown(asked_axes(args))
    for name in args.servers:
        if not deployments_on(name, asked_axes(args)):
            raise CheckError(runs_none_of(name, asked_axes(args)))
    if not args.users > args.baseline_users > 0:
        raise CheckError(
            f"--users must be more than --baseline-users, and that more than 0 "
            f"(got {args.users} and {args.baseline_users})"
        )
    if args.spawn_seconds <= 0 or args.hold <= 0:
        raise CheckError("--spawn-seconds and --hold must be > 0")
    if args.baseline_seconds <= 1:
        raise CheckError("--baseline-seconds must be > 1 (its first second is not measured)")
    if args.settle < 0 or args.recovery_seconds <= args.settle:
        raise CheckError("--settle must be >= 0 and --recovery-seconds more than --settle")
    if args.recovery_factor < 1:
        raise CheckError("--recovery-factor must be >= 1")
    if args.limit_concurrency is not None and args.limit_concurrency < 1:
        raise CheckError("--limit-concurrency must be >= 1")


def run(args: argparse.Namespace) -> int:
    started_at = datetime.now(UTC)
    check_args(args)
    plan = SpikePlan(
        args.users,
        args.baseline_users,
        args.baseline_seconds,
        args.spawn_seconds,
        args.hold,
        args.recovery_seconds,
    )
    session = open_overload_session(args.modes, args.limit)
    out = create_results_dir(args.out, started_at, "spike", force=args.force)
    log(f"spike: {session.layout.text}; results in {out}")
    session.prepare_database()

    from loadtest.load.generator import LoadGenerator, interrupt_main_greenlet_only

    interrupt_main_greenlet_only()

    loadgen = LoadGenerator("http://127.0.0.1", 1, session.layout.loadgen, out / "logs")
    rows: list[dict] = []
    timeline_rows: list[dict] = []
    servers_meta = {}
    try:
        for name, deployment in (
            (server, d) for server in args.servers for d in deployments_on(server, asked_axes(args))
        ):
            label = deployment.label(name)
            spec = SERVERS[name]
            if args.limit_concurrency is not None and "limit_concurrency" in spec.options:
                spec = spec.with_options(limit_concurrency=args.limit_concurrency)
            server, documents = start_checked_server(
                session, spec, out, args.modes, args.limit, args.pair, args.interval, deployment
            )
            log(f"{label}: {spec.overload}")
            servers_meta[label] = " ".join(server.spec.command("HOST", 0)[1:])
            try:
                for mode in documents:
                    log(
                        f"{label} {mode}: {plan.baseline_users} users {plan.baseline_s:g} s -> "
                        f"{plan.users} users in {plan.spawn_s:g} s, hold {plan.hold_s:g} s -> "
                        f"{plan.baseline_users} users {plan.recovery_s:g} s ..."
                    )
                    pids = server.pids()
                    records, phases, end, cpu, rss = run_spike(
                        loadgen,
                        server,
                        mode,
                        args.limit,
                        expected_answer(documents[mode], deployment),
                        plan,
                        args.pair,
                        args.interval,
                    )
                    ok_after = still_answers(server)
                    replaced = not server.alive() or not pids <= server.pids()
                    if (
                        "baseline" not in phases
                        or "spike" not in phases
                        or "recovery" not in phases
                    ):
                        raise RuntimeError(f"the shape did not run through its phases: {phases}")
                    result = spike_verdict(
                        records,
                        phases,
                        end,
                        factor=args.recovery_factor,
                        settle_s=args.settle,
                        server_ok_after=ok_after,
                        worker_replaced=replaced,
                    )
                    row = csv_row(name, mode, args.limit, plan, result, rss, cpu, deployment)
                    rows.append(row)
                    for t in timeline(records, phases["baseline"], end, plan):
                        timeline_rows.append({"server": label, "mode": mode, **t})
                    log(
                        f"  baseline p50 {row['baseline_p50_ms']} ms | spike p50 {row['spike_p50_ms']} ms, "
                        f"p99 {row['spike_p99_ms']} ms, {row['spike_503_pct']}% 503 | failures {row['failures']} | "
                        f"recovery p50 {row['recovery_p50_ms']} ms (x{row['recovery_ratio']}) | {row['verdict']}"
                        + (f": {row['note']}" if row["note"] else "")
                    )
                    if not server.alive():
                        raise RuntimeError(f"the {name} server died:\n{server.log_tail()}")
                    server.wait_idle()
            finally:
                server.stop()
    finally:
        loadgen.close()

    with open(out / "spike.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=csv_columns())
        writer.writeheader()
        writer.writerows(rows)
    if timeline_rows:
        with open(out / "spike-timeline.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(timeline_rows[0]))
            writer.writeheader()
            writer.writerows(timeline_rows)
    meta = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "argv": sys.argv[1:],
        "plan": dataclasses.asdict(plan),
        "limit": args.limit,
        "settle_s": args.settle,
        "factor": args.recovery_factor,
        "layout": session.layout.text,
        "database": f"{session.settings['vendor']} {session.settings['db_version']}",
        "servers": servers_meta,
        "machine": session.machine,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
    write_markdown(out, rows, meta)
    log("")
    log(summary_table(rows))
    log(f"\nreport: {out / 'spike.md'}")
    return verdict_exit_code(all(r["verdict"] == "pass" for r in rows))


def main(argv: list[str] | None = None) -> int:
    return command_main(run, build_parser(), argv)
