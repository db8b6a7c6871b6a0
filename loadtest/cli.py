"""What every loadtest command shares on the command line: options, results folder, exit codes, log."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from loadtest.axes import axes
from loadtest.request import DEFAULT_INTERVAL, DEFAULT_PAIR

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = PROJECT_ROOT / "loadtest" / "results"

# Exit codes of every command: measured and every verdict passed / measured and a verdict
# failed / refused before measuring (a bad option or a precondition) / interrupted.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REFUSED = 2
EXIT_INTERRUPTED = 130


class CheckError(RuntimeError):
    """A precondition of a trustworthy measurement does not hold: the command refuses."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, after the command stopped its servers; the message says what was kept."""


@contextmanager
def quiet_interrupts() -> Iterator[None]:
    """Ignore further Ctrl-C while a command cleans up after the first (stops servers, writes
    what was measured), so a second press cannot cut that short."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


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


def parse_host_port(text: str) -> tuple[str, int]:
    """`10.0.0.5:5557` -> ("10.0.0.5", 5557); `[::1]:5557` -> ("::1", 5557) (argparse type)."""
    host, sep, port = text.strip().rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (a port within 1..65535)")
    return host, int(port)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Shows an option's default, except when there is none to show (None, or a flag's False):
    those helps say in words what happens without the option."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def add_target_options(p: argparse.ArgumentParser, kind: str = "") -> None:
    """--pair, --interval, --out and --force, alike for every command that puts a server under load."""
    p.add_argument("--pair", default=DEFAULT_PAIR, help="exchange/market/asset to request")
    p.add_argument("--interval", default=DEFAULT_INTERVAL, help="candle interval to request")
    suffix = f"-{kind}" if kind else ""
    p.add_argument(
        "--out",
        type=Path,
        help=f"output directory, new or empty (default: a new "
        f"loadtest/results/<timestamp>{suffix})",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="write into a non-empty --out (files of the same name are replaced, others stay)",
    )


def add_axes_options(
    p: argparse.ArgumentParser,
    what: str,
    *,
    defaults: bool = True,
    default_said: Mapping[str, str] | None = None,
) -> None:
    """One option per deployment axis (loadtest/axes.py: --compression LIST, --stacks LIST, ...),
    its value in args.<axis name>; `what` says what the command does with each combination of
    setups. `defaults`: an option not given is the axis's default setup alone (else None, for
    the command's own plan to decide, as `default_said` tells per axis)."""
    for axis in axes():
        default = (default_said or {}).get(axis.name, axis.default)
        p.add_argument(
            axis.option,
            dest=axis.name,
            type=parse_name_list,
            default=[axis.default] if defaults else None,
            metavar="LIST",
            help=f"{axis.help}; {what}" + ("" if defaults else f" (default: {default})"),
        )


def asked_axes(args: argparse.Namespace) -> dict[str, list[str] | None]:
    """Each axis's LIST from its option (None: not given, or a command without it)."""
    return {axis.name: getattr(args, axis.name, None) for axis in axes()}


def add_load_host_options(p: argparse.ArgumentParser) -> None:
    """--expect-workers, --master-bind and --workers-wait: Locust workers on other hosts."""
    p.add_argument(
        "--expect-workers",
        type=int,
        default=0,
        metavar="N",
        help="Locust distributed over other hosts: this process is the master of N workers, each "
        "started with `python -m loadtest worker --master HOST:PORT`; waits for all N (--workers-wait) "
        "and refuses to measure with fewer; a worker lost during a run stops the session",
    )
    p.add_argument(
        "--master-bind",
        type=parse_host_port,
        metavar="HOST:PORT",
        help="with --expect-workers: where the master listens for its workers, an address the load "
        "hosts reach this machine at; the servers the runner starts listen on that host too",
    )
    p.add_argument(
        "--workers-wait",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="with --expect-workers: how long to wait for the workers to connect",
    )


