"""`python -m loadtest micro`: each mode's view called in-process (no server, middleware or
network), ms per request and µs per row at each limit, then the database alone and each
`--compression` setup's codec alone on the document; `--instructions` counts instructions per
request under valgrind instead (instructions.py)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypedDict

from loadtest.axes import split_label
from loadtest.cli import parse_int_list, parse_name_list
from loadtest.fitting import fit_line, fit_problem
from loadtest.inprocess import database_alone
from loadtest.inprocess.codecs import format_codecs, time_codecs
from loadtest.inprocess.views import check_same_body, setup_django, time_view
from loadtest.request import (
    DEFAULT_INTERVAL,
    DEFAULT_LIMITS,
    DEFAULT_PAIR,
    candle_path,
)


@dataclass
class MicroRow:
    mode: str
    limit: int
    ms: float  # per request, best batch
    us_per_row: float
    calls: int
    bytes: int
    timing_ms: dict[str, float] = field(default_factory=dict)


def run_micro(
    modes: list[str],
    limits: list[int],
    pair: str,
    interval: str,
    min_time: float,
    progress: Callable[[str], None] | None = None,
) -> list[MicroRow]:
    rows: list[MicroRow] = []
    for limit in limits:
        bodies: dict[str, bytes] = {}
        for mode in modes:
            path = candle_path(mode, limit, pair, interval)
            seconds, calls, body, timing = time_view(path, min_time)
            bodies[mode] = body
            rows.append(
                MicroRow(
                    mode, limit, seconds * 1000, seconds * 1e6 / limit, calls, len(body), timing
                )
            )
            if progress:
                progress(f"  {mode:<14} limit={limit:<5} {seconds * 1000:9.3f} ms  ({calls} calls)")
        check_same_body(limit, bodies)
    return rows


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
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    if args.instructions:
        from loadtest.inprocess.instructions import print_ladder

        return print_ladder(modes, args.limits, args.pair, args.interval, args.json, progress)
    rows = run_micro(modes, args.limits, args.pair, args.interval, args.min_time, progress)
    fitted = fits(rows)
    alone = [
        database_alone.measure(limit, args.pair, args.interval, args.min_time)
        for limit in args.limits
    ]
    codec_limit = 1000 if 1000 in args.limits else max(args.limits)
    codecs = time_codecs(args.compression, codec_limit, args.pair, args.interval, args.min_time)
    print(format_table(rows, fitted), flush=True)
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
                    "database": connection.vendor,
                    "cpu_affinity": sorted(os.sched_getaffinity(0))
                    if hasattr(os, "sched_getaffinity")
                    else [],
                },
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
