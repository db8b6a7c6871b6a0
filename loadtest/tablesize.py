"""Does latency at 1000 rows depend on the table's size? A small and a big table, side by side.

    python -m loadtest.tablesize [--big 5000000] [--small 10000] [--limit 1000] [--modes raw,drf]

For the engine of DATABASE_URL (SQLite by default, PostgreSQL for a postgres:// URL) it
builds two throwaway databases (temporary SQLite files; or the PostgreSQL databases
`candlebench_tbl_small` and `candlebench_tbl_big` on the same server, dropped and created by
this command and dropped again at the end), migrates them, seeds them with `seed_candles
--count N` (the default pairs, every interval, N chosen so the whole candle table holds
about --small / --big candles; the requested pair always gets at least --limit 1m candles),
runs ANALYZE (the seeder does), and then times the views of a few modes in-process at
--limit rows with the micro benchmark's machinery (loadtest.micro.time_view: the view alone,
no HTTP server), alternating small and big table for --rounds rounds. It prints both
latencies, big/small per mode, and a verdict: within 20% or not.

Two requests are timed. The verdict is on `same`: `before=` the end of the small table's
minutes, so both tables answer byte-identical documents (the seeder is deterministic), and
only the table size differs. `latest` (no `before`, the runner's request) is shown too; its
candles differ between the tables (other prices, body sizes a few bytes apart).

Your own database is not touched.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .target import DEFAULT_INTERVAL, DEFAULT_PAIR, candle_path, parse_name_list

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# 1m candles stored per 1m candle generated, over all intervals (1m, 5m, 15m, 1h, 4h, 1d).
INTERVAL_SECONDS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400}
ROWS_PER_MINUTE = sum(60 / s for s in INTERVAL_SECONDS.values())
DEFAULT_PAIRS = 3  # candles.seeding.DEFAULT_PAIRS (kept import-free of Django here)
TOLERANCE = 0.20
PG_NAMES = {"small": "candlebench_tbl_small", "big": "candlebench_tbl_big"}

# Run in a subprocess bound to one database: table size, then each mode's timing.
_MEASURE = r"""
import json, os, sys
from loadtest.micro import _setup_django, time_view
_setup_django()
from django.db import connection
from candles.models import Candle
args = json.loads(sys.argv[1])
out = {"vendor": connection.vendor, "total": Candle.objects.count(), "modes": {}}
for mode, path in args["paths"].items():
    seconds, calls, body, timing = time_view(path, args["min_time"])
    import hashlib
    out["modes"][mode] = {"ms": seconds * 1000, "calls": calls, "bytes": len(body),
                          "sha": hashlib.sha256(body).hexdigest(),
                          "rows": len(json.loads(body)["data"])}
print(json.dumps(out))
"""
SEED_START = "2023-07-01T00:00:00"  # candles.seeding.DEFAULT_START (naive = UTC)


def minutes_for(total: int, limit: int, pairs: int = DEFAULT_PAIRS) -> int:
    """`seed_candles --count` (1m candles per pair) that makes the table hold about `total`
    candles over `pairs` pairs and every interval; at least `limit` (one full page)."""
    if total <= 0 or limit <= 0:
        raise ValueError("sizes and limit must be positive")
    return max(limit, math.ceil(total / (pairs * ROWS_PER_MINUTE)))


@dataclass
class Verdict:
    ratios: dict[str, float]
    within: bool

    def text(self, tolerance: float = TOLERANCE) -> str:
        worst = max(self.ratios.values(), default=math.nan)
        word = "within" if self.within else "NOT within"
        return f"{word} {tolerance:.0%}: worst big/small ratio {worst:.2f}"


def judge(small_ms: dict[str, float], big_ms: dict[str, float], tolerance: float = TOLERANCE) -> Verdict:
    """big/small latency per mode; within when every mode's big table is at most
    `tolerance` slower (a faster big table is within, too)."""
    ratios = {m: big_ms[m] / small_ms[m] for m in small_ms if m in big_ms and small_ms[m] > 0}
    if not ratios:
        raise ValueError("no mode measured on both tables")
    return Verdict(ratios, all(r <= 1 + tolerance for r in ratios.values()))


def engine_of(url: str | None) -> str:
    if not url:
        return "sqlite"
    scheme = urlsplit(url).scheme
    if scheme.startswith("postgres") or scheme == "pgsql":
        return "postgresql"
    if scheme.startswith("sqlite"):
        return "sqlite"
    raise ValueError(f"unsupported DATABASE_URL scheme {scheme!r} (SQLite or PostgreSQL)")


def with_database(url: str, name: str) -> str:
    """The same PostgreSQL server URL, another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _pg_admin(url: str):
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname or None, port=parts.port or None, user=parts.username or None,
        password=parts.password or None, dbname="postgres", autocommit=True,
    )


def _pg_recreate(url: str, name: str, drop_only: bool = False) -> None:
    from psycopg import sql

    with _pg_admin(url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if not drop_only:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _run(cmd: list[str], env: dict[str, str], timeout: float = 1800) -> str:
    result = subprocess.run(cmd, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout,
                            check=False)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[1:4])} failed:\n{(result.stdout + result.stderr)[-3000:]}")
    return result.stdout


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtest.tablesize", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--big", type=int, default=5_000_000, help="candles in the big table (all pairs, all intervals)")
    p.add_argument("--small", type=int, default=10_000, help="candles in the small table")
    p.add_argument("--limit", type=int, default=1000, help="rows per response")
    p.add_argument("--modes", type=parse_name_list, default=["raw", "drf"], help="comma-separated modes to time")
    p.add_argument("--rounds", type=int, default=3, help="small/big measurement rounds (median over rounds)")
    p.add_argument("--min-time", type=float, default=0.5, help="seconds of timed calls per mode, table and round")
    p.add_argument("--pair", default=DEFAULT_PAIR)
    p.add_argument("--json", type=Path, help="also write the results as JSON here")
    return p


