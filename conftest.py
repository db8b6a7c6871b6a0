"""Fixtures shared by every app's tests."""
import pytest
from asgiref.sync import SyncToAsync
from django.core.management import call_command
from django.db import connections

from candles.models import Exchange, Pair


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
