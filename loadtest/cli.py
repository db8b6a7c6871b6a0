"""What every loadtest command shares on the command line: options, results folder, exit codes, log."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from .servers import PROJECT_ROOT
from .target import DEFAULT_INTERVAL, DEFAULT_PAIR

RESULTS_DIR = PROJECT_ROOT / "loadtest" / "results"

# Exit codes of every command: measured and every verdict passed / measured and a verdict
# failed / refused before measuring (a bad option or a precondition) / interrupted.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REFUSED = 2
EXIT_INTERRUPTED = 130


class CheckError(RuntimeError):
    """A precondition of a trustworthy measurement does not hold: the command refuses."""


def log(message: str = "") -> None:
    """One progress line on stdout, flushed at once (runs last minutes)."""
    print(message, flush=True)


def verdict_exit_code(passed: bool) -> int:
    """The exit code of a command that judged what it measured."""
    return EXIT_OK if passed else EXIT_FAILED


def fmt_duration(seconds: float) -> str:
    """m:ss, for progress lines."""
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def parse_int_list(text: str) -> list[int]:
    """`1,100,1000` -> [1, 100, 1000] (argparse type)."""
    values = [int(item) for item in text.split(",") if item.strip()]
    if not values:
        raise ValueError("empty list")
    return values


def parse_name_list(text: str) -> list[str]:
    """`drf, raw` -> ["drf", "raw"] (argparse type)."""
    values = [item.strip() for item in text.split(",") if item.strip()]
    if not values:
        raise ValueError("empty list")
    return values


def add_target_options(p: argparse.ArgumentParser, kind: str = "") -> None:
    """--pair, --interval and --out, alike for every command that puts a server under load."""
    p.add_argument("--pair", default=DEFAULT_PAIR, help="exchange/market/asset to request")
    p.add_argument("--interval", default=DEFAULT_INTERVAL, help="candle interval to request")
    suffix = f"-{kind}" if kind else ""
    p.add_argument("--out", type=Path, help=f"output directory (default: loadtest/results/<timestamp>{suffix})")


def results_dir(out: Path | None, started_at: datetime, kind: str = "") -> Path:
    """--out, else loadtest/results/<timestamp>[-kind]."""
    name = started_at.strftime("%Y%m%d-%H%M%S") + (f"-{kind}" if kind else "")
    return (out or RESULTS_DIR / name).resolve()


def command_main(run: Callable[[argparse.Namespace], int], parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Entry point shared by the commands: a refused pre-check or Ctrl-C ends with one line
    and an exit code, not a traceback (servers are stopped by `run`)."""
    args = parser.parse_args(argv)
    try:
        return run(args)
    except CheckError as exc:
        print(f"\ncandlebench refuses to run: {exc}", file=sys.stderr, flush=True)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
