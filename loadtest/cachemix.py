"""python -m loadtest cachemix: the cache setups at a request mix with a hit rate. Per
cache setup one server; per mode a window: a writer updating the popular series every second,
a closed loop (req/s, hit ratio), open loops at fractions of it (p99 at an offered rate), every
answer judged stale or not against the writer's log; then a hit against the floor (wrk) and a
Redis restart under load. Not part of make bench: it writes to a database of its own."""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from candles.api.caching import Handling, cache_setup
from loadtest.axes import Deployment
from loadtest.cli import (
    CheckError,
    HelpFormatter,
    command_main,
    create_results_dir,
    fmt_duration,
    log,
    parse_name_list,
    verdict_exit_code,
)
from loadtest.load.wrk import measure_once, wrk_available
from loadtest.mix.client import Answer, Poller, closed_loop, open_loop
from loadtest.mix.staleness import judge, read_log
from loadtest.mix.workload import INTERVALS, PAIRS, POPULAR_LIMITS, MixKey, MixSampler, ranked_keys
from loadtest.report import cache_mix
from loadtest.serving.axes import refuse_unknown, setups_on
from loadtest.serving.database import throwaway_database
from loadtest.serving.modes import ModeMap
from loadtest.serving.redis_server import runner_redis, uses_redis
from loadtest.serving.servers import PROJECT_ROOT, SERVERS, ServerProcess
from loadtest.session import Session, open_session
from loadtest.stats import percentile

DEFAULT_CACHES = ["none", "conditional", "locmem", "redis", "cache-page"]
DEFAULT_MODES = ["raw", "msgspec", "drf"]
# The hit-against-floor check's request: the benchmark's headline cell.
FLOOR_KEY = MixKey("upbit/KRW/BTC", "1m", 1000)
WRITER_START_TIMEOUT_S = 30.0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m loadtest cachemix",
        description=__doc__.split("\n\n")[0],
        formatter_class=HelpFormatter,
    )
    p.add_argument(
        "--caches",
        type=parse_name_list,
        default=DEFAULT_CACHES,
        help="cache setups (candles/api/caching.py), one server each",
    )
    p.add_argument("--modes", type=parse_name_list, default=DEFAULT_MODES, help="modes measured")
    p.add_argument(
        "--server",
        default="wsgi",
        choices=[name for name in SERVERS if name not in ("bolt", "fastapi")],
        help="the Django server",
    )
    p.add_argument("--connections", type=int, default=16, help="the closed loop's connections")
    p.add_argument("--seconds", type=float, default=6.0, help="each closed-loop window")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured mix before each window")
    p.add_argument(
        "--open-fractions",
        type=lambda t: [float(x) for x in t.split(",") if x.strip()],
        default=[0.5, 0.8],
        help="open-loop rates, as fractions of the closed loop's req/s",
    )
    p.add_argument("--open-seconds", type=float, default=5.0, help="each open-loop window")
    p.add_argument("--p99-ms", type=float, default=100.0, help="the capacity's p99 target")
    p.add_argument(
        "--writer-series", type=int, default=4, help="the popular series the writer updates"
    )
    p.add_argument(
        "--floor-seconds", type=float, default=3.0, help="each wrk run of the hit-vs-floor check"
    )
    p.add_argument("--out", type=Path, default=None, help="results folder (default: a new one)")
    p.add_argument("--force", action="store_true", help="write into a non-empty --out")
    return p


def check_args(args: argparse.Namespace) -> None:
    """Options that cannot make a run, refused in one line before anything starts."""
    if args.seconds <= 0 or args.open_seconds <= 0 or args.warmup < 0 or args.connections < 1:
        raise CheckError(
            "--seconds and --open-seconds must be > 0, --warmup >= 0, --connections >= 1"
        )
    if any(not 0 < f <= 2 for f in args.open_fractions) or args.writer_series < 1:
        raise CheckError("--open-fractions must be within (0, 2] and --writer-series >= 1")
    refuse_unknown({"cache": args.caches})
    missing = [c for c in args.caches if c not in setups_on("cache", args.server, args.caches)]
    if missing:
        raise CheckError(f"{args.server} does not run the cache setup(s) {', '.join(missing)}")


