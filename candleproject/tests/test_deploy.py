"""Production settings: `check --deploy` is clean with the environment the README documents."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "k3J9x-Qm2v_8ZrTq4LwN6pYs1HbGc0DfEaUiOoPlXnMzRyVtWuSjKhIgFeDcBa",
    "DJANGO_HTTPS": "1",
    "DJANGO_ALLOWED_HOSTS": "candles.example.com",
}


def run_check(extra_env: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.update(extra_env)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_production_environment():
    result = run_check(PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_flags_the_local_defaults():
    result = run_check({})
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W009", "security.W012", "security.W016"):
        assert warning in result.stderr, warning


def test_debug_is_off_unless_asked_for():
    from django.conf import settings

    assert os.environ.get("DJANGO_DEBUG") or settings.DEBUG is False


def test_an_empty_database_url_means_the_default_sqlite_file():
    # `DATABASE_URL= make test` (or an empty line in an env file) must not be a crash.
    env = dict(os.environ, DATABASE_URL="")
    result = subprocess.run(
        [sys.executable, "-c", ("import django; django.setup(); from django.db import connection; "
                                "print(connection.vendor, connection.settings_dict['NAME'])")],
        cwd=ROOT, env=dict(env, DJANGO_SETTINGS_MODULE="candleproject.settings"),
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["sqlite", str(ROOT / "db.sqlite3")]
