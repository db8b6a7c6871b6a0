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
from dataclasses import dataclass
from typing import Any

from candles.api.gc_time import GcSpent
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


@dataclass
class ViewTiming:
    """One view timed in-process: the best batch's mean (the micro benchmark's figure), every
    call's latency, and the collector's time inside the calls and between them."""

    seconds: float  # mean per call of the best batch
    calls: int
    body: bytes
    timing_ms: dict[str, float]  # Server-Timing means over the calls
    latencies_ms: list[float]  # every timed call, in order
    # Each call's CPU time (this process's): its work, the collector included, without the time
    # other processes took the core away (a shared machine's noise in latencies_ms).
    cpu_ms: list[float]
    gc_in_calls: GcSpent
    gc_between: GcSpent  # in request_finished's receivers, after each answer (a server's too)
    most_gc_in_a_call_ms: float
    longest_collection_ms: float  # the longest single collection of the loop, between calls too
    loop_s: float  # the calls and the work between them: what throughput is taken over
    loop_cpu_s: float  # the same in this process's CPU time (other processes' share left out)


def time_view(path: str, min_time: float, batches: int = 3, calls: int | None = None) -> ViewTiming:
    """`batches` batches of calls (`calls` in all, else as many as take `min_time` seconds),
    after 3 warm-up calls. After each call the answer is checked, its Server-Timing read and
    the answer dropped (only timings are kept), then request_finished is sent as a server
    sends it after the answer went out (Django's own receivers, and a GC setup's collection
    between requests, run there); that work counts in `loop_s`, not in the call's latency."""
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.signals import request_finished

    from candles.api import gc_time

    gc_time.install()
    call, is_async = view_caller(path)
    sums: dict[str, float] = {}
    body: bytes | None = None
    latencies: list[float] = []
    cpu: list[float] = []
    in_calls = [0.0] * 6
    between = [0.0] * 6
    most_in_a_call = 0.0
    loop = loop_cpu = 0.0

    def account(
        response, started: float, ended: float, cpu_s: float, gc_start: gc_time.Mark
    ) -> None:
        """Everything done with one call's answer, outside its timing."""
        nonlocal most_in_a_call, loop, loop_cpu
        spent = gc_time.mark()
        cpu.append(cpu_s * 1000)
        loop_cpu += cpu_s
        for i in range(6):
            in_calls[i] += spent[i] - gc_start[i]
        most_in_a_call = max(most_in_a_call, sum(spent[3:]) - sum(gc_start[3:]))
        latencies.append((ended - started) * 1000)
        loop += ended - started
        if checked_body(response, path) != body:
            raise SystemExit(f"{path}: the body changed between calls")
        for phase, value in parse_server_timing(response.get("Server-Timing")).items():
            sums[phase] = sums.get(phase, 0.0) + value

    def after_finished(started: float, cpu_started: float, gc_start: gc_time.Mark) -> None:
        nonlocal loop, loop_cpu
        loop += time.perf_counter() - started
        loop_cpu += time.process_time() - cpu_started
        spent = gc_time.mark()
        for i in range(6):
            between[i] += spent[i] - gc_start[i]

    async def run_async(n: int) -> None:
        for _ in range(n):
            gc_start, cpu_started = gc_time.mark(), time.process_time()
            started = time.perf_counter()
            response = await call()
            ended = time.perf_counter()
            account(response, started, ended, time.process_time() - cpu_started, gc_start)
            del response
            gc_start, cpu_started = gc_time.mark(), time.process_time()
            started = time.perf_counter()
            await request_finished.asend(sender=ASGIHandler)
            after_finished(started, cpu_started, gc_start)

    def run_sync(n: int) -> None:
        for _ in range(n):
            gc_start, cpu_started = gc_time.mark(), time.process_time()
            started = time.perf_counter()
            response = call()
            ended = time.perf_counter()
            account(response, started, ended, time.process_time() - cpu_started, gc_start)
            del response
            gc_start, cpu_started = gc_time.mark(), time.process_time()
            started = time.perf_counter()
            request_finished.send(sender=WSGIHandler)
            after_finished(started, cpu_started, gc_start)

    def run(n: int) -> None:
        if is_async:
            asyncio.run(run_async(n))
        else:
            run_sync(n)

    # Warm up (imports, connection, caches) and estimate calls per batch.
    warm_started = time.perf_counter()
    response = call()
    response = asyncio.run(response) if is_async else response
    body = checked_body(response, path)
    del response
    run(2)
    warm_s = time.perf_counter() - warm_started
    if calls:  # exactly `calls`, the batches as even as they go
        sizes = [calls // batches + (i < calls % batches) for i in range(batches)]
    else:
        n = max(3, min(100_000, math.ceil(max(min_time / batches, 0.01) / max(warm_s / 3, 1e-7))))
        sizes = [n] * batches
    sums.clear()
    latencies.clear()
    cpu.clear()
    in_calls[:] = between[:] = [0.0] * 6
    most_in_a_call = loop = loop_cpu = 0.0
    gc_time.reset_longest()
    best = math.inf
    for n in (n for n in sizes if n):
        first = len(latencies)
        run(n)
        best = min(best, sum(latencies[first:]) / 1000 / n)
    made = len(latencies)

    def spent(totals: list[float]) -> GcSpent:
        return GcSpent(counts=tuple(int(c) for c in totals[:3]), seconds=tuple(totals[3:]))

    return ViewTiming(
        seconds=best,
        calls=made,
        body=body,
        timing_ms={phase: value / made for phase, value in sums.items()},
        latencies_ms=latencies,
        cpu_ms=cpu,
        gc_in_calls=spent(in_calls),
        gc_between=spent(between),
        most_gc_in_a_call_ms=most_in_a_call * 1000,
        longest_collection_ms=max(gc_time.longest()) * 1000,
        loop_s=loop,
        loop_cpu_s=loop_cpu,
    )


def check_same_body(limit: int, bodies: dict[str, bytes]) -> None:
    """Every mode's view must answer the first mode's bytes: one that does less compares nothing."""
    first, reference = next(iter(bodies.items()))
    differing = [m for m, b in bodies.items() if b != reference]
    if differing:
        raise SystemExit(
            f"limit={limit}: {', '.join(differing)} answered a different document than {first}"
        )
