"""The software stacks a server can run on (docs/stacks.md): `today`, the interpreter running
this command (requirements.txt, .venv), and each folder of stacks/, a requirements.txt pinned
whole with the Python its .python-version names (pyenv's), built into .venv-stack-NAME by
`make stack STACK=NAME`. A stack is its interpreter: `stack_python` finds it or says exactly
what to install, `stack_description` asks it what it runs (for meta.json), `usable_stacks`
leaves a missing one out with a line saying so (CANDLEBENCH_REQUIRE_TOOLS=1: a CheckError).
registered_stacks() are the `stack` axis's setups (loadtest/serving/axes.py), each with the
servers it runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from candles.api.registry import EVERY_KIND, ServerKind
from candles.api.stack import STACK_VENV_PREFIX, TODAY
from loadtest.cli import PROJECT_ROOT, CheckError

STACKS_FOLDER = "stacks"
REQUIREMENTS = "requirements.txt"
PYTHON_VERSION_FILE = ".python-version"
# What `make stack` touches once the venv is installed and checked (the Makefile's target).
INSTALLED_STAMP = ".installed"
# Run by a stack's interpreter from the project's root: what it runs, as one JSON line.
_DESCRIBE = (
    "import json; from candles.api.stack import stack_versions; print(json.dumps(stack_versions()))"
)


def stack_names(root: Path = PROJECT_ROOT) -> list[str]:
    """`today`, then the folders of stacks/ that hold a requirements.txt, by name."""
    folders = sorted(p.parent.name for p in (root / STACKS_FOLDER).glob(f"*/{REQUIREMENTS}"))
    return [TODAY, *folders]


def pyenv_versions() -> Path:
    """Where pyenv keeps its Pythons ($PYENV_ROOT/versions, ~/.pyenv/versions by default), as
    the Makefile looks for a stack's."""
    return Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"


def stack_venv(name: str, root: Path = PROJECT_ROOT) -> Path:
    """The venv `make stack STACK=name` builds."""
    return root / f"{STACK_VENV_PREFIX}{name}"


def stack_python(name: str, *, root: Path = PROJECT_ROOT, pythons: Path | None = None) -> Path:
    """The interpreter of the stack called `name`: this one for `today`, else its venv's.
    CheckError saying what to do when the name is no stack, the Python it needs is not
    installed (`pythons`: pyenv's versions folder) or its venv is not built or is older than
    its requirements."""
    if name == TODAY:
        return Path(sys.executable)
    folder = root / STACKS_FOLDER / name
    requirements = folder / REQUIREMENTS
    if not requirements.is_file():
        raise CheckError(
            f"unknown stack {name!r} (the project has {', '.join(stack_names(root))}: {STACKS_FOLDER}/)"
        )
    version_file = folder / PYTHON_VERSION_FILE
    try:
        version = version_file.read_text().strip()
    except OSError:
        version = ""
    if not version:
        raise CheckError(f"stack {name}: {version_file.relative_to(root)} names no Python version")
    base = (pythons or pyenv_versions()) / version / "bin" / "python3"
    make = f"make stack STACK={name}"
    if not base.is_file():
        raise CheckError(
            f"stack {name} needs Python {version} ({version_file.relative_to(root)}), not found at "
            f"{base}: install it with `pyenv install {version}`, then `{make}`"
        )
    venv = stack_venv(name, root)
    python = venv / "bin" / "python"
    stamp = venv / INSTALLED_STAMP
    if not (python.exists() and stamp.is_file()):
        raise CheckError(f"stack {name}'s venv {venv.name} is not built: `{make}`")
    built = stamp.stat().st_mtime
    if any(source.stat().st_mtime > built for source in (requirements, version_file)):
        raise CheckError(
            f"stack {name}'s venv {venv.name} is older than {STACKS_FOLDER}/{name}/: `{make}`"
        )
    return python


def usable_stacks(
    names: list[str], *, root: Path = PROJECT_ROOT, pythons: Path | None = None
) -> tuple[dict[str, Path], list[str]]:
    """The interpreters of the stacks `names` that are ready, and for each one that is not a
    line saying what to install; with CANDLEBENCH_REQUIRE_TOOLS=1 (CI, which builds them) a
    missing stack is a CheckError instead. A name that is no stack is always one."""
    known = stack_names(root)
    unknown = [name for name in names if name not in known]
    if unknown:
        raise CheckError(
            f"unknown stack(s): {', '.join(unknown)} (the project has {', '.join(known)})"
        )
    ready: dict[str, Path] = {}
    left_out: list[str] = []
    for name in names:
        try:
            ready[name] = stack_python(name, root=root, pythons=pythons)
        except CheckError as exc:
            if os.environ.get("CANDLEBENCH_REQUIRE_TOOLS") == "1":
                raise CheckError(f"CANDLEBENCH_REQUIRE_TOOLS=1 but {exc}") from None
            left_out.append(f"stack {name} left out: {exc}")
    return ready, left_out


