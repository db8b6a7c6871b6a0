"""Production settings, read by a fresh process the way a server reads them: `check --deploy`
is clean with the environment the README documents, and DEBUG stays off unless asked for.

In-process tests cannot tell: pytest-django sets DEBUG = False whatever the settings say.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "k3J9x-Qm2v_8ZrTq4LwN6pYs1HbGc0DfEaUiOoPlXnMzRyVtWuSjKhIgFeDcBa",
    "DJANGO_HTTPS": "1",
    "DJANGO_ALLOWED_HOSTS": "candles.example.com",
}


def run_python(args: list[str], extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    """`python ARGS` in the project with no DJANGO_* variable but `extra_env`'s."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def run_check(extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    return run_python(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], extra_env)


def settings_seen(expression: str, extra_env: dict[str, str]) -> list[str]:
    """`expression` (over settings and connection) as a fresh process prints it."""
    code = (
        "import django; django.setup(); from django.conf import settings; "
        f"from django.db import connection; print({expression})"
    )
    env = {"DJANGO_SETTINGS_MODULE": "candleproject.settings", **extra_env}
    result = run_python(["-c", code], env)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_check_deploy_is_clean_with_the_documented_production_environment():
    result = run_check(PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_flags_the_local_defaults():
    result = run_check({})
    assert result.returncode != 0
    for warning in (
        "security.W004",
        "security.W008",
        "security.W009",
        "security.W012",
        "security.W016",
    ):
        assert warning in result.stderr, warning


@pytest.mark.parametrize(
    "env,debug",
    [
        ({}, "False"),
        (PRODUCTION_ENV, "False"),
        ({"DJANGO_DEBUG": "0"}, "False"),
        ({"DJANGO_DEBUG": ""}, "False"),
        ({"DJANGO_DEBUG": "1"}, "True"),
        ({"DJANGO_DEBUG": "true"}, "True"),
    ],
)
def test_debug_is_off_unless_asked_for(env, debug):
    assert settings_seen("settings.DEBUG", env) == [debug]


def test_an_empty_database_url_means_the_default_sqlite_file():
    # `DATABASE_URL= make test` (or an empty line in an env file) must not be a crash.
    seen = settings_seen(
        "connection.vendor, connection.settings_dict['NAME']", {"DATABASE_URL": ""}
    )
    assert seen == ["sqlite", str(ROOT / "db.sqlite3")]
