"""The suite passes whatever the developer's shell exports: every variable the project reads is
dropped for the tests (fresh_shell.py), and a run under unfriendly values passes."""

import os
import re
import subprocess
import sys
from pathlib import Path

from candleproject.tests.fresh_shell import KEPT, PINNED, fresh_shell_environment, is_dropped

ROOT = Path(__file__).resolve().parents[2]
# os.environ.get("X"), os.environ["X"], os.getenv("X"), settings' env_bool("X") / env_list("X"),
# and a module's constant naming the variable it reads (COMPRESSION_ENV = "CANDLEBENCH_...").
READS = re.compile(
    r"""(?:environ\.get\(|environ\[|getenv\(|env_[a-z]+\(|_ENV\s*(?::\s*str\s*)?=\s*)\s*["']([A-Za-z_][A-Za-z0-9_]*)["']"""
)
# Names the project reads that are not the project's to drop: the request's CGI variable, and
# the system's own (where programs are).
NOT_THE_PROJECTS = {"PATH_INFO", "PATH"}
# What a user running a production deployment, or a proxy, may well have exported.
UNFRIENDLY = {
    "DJANGO_ALLOWED_HOSTS": "*",
    "DJANGO_DEBUG": "1",
    "DJANGO_SECRET_KEY": "shell-secret",
    "DJANGO_HTTPS": "1",
    "DJANGO_BEHIND_PROXY": "1",
    "DJANGO_LOG_LEVEL": "DEBUG",
    "DJANGO_SETTINGS_MODULE": "candles.tests.own_mode_settings",
    "CANDLEBENCH_COMPRESSION": "zstd-1",
    "CANDLES_UPLOAD_MAX_BYTES": "10",
    "CANDLES_GENERATE_MAX_COUNT": "3",
    "DATABASE_CONN_MAX_AGE": "0",
    "DATABASE_POOL": "0",
    "DATABASE_POOL_MAX": "1",
    "GUNICORN_BACKLOG": "1",
    "GUNICORN_WORKERS": "3",
    "GUNICORN_CMD_ARGS": "--workers 3",
    "WEB_CONCURRENCY": "3",
    "LOCUST_USERS": "1",
    "PGOPTIONS": "-c statement_timeout=1",
    "http_proxy": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
}


def project_sources() -> list[Path]:
    """The project's code, not its tests (which set what they need) nor Django's migrations."""
    files = subprocess.run(
        ["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    return [
        ROOT / f for f in files if "/tests/" not in f and "/migrations/" not in f and "/" in f
    ] + [ROOT / "gunicorn.conf.py", ROOT / "manage.py"]


def variables_read() -> set[str]:
    return {name for path in project_sources() for name in READS.findall(path.read_text())}


def test_every_variable_the_project_reads_is_dropped_for_the_tests():
    read = variables_read()
    # The scan finds what it must (settings, gunicorn.conf.py, a module's *_ENV constant), so an
    # empty or broken scan fails here rather than pass below.
    assert {"DJANGO_ALLOWED_HOSTS", "GUNICORN_BACKLOG", "CANDLEBENCH_COMPRESSION"} <= read
    left = sorted(
        name
        for name in read - NOT_THE_PROJECTS
        if not is_dropped(name) and name not in KEPT and name not in PINNED
    )
    assert not left, (
        f"the tests would inherit {left} from the shell: add a prefix or name to "
        "candleproject/tests/fresh_shell.py, or keep it there with the reason"
    )


def test_the_fresh_shell_drops_the_unfriendly_values_and_pins_the_settings():
    fresh = fresh_shell_environment({**UNFRIENDLY, "DATABASE_URL": "postgres://x/y", "HOME": "/h"})
    assert fresh == {
        "DATABASE_URL": "postgres://x/y",
        "HOME": "/h",
        "DJANGO_SETTINGS_MODULE": "candleproject.settings",
    }


def test_this_process_runs_with_the_fresh_shell():
    assert not [name for name in os.environ if is_dropped(name)]
    assert os.environ["DJANGO_SETTINGS_MODULE"] == "candleproject.settings"


def test_tests_that_read_the_settings_pass_under_an_unfriendly_shell():
    """The tests that failed with DJANGO_ALLOWED_HOSTS exported (the host check), and those whose
    answers depend on the compression setup, run by pytest as a script, as a user might."""
    # On SQLite (a file per process): the parent's PostgreSQL test database is not the child's.
    env = {**{k: v for k, v in os.environ.items() if k != "DATABASE_URL"}, **UNFRIENDLY}
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("pytest")),
            "-q",
            "-p",
            "no:cacheprovider",
            "candles/tests/test_api.py::test_api_errors_outside_the_views_are_json_too",
            "candleproject/tests/test_asgi.py",
            "candles/tests/test_compression.py",
            "candleproject/tests/test_middleware.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout and "deselected" not in result.stdout
