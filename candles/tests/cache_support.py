"""What the cache tests share: the API served in-process under a cache setup, a redis-server of a
test's own (the runner's RedisServer: never the shared one at 6379), and how an answer says it came
from the cache."""

from __future__ import annotations

import contextlib
import shutil
import uuid
from collections.abc import Iterator
from types import ModuleType

import redis
from django.core.cache import caches
from django.test import Client, override_settings
from django.urls import include, path

from candles.api.caching import API_CACHE, cache_settings
from candles.api.urls import api_urlpatterns
from loadtest.serving.redis_server import RedisServer as RedisServer  # the tests' is the runner's

SAMPLE_PATH = "/api/{mode}/candle/upbit/KRW/BTC"
UNREACHABLE_REDIS = "redis://127.0.0.1:9/0"  # the discard port: for setups that use no Redis
REDIS_SERVER = shutil.which("redis-server")


def urlconf(setup: str) -> ModuleType:
    """The project's ROOT_URLCONF with its /api/ routes serving every mode under the cache setup
    `setup` (the admin and the rest as they are)."""
    from candleproject import urls as project

    module = ModuleType(f"candlebench_urls_under_{setup.replace('-', '_')}")
    module.__dict__.update({k: v for k, v in vars(project).items() if k.startswith("handler")})
    module.urlpatterns = [  # type: ignore[attr-defined]
        *(p for p in project.urlpatterns if str(p.pattern) != "api/"),
        path("api/", include(api_urlpatterns(setup))),
    ]
    return module


@contextlib.contextmanager
def cache_serving(setup: str, redis_url: str = UNREACHABLE_REDIS, **more: object) -> Iterator[None]:
    """Settings and URLconf as CANDLEBENCH_CACHE=`setup` gives them, with a cache of this block's
    own (a fresh local-memory location, a fresh Redis key prefix): nothing from another test."""
    conf = cache_settings(setup, redis_url=redis_url, timeout=60)
    if API_CACHE in conf:
        conf[API_CACHE]["KEY_PREFIX"] = f"candlebench-test-{uuid.uuid4().hex}"
        if "LOCATION" in conf[API_CACHE] and "locmem" in conf[API_CACHE]["BACKEND"]:
            conf[API_CACHE]["LOCATION"] = f"candlebench-test-{uuid.uuid4().hex}"
    # The URLconf is built once CACHES is in place: each mode's wrapper takes its backend then.
    with (
        override_settings(CANDLEBENCH_CACHE=setup, CACHES=conf, **more),
        override_settings(ROOT_URLCONF=urlconf(setup)),
    ):
        try:
            yield
        finally:
            if API_CACHE in conf:
                forget(conf[API_CACHE]["KEY_PREFIX"])


def forget(prefix: str) -> None:
    """Delete the keys under `prefix` (never RedisCache.clear(): that flushes the whole DB)."""
    cache = caches[API_CACHE]
    if hasattr(cache, "available"):  # the Redis backend
        with contextlib.suppress(redis.exceptions.RedisError):
            client = cache._cache.get_client(write=True)
            for key in client.scan_iter(f"{prefix}:*"):
                client.delete(key)
    else:
        cache.clear()  # a local-memory location of the block's own


# The `gc` entry every answer ends with (candles/api/timing.py): this request's own collections.
GC_ENTRY = r', gc;dur=\d+\.\d{3}(;desc="[^"]*")?'


def timing_of(response) -> str:
    return response.headers.get("Server-Timing", "")


def from_cache(server_timing: str) -> bool:
    """The answer came from the cache (a hit, a wait for another's render, or a 304)."""
    return any(entry.strip().startswith("cache;") for entry in server_timing.split(","))


def get(client: Client, mode: str = "raw", query: str = "interval=1m&limit=100", **headers):
    return client.get(f"{SAMPLE_PATH.format(mode=mode)}?{query}", headers=headers)
