"""What the runner checks before it measures anything."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from pathlib import Path

from .servers import PROJECT_ROOT
from .target import DEFAULT_INTERVAL, DEFAULT_PAIR

RESULTS_DIR = PROJECT_ROOT / "loadtest" / "results"

# Run in a subprocess with the servers' environment, so it sees exactly the settings,
# database and modes the servers will.
_PROBE = r"""
import json, platform, sys
import django
django.setup()
from django.conf import settings
from django.db import connection
from candles.api.registry import django_modes
MODES = {m.name: m.description for m in django_modes()}
db = settings.DATABASES["default"]
try:
    version = ".".join(str(p) for p in connection.get_database_version())
    error = ""
except Exception as exc:  # reported, the runner decides
    version, error = "", f"{type(exc).__name__}: {exc}"
print(json.dumps({
    "debug": bool(settings.DEBUG),
    "engine": db["ENGINE"],
    "vendor": connection.vendor,
    "database": str(db.get("NAME", "")),
    "host": str(db.get("HOST", "") or ""),
    "db_version": version,
    "db_error": error,
    "modes": list(MODES),
}))
"""


class CheckError(RuntimeError):
    """A precondition of a trustworthy measurement does not hold: the runner refuses."""


def add_target_options(p: argparse.ArgumentParser, kind: str = "") -> None:
    """--pair, --interval and --out, alike for every command that puts a server under load."""
    p.add_argument("--pair", default=DEFAULT_PAIR, help="exchange/market/asset to request")
    p.add_argument("--interval", default=DEFAULT_INTERVAL, help="candle interval to request")
    suffix = f"-{kind}" if kind else ""
    p.add_argument("--out", type=Path, help=f"output directory (default: loadtest/results/<timestamp>{suffix})")


def results_dir(out: Path | None, started_at: datetime, kind: str = "") -> Path:
    """--out, else loadtest/results/<timestamp>[-kind]."""
    name = started_at.strftime("%Y%m%d-%H%M%S") + (f"-{kind}" if kind else "")
    return (out or RESULTS_DIR / name).resolve()


def command_main(run: Callable[[argparse.Namespace], int], parser: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Entry point shared by the runner's commands: a refused pre-check or Ctrl-C ends
    with one line and an exit code, not a traceback (servers are stopped by `run`)."""
    args = parser.parse_args(argv)
    try:
        return run(args)
    except CheckError as exc:
        print(f"\ncandlebench refuses to run: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr, flush=True)
        return 130


def probe_settings(env: dict[str, str]) -> dict:
    """Settings as the servers will see them (DEBUG, database, modes)."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE],
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


def manage(env: dict[str, str], *args: str, timeout: float = 900) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise CheckError(f"manage.py {' '.join(args)} failed:\n{(result.stdout + result.stderr).strip()[-3000:]}")
    return result.stdout.strip()


def prepare_database(env: dict[str, str]) -> list[str]:
    """Migrate, and seed the default pairs when the database holds no candle yet.
    Returns short lines saying what was done."""
    migrate = manage(env, "migrate", "--no-input")
    applied = sum(1 for line in migrate.splitlines() if line.strip().startswith("Applying"))
    lines = [f"migrate: {applied} migration(s) applied" if applied else "migrate: up to date"]
    lines += [f"seed_candles --if-empty: {line.strip()}" for line in manage(env, "seed_candles", "--if-empty").splitlines()]
    return lines


def fetch(url: str, timeout: float = 60) -> tuple[int, Message, bytes]:
    """(status, headers (case-insensitive), body), for error statuses too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def check_server_debug_off(base_url: str) -> None:
    """A live check on the running server: an unknown API path must answer the API's JSON
    404. With DEBUG on, Django answers its HTML technical 404 page instead."""
    status, headers, _ = fetch(base_url + "/api/__candlebench_no_such_endpoint__")
    content_type = headers.get("Content-Type", "")
    if status != 404 or not content_type.startswith("application/json"):
        raise CheckError(
            f"{base_url}: an unknown API path answered {status} {content_type!r}, not the API's JSON 404 "
            "(is DEBUG on?)"
        )


@dataclass(frozen=True)
class SameDocument:
    limit: int
    bytes: int
    rows: int


def check_same_document(base_url: str, modes: list[str], limits: list[int], path_for) -> list[SameDocument]:
    """Every mode must answer 200 with byte-identical bodies holding `limit` rows.

    `path_for(mode, limit)` builds the request path. Returns the body size per limit.
    """
    found: list[SameDocument] = []
    for limit in limits:
        bodies: dict[str, bytes] = {}
        for mode in modes:
            status, headers, body = fetch(base_url + path_for(mode, limit))
            if status != 200:
                raise CheckError(f"{mode} limit={limit}: HTTP {status}: {body[:300]!r}")
            if not headers.get("Content-Type", "").startswith("application/json"):
                raise CheckError(f"{mode} limit={limit}: Content-Type {headers.get('Content-Type')!r}")
            if "Server-Timing" not in headers:
                raise CheckError(f"{mode} limit={limit}: no Server-Timing header")
            bodies[mode] = body
        reference_mode = modes[0]
        reference = bodies[reference_mode]
        differing = [m for m, b in bodies.items() if b != reference]
        if differing:
            detail = ", ".join(f"{m} ({len(bodies[m])} B)" for m in differing)
            raise CheckError(
                f"limit={limit}: {detail} answered a different document than {reference_mode} "
                f"({len(reference)} B); the comparison would not be fair"
            )
        rows = len(json.loads(reference)["data"])
        if rows != limit:
            raise CheckError(
                f"limit={limit}: the document holds only {rows} rows; seed more data "
                "(python manage.py seed_candles) or lower --limits"
            )
        found.append(SameDocument(limit, len(reference), rows))
    return found
