"""The `cache-page` setups: Django's cache_page on a mode's view, as users add it, measured as
shipped. It keys on the whole URL (`?limit=1000&interval=1m` and `?interval=1m&limit=1000` are two
entries, and so is each Host), stores only 200s, reads two keys per hit (the header list, then
the page), cannot invalidate a series (Django ticket #31938), and serves what it stored until its
timeout, writes or not.

The one thing added: a hit's Server-Timing is the cache's own entry. cache_page stores the whole
response, so as shipped a hit repeats the render's laps from when it was stored; the runner tells
hits from misses by this header.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from inspect import iscoroutinefunction
from time import perf_counter
from typing import Any, cast

from django.http import HttpRequest, HttpResponseBase
from django.views.decorators.cache import cache_page

from .caching import API_CACHE, cache_timing
from .errors import ALLOWED_METHODS

View = Callable[..., Any]


def from_cache(request: HttpRequest) -> bool:
    """Answered by cache_page's FetchFromCacheMiddleware: it marks a hit by not asking for an
    update (and sets the flag to True on a miss, to False for other methods)."""
    return (
        request.method in ALLOWED_METHODS and getattr(request, "_cache_update_cache", True) is False
    )


def timed(response: HttpResponseBase, request: HttpRequest, started: float) -> HttpResponseBase:
    if from_cache(request):
        response["Server-Timing"] = cache_timing("hit", perf_counter() - started)
    return response


def page_cached(view: View, timeout: int) -> View:
    """`view` under cache_page(timeout) on settings.CACHES[API_CACHE]."""
    cached = cache_page(timeout, cache=API_CACHE)(view)

    if iscoroutinefunction(view):
        async_cached = cast(Callable[..., Awaitable[HttpResponseBase]], cached)

        @wraps(view)
        async def page_cached_async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            started = perf_counter()
            return timed(await async_cached(request, *args, **kwargs), request, started)

        return page_cached_async_view

    @wraps(view)
    def page_cached_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        started = perf_counter()
        return timed(cached(request, *args, **kwargs), request, started)

    return page_cached_view
