"""The software stack this process runs: its name and the versions of what it serves with, as
GET /api/modes reports them (the runner checks that a server runs the stack it started).

A stack is `today` (requirements.txt, in .venv) or a folder of stacks/ (a pinned
requirements.txt of another time, built into .venv-stack-NAME by `make stack STACK=NAME`):
the name comes from the venv this Python runs in. No Django import: the runner reads the
versions of a stack's venv by running this module's `stack_versions` there (docs/stacks.md).
"""

import platform
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

TODAY = "today"
# `make stack STACK=NAME` builds stacks/NAME into the venv named this prefix + NAME.
STACK_VENV_PREFIX = ".venv-stack-"
# The distributions that describe a stack, by the key the description gives each.
DISTRIBUTIONS: dict[str, str] = {
    "django": "Django",
    "djangorestframework": "djangorestframework",
    "django_ninja": "django-ninja",
    "fastapi": "fastapi",
    "pydantic": "pydantic",
    "pydantic_core": "pydantic-core",
    "starlette": "starlette",
    "uvicorn": "uvicorn",
    "orjson": "orjson",
    "msgspec": "msgspec",
    "gunicorn": "gunicorn",
    "psycopg": "psycopg",
}


def stack_name(prefix: str = sys.prefix) -> str:
    """NAME for a Python of the venv .venv-stack-NAME (`prefix`: its sys.prefix), else today."""
    venv = Path(prefix).name
    return venv[len(STACK_VENV_PREFIX) :] if venv.startswith(STACK_VENV_PREFIX) else TODAY


def pydantic_compiled() -> bool | None:
    """Pydantic v1's `compiled` (built with Cython, as its wheels are); None for Pydantic v2,
    which validates in pydantic-core (Rust), or without Pydantic."""
    try:
        import pydantic
    except ImportError:
        return None
    if not pydantic.VERSION.startswith("1."):
        return None
    return bool(getattr(pydantic, "compiled", False))


def stack_versions() -> dict[str, str | bool | None]:
    """This process's stack: its name, the Python version, each of DISTRIBUTIONS' versions (None
    where not installed) and whether Pydantic v1 is compiled."""
    return dict(_stack_versions())


@cache
def _stack_versions() -> dict[str, str | bool | None]:
    versions: dict[str, str | bool | None] = {
        "name": stack_name(),
        "python": platform.python_version(),
    }
    for key, distribution in DISTRIBUTIONS.items():
        try:
            versions[key] = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            versions[key] = None
    versions["pydantic_compiled"] = pydantic_compiled()
    return versions
