"""The stacks (loadtest.serving.stacks, stacks/, docs/stacks.md) without building one: each pinned
whole to the versions it stands for, its interpreter found or the missing one named with what to
install (the module and the Makefile alike), and the registry naming only stacks that exist.
Building and serving on them: test_stacks_live.py."""

import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import django
import pytest

from candles.api.registry import registered_modes
from candles.api.stack import TODAY
from loadtest.cli import PROJECT_ROOT, CheckError
from loadtest.serving.stacks import (
    INSTALLED_STAMP,
    on_stack,
    stack_description,
    stack_names,
    stack_python,
    usable_stacks,
)

OLD_STACKS = ["2023-08", "2023-08-fresh"]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!-]+)$")


def pins(stack: str) -> dict[str, str]:
    """The stack's requirements as {lower-case name: version}; every line a pin or a comment."""
    found: dict[str, str] = {}
    for line in (PROJECT_ROOT / "stacks" / stack / "requirements.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = PIN.fullmatch(line.strip())
        assert match, f"{stack}: not an exact pin: {line!r}"
        found[match[1].lower()] = match[2]
    return found


def test_the_stacks_are_today_and_the_folders_of_stacks():
    assert stack_names() == [TODAY, *OLD_STACKS]


@pytest.mark.parametrize("stack", OLD_STACKS)
def test_each_stack_pins_what_the_app_and_its_servers_import(stack):
    needed = {
        "django",
        "asgiref",
        "sqlparse",
        "djangorestframework",
        "pytz",
        "orjson",
        "msgspec",
        "dj-database-url",
        "psycopg",
        "psycopg-binary",
        "gunicorn",
        "packaging",
        "uvicorn",
        "click",
        "h11",
        "uvloop",
        "httptools",
        "fastapi",
        "starlette",
        "anyio",
        "idna",
        "sniffio",
        "pydantic",
        "typing-extensions",
    }
    assert needed <= set(pins(stack))
    assert (PROJECT_ROOT / "stacks" / stack / ".python-version").read_text().strip() == "3.11.7"


def test_2023_08_is_the_case_studys_stack():
    versions = pins("2023-08")
    assert {name: versions[name] for name in ("fastapi", "pydantic", "starlette", "uvicorn")} == {
        "fastapi": "0.99.1",  # the last release on Pydantic v1
        "pydantic": "1.10.12",
        "starlette": "0.27.0",
        "uvicorn": "0.23.2",
    }
    assert versions["django"].startswith("4.2.")
    assert versions["djangorestframework"] == "3.14.0"
    assert versions["django-ninja"].startswith("0.22.")  # Pydantic v1
    assert "pydantic-core" not in versions


def test_2023_08_fresh_is_that_weeks_fresh_install():
    versions = pins("2023-08-fresh")
    then = pins("2023-08")
    assert (versions["fastapi"], versions["pydantic"], versions["pydantic-core"]) == (
        "0.101.1",
        "2.3.0",
        "2.6.3",
    )
    same = ("starlette", "uvicorn", "django", "djangorestframework", "gunicorn", "psycopg")
    assert {name: versions[name] for name in same} == {name: then[name] for name in same}
    assert "django-ninja" not in versions  # 0.22 required Pydantic v1


def test_every_stack_a_mode_names_exists():
    named = {stack for mode in registered_modes() for stack in mode.stacks or ()}
    assert named <= set(stack_names())


# -- finding a stack's interpreter -------------------------------------------------------------


@pytest.fixture
def project(tmp_path) -> Path:
    """A project root holding the stacks/ folder alone."""
    root = tmp_path / "project"
    shutil.copytree(PROJECT_ROOT / "stacks", root / "stacks")
    return root


@pytest.fixture
def pythons(tmp_path) -> Path:
    """An empty pyenv versions folder."""
    (tmp_path / "versions").mkdir()
    return tmp_path / "versions"


def test_today_is_this_interpreter():
    assert stack_python(TODAY) == Path(sys.executable)


def test_a_missing_python_is_named_with_what_to_install(project, pythons):
    with pytest.raises(CheckError) as error:
        stack_python("2023-08", root=project, pythons=pythons)
    message = str(error.value)
    assert message == (
        "stack 2023-08 needs Python 3.11.7 (stacks/2023-08/.python-version), not found at "
        f"{pythons}/3.11.7/bin/python3: install it with `pyenv install 3.11.7`, then "
        "`make stack STACK=2023-08`"
    )


def fake_python(pythons: Path, version: str = "3.11.7") -> None:
    path = pythons / version / "bin" / "python3"
    path.parent.mkdir(parents=True)
    path.write_text("")


def test_an_unbuilt_or_stale_venv_says_make_stack(project, pythons):
    fake_python(pythons)
    with pytest.raises(CheckError, match=r"venv \.venv-stack-2023-08 is not built: `make stack"):
        stack_python("2023-08", root=project, pythons=pythons)
    venv = project / ".venv-stack-2023-08"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").write_text("")
    (venv / INSTALLED_STAMP).write_text("")
    assert stack_python("2023-08", root=project, pythons=pythons) == venv / "bin" / "python"
    requirements = project / "stacks" / "2023-08" / "requirements.txt"
    later = (venv / INSTALLED_STAMP).stat().st_mtime + 10
    os.utime(requirements, (later, later))
    with pytest.raises(CheckError, match=r"older than stacks/2023-08/: `make stack STACK=2023-08`"):
        stack_python("2023-08", root=project, pythons=pythons)


def test_an_unknown_stack_is_refused_with_the_list(project):
    with pytest.raises(CheckError, match=r"unknown stack '2019' \(the project has today, 2023-08"):
        stack_python("2019", root=project)
    with pytest.raises(CheckError, match=r"unknown stack\(s\): 2019 \(the project has today"):
        usable_stacks(["today", "2019"], root=project)


def test_a_missing_stack_is_left_out_with_a_line_or_fails_in_ci(project, pythons, monkeypatch):
    monkeypatch.delenv("CANDLEBENCH_REQUIRE_TOOLS", raising=False)
    ready, left_out = usable_stacks([TODAY, "2023-08"], root=project, pythons=pythons)
    assert ready == {TODAY: Path(sys.executable)}
    assert left_out == [
        "stack 2023-08 left out: stack 2023-08 needs Python 3.11.7 "
        f"(stacks/2023-08/.python-version), not found at {pythons}/3.11.7/bin/python3: install "
        "it with `pyenv install 3.11.7`, then `make stack STACK=2023-08`"
    ]
    monkeypatch.setenv("CANDLEBENCH_REQUIRE_TOOLS", "1")
    with pytest.raises(CheckError, match=r"CANDLEBENCH_REQUIRE_TOOLS=1 but stack 2023-08 needs"):
        usable_stacks([TODAY, "2023-08"], root=project, pythons=pythons)


def test_make_refuses_a_missing_python_before_touching_anything(tmp_path):
    env = {**os.environ, "PYENV_ROOT": str(tmp_path)}
    venv = PROJECT_ROOT / ".venv-stack-2023-08"
    before = venv.exists() and sorted(p.name for p in venv.iterdir())
    result = subprocess.run(
        ["make", "--no-print-directory", "-B", ".venv-stack-2023-08/.installed"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.splitlines()[:2] == [
        "stack 2023-08 needs Python 3.11.7 (stacks/2023-08/.python-version), not found at "
        f"{tmp_path}/versions/3.11.7/bin/python3:",
        "install it with: pyenv install 3.11.7",
    ]
    assert (venv.exists() and sorted(p.name for p in venv.iterdir())) == before  # left alone


def test_make_stack_names_the_stacks():
    result = subprocess.run(
        ["make", "--no-print-directory", "stack", "STACK=2019"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "make stack STACK=NAME, NAME one of: 2023-08 2023-08-fresh" in result.stderr


def test_todays_description_is_read_from_its_interpreter():
    description = stack_description(TODAY)
    assert description["name"] == TODAY
    assert description["python"] == platform.python_version()
    assert description["django"] == django.get_version()
    assert description["pydantic_compiled"] is None  # Pydantic v2


def test_a_server_command_runs_on_another_interpreter():
    assert on_stack([sys.executable, "-m", "uvicorn", "app"], Path("/v/bin/python")) == [
        "/v/bin/python",
        "-m",
        "uvicorn",
        "app",
    ]
    with pytest.raises(ValueError, match="not a command of this interpreter"):
        on_stack(["/usr/bin/python3", "-m", "uvicorn"], Path("/v/bin/python"))
