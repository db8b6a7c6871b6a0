"""The cache setups' registry and settings: names, which servers run them, CACHES for each, an
unknown name refused at start-up, /api/modes echoing the setup, and every mode answering the
same document twice under every setup."""

import os
import subprocess
import sys

import orjson
import pytest
from django.test import Client

from candles.api.caching import (
    API_CACHE,
    SETUP_NAMES,
    SETUPS,
    Handling,
    UnknownCacheSetup,
    cache_settings,
    cache_setup,
    cache_timing,
    redacted,
    served_setup,
)
from candles.api.registry import ServerKind
from loadtest.serving.servers import PROJECT_ROOT

from .cache_support import cache_serving, get
from .conftest import ALL_MODES


def test_the_registry_names_each_setup_once_and_only_django_runs_a_cache():
    assert SETUP_NAMES == (
        "none",
        "cache-page",
        "cache-page-redis",
        "conditional",
        "locmem",
        "redis",
    )
    assert SETUPS[0].kinds == frozenset(ServerKind)
    for setup in SETUPS[1:]:
        assert setup.kinds == {ServerKind.DJANGO}, setup.name
        assert served_setup(setup.name, ServerKind.DJANGO) is setup
        for kind in (ServerKind.BOLT, ServerKind.FASTAPI):
            assert served_setup(setup.name, kind).name == "none"
    assert [s.name for s in SETUPS if s.stale] == ["cache-page", "cache-page-redis"]


def test_an_unknown_setup_is_refused_naming_the_setups():
    with pytest.raises(UnknownCacheSetup, match="choose from none, cache-page, cache-page-redis"):
        cache_setup("memcached")


def test_the_settings_refuse_an_unknown_setup_at_start_up():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "candleproject.settings",
        "CANDLEBENCH_CACHE": "memcached",
    }
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "ImproperlyConfigured: CANDLEBENCH_CACHE='memcached' is not a cache setup" in (
        done.stderr
    )


def test_each_setup_gets_the_backend_it_keeps_answers_in():
    url = "redis://:secret@127.0.0.1:6390/3"
    for name in ("none", "conditional"):
        assert API_CACHE not in cache_settings(name, redis_url=url, timeout=60)
    for name in ("cache-page", "locmem"):
        api = cache_settings(name, redis_url=url, timeout=30)[API_CACHE]
        assert api["BACKEND"].endswith("LocMemCache") and api["TIMEOUT"] == 30
    for name, backend in (
        ("cache-page-redis", "ResilientRedisCache"),
        ("redis", "KeptClientRedisCache"),
    ):
        api = cache_settings(name, redis_url=url, timeout=30)[API_CACHE]
        assert api["BACKEND"] == f"candles.api.cache_backend.{backend}"
        assert api["LOCATION"] == url and api["OPTIONS"]["socket_timeout"] <= 1
    assert redacted(url) == "redis://***@127.0.0.1:6390/3"
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_the_server_timing_entry_of_a_cached_answer():
    assert cache_timing("hit", 0.0000523) == "cache;desc=hit;dur=0.052"
    assert cache_timing("not-modified", 0.0012) == "cache;desc=not-modified;dur=1.200"


@pytest.fixture(params=SETUP_NAMES)
def setup(request, committed_sample_candles):
    name = request.param
    redis_url = request.getfixturevalue("redis_url") if name.endswith("redis") else None
    with cache_serving(name, **({"redis_url": redis_url} if redis_url else {})):
        yield name


@pytest.mark.django_db(transaction=True)
def test_modes_echoes_the_setup_and_every_mode_answers_under_it(setup):
    client = Client()
    assert orjson.loads(client.get("/api/modes").content)["cache"] == setup
    with cache_serving("none"):
        document = get(Client(), "raw", "interval=1m&limit=1000").content
    handling = cache_setup(setup).handling
    for mode in ALL_MODES:
        for _ in range(2):
            answer = get(client, mode, "interval=1m&limit=1000")
            assert (answer.status_code, answer.content) == (200, document), (setup, mode)
        if handling in (Handling.DOCUMENT, Handling.CACHE_PAGE):
            assert answer["Server-Timing"].startswith("cache;desc=hit"), (setup, mode)