def stack_description(name: str, *, root: Path = PROJECT_ROOT) -> dict[str, str | bool | None]:
    """What the stack called `name` runs, asked of its own interpreter (candles.api.stack):
    its name, the Python, Django, DRF, django-ninja, FastAPI, Pydantic (and whether v1 is
    compiled), pydantic-core, Starlette, uvicorn, orjson, msgspec, gunicorn and psycopg versions
    (None: not installed). CheckError as stack_python's, or when the interpreter answers for
    another stack."""
    python = stack_python(name, root=root)
    result = subprocess.run(
        [str(python), "-c", _DESCRIBE],
        cwd=root,
        # Nothing of this shell's (PYTHONPATH, PYTHONHOME) reaches another stack's interpreter.
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        raise CheckError(f"stack {name}: {python} failed:\n{result.stderr.strip()[-2000:]}")
    description = json.loads(result.stdout.strip().splitlines()[-1])
    if description["name"] != name:
        raise CheckError(f"stack {name}: {python} runs stack {description['name']!r}")
    return description


def on_stack(command: list[str], python: Path) -> list[str]:
    """A command of servers.py, which runs this interpreter, run by `python` instead."""
    if not command or command[0] != sys.executable:
        raise ValueError(f"not a command of this interpreter: {command[:1]}")
    return [str(python), *command[1:]]


# The packages each server's command needs besides the app's (loadtest/serving/servers.py): a
# stack of stacks/ runs the servers whose packages its requirements.txt pins (today: every one).
SERVER_PACKAGES: dict[str, frozenset[str]] = {
    "asgi": frozenset({"uvicorn", "uvloop", "httptools"}),
    "wsgi": frozenset({"gunicorn"}),
    "asgi-gunicorn": frozenset({"gunicorn", "uvicorn-worker", "uvloop", "httptools"}),
    "asgi-stock": frozenset({"uvicorn", "uvloop", "httptools"}),
    "granian-wsgi": frozenset({"granian"}),
    "granian-asgi": frozenset({"granian", "uvloop"}),
    "fastapi": frozenset({"fastapi", "uvicorn", "uvloop", "httptools"}),
    "bolt": frozenset({"django-bolt"}),
}


def pinned(name: str, root: Path) -> set[str]:
    """The distributions stacks/`name`/requirements.txt pins, by lower-case name."""
    text = (root / STACKS_FOLDER / name / REQUIREMENTS).read_text()
    lines = (line.split("#")[0].strip() for line in text.splitlines())
    return {line.split("==")[0].strip().lower().replace("_", "-") for line in lines if line}


def servers_on(name: str, root: Path) -> frozenset[str] | None:
    """The servers the stack called `name` runs: those whose packages it pins (None: today,
    every server)."""
    if name == TODAY:
        return None
    packages = pinned(name, root)
    return frozenset(server for server, needs in SERVER_PACKAGES.items() if needs <= packages)


def stack_summary(name: str, root: Path) -> str:
    """What a stack stands for: the first line of its requirements.txt's header comment."""
    if name == TODAY:
        return "this checkout's own venv (requirements.txt): the interpreter the runner runs on"
    first = (root / STACKS_FOLDER / name / REQUIREMENTS).read_text().splitlines()[0]
    return first.lstrip("# ").removeprefix(f"Stack {name}: ")


@dataclass(frozen=True)
class Stack:
    """One setup of the `stack` axis: the stack called `name`, its interpreter (`python()`:
    stack_python's, or a CheckError saying what to build or install), and the servers it runs
    (`servers`, None: every one; `kinds`: of those, the kinds of app)."""

    name: str
    description: str
    kinds: frozenset[ServerKind] = EVERY_KIND
    servers: frozenset[str] | None = None

    def python(self) -> str:
        """The stack's interpreter, found at the call (never resolved: a venv's python is a link
        to its base)."""
        return str(stack_python(self.name, root=PROJECT_ROOT))


def registered_stacks() -> tuple[Stack, ...]:
    """The stack axis's setups: today, then each folder of stacks/ with the servers it runs
    (read at each call, from the project's root)."""
    return tuple(
        Stack(name, stack_summary(name, PROJECT_ROOT), servers=servers_on(name, PROJECT_ROOT))
        for name in stack_names(PROJECT_ROOT)
    )
