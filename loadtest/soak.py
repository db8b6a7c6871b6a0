"""`python -m loadtest soak`: steady load on one server process for a long time; passes with no
failed request and bounded memory growth (README.md, "Soak")."""

from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from loadtest import overload
from loadtest.axes import GC, Deployment, axes, axis_named, split_label
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
from loadtest.overload import STATUS_LOG, fmt
from loadtest.serving.axes import (
    chosen,
    deployments_on,
    refuse_unknown,
    setup_entries,
    setups_on,
)
from loadtest.serving.compression import expected_answer
from loadtest.serving.servers import SERVERS
from loadtest.session import Session

# The verdict compares the mean RSS of the first and the last EDGE_SAMPLES samples after warm-up.
EDGE_SAMPLES = 3

CSV_COLUMNS = [
    "t_s",
    "mode",
    "rss_mb",
    "requests",
    "failures",
    "rps",
    "p50_ms",
    "p99_ms",
    "compression",
]


@dataclass
class SoakResult:
    duration_s: float
    requests: int
    failures: int
    failure_kinds: dict[str, int]
    warmup_s: float
    rss_start_mb: float  # after warm-up
    rss_end_mb: float
    rss_peak_mb: float
    server_ok_after: bool
    max_growth_pct: float

    @property
    def growth_pct(self) -> float:
        if not (self.rss_start_mb > 0 and math.isfinite(self.rss_end_mb)):
            return math.nan
        return 100 * (self.rss_end_mb - self.rss_start_mb) / self.rss_start_mb

    @property
    def reasons(self) -> list[str]:
        out = []
        if self.failures:
            kinds = ", ".join(f"{k} x{n}" for k, n in self.failure_kinds.items())
            out.append(f"{self.failures} failed request(s): {kinds}")
        if not self.server_ok_after:
            out.append("the server did not answer /api/modes at the end")
        if self.requests == 0:
            out.append("no request completed")
        if not math.isfinite(self.growth_pct):
            out.append(
                f"too few RSS samples after warm-up to judge memory growth (the verdict compares the "
                f"means of the first and the last {EDGE_SAMPLES})"
            )
        elif self.growth_pct >= self.max_growth_pct:
            out.append(
                f"RSS grew {self.growth_pct:.1f}% after warm-up (limit {self.max_growth_pct:g}%)"
            )
        return out

    @property
    def passed(self) -> bool:
        return not self.reasons


def soak_verdict(
    series: list[dict],
    failure_kinds: dict[str, int],
    warmup_s: float,
    *,
    max_growth_pct: float = 10.0,
    server_ok_after: bool = True,
    edge_samples: int = EDGE_SAMPLES,
) -> SoakResult:
    """The verdict over an RSS time series (rows with t_s, rss_mb, requests, failures); fewer
    than 2 x edge_samples samples after warm-up are too few to judge memory growth (a FAIL)."""
    after = [r for r in series if r["t_s"] >= warmup_s]
    if len(after) >= 2 * edge_samples:
        start = statistics.fmean(r["rss_mb"] for r in after[:edge_samples])
        end = statistics.fmean(r["rss_mb"] for r in after[-edge_samples:])
    else:
        start = end = math.nan
    return SoakResult(
        duration_s=series[-1]["t_s"] if series else 0.0,
        requests=sum(r["requests"] for r in series),
        failures=sum(r["failures"] for r in series),
        failure_kinds=failure_kinds,
        warmup_s=warmup_s,
        rss_start_mb=start,
        rss_end_mb=end,
        rss_peak_mb=max((r["rss_mb"] for r in series), default=math.nan),
        server_ok_after=server_ok_after,
        max_growth_pct=max_growth_pct,
    )


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m loadtest soak",
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--minutes", type=float, default=10.0, help="total duration, split evenly over the modes"
    )
    p.add_argument(
        "--modes",
        type=parse_name_list,
        default=["drf", "raw"],
        help="comma-separated modes, one after the other",
    )
    p.add_argument("--server", default="asgi", choices=list(SERVERS), help="the server under load")
    add_axes_options(
        p,
        "one soak per combination of them (its own server process, memory and verdict; "
        "--minutes each)",
    )
    p.add_argument("--users", type=int, default=16, help="concurrent users without wait")
    p.add_argument("--limit", type=int, default=1000, help="rows per response")
    p.add_argument("--sample-seconds", type=float, default=5.0, help="RSS sampling interval")
    p.add_argument(
        "--warmup-minutes",
        type=float,
        default=1.0,
        help="memory growth is measured from here (capped at a fifth of the run)",
    )
    p.add_argument(
        "--max-growth", type=float, default=10.0, help="allowed RSS growth after warm-up, %%"
    )
    add_target_options(p, "soak")
    return p