def add_deployment_options(p: argparse.ArgumentParser, what: str) -> None:
    """--target, --header and --insecure: a running deployment instead of started servers;
    `what` says which modes the command measures there and what it cannot."""
    deployment = p.add_argument_group(
        "against a running deployment (starts no server; not with --servers)"
    )
    deployment.add_argument(
        "--target",
        metavar="URL",
        help="measure the candlebench deployment at this base URL (http or https, e.g. "
        f"https://staging.example.com) instead of starting servers: {what}",
    )
    deployment.add_argument(
        "--header",
        action="append",
        metavar="NAME:VALUE",
        help="with --target: send this header with every request, the load's and the checks' "
        "(repeatable; e.g. 'Authorization:Bearer ...' for an auth proxy); results keep its name, "
        "never its value",
    )
    deployment.add_argument(
        "--insecure",
        action="store_true",
        help="with --target: do not check the TLS certificate (without it the checks and Locust "
        "both check it)",
    )


def default_results_name(started_at: datetime, kind: str = "") -> str:
    """<timestamp>[-kind]: how every command names a folder under loadtest/results/."""
    return started_at.strftime("%Y%m%d-%H%M%S") + (f"-{kind}" if kind else "")


def create_results_dir(
    out: Path | None,
    started_at: datetime,
    kind: str = "",
    *,
    force: bool = False,
    root: Path = RESULTS_DIR,
) -> Path:
    """The run's output folder, created and checked writable before any work: --out (new or
    empty, unless `force`), else a new <root>/<timestamp>[-kind] (-2, -3, ... when a run
    started in the same second took the name). Refuses (CheckError) what cannot be used."""
    if out is None:
        root.mkdir(parents=True, exist_ok=True)
        name = default_results_name(started_at, kind)
        stem, suffix = (name[: -len(kind) - 1], f"-{kind}") if kind else (name, "")
        for n in range(1, 1000):
            folder = root / (name if n == 1 else f"{stem}-{n}{suffix}")
            try:
                folder.mkdir()
            except FileExistsError:
                continue
            return folder.resolve()
        raise CheckError(f"no free folder name for {name} in {root}")
    folder = out.expanduser().resolve()
    if folder.exists() and not folder.is_dir():
        raise CheckError(f"--out {out} is a file, not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not force:
        raise CheckError(
            f"--out {out} is not empty (a new or empty folder keeps runs apart; --force writes into it)"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".candlebench-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise CheckError(
            f"--out {out} cannot be created or written: {exc.strerror or exc}"
        ) from None
    return folder


def update_latest(out: Path, root: Path = RESULTS_DIR) -> bool:
    """Point <root>/latest at `out` (a relative symlink) when `out` is a folder of `root`;
    a run elsewhere (--out) leaves it alone: nothing is written outside `out` and `root`.
    True when the link now points at `out`."""
    root = root.resolve()
    if out.resolve().parent != root:
        return False
    link, tmp = root / "latest", root / f".latest-{os.getpid()}"
    try:
        if tmp.is_symlink():
            tmp.unlink()
        tmp.symlink_to(out.name)
        os.replace(tmp, link)
    except OSError as exc:
        log(f"(could not update {link}: {exc})")
        return False
    return True


def command_main(
    run: Callable[[argparse.Namespace], int],
    parser: argparse.ArgumentParser,
    argv: list[str] | None,
) -> int:
    """Entry point shared by the commands: a refused pre-check or Ctrl-C ends with one line
    and an exit code, not a traceback (servers are stopped by `run`)."""
    args = parser.parse_args(argv)
    try:
        return run(args)
    except CheckError as exc:
        print(f"\ncandlebench refuses to run: {exc}", file=sys.stderr, flush=True)
        return EXIT_REFUSED
    except KeyboardInterrupt as exc:
        said = f"; {exc}" if isinstance(exc, Interrupted) and str(exc) else ""
        print(f"\ninterrupted; servers stopped{said}", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
