"""`python -m loadtest micro`: each mode's view called in-process (no server, middleware or
network), ms per request and µs per row at each limit, every call's latency (p50, p99, max) and
the garbage collector's time in the calls, then the database alone and each `--compression`
setup's codec alone on the document; `--gc` runs each mode under each GC setup in a process of
its own (micro_gc.py); `--instructions` counts instructions per request under valgrind instead
(instructions.py)."""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypedDict

from loadtest.axes import Deployment, split_label
from loadtest.cli import parse_int_list, parse_name_list
from loadtest.fitting import fit_line, fit_problem
from loadtest.inprocess import database_alone
from loadtest.inprocess.codecs import format_codecs, time_codecs
from loadtest.inprocess.micro_gc import format_gc_summary, run_under_setups
from loadtest.inprocess.views import ViewTiming, check_same_body, setup_django, time_view
from loadtest.request import (
    DEFAULT_INTERVAL,
    DEFAULT_LIMITS,
    DEFAULT_PAIR,
    candle_path,
)
from loadtest.stats import percentile

# A p99 needs this many calls at least (the 99th of 100); with fewer the tail table prints "-".
MIN_CALLS_FOR_P99 = 100


@dataclass
class MicroRow:
    mode: str
    limit: int
    ms: float  # per request, best batch
    us_per_row: float
    calls: int
    bytes: int
    timing_ms: dict[str, float] = field(default_factory=dict)
    # Every call's latency (not only the best batch's mean), and calls per second of the loop
    # (the calls and what runs between them: a GC setup's collection after each answer).
    p50_ms: float = math.nan
    p99_ms: float = math.nan  # NaN with fewer than MIN_CALLS_FOR_P99 calls
    max_ms: float = math.nan
    rps: float = math.nan
    # The same of each call's CPU time (the shared machine's preemptions left out), and the
    # calls' CPU time over their wall time (well below 1: other processes took the core).
    cpu_p50_ms: float = math.nan
    cpu_p99_ms: float = math.nan
    cpu_max_ms: float = math.nan
    cpu_share: float = math.nan
    cpu_rps: float = math.nan  # calls per CPU second of the loop: rps without the preemptions
    # The collector inside the calls: collections per generation, mean ms per call, the most in
    # one call; between the calls (after each answer); the longest single collection anywhere.
    gc_collections: list[int] = field(default_factory=lambda: [0, 0, 0])
    gc_ms_per_call: float = 0.0
    most_gc_in_a_call_ms: float = 0.0
    gc_between_collections: list[int] = field(default_factory=lambda: [0, 0, 0])
    gc_between_ms_per_call: float = 0.0
    longest_collection_ms: float = 0.0
    gc: str = "default"  # the GC setup the process ran (read back from gc)
    repeat: int = 0
    peak_rss_mb: float = math.nan  # the process's peak RSS (one mode per process under --gc)


def micro_row(mode: str, limit: int, timed: ViewTiming, gc: str = "default") -> MicroRow:
    latencies = sorted(timed.latencies_ms)
    cpu = sorted(timed.cpu_ms)
    calls = timed.calls
    enough = calls >= MIN_CALLS_FOR_P99
    return MicroRow(
        mode,
        limit,
        timed.seconds * 1000,
        timed.seconds * 1e6 / limit,
        calls,
        len(timed.body),
        timed.timing_ms,
        p50_ms=percentile(latencies, 50),
        p99_ms=percentile(latencies, 99) if enough else math.nan,
        max_ms=latencies[-1],
        rps=calls / timed.loop_s if timed.loop_s > 0 else math.nan,
        cpu_p50_ms=percentile(cpu, 50),
        cpu_p99_ms=percentile(cpu, 99) if enough else math.nan,
        cpu_max_ms=cpu[-1],
        cpu_share=sum(cpu) / sum(latencies) if sum(latencies) > 0 else math.nan,
        cpu_rps=calls / timed.loop_cpu_s if timed.loop_cpu_s > 0 else math.nan,
        gc_collections=list(timed.gc_in_calls.counts),
        gc_ms_per_call=timed.gc_in_calls.total_s * 1000 / calls,
        most_gc_in_a_call_ms=timed.most_gc_in_a_call_ms,
        gc_between_collections=list(timed.gc_between.counts),
        gc_between_ms_per_call=timed.gc_between.total_s * 1000 / calls,
        longest_collection_ms=timed.longest_collection_ms,
        gc=gc,
    )


