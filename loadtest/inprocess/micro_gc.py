"""`python -m loadtest micro --gc SETUP[,SETUP]`: each mode under each GC setup, each in a new
process that applies the setup as a server does (CANDLEBENCH_GC, its warm-up, read back from
`gc`), so that one setup's heap and peak RSS never carry over into another's. Rounds interleave
(round › mode › setup, the setups' order reversed every other round); the summary gives medians
over rounds and each setup's requests/s and peak RSS as ratios over the first setup, taken within
a round. Rows are the micro benchmark's (micro.py's MicroRow, as dicts)."""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loadtest.axes import Deployment
from loadtest.cli import PROJECT_ROOT

# A child's whole run: 1,000 calls of the slowest mode at 1440 rows take ~1.5 minutes.
CHILD_TIMEOUT_S = 1800


def child_command(mode: str, setup: str, options: dict[str, Any], out: Path) -> list[str]:
    """The micro benchmark of `mode` alone in a new process under `setup`."""
    command = [
        sys.executable,
        "-m",
        "loadtest.inprocess.micro",
        "--modes",
        mode,
        "--limits",
        ",".join(map(str, options["limits"])),
        "--pair",
        options["pair"],
        "--interval",
        options["interval"],
        "--min-time",
        str(options["min_time"]),
        "--run-under-gc",
        setup,
        "--json",
        str(out),
        "--quiet",
    ]
    if options.get("calls"):
        command += ["--calls", str(options["calls"])]
    return command


def run_under_setups(
    options: dict[str, Any], progress: Callable[[str], None] | None = None
) -> list[dict]:
    """Every mode of `options["modes"]` under every setup of `options["gc"]`, `repeats` rounds."""
    setups: list[str] = options["gc"]
    repeats: int = options.get("repeats") or 1
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="candlebench-micro-gc-") as tmp:
        out = Path(tmp) / "rows.json"
        for repeat in range(1, repeats + 1):
            order = setups if repeat % 2 else setups[::-1]
            for mode in options["modes"]:
                for setup in order:
                    result = subprocess.run(
                        child_command(mode, setup, options, out),
                        cwd=PROJECT_ROOT,
                        env=os.environ | {"CANDLEBENCH_GC": setup},
                        capture_output=True,
                        text=True,
                        timeout=CHILD_TIMEOUT_S,
                    )
                    if result.returncode != 0:
                        raise SystemExit(
                            f"{Deployment(gc=setup).label(mode)} failed:\n{(result.stdout + result.stderr)[-2000:]}"
                        )
                    for row in json.loads(out.read_text()):
                        rows.append(row | {"repeat": repeat})
                        if progress:
                            progress(
                                f"  round {repeat}/{repeats} {Deployment(gc=setup).label(mode):<34} "
                                f"limit={row['limit']:<5} p50 {row['p50_ms']:.2f} ms, "
                                f"p99 {row['p99_ms']:.2f} ms ({row['calls']} calls), "
                                f"peak RSS {row['peak_rss_mb']:.0f} MiB"
                            )
    return rows


def median(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return statistics.median(finite) if finite else math.nan


def format_gc_summary(rows: list[dict]) -> str:
    """Per mode, limit and setup: medians over the rounds, and requests/s and peak RSS as ratios
    over the first setup of the mode (within each round, then the median)."""
    if not rows:
        return ""
    setups = list(dict.fromkeys(r["gc"] for r in rows))
    first = setups[0]
    rounds = len({r["repeat"] for r in rows})
    by = {(r["mode"], r["limit"], r["gc"], r["repeat"]): r for r in rows}

    def fmt(value: float, digits: int = 2) -> str:
        return "-" if math.isnan(value) else f"{value:.{digits}f}"

    head = (
        f"{'mode+gc':<34}{'rows':>6}{'p50':>8}{'p99':>8}{'p99/p50':>8}{'max':>8}{'cpu p99/p50':>12}"
        f"{'gc ms/call':>11}{'longest':>9}{'req/s':>8}{f'x {first}':>12}{'cpu req/s x':>12}"
        f"{'peak MiB':>10}{f'x {first}':>12}"
    )
    lines = [
        f"GC setups in-process: medians of {rounds} round(s); ratios over {first} within each "
        "round (ms; cpu: in this process's CPU time, other processes' share left out; longest = the "
        "longest single collection, between calls too)",
        head,
    ]
    for mode, limit in dict.fromkeys((r["mode"], r["limit"]) for r in rows):
        for setup in setups:
            mine = [by[k] for k in sorted(by) if k[:3] == (mode, limit, setup)]
            if not mine:
                continue

            def ratio(
                key: str, mine: list[dict] = mine, mode: str = mode, limit: int = limit
            ) -> float:
                values = []
                for r in mine:
                    base = by.get((mode, limit, first, r["repeat"]))
                    if base and base[key] > 0:
                        values.append(r[key] / base[key])
                return median(values)

            lines.append(
                f"{Deployment(gc=setup).label(mode):<34}{limit:>6}"
                f"{fmt(median([r['p50_ms'] for r in mine])):>8}"
                f"{fmt(median([r['p99_ms'] for r in mine])):>8}"
                f"{fmt(median([r['p99_ms'] / r['p50_ms'] for r in mine])):>8}"
                f"{fmt(median([r['max_ms'] for r in mine])):>8}"
                f"{fmt(median([r['cpu_p99_ms'] / r['cpu_p50_ms'] for r in mine])):>12}"
                f"{fmt(median([r['gc_ms_per_call'] for r in mine]), 3):>11}"
                f"{fmt(median([r['longest_collection_ms'] for r in mine])):>9}"
                f"{fmt(median([r['rps'] for r in mine]), 1):>8}{fmt(ratio('rps'), 3):>12}"
                f"{fmt(ratio('cpu_rps'), 3):>12}"
                f"{fmt(median([r['peak_rss_mb'] for r in mine]), 0):>10}"
                f"{fmt(ratio('peak_rss_mb'), 3):>12}"
            )
    return "\n".join(lines)