def estimate_s(args: argparse.Namespace) -> float:
    """The run's length: per setup a server start and the floor check, per mode its window (the
    writer's start, warm-up, closed and open loops), the documents' check and the Redis restart."""
    window = 1.5 + args.warmup + args.seconds + len(args.open_fractions) * args.open_seconds
    floor = 4 * (1 + math.ceil(args.floor_seconds) + 1)
    restart = window if any(c == "redis" for c in args.caches) else 0
    return 15 + 10 + len(args.caches) * (5 + floor + len(args.modes) * window) + restart


@dataclass
class Window:
    """One mode's measured window under one setup."""

    closed: list[Answer]
    opened: list[tuple[float, list[Answer]]]  # (offered rate, its answers)
    closed_s: float
    loadgen_cpu: float  # this process's CPU seconds over the closed loop's wall seconds


def start_writer(env: dict[str, str], series: list[str], seconds: float, path: Path):
    """The writer process (loadtest/mix/writer.py), once it logged every series' first state."""
    command = [sys.executable, "-m", "loadtest.mix.writer", "--log", str(path)]
    command += ["--seconds", f"{seconds:.1f}"]
    for s in series:
        command += ["--series", s]
    proc = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + WRITER_START_TIMEOUT_S
    while not path.exists() or len(path.read_text().splitlines()) < len(series):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise CheckError(f"the mix's writer did not start (exit {proc.poll()})")
        time.sleep(0.05)
    return proc


def measure_window(
    server: ServerProcess, mode: str, keys: list[MixKey], args: argparse.Namespace, seed: int
) -> Window:
    """Warm-up, the closed loop, then the open loops at fractions of its req/s."""
    host, port = server.host, server.port
    poller = Poller(mode)

    async def phases() -> Window:
        if args.warmup:
            await closed_loop(
                host, port, poller, MixSampler(keys, seed + 1), args.connections, args.warmup
            )
        cpu0, wall0 = time.process_time(), time.monotonic()
        closed = await closed_loop(
            host, port, poller, MixSampler(keys, seed + 2), args.connections, args.seconds
        )
        wall = time.monotonic() - wall0
        cpu = (time.process_time() - cpu0) / wall
        rps = sum(a.ok for a in closed) / wall
        opened = []
        for i, fraction in enumerate(args.open_fractions):
            rate = max(1.0, rps * fraction)
            sampler = MixSampler(keys, seed + 3 + i)
            answers = await open_loop(
                host, port, poller, sampler, rate, args.open_seconds, seed=seed + i
            )
            opened.append((rate, answers))
        return Window(closed, opened, wall, cpu)

    return asyncio.run(phases())


def window_result(window: Window, writes_path: Path, p99_target: float) -> dict:
    """The figures of one window; every answer (closed and open) judged against the writes."""
    log_ = read_log(writes_path)
    everything = window.closed + [a for _, answers in window.opened for a in answers]
    judged = judge(((a.key.series, a.started, a.newest) for a in everything if a.ok), log_)
    ok = [a for a in window.closed if a.ok]
    latencies = sorted(a.latency_ms for a in ok)
    points = []
    for rate, answers in window.opened:
        lat = sorted(a.latency_ms for a in answers if a.ok)
        points.append(
            {
                "rate": rate,
                "answers": len(answers),
                "failures": sum(not a.ok for a in answers),
                "p50_ms": percentile(lat, 50),
                "p99_ms": percentile(lat, 99),
            }
        )
    within = [p["rate"] for p in points if p["failures"] == 0 and p["p99_ms"] <= p99_target]
    return {
        "rps": len(ok) / window.closed_s,
        "answers": len(window.closed),
        "failures": sum(not a.ok for a in everything),
        "errors": sorted({a.error for a in everything if a.error})[:5],
        "hit_ratio": sum(bool(a.cache) for a in ok) / len(ok) if ok else math.nan,
        "not_modified": sum(a.status == 304 for a in ok),
        "p50_ms": percentile(latencies, 50),
        "p99_ms": percentile(latencies, 99),
        "open": points,
        # The highest rate tried whose p99 met the target: a lower bound of the capacity.
        "capacity_at_least": max(within) if within else None,
        "judged": judged.answers,
        "stale": judged.stale,
        "stale_examples": list(judged.examples),
        "writes": sum(len(v) - 1 for v in log_.values()),
        "loadgen_cpu": window.loadgen_cpu,
    }


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=60) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), b""


