"""Preparing a database for a measurement: manage.py migrate and seed, and throwaway databases
(a temporary SQLite file or a PostgreSQL database created and dropped) so nobody's data is touched."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from loadtest.cli import CheckError
from loadtest.serving.servers import PROJECT_ROOT


def manage(env: dict[str, str], *args: str, timeout: float = 900) -> str:
    """Run `manage.py ARGS` with `env` (its DATABASE_URL); its stdout, or CheckError."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise CheckError(
            f"manage.py {' '.join(args)} failed:\n{(result.stdout + result.stderr).strip()[-3000:]}"
        )
    return result.stdout.strip()


def prepare_database(env: dict[str, str]) -> list[str]:
    """Migrate, and seed the default pairs when the database holds no candle yet.
    Returns short lines saying what was done."""
    migrate = manage(env, "migrate", "--no-input")
    applied = sum(1 for line in migrate.splitlines() if line.strip().startswith("Applying"))
    lines = [f"migrate: {applied} migration(s) applied" if applied else "migrate: up to date"]
    lines += [
        f"seed_candles --if-empty: {line.strip()}"
        for line in manage(env, "seed_candles", "--if-empty").splitlines()
    ]
    return lines


def engine_of(url: str | None) -> str:
    """'sqlite' or 'postgresql' for a DATABASE_URL (empty: the SQLite default)."""
    if not url:
        return "sqlite"
    scheme = urlsplit(url).scheme
    if scheme.startswith("postgres") or scheme == "pgsql":
        return "postgresql"
    if scheme.startswith("sqlite"):
        return "sqlite"
    raise ValueError(f"unsupported DATABASE_URL scheme {scheme!r} (SQLite or PostgreSQL)")


def with_database(url: str, name: str) -> str:
    """The same PostgreSQL server URL, another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _pg_admin(url: str):
    import psycopg

    parts = urlsplit(url)
    return psycopg.connect(
        host=parts.hostname or None,
        port=parts.port or None,
        user=parts.username or None,
        password=parts.password or None,
        dbname="postgres",
        autocommit=True,
    )


def drop_postgres_database(url: str, name: str) -> None:
    """DROP DATABASE name (if it exists) on the server of `url`."""
    from psycopg import sql

    with _pg_admin(url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def create_postgres_database(url: str, name: str) -> str:
    """Drop `name` if present and create it empty on the server of `url`; its URL."""
    from psycopg import sql

    drop_postgres_database(url, name)
    with _pg_admin(url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(url, name)


@contextmanager
def throwaway_database(url: str | None, name: str, directory: Path) -> Iterator[str]:
    """A DATABASE_URL for an empty database of the same engine as `url`, removed afterwards:
    `directory`/`name`.sqlite3, or the PostgreSQL database `name` on `url`'s server."""
    if engine_of(url) == "sqlite":
        path = directory / f"{name}.sqlite3"
        try:
            yield f"sqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    assert url is not None
    try:
        yield create_postgres_database(url, name)
    finally:
        drop_postgres_database(url, name)
