import importlib

import pytest
from django.conf import settings
from django.urls import clear_url_caches

import candles.api.urls
from candles.api.registry import django_modes

ALL_MODES = [mode.name for mode in django_modes()]
SAMPLE = "/api/{mode}/candle/upbit/KRW/BTC"
# The modes with a response schema, written out: what the registry's `validates` must say.
SCHEMA_MODES = [
    "drf-validated",
    "ninja",
    "ninja-orjson",
    "ninja-values",
    "ninja-basemodel",
    "pydantic",
    "msgspec",
    "raw-msgspec",
]


def reload_urlconf() -> None:
    """The API's patterns from the registry again, and the root URLconf's include() of
    them (its resolver keeps the patterns it has read)."""
    importlib.reload(candles.api.urls)
    importlib.reload(importlib.import_module(settings.ROOT_URLCONF))
    clear_url_caches()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A redis-server of this test session's own (None when the binary is missing): the cache
    tests never touch a shared Redis."""
    from .cache_support import REDIS_SERVER, RedisServer

    if REDIS_SERVER is None:
        yield None
        return
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server, require_tool) -> str:
    require_tool(redis_server is not None, "redis-server is not installed (Debian: redis-server)")
    return redis_server.url
