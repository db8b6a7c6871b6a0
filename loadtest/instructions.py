"""Instructions per request: the micro benchmark's view calls, counted by valgrind's callgrind.

Wall-clock time moves with whatever else the machine does; the number of instructions a
request executes hardly does. One valgrind process does every mode at every limit: Django
starts and each view is called once uninstrumented (imports, caches, the interpreter's
specialisation), then instrumentation is switched on once and each cell's calls are counted
between a zero and a named dump (callgrind.py). str hashes are seeded (PYTHONHASHSEED) and
the objects alive after the warm-up are frozen out of the garbage collector (gc.freeze), so
a collection before each cell is cheap and the same in every run.

`instruction_ladder` runs it and returns a `Ladder`; `ladder_rows` / `ladder_markdown`
render it. By hand: `python -m loadtest.micro --instructions`. `python -m
loadtest.instructions` is the process valgrind runs, not a command for people.
"""
from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .callgrind import ClientRequests, callgrind_command, read_dumps
from .fitting import fit_line
from .micro import view_caller, checked_body, setup_django, check_same_document
from .cli import parse_int_list, parse_name_list
from .target import DEFAULT_INTERVAL, DEFAULT_PAIR, candle_path

PROJECT = Path(__file__).resolve().parent.parent
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
        return f"callgrind's client requests are wired up for Linux x86-64 only, not {sys.platform} {os.uname().machine}"
    return None


def calls_for(limit: int) -> int:
    """How many calls one cell's count is taken over (see CALLS_BY_LIMIT)."""
    for up_to, calls in CALLS_BY_LIMIT:
        if limit <= up_to:
            return calls
    return 1


@dataclass(frozen=True)
class InstructionFit:
    """instructions per request = fixed + per_row x rows, least squares over the limits."""

    fixed: float
    per_row: float
    worst_residual_pct: float  # largest |measured - fitted| as % of the measured count
    unreliable: str = ""  # why the figures cannot be trusted; empty when they can

    @property
    def reliable(self) -> bool:
        return not self.unreliable


@dataclass
class Ladder:
    """Instructions per request per mode and limit, their fits, and ratios to a base mode."""

    counts: dict[str, dict[int, float]]  # mode -> limit -> instructions per request
    fits: dict[str, InstructionFit | None]  # None: fewer than two limits
    base: str
    database: str  # the Django database vendor the views read from
    seconds: float  # wall time of the valgrind process
    calls: dict[int, int]  # limit -> counted calls per cell

    @property
    def modes(self) -> list[str]:
        return list(self.counts)

    @property
    def limits(self) -> list[int]:
        return sorted({limit for by_limit in self.counts.values() for limit in by_limit})

    def ratio(self, mode: str, limit: int) -> float:
        """The base mode's instructions over this mode's: like a speed-up, above 1 is fewer."""
        mine, base = self.counts[mode].get(limit), self.counts[self.base].get(limit)
        return base / mine if mine and base else math.nan

    def as_json(self) -> dict[str, dict[str, int]]:
        """{"<mode>": {"<limit>": instructions per request}}: what --json writes."""
        return {mode: {str(limit): round(n) for limit, n in sorted(by.items())} for mode, by in self.counts.items()}


def fit_instructions(by_limit: dict[int, float]) -> InstructionFit | None:
    """The fixed and per-row instructions, marked unreliable when a figure cannot be true."""
    limits = sorted(by_limit)
    if len(limits) < 2:
        return None
    counts = [by_limit[x] for x in limits]
    fixed, per_row, _ = fit_line(limits, counts)
    residuals = [n - (fixed + per_row * x) for x, n in zip(limits, counts)]
    worst = max(abs(r) for r in residuals)
    worst_pct = max(abs(r) / n * 100 for r, n in zip(residuals, counts))
    reason = ""
    if fixed < 0:
        reason = "the fitted fixed count came out negative: the count is no straight line in rows"
    elif per_row < 0:
        reason = "the fitted per-row count came out negative: more rows cost fewer instructions"
    elif worst > per_row * (limits[-1] - limits[0]):
        reason = f"residuals ({worst:,.0f}) larger than the rows' whole effect"
    elif worst > fixed:
        reason = f"residuals ({worst:,.0f}) larger than the fixed count ({fixed:,.0f})"
    return InstructionFit(fixed, per_row, worst_pct, reason)


