"""Calling the project's views in-process, as the micro benchmark, the instruction counter and
the table-size check do: Django set up here, a view resolved from its path and called with a
RequestFactory request, no server, middleware or network (a compressed variant, `raw+zstd-1`,
adds what its setup's middleware does to the answer: the same shared function)."""

from __future__ import annotations

import asyncio
import inspect
import math
import os
import time
from collections.abc import Callable
from typing import Any

from loadtest.stats import parse_server_timing


def setup_django() -> None:
    """Set Django up in this process with the project's settings; refuses DEBUG."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "candleproject.settings")
    import django

    django.setup()
    from django.conf import settings

    if settings.DEBUG:
        raise SystemExit(
            "refusing to run with DEBUG on: unset DJANGO_DEBUG (debug mode records every query)"
        )


def view_caller(path: str) -> tuple[Callable[[], Any], bool]:
    """A zero-argument function doing one request; and whether it is a coroutine (then it
    returns an awaitable of the response, else the response)."""
    from django.test import RequestFactory
    from django.urls import resolve

    factory = RequestFactory()
    match = resolve(path.split("?", 1)[0])
    view = match.func
    if inspect.iscoroutinefunction(view) or getattr(view, "_is_coroutine", None):

        async def call_async():
            return await view(factory.get(path), *match.args, **match.kwargs)

        return call_async, True

    def call():
        response = view(factory.get(path), *match.args, **match.kwargs)
        render = getattr(response, "render", None)
        if callable(render) and not getattr(response, "is_rendered", True):
            response = render()
        return response

    return call, False


def compressing_caller(
    call: Callable[[], Any], is_async: bool, path: str, compression: str
) -> Callable[[], Any]:
    """`call`, then what the `compression` setup's middleware does to its answer for that setup's
    clients: the project's compress_response (candles/api/compression.py, the middleware's one
    function), or Django's GZipMiddleware.process_response as shipped."""
    from django.http import HttpResponse
    from django.middleware.gzip import GZipMiddleware
    from django.test import RequestFactory

    from candles.api.compression import Handling, compress_response, compression_setup

    setup = compression_setup(compression)
    request = RequestFactory().get(path, HTTP_ACCEPT_ENCODING=setup.accept_encoding)
    if setup.handling is Handling.NEGOTIATED:

        def compress(response):
            return compress_response(response, setup.accept_encoding, setup.codecs)

    elif setup.handling is Handling.DJANGO_GZIP:
        middleware = GZipMiddleware(lambda request: HttpResponse())  # only its response hook runs

        def compress(response):
            return middleware.process_response(request, response)

    else:
        raise SystemExit(f"{compression} compresses nothing in a Django process")
    if is_async:

        async def call_async():
            return compress(await call())

        return call_async
    return lambda: compress(call())


def checked_body(response, path: str) -> bytes:
    """The answer's document (decoded from its Content-Encoding); SystemExit unless a 200."""
    from candles.api.compression import decoded

    if response.status_code != 200:
        raise SystemExit(f"{path}: HTTP {response.status_code}: {response.content[:300]!r}")
    return decoded(response.content, response.get("Content-Encoding"))


def time_view(
    path: str, min_time: float, batches: int = 3
) -> tuple[float, int, bytes, dict[str, float]]:
    """Best-of-`batches` mean seconds per call; calls made; the body; Server-Timing means."""
    call, is_async = view_caller(path)
    per_batch = max(min_time / batches, 0.01)

    async def run_async(n: int, collect: list):
        total = 0.0
        for _ in range(n):
            started = time.perf_counter()
            response = await call()
            total += time.perf_counter() - started
            collect.append(response)
        return total

    def run_sync(n: int, collect: list):
        total = 0.0
        for _ in range(n):
            started = time.perf_counter()
            response = call()
            total += time.perf_counter() - started
            collect.append(response)
        return total

    def run(n: int) -> tuple[float, list]:
        collect: list = []
        total = asyncio.run(run_async(n, collect)) if is_async else run_sync(n, collect)
        return total, collect

    # Warm up (imports, connection, caches) and estimate calls per batch.
    warm_total, warm = run(3)
    body = checked_body(warm[-1], path)
    n = max(3, min(100_000, math.ceil(per_batch / max(warm_total / 3, 1e-7))))
    best = math.inf
    calls = 0
    sums: dict[str, float] = {}
    for _ in range(batches):
        total, responses = run(n)
        calls += n
        best = min(best, total / n)
        for response in responses:
            if checked_body(response, path) != body:
                raise SystemExit(f"{path}: the body changed between calls")
            for phase, value in parse_server_timing(response.get("Server-Timing")).items():
                sums[phase] = sums.get(phase, 0.0) + value
    return best, calls, body, {phase: value / calls for phase, value in sums.items()}


def check_same_body(limit: int, bodies: dict[str, bytes]) -> None:
    """Every mode's view must answer the first mode's bytes: one that does less compares nothing."""
    first, reference = next(iter(bodies.items()))
    differing = [m for m, b in bodies.items() if b != reference]
    if differing:
        raise SystemExit(
            f"limit={limit}: {', '.join(differing)} answered a different document than {first}"
        )
