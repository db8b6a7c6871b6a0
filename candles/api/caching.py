"""Caching of the API's answers: the setups a deployment chooses from (settings.CANDLEBENCH_CACHE),
the cache backends they need (settings.CACHES) and the Server-Timing entry of an answer the cache
gave. Caching is a deployment setting like compression, never a mode: every mode runs under every
setup, and the URLconf wraps each mode's view for the setup (candles/api/urls.py).

No Django import at module level: settings.py reads the registry while Django loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .registry import DJANGO_ONLY, EVERY_KIND, ServerKind

# The alias in settings.CACHES of the backend a setup keeps answers in (Django's own `default`
# stays the local-memory cache Django configures when CACHES is unset).
API_CACHE = "api"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
KEY_PREFIX = "candlebench"
# Seconds an answer is kept: cache-page's staleness bound (it cannot be invalidated), and for the
# versioned setups only a bound on memory (a write changes the key at once).
DEFAULT_TIMEOUT_SECONDS = 60
# Entries the local-memory backend keeps per process before it culls a third of them: the
# 1000-row document is ~108 kB, so this bounds a process's cache at ~100 MB in the worst case.
LOCMEM_MAX_ENTRIES = 1000
# Redis must answer within this long or the request goes on uncached (cache_backend.py backs off).
REDIS_SOCKET_TIMEOUT_SECONDS = 0.5


class Handling(StrEnum):
    """What a setup does with an answer."""

    NONE = "none"
    CACHE_PAGE = "cache-page"  # Django's cache_page decorator, exactly as shipped
    CONDITIONAL = "conditional"  # ETag/Last-Modified per series, 304 before any row is read
    DOCUMENT = "document"  # the rendered document per normalized request, series version in the key


class Backend(StrEnum):
    """Where a setup keeps answers."""

    NONE = "none"
    LOCMEM = "locmem"  # Django's LocMemCache: per process
    REDIS = "redis"  # Django's RedisCache (guarded: cache_backend.ResilientRedisCache)


@dataclass(frozen=True)
class CacheSetup:
    name: str
    description: str
    handling: Handling
    backend: Backend = Backend.NONE
    kinds: frozenset[ServerKind] = DJANGO_ONLY  # the kinds of server that run it
    # Serves answers that miss a committed write (until its timeout): cache-page only.
    stale: bool = False


SETUPS: tuple[CacheSetup, ...] = (
    CacheSetup(
        "none", "no cache: every answer rendered from the database", Handling.NONE, kinds=EVERY_KIND
    ),
    CacheSetup(
        "cache-page",
        "Django's cache_page on its local-memory backend, as users add it: keyed on the whole "
        "URL, never invalidated, stale until its timeout",
        Handling.CACHE_PAGE,
        Backend.LOCMEM,
        stale=True,
    ),
    CacheSetup(
        "cache-page-redis",
        "Django's cache_page on Django's Redis backend, as users add it: keyed on the whole URL, "
        "never invalidated, stale until its timeout",
        Handling.CACHE_PAGE,
        Backend.REDIS,
        stale=True,
    ),
    CacheSetup(
        "conditional",
        "no stored answers: an ETag and Last-Modified per series (pair x interval), a 304 "
        "answered before any row is read",
        Handling.CONDITIONAL,
    ),
    CacheSetup(
        "locmem",
        "the rendered document per normalized request and series version, in each process's "
        "memory (Django's LocMemCache), one render per key and process at a time",
        Handling.DOCUMENT,
        Backend.LOCMEM,
    ),
    CacheSetup(
        "redis",
        "the rendered document per normalized request and series version, in Redis (Django's "
        "RedisCache), one render per key across processes at a time",
        Handling.DOCUMENT,
        Backend.REDIS,
    ),
)
SETUP_NAMES: tuple[str, ...] = tuple(s.name for s in SETUPS)


class UnknownCacheSetup(ValueError):
    """A name that is not a cache setup of SETUPS."""


def cache_setup(name: str) -> CacheSetup:
    """The setup called `name`; UnknownCacheSetup (naming the setups there are) otherwise."""
    for setup in SETUPS:
        if setup.name == name:
            return setup
    raise UnknownCacheSetup(
        f"CANDLEBENCH_CACHE={name!r} is not a cache setup (choose from {', '.join(SETUP_NAMES)})"
    )


def served_setup(name: str, kind: ServerKind) -> CacheSetup:
    """What a server of `kind` runs when CANDLEBENCH_CACHE is `name`: the setup, or `none` when
    that kind of server does not run it (django-bolt's server and the FastAPI reference)."""
    setup = cache_setup(name)
    return setup if kind in setup.kinds else SETUPS[0]


def redacted(url: str) -> str:
    """A Redis URL without its password, for the log."""
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    return f"{scheme}{sep}***@{rest.rsplit('@', 1)[1]}"


def cache_settings(name: str, *, redis_url: str, timeout: int) -> dict[str, dict]:
    """settings.CACHES for the setup called `name`: Django's default local-memory cache, and the
    setup's backend as API_CACHE when it keeps answers (UnknownCacheSetup for another name)."""
    setup = cache_setup(name)
    caches: dict[str, dict] = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    }
    if setup.backend is Backend.LOCMEM:
        caches[API_CACHE] = {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "candlebench-api",
            "TIMEOUT": timeout,
            "KEY_PREFIX": KEY_PREFIX,
            "OPTIONS": {"MAX_ENTRIES": LOCMEM_MAX_ENTRIES},
        }
    elif setup.backend is Backend.REDIS:
        # Both guarded against a Redis that is gone; cache-page keeps Django's client as shipped.
        backend = (
            "ResilientRedisCache"
            if setup.handling is Handling.CACHE_PAGE
            else "KeptClientRedisCache"
        )
        caches[API_CACHE] = {
            "BACKEND": f"candles.api.cache_backend.{backend}",
            "LOCATION": redis_url,
            "TIMEOUT": timeout,
            "KEY_PREFIX": KEY_PREFIX,
            # Passed to redis-py's connection pool: a Redis that is gone or hung costs a request
            # at most this long once, then cache_backend.py backs off.
            "OPTIONS": {
                "socket_connect_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
                "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
            },
        }
    return caches


def cache_timing(desc: str, seconds: float) -> str:
    """The Server-Timing of an answer the cache gave, instead of the render's laps it never ran:
    `cache;desc=hit;dur=0.052` (desc: hit, wait or not-modified)."""
    return f"cache;desc={desc};dur={seconds * 1000:.3f}"
