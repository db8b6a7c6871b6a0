"""`python -m loadtest.micro`: each mode's view called in-process (no server, middleware or
network), ms per request and µs per row at each limit, then the database alone;
`--instructions` counts instructions per request under valgrind instead (instructions.py)."""
from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import database_alone
from .fitting import fit_line, fit_problem
from .stats import parse_server_timing
from .cli import parse_int_list, parse_name_list
from .target import DEFAULT_INTERVAL, DEFAULT_LIMITS, DEFAULT_PAIR, candle_path


@dataclass
class MicroRow:
    mode: str
    limit: int
    ms: float  # per request, best batch
    us_per_row: float
    calls: int
    bytes: int
    timing_ms: dict[str, float] = field(default_factory=dict)


def setup_django() -> None:
    """Set Django up in this process with the project's settings; refuses DEBUG."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "candleproject.settings")
    import django

    django.setup()
    from django.conf import settings

    if settings.DEBUG:
        raise SystemExit("refusing to run with DEBUG on: unset DJANGO_DEBUG (debug mode records every query)")


def view_caller(path: str) -> tuple[Callable[[], object], bool]:
    """A zero-argument function doing one request; and whether it is a coroutine."""
    from django.test import RequestFactory
    from django.urls import resolve

    factory = RequestFactory()
    match = resolve(path.split("?", 1)[0])
    view = match.func
    if inspect.iscoroutinefunction(view) or getattr(view, "_is_coroutine", None):

        async def call_async():
            return await view(factory.get(path), *match.args, **match.kwargs)

        return call_async, True

    def call():
        response = view(factory.get(path), *match.args, **match.kwargs)
        render = getattr(response, "render", None)
        if callable(render) and not getattr(response, "is_rendered", True):
            response = render()
        return response

    return call, False


def checked_body(response, path: str) -> bytes:
    if response.status_code != 200:
        raise SystemExit(f"{path}: HTTP {response.status_code}: {response.content[:300]!r}")
    return response.content


def time_view(path: str, min_time: float, batches: int = 3) -> tuple[float, int, bytes, dict[str, float]]:
    """Best-of-`batches` mean seconds per call; calls made; the body; Server-Timing means."""
    call, is_async = view_caller(path)
    per_batch = max(min_time / batches, 0.01)

    async def run_async(n: int, collect: list):
        total = 0.0
        for _ in range(n):
            started = time.perf_counter()
            response = await call()
            total += time.perf_counter() - started
            collect.append(response)
        return total

    def run_sync(n: int, collect: list):
        total = 0.0
        for _ in range(n):
            started = time.perf_counter()
            response = call()
            total += time.perf_counter() - started
            collect.append(response)
        return total

    def run(n: int) -> tuple[float, list]:
        collect: list = []
        total = asyncio.run(run_async(n, collect)) if is_async else run_sync(n, collect)
        return total, collect

    # Warm up (imports, connection, caches) and estimate calls per batch.
    warm_total, warm = run(3)
    body = checked_body(warm[-1], path)
    n = max(3, min(100_000, math.ceil(per_batch / max(warm_total / 3, 1e-7))))
    best = math.inf
    calls = 0
    sums: dict[str, float] = {}
    for _ in range(batches):
        total, responses = run(n)
        calls += n
        best = min(best, total / n)
        for response in responses:
            if checked_body(response, path) != body:
                raise SystemExit(f"{path}: the body changed between calls")
            for phase, value in parse_server_timing(response.get("Server-Timing")).items():
                sums[phase] = sums.get(phase, 0.0) + value
    return best, calls, body, {phase: value / calls for phase, value in sums.items()}


def run_micro(modes: list[str], limits: list[int], pair: str, interval: str, min_time: float,
              progress: Callable[[str], None] | None = None) -> list[MicroRow]:
    rows: list[MicroRow] = []
    for limit in limits:
        bodies: dict[str, bytes] = {}
        for mode in modes:
            path = candle_path(mode, limit, pair, interval)
            seconds, calls, body, timing = time_view(path, min_time)
            bodies[mode] = body
            rows.append(MicroRow(mode, limit, seconds * 1000, seconds * 1e6 / limit, calls, len(body), timing))
            if progress:
                progress(f"  {mode:<14} limit={limit:<5} {seconds * 1000:9.3f} ms  ({calls} calls)")
        check_same_document(limit, bodies)
    return rows


def check_same_document(limit: int, bodies: dict[str, bytes]) -> None:
    """Every mode must answer the first mode's document: one that does less compares nothing."""
    first, reference = next(iter(bodies.items()))
    differing = [m for m, b in bodies.items() if b != reference]
    if differing:
        raise SystemExit(f"limit={limit}: {', '.join(differing)} answered a different document than {first}")