def warmup_seconds(args: argparse.Namespace) -> float:
    return min(args.warmup_minutes * 60, args.minutes * 60 / 5)


def check_args(args: argparse.Namespace) -> None:
    """Every option that cannot make a soak, refused before any work (one line); so is a run too
    short for its own verdict (fewer than 2 x EDGE_SAMPLES RSS samples after warm-up)."""
    if args.minutes <= 0 or args.sample_seconds <= 0 or args.users < 1:
        raise CheckError("--minutes and --sample-seconds must be > 0 and --users >= 1")
    if args.warmup_minutes < 0 or args.max_growth <= 0:
        raise CheckError("--warmup-minutes must be >= 0 and --max-growth > 0")
    refuse_unknown(asked_axes(args))
    for axis, asked in chosen(asked_axes(args)).items():
        missing = [s for s in asked if s not in setups_on(axis, args.server, asked)]
        if missing:
            noun = axis_named(axis).noun
            raise CheckError(f"{args.server} does not run the {noun}(s) {', '.join(missing)}")
    total_s = args.minutes * 60
    samples = math.floor((total_s - warmup_seconds(args)) / args.sample_seconds)
    if samples < 2 * EDGE_SAMPLES:
        need = (
            2
            * EDGE_SAMPLES
            * args.sample_seconds
            / (1 - min(1.0, args.warmup_minutes * 60 / total_s, 0.2))
            / 60
        )
        raise CheckError(
            f"--minutes {args.minutes:g} gives {samples} RSS sample(s) after warm-up, the verdict needs "
            f"{2 * EDGE_SAMPLES} (the mean of the first {EDGE_SAMPLES} against the last {EDGE_SAMPLES}): "
            f"use --minutes >= {math.ceil(need * 100) / 100:g} or a shorter --sample-seconds"
        )


def run(args: argparse.Namespace) -> int:
    started_at = datetime.now(UTC)
    check_args(args)
    total_s = args.minutes * 60
    warmup_s = warmup_seconds(args)
    session = overload.open_overload_session(args.modes, args.limit)
    out = create_results_dir(args.out, started_at, "soak", force=args.force)
    per_mode = total_s / len(args.modes)
    log(
        f"soak: {args.server}, {args.users} users, {', '.join(args.modes)} for {per_mode:.0f} s each "
        f"(limit={args.limit}); RSS every {args.sample_seconds:g} s, growth measured after {warmup_s:.0f} s; "
        f"results in {out}"
    )
    session.prepare_database()

    from loadtest.load.generator import LoadGenerator, interrupt_main_greenlet_only

    interrupt_main_greenlet_only()

    overload.listen()

    loadgen = LoadGenerator("http://127.0.0.1", 1, session.layout.loadgen, out / "logs")
    results, all_series, texts = {}, [], []
    meta: dict = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "argv": sys.argv[1:],
        "server": args.server,
        "users": args.users,
        "limit": args.limit,
        "minutes": args.minutes,
        "warmup_s": warmup_s,
        "layout": session.layout.text,
        "database": f"{session.settings['vendor']} {session.settings['db_version']}",
        "machine": session.machine,
    }
    try:
        for deployment in deployments_on(args.server, asked_axes(args)):
            result, series, command, modes = soak_once(
                args, session, loadgen, out, deployment, total_s, warmup_s
            )
            all_series += [{**row, **deployment} for row in series]
            results[deployment.label(args.server)] = {
                **result.__dict__,
                "growth_pct": result.growth_pct,
                "passed": result.passed,
                "reasons": result.reasons,
            }
            texts.append(
                markdown(result, series, {**meta, "command": command, "modes": modes}, deployment)
            )
            meta |= {"command": command, "modes": modes}
    finally:
        loadgen.close()

    with open(out / "soak.csv", "w", newline="") as f:
        writer = csv.DictWriter(
            f, fieldnames=[*CSV_COLUMNS, *(a.name for a in axes() if a.name not in CSV_COLUMNS)]
        )
        writer.writeheader()
        writer.writerows(all_series)
    meta["results"] = results  # per deployment (by its label), each its own server and verdict
    if len(results) == 1:
        meta["result"] = next(iter(results.values()))
    (out / "meta.json").write_text(json.dumps(meta, indent=1, default=str))
    gc_text = gc_memory_text(results, args.server)
    if gc_text:
        meta["gc_memory"] = gc_text
    text = "\n".join([*texts, *([gc_text] if gc_text else [])])
    (out / "soak.md").write_text(text)
    log("")
    log(text)
    return verdict_exit_code(all(r["passed"] for r in results.values()))


