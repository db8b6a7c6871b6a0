"""Instructions per request: the micro benchmark's view calls, counted by valgrind's callgrind.

Wall-clock time moves with whatever else the machine does; the number of instructions a
request executes hardly does. One valgrind process does every mode at every limit: Django
starts and each view is called once uninstrumented (imports, caches, the interpreter's
specialisation), then instrumentation is switched on once and each cell's calls are counted
between a zero and a named dump (callgrind.py). str hashes are seeded (PYTHONHASHSEED) and
the objects alive after the warm-up are frozen out of the garbage collector (gc.freeze), so
a collection before each cell is cheap and the same in every run.

`instruction_ladder` runs it and returns a `Ladder` (loadtest.report.ladder, which renders it).
By hand: `python -m loadtest micro --instructions`. `python -m loadtest.inprocess.instructions`
is the process valgrind runs, not a command for people.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from loadtest.axes import COMPRESSION, split_label
from loadtest.cli import parse_int_list, parse_name_list
from loadtest.inprocess.callgrind import ClientRequests, callgrind_command, read_dumps
from loadtest.inprocess.views import (
    check_same_body,
    checked_body,
    compressing_caller,
    setup_django,
    view_caller,
)
from loadtest.report.ladder import Ladder, fit_instructions, ladder_markdown
from loadtest.request import (
    DEFAULT_INTERVAL,
    DEFAULT_PAIR,
    candle_path,
)
from loadtest.serving.servers import PROJECT_ROOT, pin_to

HASH_SEED = "0"  # str hashes, so dict and set layouts, the same in every run
# Counted calls per cell by row count (up to, calls): the first call after another cell pays
# up to ~1% more at 1 row (caches the other cell filled), so small responses are counted
# over several calls; at 1000 rows that effect is under 0.3% and one call is counted.
CALLS_BY_LIMIT: tuple[tuple[int, int], ...] = ((1, 6), (100, 2))
BASELINE = "baseline"  # an empty sync and async call, counted like a cell and subtracted


class InstructionsUnavailable(RuntimeError):
    """valgrind is missing, or the platform cannot run the counting process."""


def unavailable_reason() -> str | None:
    """Why instructions cannot be counted here, or None when they can."""
    if shutil.which("valgrind") is None:
        return "valgrind is not installed (Debian: apt-get install valgrind; .ci/run installs it)"
    if sys.platform != "linux" or os.uname().machine != "x86_64":
        return (
            "callgrind's client requests are wired up for Linux x86-64 only, not "
            f"{sys.platform} {os.uname().machine}"
        )
    return None


def calls_for(limit: int) -> int:
    """How many calls one cell's count is taken over (see CALLS_BY_LIMIT)."""
    for up_to, calls in CALLS_BY_LIMIT:
        if limit <= up_to:
            return calls
    return 1


def instruction_ladder(
    modes: Sequence[str],
    limits: Sequence[int],
    *,
    pair: str = DEFAULT_PAIR,
    interval: str = DEFAULT_INTERVAL,
    base: str | None = None,
    env: dict[str, str] | None = None,
    cpus: set[int] | None = None,
    timeout: float = 900,
) -> Ladder:
    """Count every mode at every limit in one valgrind process; fit and compare them.

    `env` is the environment of the counted process (default: this one's, so DATABASE_URL
    picks the database); `cpus` pins it. Raises InstructionsUnavailable without valgrind.
    """
    reason = unavailable_reason()
    if reason:
        raise InstructionsUnavailable(reason)
    base = base or modes[0]
    if base not in modes:
        raise ValueError(f"the base mode {base} is not among the modes counted")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="candlebench-callgrind-") as tmp:
        out_dir = Path(tmp)
        command = [
            *callgrind_command(out_dir),
            sys.executable,
            "-m",
            "loadtest.inprocess.instructions",
            "--modes",
            ",".join(modes),
            "--limits",
            ",".join(map(str, limits)),
            "--pair",
            pair,
            "--interval",
            interval,
        ]
        child_env = dict(os.environ if env is None else env, PYTHONHASHSEED=HASH_SEED)
        child_env.setdefault("DJANGO_SETTINGS_MODULE", "candleproject.settings")
        result = subprocess.run(
            command,
            cwd=PROJECT_ROOT,
            env=child_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=pin_to(cpus),
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"the counting process failed ({result.returncode}):\n{result.stderr[-3000:]}"
            )
        dumps = read_dumps(out_dir)
    database = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "?"
    counts = per_request(dumps, modes, limits)
    return Ladder(
        counts=counts,
        fits={mode: fit_instructions(by) for mode, by in counts.items()},
        base=base,
        database=database,
        seconds=time.monotonic() - started,
        calls={limit: calls_for(limit) for limit in limits},
    )


def instruction_ladder_split(
    modes: Sequence[str],
    limits: Sequence[int],
    cpu_sets: Sequence[set[int] | None],
    *,
    pair: str = DEFAULT_PAIR,
    interval: str = DEFAULT_INTERVAL,
    env: dict[str, str] | None = None,
    timeout: float = 900,
) -> Ladder:
    """The ladder counted by one valgrind process per CPU set (the modes dealt out in turn),
    in parallel, then joined: a count does not depend on the core, the wall time does."""
    from concurrent.futures import ThreadPoolExecutor

    groups = [list(modes[i :: len(cpu_sets)]) for i in range(len(cpu_sets))]
    jobs = [(group, cpus) for group, cpus in zip(groups, cpu_sets) if group]
    started = time.monotonic()
    with ThreadPoolExecutor(len(jobs)) as pool:
        parts = list(
            pool.map(
                lambda job: instruction_ladder(
                    job[0],
                    limits,
                    pair=pair,
                    interval=interval,
                    env=env,
                    cpus=job[1],
                    timeout=timeout,
                ),
                jobs,
            )
        )
    merged = {mode: by for part in parts for mode, by in part.counts.items()}
    counts = {mode: merged[mode] for mode in modes}
    return Ladder(
        counts=counts,
        fits={mode: fit_instructions(by) for mode, by in counts.items()},
        base=modes[0],
        database=parts[0].database,
        seconds=time.monotonic() - started,
        calls=parts[0].calls,
    )