def fits(rows: list[MicroRow]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for mode in dict.fromkeys(r.mode for r in rows):
        points = [(r.limit, r.ms) for r in rows if r.mode == mode]
        if len({x for x, _ in points}) < 2:
            continue
        xs, ys = [x for x, _ in points], [y for _, y in points]
        a, b, r2 = fit_line(xs, ys)
        out[mode] = {"fixed_ms": a, "per_row_us": b * 1000, "r2": r2, "unreliable": fit_problem(xs, ys, a, b * 1000)}
    return out


def format_table(rows: list[MicroRow], fitted: dict[str, dict[str, float]]) -> str:
    """A fixed-width table: one line per mode, ms per request [µs per row] per limit."""
    modes = list(dict.fromkeys(r.mode for r in rows))
    limits = sorted({r.limit for r in rows})
    by = {(r.mode, r.limit): r for r in rows}
    head = f"{'mode':<14}" + "".join(f"{f'{lim} row' + ('' if lim == 1 else 's'):>22}" for lim in limits)
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


def format_database_alone(alone: list[database_alone.DatabaseAlone]) -> str:
    head = ("The database alone, raw's query compiled once: ms to fetch the rows into Python "
            "[ms for the database to write the JSON itself]")
    cells = "".join(f"{f'{a.limit} rows: {a.rows_ms:.3f} [{a.json_ms:.3f}]':>28}" for a in alone)
    differ = [str(a.limit) for a in alone if not a.json_same_document]
    warning = (f"\nAt {', '.join(differ)} rows the database's JSON is not raw's document (other values)."
               if differ else "")
    return head + "\n" + cells + warning


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.micro", description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", type=parse_name_list, help="comma-separated modes (default: all, report order)")
    parser.add_argument("--limits", type=parse_int_list, default=list(DEFAULT_LIMITS), help="comma-separated row counts")
    parser.add_argument("--pair", default=DEFAULT_PAIR)
    parser.add_argument("--interval", default=DEFAULT_INTERVAL)
    parser.add_argument("--min-time", type=float, default=0.3, help="seconds of timed calls per mode and limit")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions per request under valgrind instead of timing; "
                             "--json then writes {mode: {limit: instructions per request}}")
    args = parser.parse_args(argv)

    setup_django()
    from .settings_probe import modes_in_process

    known = modes_in_process()
    modes = args.modes or known
    unknown = [m for m in modes if m not in known]
    if unknown:
        parser.error(f"unknown mode(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    if args.instructions:
        from .instructions import print_ladder

        return print_ladder(modes, args.limits, args.pair, args.interval, args.json, progress)
    rows = run_micro(modes, args.limits, args.pair, args.interval, args.min_time, progress)
    fitted = fits(rows)
    alone = [database_alone.measure(limit, args.pair, args.interval, args.min_time) for limit in args.limits]
    print(format_table(rows, fitted), flush=True)
    print(format_database_alone(alone), flush=True)
    if args.json:
        from django.db import connection

        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "rows": [asdict(r) for r in rows],
                    "fits": fitted,
                    "database_alone": [asdict(a) for a in alone],
                    "min_time": args.min_time,
                    "database": connection.vendor,
                    "cpu_affinity": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [],
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