def gc_memory_text(results: dict[str, dict], server: str) -> str:
    """With more than one GC setup soaked: each one's RSS at the end over the default's, and
    issue 29's memory goal ('' with one setup)."""
    from loadtest.report.gc_goals import goal_lines, recommended_in, soak_goal

    by_gc = {split_label(label)[1][GC.name]: r for label, r in results.items()}
    if len(by_gc) < 2 or GC.default not in by_gc:
        return ""
    base = by_gc[GC.default]["rss_end_mb"]
    lines = [
        "## RSS per GC setup",
        "",
        f"| GC setup | RSS at the end, MiB | over {GC.default} | peak MiB | growth after warm-up % |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in by_gc.items():
        ratio = r["rss_end_mb"] / base if base > 0 else math.nan
        lines.append(
            f"| {name} | {fmt(r['rss_end_mb'])} | {fmt(ratio, 2)} | {fmt(r['rss_peak_mb'])} | "
            f"{fmt(r['growth_pct'])} |"
        )
    goal = soak_goal(results, server, recommended_in(setup_entries()))
    return "\n".join([*lines, "", goal_lines([goal]), ""])


def soak_once(
    args: argparse.Namespace,
    session: Session,
    loadgen,
    out: Path,
    deployment: Deployment,
    total_s: float,
    warmup_s: float,
) -> tuple[SoakResult, list[dict], str, list[str]]:
    """One soak of a server started under `deployment` (its own process, memory and verdict):
    the verdict, the RSS series, the server's command line and the modes run."""
    import gevent

    from loadtest.load.generator import CandleRequest

    server, documents = overload.start_checked_server(
        session,
        SERVERS[args.server],
        out,
        args.modes,
        args.limit,
        args.pair,
        args.interval,
        deployment,
    )
    per_mode = total_s / len(documents)
    log(
        f"soak: {server.served_by} ({SERVERS[args.server].overload}), "
        f"{args.users} users, {', '.join(documents)} for {per_mode:.0f} s each (limit={args.limit}); "
        f"RSS every {args.sample_seconds:g} s, growth measured after {warmup_s:.0f} s; results in {out}"
    )
    series: list[dict] = []
    kinds: Counter = Counter()
    command = " ".join(server.spec.command("HOST", 0)[1:])
    ok_after = False
    try:
        loadgen.point_at(server.base_url)
        STATUS_LOG.drain()
        STATUS_LOG.active = True
        t0 = time.monotonic()
        for i, mode in enumerate(documents):
            loadgen.set_request(
                CandleRequest(
                    mode,
                    args.limit,
                    args.pair,
                    args.interval,
                    **expected_answer(documents[mode], deployment),
                )
            )
            loadgen.start(args.users)
            mode_end = t0 + per_mode * (i + 1)
            while True:
                now = time.monotonic()
                if now >= mode_end - 1e-3:
                    break
                gevent.sleep(min(args.sample_seconds, mode_end - now))
                t_s = time.monotonic() - t0
                records = STATUS_LOG.drain()
                loadgen.discard_samples()  # not used here; keep memory flat
                interval_s = t_s - (series[-1]["t_s"] if series else 0.0)
                ok = [r[2] for r in records if overload.classify(r) == "ok"]
                failed = [r for r in records if overload.classify(r) != "ok"]
                kinds.update(overload.failure_kind(r) for r in failed)
                series.append(
                    {
                        "t_s": round(t_s, 1),
                        "mode": mode,
                        "rss_mb": round(server.rss_mb(), 1),
                        "requests": len(records),
                        "failures": len(failed),
                        "rps": round(len(records) / max(interval_s, 1e-9), 1),
                        "p50_ms": fmt(overload.percentile_of(ok, 50), 2),
                        "p99_ms": fmt(overload.percentile_of(ok, 99), 2),
                    }
                )
                if not server.alive():
                    break
            loadgen.stop()
            if not server.alive():
                break
            log(
                f"  {mode}: done at {time.monotonic() - t0:.0f} s, RSS {series[-1]['rss_mb'] if series else 0} MiB, "
                f"{sum(r['requests'] for r in series if r['mode'] == mode)} requests, "
                f"{sum(r['failures'] for r in series if r['mode'] == mode)} failures"
            )
        STATUS_LOG.active = False
        # Requests cut off by stopping the users are not failures; anything recorded after
        # the last sample is.
        late = [r for r in STATUS_LOG.drain() if overload.classify(r) != "ok"]
        if late and series:
            series[-1]["failures"] += len(late)
            kinds.update(overload.failure_kind(r) for r in late)
        ok_after = overload.still_answers(server)
    finally:
        STATUS_LOG.active = False
        server.stop()

    result = soak_verdict(
        series,
        dict(kinds.most_common()),
        warmup_s,
        max_growth_pct=args.max_growth,
        server_ok_after=ok_after,
    )
    return result, series, command, list(documents)


def markdown(
    r: SoakResult, series: list[dict], meta: dict, deployment: Deployment | None = None
) -> str:
    per_mode = []
    for mode in meta["modes"]:
        rows = [s for s in series if s["mode"] == mode]
        if not rows:
            continue
        secs = rows[-1]["t_s"] - (
            series[series.index(rows[0]) - 1]["t_s"] if series.index(rows[0]) else 0.0
        )
        reqs = sum(s["requests"] for s in rows)
        p50s = [float(s["p50_ms"]) for s in rows if s["p50_ms"]]
        per_mode.append(
            f"| {mode} | {secs:.0f} | {reqs} | {reqs / max(secs, 1e-9):.1f} | "
            f"{sum(s['failures'] for s in rows)} | {statistics.median(p50s) if p50s else math.nan:.1f} | "
            f"{min(s['rss_mb'] for s in rows):.1f}–{max(s['rss_mb'] for s in rows):.1f} |"
        )
    verdict = "PASS" if r.passed else "FAIL: " + "; ".join(r.reasons)
    return "\n".join(
        [
            "# Soak test"
            + (f" under {deployment.describe()}" if deployment and deployment.chosen else ""),
            "",
            f"Started {meta['started_at']} UTC; {meta['layout']}; database {meta['database']}.",
            f"Server `{meta['command']}`; {meta['users']} users without wait, limit={meta['limit']} rows, modes "
            f"{', '.join(meta['modes'])}{' one after the other' if len(meta['modes']) > 1 else ''}, "
            f"{meta['minutes']:g} min in all.",
            "",
            "| mode | seconds | requests | requests/s | failures | p50 ms (median of intervals) | RSS MiB |",
            "|---|---:|---:|---:|---:|---:|---:|",
            *per_mode,
            "",
            f"- requests: {r.requests}, failed: {r.failures}"
            + (
                f" ({', '.join(f'{k} x{n}' for k, n in r.failure_kinds.items())})"
                if r.failure_kinds
                else ""
            ),
            f"- RSS after warm-up ({r.warmup_s:.0f} s): {fmt(r.rss_start_mb)} MiB; "
            f"at the end: {fmt(r.rss_end_mb)} MiB; "
            f"growth {fmt(r.growth_pct)}% (limit {r.max_growth_pct:g}%); peak {fmt(r.rss_peak_mb)} MiB",
            f"- server answered /api/modes at the end: {'yes' if r.server_ok_after else 'no'}",
            f"- verdict: {verdict}",
            "",
            "RSS time series: `soak.csv` (t_s, mode, rss_mb, requests, failures, rps, p50_ms, p99_ms per sample).",
            "",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    return command_main(run, build_parser(), argv)