def run_micro(
    modes: list[str],
    limits: list[int],
    pair: str,
    interval: str,
    min_time: float,
    progress: Callable[[str], None] | None = None,
    calls: int | None = None,
    gc: str = "default",
) -> list[MicroRow]:
    rows: list[MicroRow] = []
    for limit in limits:
        bodies: dict[str, bytes] = {}
        for mode in modes:
            path = candle_path(mode, limit, pair, interval)
            timed = time_view(path, min_time, calls=calls)
            bodies[mode] = timed.body
            rows.append(micro_row(mode, limit, timed, gc))
            if progress:
                progress(
                    f"  {Deployment(gc=gc).label(mode):<14} limit={limit:<5} {timed.seconds * 1000:9.3f} ms  "
                    f"({timed.calls} calls)"
                )
        check_same_body(limit, bodies)
    return rows


def peak_rss_mb() -> float:
    """This process's peak RSS so far (VmHWM), MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ModeFit(TypedDict):
    """A mode's fitted cost per request; `unreliable` says why it cannot be shown ('' if it can)."""

    fixed_ms: float
    per_row_us: float
    r2: float
    unreliable: str


def fits(rows: list[MicroRow]) -> dict[str, ModeFit]:
    out: dict[str, ModeFit] = {}
    for mode in dict.fromkeys(r.mode for r in rows):
        points = [(r.limit, r.ms) for r in rows if r.mode == mode]
        if len({x for x, _ in points}) < 2:
            continue
        xs, ys = [x for x, _ in points], [y for _, y in points]
        a, b, r2 = fit_line(xs, ys)
        out[mode] = {
            "fixed_ms": a,
            "per_row_us": b * 1000,
            "r2": r2,
            "unreliable": fit_problem(xs, ys, a, b * 1000),
        }
    return out


def format_table(rows: list[MicroRow], fitted: dict[str, ModeFit]) -> str:
    """A fixed-width table: one line per mode, ms per request [µs per row] per limit."""
    modes = list(dict.fromkeys(r.mode for r in rows))
    limits = sorted({r.limit for r in rows})
    by = {(r.mode, r.limit): r for r in rows}
    head = f"{'mode':<14}" + "".join(
        f"{f'{lim} row' + ('' if lim == 1 else 's'):>22}" for lim in limits
    )
    if fitted:
        head += f"{'fixed ms':>10}{'µs/row':>9}"
    lines = ["In-process view time: ms per request [µs per row], best of 3 batches", head]
    for mode in modes:
        line = f"{mode:<14}"
        for lim in limits:
            r = by.get((mode, lim))
            line += f"{f'{r.ms:.3f} [{r.us_per_row:.2f}]':>22}" if r else f"{'-':>22}"
        if fitted:
            f = fitted.get(mode)
            if f and f.get("unreliable"):
                line += f"  fit unreliable: {f['unreliable']}"
            else:
                line += f"{f['fixed_ms']:>10.3f}{f['per_row_us']:>9.2f}" if f else f"{'':>19}"
        lines.append(line)
    return "\n".join(lines)


