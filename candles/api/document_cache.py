"""The `locmem` and `redis` setups: each mode's rendered document kept per normalized request, the
series' version in the key, and one render per key at a time (the stampede guard).

A write bumps its series' version on commit (candles.services), so the next request looks for a
key nobody stored and renders the new document: no invalidation message to lose, and an answer
never older than the last write committed before the request started. An entry the TTL expired or
a write made obsolete is rendered by the one request that claims the key's lock (`cache.add`, so
in Redis it holds across processes; in LocMemCache, whose entries are per process, it holds
within the process); the others wait, polling, for its document rather than get the previous
version, which after a write would be stale. A waiter that outlives WAIT_SECONDS renders for itself.
A Redis that is unavailable makes every request render uncached (cache_backend.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from functools import wraps
from inspect import iscoroutinefunction
from time import perf_counter
from typing import Any, cast

from asgiref.sync import sync_to_async
from django.core.cache.backends.base import BaseCache
from django.http import HttpRequest, HttpResponse, HttpResponseBase

from .cache_lookup import cached_answer, series_request

# A renderer that died frees its key's lock after this long.
LOCK_SECONDS = 10
# How long a request waits for another's render before rendering itself.
WAIT_SECONDS = 5.0
FIRST_POLL_SECONDS = 0.002
MAX_POLL_SECONDS = 0.025
# The mode's headers kept with its document, but these: the hit's own Server-Timing replaces the
# render's, and Django sets Content-Length from the body.
NOT_STORED = frozenset({"server-timing", "content-length"})

View = Callable[..., Any]
Stored = tuple[bytes, tuple[tuple[str, str], ...]]  # the body and the mode's headers


class Claim(Enum):
    CLAIMED = "claimed"  # this request renders the key
    BUSY = "busy"  # another request renders it
    UNAVAILABLE = "unavailable"  # no cache to use: render uncached


@dataclass(frozen=True)
class Step:
    """What a request does next: answer `found`, or render (`claim`) under `key`."""

    key: str = ""
    found: Stored | None = None
    claim: Claim = Claim.UNAVAILABLE
    waited: bool = False


PASS_THROUGH = Step()


def rendered(response: HttpResponseBase) -> HttpResponseBase:
    """DRF answers a response rendered after the view: render it now, as the handler would."""
    render = getattr(response, "render", None)
    return render() if callable(render) else response


def storable(response: HttpResponseBase) -> Stored | None:
    """A 200 with a body; errors (400/404/405/500/503) are never kept."""
    if response.status_code != 200 or response.streaming:
        return None
    headers = tuple((k, v) for k, v in response.items() if k.lower() not in NOT_STORED)
    return response.content, headers  # type: ignore[attr-defined]


class DocumentCache:
    """The cache of one mode's documents in `cache` (settings.CACHES[API_CACHE])."""

    def __init__(self, mode: str, cache: BaseCache) -> None:
        self.mode = mode
        self.cache = cache

    def available(self) -> bool:
        return getattr(self.cache, "available", True)  # LocMemCache never fails

    def claim(self, key: str) -> Claim:
        if self.cache.add(key + ":lock", 1, LOCK_SECONDS):
            return Claim.CLAIMED
        return Claim.BUSY if self.available() else Claim.UNAVAILABLE

    def begin(self, request: HttpRequest, exchange: str, market: str, asset: str) -> Step:
        """The lookup: a stored document, or the claim of its key (sync: the version query)."""
        series = series_request(request, exchange, market, asset)
        if series is None or not self.available():
            return PASS_THROUGH
        state = series.state
        changed = "-" if state.changed_at is None else f"{state.changed_at.timestamp():.6f}"
        key = f"doc:{self.mode}:{series.normalized}:v{state.version}:{changed}"
        found = self.cache.get(key)
        if found is not None:
            return Step(key, found)
        return self.claimed(key, self.claim(key))

    def poll(self, key: str) -> Step:
        """While another request renders `key`: its document once stored, or the claim."""
        found = self.cache.get(key)
        if found is not None:
            return Step(key, found, waited=True)
        return self.claimed(key, self.claim(key), waited=True)

    def claimed(self, key: str, claim: Claim, waited: bool = False) -> Step:
        if claim is Claim.CLAIMED:
            # Stored between this request's get and its claim: no second render.
            found = self.cache.get(key)
            if found is not None:
                self.cache.delete(key + ":lock")
                return Step(key, found, waited=waited)
        return Step(key, claim=claim, waited=waited)

    def finish(self, key: str, response: HttpResponseBase) -> HttpResponseBase:
        """Keep a rendered 200 and free the key's lock."""
        response = rendered(response)
        try:
            stored = storable(response)
            if stored is not None:
                self.cache.set(key, stored)
        finally:
            self.cache.delete(key + ":lock")
        return response

    def release(self, key: str) -> None:
        self.cache.delete(key + ":lock")


def answer(step: Step, started: float) -> HttpResponse:
    assert step.found is not None
    body, headers = step.found
    return cached_answer(body, headers, "wait" if step.waited else "hit", started)


def document_cached(mode: str, view: View, cache: BaseCache) -> View:
    """`view` (a mode's, sync or async) answering from `cache` what it rendered before."""
    documents = DocumentCache(mode, cache)

    if iscoroutinefunction(view):
        async_view = cast(Callable[..., Awaitable[HttpResponseBase]], view)
        begin = sync_to_async(documents.begin)
        poll = sync_to_async(documents.poll)
        finish = sync_to_async(documents.finish)
        release = sync_to_async(documents.release)

        @wraps(view)
        async def cached_async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            started = perf_counter()
            step = await begin(request, *args, **kwargs)
            deadline, pause = time.monotonic() + WAIT_SECONDS, FIRST_POLL_SECONDS
            while step.claim is Claim.BUSY and step.found is None:
                if time.monotonic() > deadline:
                    return await async_view(request, *args, **kwargs)
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_POLL_SECONDS)
                step = await poll(step.key)
            if step.found is not None:
                return answer(step, started)
            if step.claim is not Claim.CLAIMED:
                return await async_view(request, *args, **kwargs)
            try:
                response = await async_view(request, *args, **kwargs)
            except BaseException:
                await release(step.key)
                raise
            return await finish(step.key, response)

        return cached_async_view

    @wraps(view)
    def cached_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        started = perf_counter()
        step = documents.begin(request, *args, **kwargs)
        deadline, pause = time.monotonic() + WAIT_SECONDS, FIRST_POLL_SECONDS
        while step.claim is Claim.BUSY and step.found is None:
            if time.monotonic() > deadline:
                return view(request, *args, **kwargs)
            time.sleep(pause)
            pause = min(pause * 2, MAX_POLL_SECONDS)
            step = documents.poll(step.key)
        if step.found is not None:
            return answer(step, started)
        if step.claim is not Claim.CLAIMED:
            return view(request, *args, **kwargs)
        try:
            response = view(request, *args, **kwargs)
        except BaseException:
            documents.release(step.key)
            raise
        return documents.finish(step.key, response)

    return cached_view