def check_documents(server: ServerProcess, modes: list[str], keys: list[MixKey]) -> int:
    """Every key's document is the same in every mode (parsed), before the writer starts."""
    for key in keys:
        documents = {}
        for mode in modes:
            status, _, body = fetch(server.base_url + key.path(mode))
            if status != 200:
                raise CheckError(f"{key.path(mode)} answered {status}")
            documents[mode] = json.loads(body)
        first = documents[modes[0]]
        differ = [m for m in modes if documents[m] != first]
        if differ:
            raise CheckError(
                f"{', '.join(differ)} answer another document than {modes[0]} for {key}"
            )
    return len(keys)


def floor_check(server: ServerProcess, setup: str, args: argparse.Namespace, cpus) -> dict | None:
    """A hit (or a 304 under conditional) against the floor diagnostic, on this server with wrk:
    the same request, runs alternated twice, medians compared (no writer: every answer a hit)."""
    handling = cache_setup(setup).handling
    if handling not in (Handling.DOCUMENT, Handling.CONDITIONAL) or not wrk_available():
        return None
    cached_url = server.base_url + FLOOR_KEY.path("raw")
    floor_url = server.base_url + FLOOR_KEY.path("floor")
    _, head, _ = fetch(cached_url)
    headers = []
    if handling is Handling.CONDITIONAL:
        headers = [f"If-None-Match: {head.get('ETag') or head.get('Etag')}"]
    status, head, _ = fetch(cached_url, dict(h.split(": ", 1) for h in headers))
    runs: dict[str, list[float]] = {"floor": [], "cached": []}
    for _ in range(2):
        runs["floor"].append(measure_once(floor_url, 8, args.floor_seconds, cpus).rps)
        runs["cached"].append(measure_once(cached_url, 8, args.floor_seconds, cpus, headers).rps)
    floor, cached = statistics.median(runs["floor"]), statistics.median(runs["cached"])
    return {
        "what": "304" if handling is Handling.CONDITIONAL else "hit",
        "status": status,
        "server_timing": head.get("Server-Timing", ""),
        "floor_rps": floor,
        "cached_rps": cached,
        "ratio": cached / floor if floor else math.nan,
        "runs": runs,
    }


def restart_check(
    session: Session, server: ServerProcess, keys, args: argparse.Namespace, out: Path
) -> dict:
    """The mix (raw) under the writer while the runner's redis-server is stopped a third of the
    way in and started again at two thirds: no failure, no stale answer."""
    redis = runner_redis()
    seconds = args.seconds
    poller = Poller("raw")
    writes = out / "writes-redis-restart.jsonl"
    writer = start_writer(session.env, popular(keys, args), seconds + 5, writes)

    async def run() -> list[Answer]:
        async def restart() -> None:
            await asyncio.sleep(seconds / 3)
            await asyncio.to_thread(redis.stop)
            await asyncio.sleep(seconds / 3)
            await asyncio.to_thread(redis.start)

        answers, _ = await asyncio.gather(
            closed_loop(
                server.host, server.port, poller, MixSampler(keys, 99), args.connections, seconds
            ),
            restart(),
        )
        return answers

    try:
        answers = asyncio.run(run())
    finally:
        stop_writer(writer)
    judged = judge(((a.key.series, a.started, a.newest) for a in answers if a.ok), read_log(writes))
    ok = [a for a in answers if a.ok]
    return {
        "answers": len(answers),
        "failures": len(answers) - len(ok),
        "errors": sorted({a.error or str(a.status) for a in answers if not a.ok})[:5],
        "hit_ratio": sum(bool(a.cache) for a in ok) / len(ok) if ok else math.nan,
        "stale": judged.stale,
        "seconds": seconds,
    }