def format_tail(rows: list[MicroRow]) -> str:
    """Per mode and limit: every call's latency, requests/s of the loop, and the collector."""

    def ms(value: float) -> str:
        return "-" if math.isnan(value) else f"{value:.2f}"

    head = (
        f"{'mode':<26}{'rows':>6}{'calls':>7}{'p50':>8}{'p99':>8}{'max':>8}{'p99/p50':>8}"
        f"{'cpu p50':>8}{'cpu p99':>8}{'cpu/wall':>9}"
        f"{'req/s':>8}{'gc ms/call':>11}{'gen0/1/2 in calls':>19}{'most gc/call':>13}"
        f"{'longest':>9}{'between ms/call':>16}"
    )
    lines = [
        "In-process tail: every call's latency and CPU time (ms), the loop's calls per second, and "
        f"the garbage collector's time inside the calls (p99 needs {MIN_CALLS_FOR_P99} calls: "
        "--calls; cpu/wall well below 1: other processes took the core)",
        head,
    ]
    for r in rows:
        ratio = r.p99_ms / r.p50_ms if r.p50_ms > 0 else math.nan
        lines.append(
            f"{Deployment(gc=r.gc).label(r.mode):<26}{r.limit:>6}{r.calls:>7}{ms(r.p50_ms):>8}{ms(r.p99_ms):>8}"
            f"{ms(r.max_ms):>8}{ms(ratio):>8}{ms(r.cpu_p50_ms):>8}{ms(r.cpu_p99_ms):>8}"
            f"{ms(r.cpu_share):>9}{r.rps:>8.1f}{r.gc_ms_per_call:>11.3f}"
            f"{'/'.join(map(str, r.gc_collections)):>19}{r.most_gc_in_a_call_ms:>13.2f}"
            f"{r.longest_collection_ms:>9.2f}{r.gc_between_ms_per_call:>16.3f}"
        )
    return "\n".join(lines)