def dump_name(mode: str, limit: int, calls: int, is_async: bool) -> str:
    """How a cell's count is named in callgrind's dump: mode, limit, calls, sync/async."""
    return f"{mode} {limit} {calls} {'async' if is_async else 'sync'}"


def per_request(
    dumps: dict[str, int], modes: Sequence[str], limits: Sequence[int]
) -> dict[str, dict[int, float]]:
    """Instructions per request: each cell's count less an empty call's, over its calls."""
    cells = {}
    empty: dict[str, list[int]] = {"sync": [], "async": []}
    for name, count in dumps.items():
        dump_mode, limit_text, calls_text, kind = name.rsplit(" ", 3)
        if dump_mode == BASELINE:
            empty[kind].append(count)
        else:
            cells[dump_mode, int(limit_text)] = (count, int(calls_text), kind)
    counts: dict[str, dict[int, float]] = {}
    for mode in modes:
        counts[mode] = {}
        for limit in limits:
            if (mode, limit) not in cells:
                raise RuntimeError(
                    f"callgrind wrote no count for {mode} at {limit} rows (found: {', '.join(sorted(dumps))})"
                )
            count, calls, kind = cells[mode, limit]
            counts[mode][limit] = (count - statistics.median(empty[kind])) / calls
    return counts


def print_ladder(
    modes: Sequence[str],
    limits: Sequence[int],
    pair: str,
    interval: str,
    json_path: Path | None,
    progress: Callable[[str], None] | None = None,
) -> int:
    """`python -m loadtest micro --instructions`: count, print the table, write the JSON."""
    try:
        if progress:
            progress(
                f"counting instructions: {len(modes)} modes x {len(limits)} limits under callgrind ..."
            )
        ladder = instruction_ladder(modes, limits, pair=pair, interval=interval)
    except InstructionsUnavailable as exc:
        print(f"cannot count instructions: {exc}", file=sys.stderr)
        return 2
    if progress:
        progress(f"counted in {ladder.seconds:.0f} s")
    print(ladder_markdown(ladder), flush=True)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(ladder.as_json(), indent=1))
    return 0


# -- the counted process (run under valgrind) ----------------------------------------------
def _call_batch(
    call: Callable[[], Any], is_async: bool, n: int, loop: asyncio.AbstractEventLoop
) -> list:
    """n calls in a row; the responses are kept, so freeing them is not counted."""
    if is_async:

        async def batch() -> list:
            return [await call() for _ in range(n)]

        return loop.run_until_complete(batch())
    return [call() for _ in range(n)]


async def _empty_async() -> None:
    return None


def _empty() -> None:
    return None


def count_in_this_process(
    modes: Sequence[str], limits: Sequence[int], pair: str, interval: str
) -> str:
    """Call every cell once uninstrumented (checking that all modes answer one document),
    then count each in its own dump. Returns the database vendor. A mode named `raw+zstd-1` is
    raw's view followed by that setup's compression (views.compressing_caller). Runs under
    `valgrind --tool=callgrind --instr-atstart=no` (callgrind_command)."""
    requests = ClientRequests()
    if not requests.running_on_valgrind():
        raise SystemExit(
            "this process only counts under callgrind: run python -m loadtest micro --instructions"
        )
    setup_django()
    loop = asyncio.new_event_loop()
    cells = []
    for limit in limits:
        bodies = {}
        for mode in modes:
            view, deployment = split_label(mode)
            if set(deployment.chosen) - {COMPRESSION.name}:
                raise SystemExit(f"{mode}: in-process, only a compression setup applies to a view")
            path = candle_path(view, limit, pair, interval)
            call, is_async = view_caller(path)
            if deployment[COMPRESSION.name] != COMPRESSION.default:
                call = compressing_caller(call, is_async, path, deployment[COMPRESSION.name])
            bodies[mode] = checked_body(_call_batch(call, is_async, 1, loop)[0], path)
            cells.append(
                (
                    dump_name(mode, limit, calls_for(limit), is_async),
                    call,
                    is_async,
                    calls_for(limit),
                )
            )
        check_same_body(limit, bodies)
    for call, is_async in ((_empty, False), (_empty_async, True)):
        _call_batch(call, is_async, 1, loop)
        for repeat in range(3):  # the median of three: the first can be off by ~1%
            cells.append((dump_name(BASELINE, repeat, 1, is_async), call, is_async, 1))
    gc.collect()
    gc.freeze()  # what is alive now is never scanned again: gc.collect() per cell stays cheap
    requests.start_instrumentation()
    for name, call, is_async, calls in cells:
        gc.collect()  # no collection left over from the cell before
        requests.zero()
        responses = _call_batch(call, is_async, calls, loop)
        requests.dump(name)
        del responses
    loop.close()
    from django.db import connection

    return connection.vendor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.inprocess.instructions", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--modes", type=parse_name_list, required=True)
    parser.add_argument("--limits", type=parse_int_list, required=True)
    parser.add_argument("--pair", default=DEFAULT_PAIR)
    parser.add_argument("--interval", default=DEFAULT_INTERVAL)
    args = parser.parse_args(argv)
    print(count_in_this_process(args.modes, args.limits, args.pair, args.interval), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
