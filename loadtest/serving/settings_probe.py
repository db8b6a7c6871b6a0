"""The project's settings as the servers will see them, read in a subprocess before anything starts."""

from __future__ import annotations

import json
import subprocess
import sys

from loadtest.cli import CheckError
from loadtest.serving.servers import PROJECT_ROOT


def mode_names(modes_document: dict) -> list[str]:
    """The names in a GET /api/modes document ({"modes": [{"name", ...}]}; other fields ignored)."""
    return [entry["name"] for entry in modes_document["modes"]]


def modes_in_process() -> list[str]:
    """The modes GET /api/modes lists, asked of its view in this (Django) process."""
    from django.test import RequestFactory
    from django.urls import resolve

    match = resolve("/api/modes")
    response = match.func(RequestFactory().get("/api/modes"), *match.args, **match.kwargs)
    return mode_names(json.loads(response.content))


def probe_settings(env: dict[str, str]) -> dict:
    """Settings as the servers will see them (DEBUG, database, Django's modes, the registry of every
    server's modes, the API's largest limit): this module run in a subprocess with the servers'
    environment, so it sees exactly the settings, database and modes the servers will."""
    result = subprocess.run(
        [sys.executable, "-m", "loadtest.serving.settings_probe"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        raise CheckError(f"could not load the project's settings:\n{result.stderr.strip()[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def refuse_debug(settings_info: dict) -> None:
    if settings_info["debug"]:
        raise CheckError(
            "DEBUG is on (DJANGO_DEBUG is set): Django would record every query and serve debug "
            "pages, which is not the production code path. Unset DJANGO_DEBUG and run again."
        )


def refuse_unreachable_database(settings_info: dict) -> None:
    if settings_info["db_error"]:
        raise CheckError(f"cannot connect to the database: {settings_info['db_error']}")


def is_local_postgres(settings_info: dict) -> bool:
    host = settings_info.get("host", "")
    return settings_info.get("vendor") == "postgresql" and (
        host in ("", "localhost", "127.0.0.1", "::1") or host.startswith("/")
    )


def settings_in_process() -> dict:
    """What probe_settings reports, read in this process once Django is set up. The modes come
    from the same /api/modes view the servers answer with, not from the registry's internals."""
    from django.conf import settings
    from django.db import connection

    from candles.api.params import MAX_LIMIT
    from loadtest.serving.modes import registry_entries

    db = settings.DATABASES["default"]
    try:
        version = ".".join(str(p) for p in connection.get_database_version())
        error = ""
    except Exception as exc:  # reported: the runner decides
        version, error = "", f"{type(exc).__name__}: {exc}"
    return {
        "debug": bool(settings.DEBUG),
        "engine": db["ENGINE"],
        "vendor": connection.vendor,
        "database": str(db.get("NAME", "")),
        "host": str(db.get("HOST", "") or ""),
        "db_version": version,
        "db_error": error,
        "modes": modes_in_process(),
        "registry": registry_entries(),
        "max_limit": MAX_LIMIT,
    }


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "candleproject.settings")
    django.setup()
    print(json.dumps(settings_in_process()))