def instruction_ladder(modes: Sequence[str], limits: Sequence[int], *, pair: str = DEFAULT_PAIR,
                       interval: str = DEFAULT_INTERVAL, base: str | None = None,
                       env: dict[str, str] | None = None, cpus: set[int] | None = None,
                       timeout: float = 900) -> Ladder:
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
        command = [*callgrind_command(out_dir), sys.executable, "-m", "loadtest.instructions",
                   "--modes", ",".join(modes), "--limits", ",".join(map(str, limits)),
                   "--pair", pair, "--interval", interval]
        child_env = dict(os.environ if env is None else env, PYTHONHASHSEED=HASH_SEED)
        child_env.setdefault("DJANGO_SETTINGS_MODULE", "candleproject.settings")
        result = subprocess.run(
            command, cwd=PROJECT, env=child_env, capture_output=True, text=True, timeout=timeout,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )
        if result.returncode != 0:
            raise RuntimeError(f"the counting process failed ({result.returncode}):\n{result.stderr[-3000:]}")
        dumps = read_dumps(out_dir)
    database = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "?"
    counts = per_request(dumps, modes, limits)
    return Ladder(counts=counts, fits={mode: fit_instructions(by) for mode, by in counts.items()},
                  base=base, database=database, seconds=time.monotonic() - started,
                  calls={limit: calls_for(limit) for limit in limits})


def instruction_ladder_split(modes: Sequence[str], limits: Sequence[int], cpu_sets: Sequence[set[int] | None], *,
                             pair: str = DEFAULT_PAIR, interval: str = DEFAULT_INTERVAL,
                             env: dict[str, str] | None = None, timeout: float = 900) -> Ladder:
    """The ladder counted by one valgrind process per CPU set (the modes dealt out in turn),
    in parallel, then joined: a count does not depend on the core, the wall time does."""
    from concurrent.futures import ThreadPoolExecutor

    groups = [list(modes[i::len(cpu_sets)]) for i in range(len(cpu_sets))]
    jobs = [(group, cpus) for group, cpus in zip(groups, cpu_sets) if group]
    started = time.monotonic()
    with ThreadPoolExecutor(len(jobs)) as pool:
        parts = list(pool.map(lambda job: instruction_ladder(job[0], limits, pair=pair, interval=interval, env=env,
                                                             cpus=job[1], timeout=timeout), jobs))
    merged = {mode: by for part in parts for mode, by in part.counts.items()}
    counts = {mode: merged[mode] for mode in modes}
    return Ladder(counts=counts, fits={mode: fit_instructions(by) for mode, by in counts.items()}, base=modes[0],
                  database=parts[0].database, seconds=time.monotonic() - started, calls=parts[0].calls)


def ladder_to_json(ladder: Ladder) -> dict:
    """The runner's instructions.json: the counts (as --json writes them) and how they were taken."""
    return {"counts": ladder.as_json(), "base": ladder.base, "database": ladder.database,
            "seconds": round(ladder.seconds, 1), "calls": {str(k): v for k, v in ladder.calls.items()}}


def ladder_from_json(data: dict) -> Ladder:
    """A Ladder back from instructions.json (fits recomputed from the counts)."""
    counts = {mode: {int(k): float(v) for k, v in by.items()} for mode, by in data["counts"].items()}
    return Ladder(counts=counts, fits={mode: fit_instructions(by) for mode, by in counts.items()}, base=data["base"],
                  database=data["database"], seconds=float(data["seconds"]),
                  calls={int(k): int(v) for k, v in data["calls"].items()})


def dump_name(mode: str, limit: int, calls: int, is_async: bool) -> str:
    """How a cell's count is named in callgrind's dump: mode, limit, calls, sync/async."""
    return f"{mode} {limit} {calls} {'async' if is_async else 'sync'}"


def per_request(dumps: dict[str, int], modes: Sequence[str], limits: Sequence[int]) -> dict[str, dict[int, float]]:
    """Instructions per request: each cell's count less an empty call's, over its calls."""
    cells = {}
    empty: dict[str, list[int]] = {"sync": [], "async": []}
    for name, count in dumps.items():
        mode, limit, calls, kind = name.rsplit(" ", 3)
        if mode == BASELINE:
            empty[kind].append(count)
        else:
            cells[mode, int(limit)] = (count, int(calls), kind)
    counts: dict[str, dict[int, float]] = {}
    for mode in modes:
        counts[mode] = {}
        for limit in limits:
            if (mode, limit) not in cells:
                raise RuntimeError(f"callgrind wrote no count for {mode} at {limit} rows (found: {', '.join(sorted(dumps))})")
            count, calls, kind = cells[mode, limit]
            counts[mode][limit] = (count - statistics.median(empty[kind])) / calls
    return counts