def stop_writer(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def popular(keys: list[MixKey], args: argparse.Namespace) -> list[str]:
    return MixSampler(keys).popular_series(args.writer_series)


def run(args: argparse.Namespace) -> int:
    started_at = datetime.now(UTC)
    check_args(args)
    session = open_session(generator="the mix's asyncio client")
    ModeMap(session.settings["registry"]).refuse_unknown(args.modes)
    out = create_results_dir(args.out, started_at, "cachemix", force=args.force)
    keys = ranked_keys(PAIRS, INTERVALS, POPULAR_LIMITS)
    writer_series = popular(keys, args)
    log(
        f"cachemix: {args.server} under {', '.join(args.caches)}; {', '.join(args.modes)}; "
        f"{len(keys)} requests (pair x interval x limit) with Zipf-like popularity; the writer on "
        f"{', '.join(writer_series)}; about {fmt_duration(estimate_s(args))}; results in {out}"
    )
    meta: dict = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "argv": sys.argv[1:],
        "server": args.server,
        "modes": args.modes,
        "caches": args.caches,
        "connections": args.connections,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "open_fractions": args.open_fractions,
        "open_seconds": args.open_seconds,
        "p99_target_ms": args.p99_ms,
        "requests": len(keys),
        "writer_series": writer_series,
        "layout": session.layout.text,
        "database": f"{session.settings['vendor']} {session.settings['db_version']}, a database "
        "of the mix's own seeded afresh",
        "machine": session.machine,
        "runs": [],
        "floor": {},
    }
    with tempfile.TemporaryDirectory(prefix="candlebench-cachemix-") as tmp:
        url = session.env.get("DATABASE_URL", "")
        with throwaway_database(url or None, "candlebench_cachemix", Path(tmp)) as db_url:
            session.env = {**session.env, "DATABASE_URL": db_url}
            log("a database of the mix's own (it writes): migrating and seeding ...")
            session.prepare_database()
            measure_all(session, args, keys, out, meta)
    (out / "cachemix.json").write_text(json.dumps(meta, indent=1, default=str))
    text = cache_mix.markdown(meta)
    (out / "cachemix.md").write_text(text)
    log("")
    log(text)
    return verdict_exit_code(all(g.status != "not met" for g in cache_mix.goals(meta)))


def measure_all(
    session: Session, args: argparse.Namespace, keys: list[MixKey], out: Path, meta: dict
) -> None:
    spec = SERVERS[args.server]
    checked = False
    for setup in args.caches:
        deployment = Deployment(cache=setup)
        if uses_redis(deployment):
            runner_redis().flush()  # each Redis setup starts cold, as locmem's new server does
        server, served = session.start_server(spec, out, deployment)
        try:
            missing = [m for m in args.modes if m not in served]
            if missing:
                raise CheckError(f"{server.served_by} does not serve {', '.join(missing)}")
            if not checked:
                log(f"documents of {', '.join(args.modes)} compared, {len(keys)} requests each ...")
                meta["documents_checked"] = check_documents(server, args.modes, keys)
                checked = True
            for i, mode in enumerate(args.modes):
                writes = out / f"writes-{setup}-{mode}.jsonl"
                seconds = args.warmup + args.seconds + len(args.open_fractions) * args.open_seconds
                writer = start_writer(session.env, meta["writer_series"], seconds + 10, writes)
                try:
                    window = measure_window(server, mode, keys, args, seed=100 * i)
                finally:
                    stop_writer(writer)
                result = {
                    "cache": setup,
                    "mode": mode,
                    "served_by": server.served_by,
                    **window_result(window, writes, args.p99_ms),
                }
                meta["runs"].append(result)
                log(
                    f"  {server.served_by} {mode}: {result['rps']:.0f} req/s, hit ratio "
                    f"{result['hit_ratio']:.2f}, "
                    f"{result['stale']} stale of {result['judged']}, {result['failures']} failed"
                )
            floor = floor_check(server, setup, args, session.layout.loadgen)
            if floor:
                meta["floor"][setup] = floor
                log(f"  {setup}: a {floor['what']} at {floor['ratio']:.2f}x the floor")
            if setup == "redis":
                meta["redis_restart"] = restart_check(session, server, keys, args, out)
                log(f"  redis restart: {meta['redis_restart']}")
        finally:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    return command_main(run, build_parser(), argv)
