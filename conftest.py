"""Fixtures shared by every app's tests, the `database` marker's rule, and the tools a test needs."""

import os
from collections.abc import Callable

import pytest
from asgiref.sync import SyncToAsync
from django.core.management import call_command
from django.db import connections
from django.test import TransactionTestCase

from candles.models import Exchange, Pair

# Fixtures that give a test the database: such a test is marked `database`.
# (Not django_db_blocker: pytest-django's autouse fixtures give it to every test.)
DATABASE_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "django_db_setup",
    "live_server",
}


@pytest.fixture(autouse=True)
def cpus_given_back():
    """A test that runs a runner command in this process (cachemix's end to end) pins it to the
    load generator's CPUs: every test ends with the CPUs it started with, so none pins the next."""
    before = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    yield
    if before is not None and os.sched_getaffinity(0) != before:
        os.sched_setaffinity(0, before)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark `database` every test that touches the database through pytest-django (its
    fixtures, its marker, or a Django TestCase); live tests whose servers read a throwaway
    database say so with the marker themselves."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        cls = getattr(item, "cls", None)
        if (
            fixtures & DATABASE_FIXTURES
            or item.get_closest_marker("django_db")
            or (cls is not None and issubclass(cls, TransactionTestCase))
        ):
            item.add_marker(pytest.mark.database)


@pytest.fixture
def require_tool() -> Callable[[bool, str], None]:
    """`require_tool(available, why_not)`: skips the test, saying why, when a tool it needs is
    missing; with CANDLEBENCH_REQUIRE_TOOLS=1 (set by .ci/run, which installs them) it fails instead."""

    def require(available: bool, why_not: str) -> None:
        if available:
            return
        if os.environ.get("CANDLEBENCH_REQUIRE_TOOLS") == "1":
            pytest.fail(f"CANDLEBENCH_REQUIRE_TOOLS=1 but {why_not}")
        pytest.skip(why_not)

    return require


@pytest.fixture
def empty_pair(db) -> Pair:
    """upbit/KRW/BTC with no candles: enough for error paths that need a known pair."""
    exchange = Exchange.objects.create(name="upbit")
    return Pair.objects.create(exchange=exchange, market="KRW", asset="BTC")


@pytest.fixture
def sample_candles(db) -> None:
    call_command("loaddata", "sample_candles", verbosity=0)


@pytest.fixture
def committed_sample_candles(transactional_db) -> None:
    """The fixture committed for real: async tests query from another thread's connection."""
    call_command("loaddata", "sample_candles", verbosity=0)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Close pooled PostgreSQL connections before pytest-django drops the test database."""
    yield
    with django_db_blocker.unblock():
        # Async tests run sync views on asgiref's executor thread, and test clients keep
        # connections open: close that thread's too.
        SyncToAsync.single_thread_executor.submit(connections.close_all).result()
        for conn in connections.all():
            conn.close()
            if conn.vendor == "postgresql" and conn.settings_dict["OPTIONS"].get("pool"):
                conn.close_pool()
