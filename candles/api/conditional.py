"""The `conditional` setup: validators per series, and a 304 before any row is read.

Django's ConditionalGetMiddleware hashes the body after the view ran (it saves bytes, not work);
here the validators come from the series' version row (candles.selectors.series_state), read
before the mode runs, so a client that holds the current document gets a 304 for one small
query. The series is a pair's candles of one interval, the unit of a document and of a write.

- ETag: weak (`W/"..."`), a hash of the series' version and change time and the normalized
  request, so compressed and plain answers share it (compress_response would weaken a strong
  one for the compressed answer only, and a client holding either must match).
- Last-Modified: when the series last changed (a stored time: updating the newest candle leaves
  its basetm as it was). In whole seconds, it cannot tell two changes within one second apart,
  so If-Modified-Since at exactly that second gets a 304 only when the previous change was in an
  earlier second; If-None-Match, which is exact, wins when both are sent (RFC 9110 §13.2.2).
- Answers say `Cache-Control: no-cache`: a client keeps them but asks again every time, never
  serving one by heuristic freshness.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from functools import wraps
from hashlib import blake2b
from inspect import iscoroutinefunction
from time import perf_counter
from typing import Any, cast

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase, HttpResponseNotModified
from django.utils.http import http_date, parse_etags, parse_http_date_safe

from .cache_lookup import SeriesRequest, series_request
from .caching import cache_timing
from .compression import compression_setup

View = Callable[..., Any]


def series_etag(series: SeriesRequest) -> str:
    state = series.state
    changed = "-" if state.changed_at is None else f"{state.changed_at.timestamp():.6f}"
    digest = blake2b(
        f"{series.normalized}:v{state.version}:{changed}".encode(), digest_size=12
    ).hexdigest()
    return f'W/"{digest}"'


def last_modified_seconds(series: SeriesRequest) -> int | None:
    changed = series.state.changed_at
    return None if changed is None else math.floor(changed.timestamp())


def not_modified(request: HttpRequest, series: SeriesRequest, etag: str) -> bool:
    """Whether the client's validators match the series as it is (GET and HEAD only reach here)."""
    if_none_match = request.META.get("HTTP_IF_NONE_MATCH")
    if if_none_match is not None:
        tags = parse_etags(if_none_match)
        if tags == ["*"]:
            return True
        bare = etag.removeprefix("W/")
        return any(tag.removeprefix("W/") == bare for tag in tags)  # weak comparison
    since = parse_http_date_safe(request.META.get("HTTP_IF_MODIFIED_SINCE") or "")
    modified = last_modified_seconds(series)
    if since is None or modified is None:
        return False
    if modified < since:
        return True
    previous = series.state.previous_changed_at
    # At the same second: unambiguous only if no other change fell within that second.
    return modified == since and (previous is None or math.floor(previous.timestamp()) < modified)


def with_validators(
    response: HttpResponseBase, series: SeriesRequest, etag: str
) -> HttpResponseBase:
    response["ETag"] = etag
    modified = last_modified_seconds(series)
    if modified is not None:
        response["Last-Modified"] = http_date(modified)
    response["Cache-Control"] = "no-cache"
    return response


def conditional(view: View) -> View:
    """`view` (a mode's, sync or async) with validators on its 200s, and a 304 in its place
    when the client's match."""
    # The header a 200 would carry under the compression setup (RFC 9110 §15.4.5).
    vary = compression_setup(settings.CANDLEBENCH_COMPRESSION).compresses_in_django

    def answer_304(series: SeriesRequest, etag: str, started: float) -> HttpResponseBase:
        response = with_validators(HttpResponseNotModified(), series, etag)
        if vary:
            response["Vary"] = "Accept-Encoding"
        response["Server-Timing"] = cache_timing("not-modified", perf_counter() - started)
        return response

    def finished(response: HttpResponseBase, series: SeriesRequest, etag: str) -> Any:
        return with_validators(response, series, etag) if response.status_code == 200 else response

    if iscoroutinefunction(view):
        async_view = cast(Callable[..., Awaitable[HttpResponseBase]], view)
        lookup = sync_to_async(series_request)

        @wraps(view)
        async def conditional_async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            started = perf_counter()
            series = await lookup(request, *args, **kwargs)
            if series is None:
                return await async_view(request, *args, **kwargs)
            etag = series_etag(series)
            if not_modified(request, series, etag):
                return answer_304(series, etag, started)
            return finished(await async_view(request, *args, **kwargs), series, etag)

        return conditional_async_view

    @wraps(view)
    def conditional_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        started = perf_counter()
        series = series_request(request, *args, **kwargs)
        if series is None:
            return view(request, *args, **kwargs)
        etag = series_etag(series)
        if not_modified(request, series, etag):
            return answer_304(series, etag, started)
        return finished(view(request, *args, **kwargs), series, etag)

    return conditional_view
