"""The one command front, `python -m loadtest <command>`. A bare `python -m loadtest [--option ...]`
is `bench`. The command is chosen before anything heavy is imported: only the load commands
import Locust (whose gevent patches the standard library); the in-process ones never run patched."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from importlib import import_module


@dataclass(frozen=True)
class Command:
    module: str  # its module has main(argv) -> exit code
    summary: str
    loads: bool  # puts servers under Locust load: Locust is imported first


COMMANDS: dict[str, Command] = {
    "bench": Command(
        "loadtest.bench",
        "the comparison: every server x mode x limit under load (make bench)",
        True,
    ),
    "spike": Command(
        "loadtest.spike", "a sudden spike of users: does the server survive and recover?", True
    ),
    "soak": Command(
        "loadtest.soak", "steady load for minutes: memory, latency and errors over time", True
    ),
    "capacity": Command(
        "loadtest.capacity",
        "open-loop load: latency against offered load, capacity at a p99 target",
        True,
    ),
    "cachemix": Command(
        "loadtest.cachemix",
        "the cache setups at a request mix with a hit rate, a writer and a staleness check",
        False,
    ),
    "worker": Command(
        "loadtest.load.workers",
        "Locust workers on a load host, for a bench with --expect-workers",
        True,
    ),
    "micro": Command(
        "loadtest.inprocess.micro",
        "each mode's view timed in-process (no HTTP); --instructions",
        False,
    ),
    "tablesize": Command(
        "loadtest.inprocess.tablesize",
        "does latency depend on how many candles the table holds?",
        False,
    ),
    "report": Command(
        "loadtest.report.render", "(re)write report.md and report.html of a results folder", False
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The front's own parser: it lists the commands; each command parses its own options."""
    parser = argparse.ArgumentParser(
        prog="python -m loadtest",
        description="candlebench's load tester. `python -m loadtest COMMAND --help` shows a command's options; "
        "a bare `python -m loadtest [options]` runs bench.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, command in COMMANDS.items():
        commands.add_parser(name, help=command.summary, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["bench", *argv]
    name = build_parser().parse_args(argv[:1]).command
    command = COMMANDS[name]
    if command.loads:
        # Locust patches the standard library with gevent when imported; that must happen
        # before anything else imports socket, ssl or threading.
        import_module("locust")
    return import_module(command.module).main(argv[1:])
