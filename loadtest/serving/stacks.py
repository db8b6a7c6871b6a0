"""The software stacks a server can run from, the `stack` axis's setups: `today` is this
checkout's own venv (requirements.txt), whose interpreter runs the runner itself. A stack is the
Python that starts the server (ServerSpec.build's `python`), not an environment variable: an
older pinned dependency set (issue 28) is a venv of its own, entered here with venv_python."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

from candles.api.registry import EVERY_KIND, ServerKind
from loadtest.cli import PROJECT_ROOT, CheckError


@dataclass(frozen=True)
class Stack:
    """One stack: `python()` is the interpreter its servers run on, or a CheckError saying what
    to build or install when it is missing; `kinds` and `servers` (None: every server of those
    kinds) say which servers it can run."""

    name: str
    description: str
    python: Callable[[], str]
    kinds: frozenset[ServerKind] = EVERY_KIND
    servers: frozenset[str] | None = None


def venv_python(venv: str, build: str) -> Callable[[], str]:
    """The interpreter of the venv `venv` (a folder of the project's root, e.g.
    `.venv-stack-2023-08`), never resolved (a venv's python is a link to its base); a CheckError
    naming `build` (how to make it, e.g. `make stack-2023-08`) when it is not there."""

    def python() -> str:
        path = PROJECT_ROOT / venv / "bin" / "python"
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise CheckError(f"{venv}/bin/python is missing: {build}")
        return str(path)

    return python


TODAY = Stack(
    "today",
    "this checkout's own venv (requirements.txt): the interpreter the runner runs on",
    lambda: sys.executable,
)
STACKS: tuple[Stack, ...] = (TODAY,)
