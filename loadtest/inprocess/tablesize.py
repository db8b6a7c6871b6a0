"""`python -m loadtest tablesize`: does latency at 1000 rows depend on how many candles the table
holds? A small and a big throwaway database, the views timed in-process side by side."""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from loadtest.cli import (
    CheckError,
    HelpFormatter,
    command_main,
    log,
    parse_name_list,
    verdict_exit_code,
)
from loadtest.request import DEFAULT_INTERVAL, DEFAULT_PAIR, candle_path
from loadtest.serving.database import engine_of, manage, throwaway_database
from loadtest.serving.servers import PROJECT_ROOT, pin_to
from loadtest.session import cpu_layout, server_env

TOLERANCE = 0.20
# Fewer rounds cannot tell a difference between the tables from the machine's noise.
MIN_ROUNDS = 3
PG_NAMES = {"small": "candlebench_tbl_small", "big": "candlebench_tbl_big"}


@dataclass(frozen=True)
class SeedShape:
    """What `seed_candles --count N` writes, from candles itself: the default pairs, candles
    stored per generated minute over every interval, where the minutes start; and the API's
    largest page."""

    pairs: int
    rows_per_minute: float
    start: datetime
    max_limit: int


def seed_shape() -> SeedShape:
    """Read from candles (sets Django up in this process; reads constants only)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "candleproject.settings")
    import django

    django.setup()
    from candles.api.params import MAX_LIMIT
    from candles.models import INTERVAL_SECONDS
    from candles.random_walk import DEFAULT_PAIRS, DEFAULT_START

    return SeedShape(
        len(DEFAULT_PAIRS), sum(60 / s for s in INTERVAL_SECONDS.values()), DEFAULT_START, MAX_LIMIT
    )


def minutes_for(total: int, limit: int, shape: SeedShape) -> int:
    """`seed_candles --count` (1m candles per pair) that makes the table hold about `total`
    candles over the default pairs and every interval; at least `limit` (one full page)."""
    if total <= 0 or limit <= 0:
        raise ValueError("sizes and limit must be positive")
    return max(limit, math.ceil(total / (shape.pairs * shape.rows_per_minute)))


@dataclass
class TableSizeVerdict:
    ratios: dict[str, float]
    within: bool

    def text(self, tolerance: float = TOLERANCE) -> str:
        worst = max(self.ratios.values(), default=math.nan)
        word = "within" if self.within else "NOT within"
        return f"{word} {tolerance:.0%}: worst big/small ratio {worst:.2f}"


def compare_table_sizes(
    small_ms: dict[str, float], big_ms: dict[str, float], tolerance: float = TOLERANCE
) -> TableSizeVerdict:
    """big/small latency per mode; within when every mode's big table is at most
    `tolerance` slower (a faster big table is within, too)."""
    ratios = {m: big_ms[m] / small_ms[m] for m in small_ms if m in big_ms and small_ms[m] > 0}
    if not ratios:
        raise ValueError("no mode measured on both tables")
    return TableSizeVerdict(ratios, all(r <= 1 + tolerance for r in ratios.values()))


def too_little_data(
    small: dict[str, list[float]], big: dict[str, list[float]], tolerance: float = TOLERANCE
) -> str:
    """Why a verdict over these per-round timings (ms per mode, one per round, small and big
    measured back to back) rests on too little data, or "" when it does not: fewer than
    MIN_ROUNDS rounds, or a mode whose rounds' big/small ratios fall on both sides of the
    tolerance (the median's side is then the noise's choice)."""
    rounds = min((len(v) for v in small.values()), default=0)
    if rounds < MIN_ROUNDS:
        return (
            f"only {rounds} round(s); at least {MIN_ROUNDS} tell a difference from noise (--rounds)"
        )
    split = []
    for mode, times in small.items():
        ratios = [b / a for a, b in zip(times, big.get(mode, []), strict=False) if a > 0]
        if ratios and min(ratios) <= 1 + tolerance < max(ratios):
            split.append(f"{mode} {min(ratios):.2f}..{max(ratios):.2f}")
    if split:
        return (
            f"rounds disagree about the {tolerance:.0%} line (big/small per round: {', '.join(split)}); "
            "more --rounds or a quieter machine"
        )
    return ""


def _run(cmd: list[str], env: dict[str, str], cpus: set[int] | None, timeout: float = 1800) -> str:
    result = subprocess.run(
        cmd,
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=pin_to(cpus),
        check=False,
    )
    if result.returncode != 0:
        raise CheckError(f"{' '.join(cmd[1:4])} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return result.stdout


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m loadtest tablesize",
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--big",
        type=int,
        default=5_000_000,
        help="candles in the big table (all pairs, all intervals)",
    )
    p.add_argument("--small", type=int, default=10_000, help="candles in the small table")
    p.add_argument("--limit", type=int, default=1000, help="rows per response")
    p.add_argument(
        "--modes",
        type=parse_name_list,
        default=["raw", "drf"],
        help="comma-separated modes to time",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=MIN_ROUNDS,
        help="small/big measurement rounds (median over rounds; "
        f"fewer than {MIN_ROUNDS} make the verdict inconclusive)",
    )
    p.add_argument(
        "--min-time",
        type=float,
        default=0.5,
        help="seconds of timed calls per mode, table and round",
    )
    p.add_argument(
        "--pair",
        default=DEFAULT_PAIR,
        help="exchange/market/asset to request (seeded in both tables)",
    )
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    return p


def check_args(args: argparse.Namespace, max_limit: int) -> None:
    if args.small <= 0 or args.big <= 0:
        raise CheckError("--small and --big must be positive")
    if args.small >= args.big:
        raise CheckError("--small must be smaller than --big")
    if not 1 <= args.limit <= max_limit:
        raise CheckError(f"--limit must be within 1..{max_limit} (the API's range)")
    if args.rounds < 1 or args.min_time <= 0:
        raise CheckError("--rounds must be >= 1 and --min-time > 0")
    if args.json is not None:
        try:
            args.json.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CheckError(
                f"--json {args.json}: its folder cannot be created: {exc.strerror or exc}"
            ) from None
        if args.json.is_dir() or not os.access(args.json.parent, os.W_OK):
            raise CheckError(f"--json {args.json} cannot be written")


def run(args: argparse.Namespace) -> int:
    shape = seed_shape()
    check_args(args, shape.max_limit)
    url = os.environ.get("DATABASE_URL", "")
    try:
        engine = engine_of(url)
    except ValueError as exc:
        raise CheckError(str(exc)) from None
    env = server_env()
    env.pop("DJANGO_DEBUG", None)
    # The views are timed on the CPU a server would get (this process waits meanwhile).
    cpus = cpu_layout().server
    sizes = {"small": args.small, "big": args.big}
    started = time.monotonic()
    with ExitStack() as stack:
        tmpdir = Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="candlebench-tablesize-"))
        )
        urls = {
            which: stack.enter_context(throwaway_database(url, PG_NAMES[which], tmpdir))
            for which in sizes
        }
        for which, db_url in urls.items():
            db_env = {**env, "DATABASE_URL": db_url}
            count = minutes_for(sizes[which], args.limit, shape)
            t0 = time.monotonic()
            manage(db_env, "migrate", "--no-input", timeout=1800)
            manage(db_env, "seed_candles", "--count", str(count), timeout=1800)
            log(
                f"{which}: {engine} {db_url.rsplit('/', 1)[-1]}: seeded seed_candles --count {count} "
                f"({shape.pairs} pairs, all intervals) + ANALYZE in {time.monotonic() - t0:.0f} s"
            )

        before = (
            shape.start.replace(tzinfo=None)
            + timedelta(minutes=minutes_for(args.small, args.limit, shape))
        ).isoformat()
        paths = {}
        for m in args.modes:
            newest = candle_path(m, args.limit, args.pair, DEFAULT_INTERVAL)
            paths[f"same:{m}"] = f"{newest}&before={before}"
            paths[f"latest:{m}"] = newest
        payload = json.dumps({"paths": paths, "min_time": args.min_time})
        samples: dict[str, dict[str, list[float]]] = {"small": {}, "big": {}}
        info: dict[str, dict] = {}
        for r in range(args.rounds):
            order = ("small", "big") if r % 2 == 0 else ("big", "small")  # alternate who goes first
            for which in order:
                out = json.loads(
                    _run(
                        [sys.executable, "-m", "loadtest.inprocess.tablesize_measure", payload],
                        {**env, "DATABASE_URL": urls[which]},
                        cpus,
                    )
                    .strip()
                    .splitlines()[-1]
                )
                info[which] = out
                for mode, m in out["modes"].items():
                    if m["rows"] != args.limit:
                        raise CheckError(
                            f"{which}: {mode} answered {m['rows']} rows, not {args.limit}"
                        )
                    samples[which].setdefault(mode, []).append(m["ms"])
    for key in paths:
        if (
            key.startswith("same:")
            and info["small"]["modes"][key]["sha"] != info["big"]["modes"][key]["sha"]
        ):
            raise CheckError(f"{key}: the small and the big table answered different documents")
    med = {w: {m: statistics.median(v) for m, v in s.items()} for w, s in samples.items()}
    verdict = compare_table_sizes(
        {m: v for m, v in med["small"].items() if m.startswith("same:")},
        {m: v for m, v in med["big"].items() if m.startswith("same:")},
    )
    latest = compare_table_sizes(
        {m: v for m, v in med["small"].items() if m.startswith("latest:")},
        {m: v for m, v in med["big"].items() if m.startswith("latest:")},
    )

    log("")
    log(
        f"Table size at {args.limit} rows ({engine}; view in-process, median of {args.rounds} round(s), "
        f"best of 3 batches each)"
    )
    log(
        f"small table: {info['small']['total']:,} candles; big table: {info['big']['total']:,} candles"
    )
    log(
        f"`same`: before={before}, byte-identical answers from both tables; `latest`: no before "
        "(the newest candles of each table: other candles)"
    )
    log(
        f"{'request':<8}{'mode':<10}{'small ms':>10}{'big ms':>10}{'big/small':>11}{'small B':>9}{'big B':>9}"
    )
    for kind, v in (("same", verdict), ("latest", latest)):
        for mode in args.modes:
            key = f"{kind}:{mode}"
            log(
                f"{kind:<8}{mode:<10}{med['small'][key]:>10.3f}{med['big'][key]:>10.3f}{v.ratios[key]:>11.2f}"
                f"{info['small']['modes'][key]['bytes']:>9}{info['big']['modes'][key]['bytes']:>9}"
            )
    same = {w: {m: v for m, v in samples[w].items() if m.startswith("same:")} for w in samples}
    doubt = too_little_data(same["small"], same["big"])
    log(f"verdict (same): {verdict.text()}" + (f" -- INCONCLUSIVE: {doubt}" if doubt else ""))
    log(f"latest (for information): {latest.text()}")
    log(f"took {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "engine": engine,
                    "limit": args.limit,
                    "rounds": args.rounds,
                    "tables": {w: info[w]["total"] for w in info},
                    "ms": med,
                    "samples": samples,
                    "before": before,
                    "ratios": verdict.ratios,
                    "within": verdict.within,
                    "tolerance": TOLERANCE,
                    "inconclusive": doubt,
                    "latest_ratios": latest.ratios,
                    "latest_within": latest.within,
                },
                indent=1,
            )
        )
    return verdict_exit_code(verdict.within and not doubt)


def main(argv: list[str] | None = None) -> int:
    return command_main(run, build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