# -- rendering -------------------------------------------------------------------------------
def _millions(n: float) -> str:
    """Three significant digits (one more below 1 M), in millions."""
    m = n / 1e6
    return f"{m:.2f} M" if m < 10 else f"{m:.1f} M" if m < 100 else f"{m:,.0f} M"


def _ratio(value: float) -> str:
    return "-" if not math.isfinite(value) else f"×{value:.2f}" if value < 10 else f"×{value:.1f}"


def _rows_label(limit: int) -> str:
    return f"{limit} row" if limit == 1 else f"{limit} rows"


def database_note(database: str) -> str:
    """What the counts include of the database's work."""
    if database == "postgresql":
        return ("PostgreSQL: only the client side is counted (Python, psycopg, libpq); "
                "the database server's own work is not in these figures.")
    if database == "sqlite":
        return "SQLite runs inside the process: its work for the query is counted."
    return f"Database {database}: only what runs inside the Python process is counted."


def ladder_rows(ladder: Ladder) -> tuple[list[str], list[list[str]], str, list[str]]:
    """The ladder as a table: headers, rows, caption, and notes to print below it."""
    limits = ladder.limits
    headers = ["mode", *(_rows_label(limit) for limit in limits), "fixed", "per row"]
    rows, notes = [], []
    for mode in ladder.modes:
        row = [mode]
        for limit in limits:
            count = ladder.counts[mode].get(limit)
            row.append("-" if count is None else f"{_millions(count)} ({_ratio(ladder.ratio(mode, limit))})")
        fit = ladder.fits.get(mode)
        if fit is None:
            row += ["-", "-"]
        elif fit.unreliable:
            row += ["fit unreliable", "fit unreliable"]
            notes.append(f"{mode}: fit unreliable: {fit.unreliable}.")
        else:
            row += [_millions(fit.fixed), f"{fit.per_row:,.0f}"]
        rows.append(row)
    calls = ", ".join(f"{ladder.calls[limit]} at {_rows_label(limit)}" for limit in limits)
    caption = (f"Instructions per request (valgrind callgrind), each mode's view called in-process: no server, "
               f"middleware or network. (×) is {ladder.base}'s count over the mode's: above 1, fewer "
               f"instructions than {ladder.base}. Fixed and per-row instructions: least squares over the "
               f"limits. Counted calls per cell: {calls}.")
    return headers, rows, caption, [database_note(ladder.database), *notes]


def ladder_markdown(ladder: Ladder) -> str:
    """The ladder as a markdown table with its caption above and notes below."""
    headers, rows, caption, notes = ladder_rows(ladder)
    lines = [caption, "", "| " + " | ".join(headers) + " |", "|:---|" + "---:|" * (len(headers) - 1)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join([*lines, "", *notes])



def print_ladder(modes: Sequence[str], limits: Sequence[int], pair: str, interval: str, json_path: Path | None,
                 progress: Callable[[str], None] | None = None) -> int:
    """`python -m loadtest.micro --instructions`: count, print the table, write the JSON."""
    try:
        if progress:
            progress(f"counting instructions: {len(modes)} modes x {len(limits)} limits under callgrind ...")
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
def _call_batch(call: Callable[[], object], is_async: bool, n: int, loop: asyncio.AbstractEventLoop) -> list:
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


def count_in_this_process(modes: Sequence[str], limits: Sequence[int], pair: str, interval: str) -> str:
    """Call every cell once uninstrumented (checking that all modes answer one document),
    then count each in its own dump. Returns the database vendor. Runs under
    `valgrind --tool=callgrind --instr-atstart=no` (callgrind_command)."""
    requests = ClientRequests()
    if not requests.running_on_valgrind():
        raise SystemExit("this process only counts under callgrind: run python -m loadtest.micro --instructions")
    setup_django()
    loop = asyncio.new_event_loop()
    cells = []
    for limit in limits:
        bodies = {}
        for mode in modes:
            path = candle_path(mode, limit, pair, interval)
            call, is_async = view_caller(path)
            bodies[mode] = checked_body(_call_batch(call, is_async, 1, loop)[0], path)
            cells.append((dump_name(mode, limit, calls_for(limit), is_async), call, is_async, calls_for(limit)))
        check_same_document(limit, bodies)
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
    parser = argparse.ArgumentParser(prog="python -m loadtest.instructions", description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", type=parse_name_list, required=True)
    parser.add_argument("--limits", type=parse_int_list, required=True)
    parser.add_argument("--pair", default=DEFAULT_PAIR)
    parser.add_argument("--interval", default=DEFAULT_INTERVAL)
    args = parser.parse_args(argv)
    print(count_in_this_process(args.modes, args.limits, args.pair, args.interval), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
