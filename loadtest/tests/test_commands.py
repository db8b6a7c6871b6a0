"""The command front: one `python -m loadtest`, each command with its own help, Locust (gevent)
imported only by the commands that put servers under load, and the old spellings kept."""

import os
import subprocess
import sys

import pytest

from loadtest.commands import COMMANDS, build_parser
from loadtest.tests.live_servers import PROJECT_ROOT


def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200")  # argparse wraps help at the terminal's width
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_help_lists_every_command_with_one_line():
    result = run("-m", "loadtest", "--help")
    assert result.returncode == 0, result.stderr
    for name, command in COMMANDS.items():
        line = next(
            line for line in result.stdout.splitlines() if line.strip().startswith(name + " ")
        )
        assert line.split(None, 1)[1].strip() == command.summary
    assert set(COMMANDS) == {
        "bench",
        "spike",
        "soak",
        "capacity",
        "cachemix",
        "worker",
        "micro",
        "tablesize",
        "report",
    }


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_has_its_own_help(name):
    result = run(
        "-m", "loadtest", name, "--help"
    )  # a process of its own: the load commands patch with gevent
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: python -m loadtest {name}")


def test_a_bare_option_runs_bench():
    assert "COMMAND" in run("-m", "loadtest", "--help").stdout
    bench = run(
        "-m", "loadtest", "--modes", "raw", "--help"
    )  # bench's own help: the option is bench's
    assert bench.returncode == 0 and bench.stdout.startswith("usage: python -m loadtest bench")


def test_an_unknown_command_is_refused_with_the_list(capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["benhc"])
    assert exited.value.code == 2
    assert "invalid choice: 'benhc'" in capsys.readouterr().err


PROBE = """
import sys
from loadtest import commands
sys.argv = ["python -m loadtest", {name!r}, "--help"]
try:
    commands.main()
except SystemExit:
    pass
print("gevent" in sys.modules, "locust" in sys.modules, file=sys.stderr)
"""


@pytest.mark.parametrize(
    "name,patched",
    [
        ("micro", False),
        ("tablesize", False),
        ("report", False),
        ("bench", True),
        ("spike", True),
        ("soak", True),
        ("worker", True),
    ],
)
def test_only_the_load_commands_import_locust(name, patched):
    result = run("-c", PROBE.format(name=name))
    assert result.stderr.strip().splitlines()[-1] == f"{patched} {patched}"


@pytest.mark.parametrize("alias", ["loadtest.micro", "loadtest.tablesize", "loadtest.report"])
def test_the_old_module_spellings_still_work(alias):
    result = run("-m", alias, "--help")
    assert result.returncode == 0 and "python -m loadtest" in result.stdout
