"""The servers' environment on a throwaway database, for the tests that start real servers."""

import os
from urllib.parse import urlsplit

import pytest

from loadtest.serving.database import manage, throwaway_database


def _throwaway_name(url: str) -> str:
    """Derived from the developer's database name, so parallel checkouts (each with its own
    DATABASE_URL) never share it; never that database itself nor pytest-django's."""
    own = urlsplit(url).path.lstrip("/") or "candlebench"
    return f"{own}_loadtest_servers"


@pytest.fixture(scope="session")
def bench_env(tmp_path_factory):
    """The servers' environment with DATABASE_URL on a throwaway database of the tests' engine
    (a temporary SQLite file, or a PostgreSQL database created here and dropped at the end),
    migrated and seeded with one small pair (300 minutes of 1m candles)."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_DEBUG"}
    env["DJANGO_SETTINGS_MODULE"] = "candleproject.settings"
    url = os.environ.get("DATABASE_URL", "")
    with throwaway_database(
        url, _throwaway_name(url), tmp_path_factory.mktemp("bench-db")
    ) as db_url:
        env["DATABASE_URL"] = db_url
        # The runner's own `seed_candles --if-empty` then leaves this small seed alone.
        for args in (
            ["migrate", "--no-input"],
            [
                "seed_candles",
                "--exchange",
                "upbit",
                "--market",
                "KRW",
                "--asset",
                "BTC",
                "--count",
                "300",
                "--intervals",
                "1m",
            ],
        ):
            manage(env, *args, timeout=120)  # CheckError with its output if it fails
        yield env