def format_database_alone(alone: list[database_alone.DatabaseAlone]) -> str:
    head = (
        "The database alone, raw's query compiled once: ms to fetch the rows into Python "
        "[ms for the database to write the JSON itself]"
    )
    cells = "".join(f"{f'{a.limit} rows: {a.rows_ms:.3f} [{a.json_ms:.3f}]':>28}" for a in alone)
    differ = [str(a.limit) for a in alone if not a.json_same_document]
    warning = (
        f"\nAt {', '.join(differ)} rows the database's JSON is not raw's document (other values)."
        if differ
        else ""
    )
    return head + "\n" + cells + warning


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest micro", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--modes", type=parse_name_list, help="comma-separated modes (default: all, report order)"
    )
    parser.add_argument(
        "--limits",
        type=parse_int_list,
        default=list(DEFAULT_LIMITS),
        help="comma-separated row counts",
    )
    parser.add_argument("--pair", default=DEFAULT_PAIR)
    parser.add_argument("--interval", default=DEFAULT_INTERVAL)
    parser.add_argument(
        "--min-time", type=float, default=0.3, help="seconds of timed calls per mode and limit"
    )
    parser.add_argument(
        "--calls",
        type=positive_int,
        help="timed calls per mode and limit instead of --min-time (a p99 needs "
        f"{MIN_CALLS_FOR_P99}; about 1,000 for a steady one)",
    )
    parser.add_argument(
        "--gc",
        type=parse_name_list,
        default=[],
        help="GC setups (candles/api/gc_setups.py: default, freeze, threshold-50k, ...): each mode "
        "runs under each in a new process that applies it as a server does (rows <mode>+gc-<setup>)",
    )
    parser.add_argument(
        "--repeats",
        type=positive_int,
        default=1,
        help="with --gc: rounds over the modes and setups, the setups' order reversed every other "
        "round; ratios over the first setup are taken within a round",
    )
    parser.add_argument("--run-under-gc", help=argparse.SUPPRESS)  # --gc's child process
    parser.add_argument(
        "--compression",
        type=parse_name_list,
        default=[],
        help="compression setups whose codec alone is timed on the document at 1000 rows (else "
        "the largest limit)",
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per request under valgrind instead of timing; "
        "--json then writes {mode: {limit: instructions per request}}",
    )
    args = parser.parse_args(argv)

    setup_django()
    from loadtest.serving.settings_probe import modes_in_process

    known = modes_in_process()
    modes = args.modes or known
    try:
        labels = {m: split_label(m) for m in modes}
    except ValueError as exc:
        parser.error(str(exc))
    unknown = [m for m, (view, _) in labels.items() if view not in known]
    if unknown:
        parser.error(f"unknown mode(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    compressed = [m for m, (_, deployment) in labels.items() if not deployment.is_default]
    if compressed and not args.instructions:
        parser.error(
            f"{', '.join(compressed)}: a mode under a compression setup is counted with "
            "--instructions only (--compression times the codec alone)"
        )
    from candles.api.gc_setups import SETUP_NAMES

    unknown_gc = [g for g in args.gc if g not in SETUP_NAMES]
    if unknown_gc:
        parser.error(
            f"unknown GC setup(s) {', '.join(unknown_gc)}; choose from {', '.join(SETUP_NAMES)}"
        )
    if (args.gc or args.run_under_gc) and (args.instructions or args.compression):
        parser.error("--gc times the views only: without --instructions and --compression")
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    if args.instructions:
        from loadtest.inprocess.instructions import print_ladder

        return print_ladder(modes, args.limits, args.pair, args.interval, args.json, progress)
    if args.gc:
        gc_rows = run_under_setups(vars(args) | {"modes": modes}, progress)
        print(format_tail([MicroRow(**r) for r in gc_rows]), flush=True)
        print(format_gc_summary(gc_rows), flush=True)
        from candles.api.gc_setups import RECOMMENDED
        from loadtest.report.gc_goals import goal_lines, micro_goal

        print(goal_lines([micro_goal(gc_rows, RECOMMENDED.name)]), flush=True)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"gc_rows": gc_rows}, indent=1))
        return 0
    if args.run_under_gc:
        return run_as_gc_child(args, modes, progress)
    rows = run_micro(
        modes, args.limits, args.pair, args.interval, args.min_time, progress, calls=args.calls
    )
    fitted = fits(rows)
    alone = [
        database_alone.measure(limit, args.pair, args.interval, args.min_time)
        for limit in args.limits
    ]
    codec_limit = 1000 if 1000 in args.limits else max(args.limits)
    codecs = time_codecs(args.compression, codec_limit, args.pair, args.interval, args.min_time)
    print(format_table(rows, fitted), flush=True)
    print(format_tail(rows), flush=True)
    print(format_database_alone(alone), flush=True)
    if codecs:
        print(format_codecs(codecs), flush=True)
    if args.json:
        from django.db import connection

        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "rows": [asdict(r) for r in rows],
                    "fits": fitted,
                    "database_alone": [asdict(a) for a in alone],
                    "codecs": [asdict(c) for c in codecs],
                    "min_time": args.min_time,
                    "calls": args.calls,
                    "database": connection.vendor,
                    "peak_rss_mb": peak_rss_mb(),
                    "cpu_affinity": sorted(os.sched_getaffinity(0))
                    if hasattr(os, "sched_getaffinity")
                    else [],
                },
                indent=1,
            )
        )
    return 0


def run_as_gc_child(
    args: argparse.Namespace, modes: list[str], progress: Callable[[str], None] | None
) -> int:
    """One process of --gc: apply the setup as a server does (its warm-up, then the setup), check
    that `gc` reads back as it, time the modes, write the rows with this process's peak RSS."""
    from django.conf import settings

    from candles.api.gc_setups import apply_configured, running_setup_name
    from candles.api.registry import ServerKind

    if args.run_under_gc != settings.CANDLEBENCH_GC:
        raise SystemExit(
            f"CANDLEBENCH_GC is {settings.CANDLEBENCH_GC!r}, not {args.run_under_gc!r}"
        )
    apply_configured(ServerKind.DJANGO)
    running = running_setup_name()
    if running != args.run_under_gc:
        raise SystemExit(f"asked for GC setup {args.run_under_gc}, the process runs {running}")
    rows = run_micro(
        modes,
        args.limits,
        args.pair,
        args.interval,
        args.min_time,
        progress,
        calls=args.calls,
        gc=running,
    )
    peak = peak_rss_mb()
    for row in rows:
        row.peak_rss_mb = peak
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows]))
    else:
        print(format_tail(rows), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