def check_args(args: argparse.Namespace) -> None:
    if args.small <= 0 or args.big <= 0:
        raise SystemExit("--small and --big must be positive")
    if args.small >= args.big:
        raise SystemExit("--small must be smaller than --big")
    if not 1 <= args.limit <= 1440:
        raise SystemExit("--limit must be within 1..1440 (the API's range)")
    if args.rounds < 1 or args.min_time <= 0:
        raise SystemExit("--rounds must be >= 1 and --min-time > 0")


def log(line: str) -> None:
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check_args(args)
    url = os.environ.get("DATABASE_URL", "")
    try:
        engine = engine_of(url)
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    env = dict(os.environ)
    env.setdefault("DJANGO_SETTINGS_MODULE", "candleproject.settings")
    env.pop("DJANGO_DEBUG", None)
    py = sys.executable
    tmpdir = Path(tempfile.mkdtemp(prefix="candlebench-tablesize-"))
    urls: dict[str, str] = {}
    sizes = {"small": args.small, "big": args.big}
    started = time.monotonic()
    try:
        for which in ("small", "big"):
            if engine == "sqlite":
                urls[which] = f"sqlite:///{tmpdir / f'{which}.sqlite3'}"
            else:
                _pg_recreate(url, PG_NAMES[which])
                urls[which] = with_database(url, PG_NAMES[which])
            db_env = {**env, "DATABASE_URL": urls[which]}
            count = minutes_for(sizes[which], args.limit)
            t0 = time.monotonic()
            _run([py, "manage.py", "migrate", "--no-input"], db_env)
            _run([py, "manage.py", "seed_candles", "--count", str(count)], db_env)
            log(f"{which}: {engine} {urls[which].rsplit('/', 1)[-1]}: seeded seed_candles --count {count} "
                f"(3 pairs, all intervals) + ANALYZE in {time.monotonic() - t0:.0f} s")

        from datetime import datetime, timedelta

        before = (datetime.fromisoformat(SEED_START) + timedelta(minutes=minutes_for(args.small, args.limit))).isoformat()
        paths = {}
        for m in args.modes:
            latest = candle_path(m, args.limit, args.pair, DEFAULT_INTERVAL)
            paths[f"same:{m}"] = f"{latest}&before={before}"
            paths[f"latest:{m}"] = latest
        payload = json.dumps({"paths": paths, "min_time": args.min_time})
        samples: dict[str, dict[str, list[float]]] = {"small": {}, "big": {}}
        info: dict[str, dict] = {}
        for r in range(args.rounds):
            order = ("small", "big") if r % 2 == 0 else ("big", "small")  # alternate who goes first
            for which in order:
                out = json.loads(_run([py, "-c", _MEASURE, payload], {**env, "DATABASE_URL": urls[which]})
                                 .strip().splitlines()[-1])
                info[which] = out
                for mode, m in out["modes"].items():
                    if m["rows"] != args.limit:
                        raise SystemExit(f"{which}: {mode} answered {m['rows']} rows, not {args.limit}")
                    samples[which].setdefault(mode, []).append(m["ms"])
        for key in paths:
            if key.startswith("same:") and info["small"]["modes"][key]["sha"] != info["big"]["modes"][key]["sha"]:
                raise SystemExit(f"{key}: the small and the big table answered different documents")
        med = {w: {m: statistics.median(v) for m, v in s.items()} for w, s in samples.items()}
        verdict = judge({m: v for m, v in med["small"].items() if m.startswith("same:")},
                        {m: v for m, v in med["big"].items() if m.startswith("same:")})
        latest = judge({m: v for m, v in med["small"].items() if m.startswith("latest:")},
                       {m: v for m, v in med["big"].items() if m.startswith("latest:")})
    finally:
        if engine == "postgresql":
            for name in PG_NAMES.values():
                try:
                    _pg_recreate(url, name, drop_only=True)
                except Exception as exc:  # noqa: BLE001 - report, do not hide the real error
                    log(f"(could not drop {name}: {exc})")
        shutil.rmtree(tmpdir, ignore_errors=True)

    log("")
    log(f"Table size at {args.limit} rows ({engine}; view in-process, median of {args.rounds} round(s), "
        f"best of 3 batches each)")
    log(f"small table: {info['small']['total']:,} candles; big table: {info['big']['total']:,} candles")
    log(f"`same`: before={before}, byte-identical answers from both tables; `latest`: no before "
        "(the newest candles of each table: other candles)")
    log(f"{'request':<8}{'mode':<10}{'small ms':>10}{'big ms':>10}{'big/small':>11}{'small B':>9}{'big B':>9}")
    for kind, v in (("same", verdict), ("latest", latest)):
        for mode in args.modes:
            key = f"{kind}:{mode}"
            log(f"{kind:<8}{mode:<10}{med['small'][key]:>10.3f}{med['big'][key]:>10.3f}{v.ratios[key]:>11.2f}"
                f"{info['small']['modes'][key]['bytes']:>9}{info['big']['modes'][key]['bytes']:>9}")
    log(f"verdict (same): {verdict.text()}")
    log(f"latest (for information): {latest.text()}")
    log(f"took {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "engine": engine, "limit": args.limit, "rounds": args.rounds,
            "tables": {w: info[w]["total"] for w in info}, "ms": med, "samples": samples,
            "before": before, "ratios": verdict.ratios, "within": verdict.within, "tolerance": TOLERANCE,
            "latest_ratios": latest.ratios, "latest_within": latest.within,
        }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
