"""The `locmem` and `redis` setups in-process: one entry per normalized request, each mode's cached
answer the same bytes as its own, a hit's own Server-Timing, errors never kept, compression on top,
and one render for concurrent misses (the stampede guard). Writes: test_cache_invalidation.py."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import orjson
import pytest
from django.core.cache import caches
from django.db import OperationalError, connection
from django.http import HttpResponse
from django.test import Client, RequestFactory

from candleproject.tests.app_driver import wsgi_request
from candleproject.tests.test_compression_chain import serving as compression_serving
from candles.api import document_cache
from candles.api.caching import API_CACHE
from candles.api.compression import decoded
from candles.api.document_cache import document_cached

from .cache_support import GC_ENTRY, SAMPLE_PATH, cache_serving, from_cache, get, timing_of
from .conftest import ALL_MODES

pytestmark = pytest.mark.django_db(transaction=True)
# Only the cache's own entry, and the collector's time during this request (gc: timing.py).
HIT = re.compile(r"^cache;desc=hit;dur=\d+\.\d{3}" + GC_ENTRY + "$")


@pytest.fixture(params=["locmem", "redis"])
def setup(request) -> str:
    return request.param


@pytest.fixture
def serving(setup, request, committed_sample_candles):
    """The API under `setup` (redis: this session's own redis-server)."""
    redis_url = request.getfixturevalue("redis_url") if setup == "redis" else None
    with cache_serving(setup, **({"redis_url": redis_url} if redis_url else {})):
        yield setup


def own_answer(mode: str, query: str) -> tuple[bytes, str]:
    """The mode's answer with no cache: body and Content-Type."""
    with cache_serving("none"):
        response = get(Client(), mode, query)
    assert response.status_code == 200
    return response.content, response["Content-Type"]


@pytest.mark.parametrize("mode", ALL_MODES)
def test_each_modes_cached_answer_is_the_same_bytes_as_its_own(serving, mode):
    query = "interval=1m&limit=1000"
    body, content_type = own_answer(mode, query)
    client = Client()
    miss, hit = get(client, mode, query), get(client, mode, query)
    assert miss.status_code == hit.status_code == 200
    assert not from_cache(timing_of(miss)) and "db;dur=" in timing_of(miss)
    assert HIT.match(timing_of(hit)), timing_of(hit)  # its own entry, never the render's laps
    assert miss.content == hit.content == body
    assert hit["Content-Type"] == miss["Content-Type"] == content_type
    assert hit["Content-Length"] == str(len(body))


def test_parameters_are_normalized_into_one_entry(serving):
    client = Client()
    same = [
        "interval=1m&limit=1000",
        "limit=1000&interval=1m",
        "interval=1m&limit=1000&unknown=1",
        "limit=01000&interval=1m",
    ]
    answers = [get(client, "raw", q) for q in same]
    assert [from_cache(timing_of(a)) for a in answers] == [False, True, True, True]
    assert len({a.content for a in answers}) == 1
    # Defaults filled in, and one instant however `before` spells it.
    assert not from_cache(timing_of(get(client, "raw", "interval=1m")))
    assert from_cache(timing_of(get(client, "raw", "interval=1m&limit=100")))
    first = get(client, "raw", "interval=1m&before=2023-08-24T09:00:00%2B09:00")
    again = get(client, "raw", "interval=1m&limit=100&before=2023-08-24T00:00:00Z")
    assert not from_cache(timing_of(first)) and from_cache(timing_of(again))
    assert first.content == again.content
    # Another limit, interval, pair or mode is another document.
    for mode, query in (("raw", "interval=1m&limit=999"), ("raw", "interval=5m&limit=1000"),
                        ("msgspec", "interval=1m&limit=1000")):  # fmt: skip
        assert not from_cache(timing_of(get(client, mode, query))), (mode, query)
    other_pair = client.get("/api/raw/candle/binance/USDT/BTC?interval=1m&limit=1000")
    assert other_pair.status_code == 200 and not from_cache(timing_of(other_pair))


def test_errors_are_never_cached(serving):
    client = Client()
    for _ in range(2):
        bad = get(client, "raw", "interval=7m")
        assert bad.status_code == 400 and not from_cache(timing_of(bad))
        unknown = client.get("/api/raw/candle/upbit/KRW/NOPE?interval=1m")
        assert unknown.status_code == 404 and not from_cache(timing_of(unknown))
        refused = client.post(SAMPLE_PATH.format(mode="raw") + "?interval=1m")
        assert refused.status_code == 405
    # A 503 (the candle query fails) is not kept, and frees the key for the next request.
    path, query = SAMPLE_PATH.format(mode="raw"), "interval=1m&limit=10"

    def fail_candle_reads(execute, sql, params, many, context):
        if "candles_candle" in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(fail_candle_reads):
        status, _, body = wsgi_request(path, query)
    assert status == 503, body
    status, headers, body = wsgi_request(path, query)
    assert status == 200 and not from_cache(headers["Server-Timing"])
    status, headers, again = wsgi_request(path, query)
    assert status == 200 and from_cache(headers["Server-Timing"]) and again == body


def test_a_validated_modes_500_is_not_cached(serving):
    from candles.models import Candle

    Candle.objects.filter(pk=Candle.objects.filter(interval="1m").latest("basetm").pk).update(v=-1)
    client = Client()
    for _ in range(2):
        response = get(client, "msgspec", "interval=1m&limit=5")
        assert response.status_code == 500 and not from_cache(timing_of(response))
        assert orjson.loads(response.content)["error"] == "invalid_response"


def test_compression_applies_on_top_of_a_cached_answer(serving):
    plain, _ = own_answer("raw", "interval=1m&limit=1000")
    with compression_serving("zstd-1") as (wsgi, _asgi, _stock):
        path = SAMPLE_PATH.format(mode="raw")
        answers = [
            wsgi_request(
                path,
                "interval=1m&limit=1000",
                headers={"Accept-Encoding": "zstd"},
                application=wsgi,
            )
            for _ in range(2)
        ]
        identity = wsgi_request(path, "interval=1m&limit=1000", application=wsgi)
    for status, headers, body in answers:
        assert status == 200 and headers["Content-Encoding"] == "zstd"
        assert decoded(body, "zstd") == plain
    hit_timing = answers[1][1]["Server-Timing"]
    assert hit_timing.startswith("cache;desc=hit;dur=") and ", compress;dur=" in hit_timing
    assert identity[0] == 200 and identity[2] == plain and from_cache(identity[1]["Server-Timing"])


def test_a_mode_added_to_the_registry_is_cached_like_the_others(serving, settings):
    """The URLconf wraps every mode it routes, the project's own and a settings' extra one."""
    from candles.api.registry import Mode

    from .cache_support import urlconf

    settings.CANDLEBENCH_EXTRA_MODES = [
        Mode("orm-tuples", "values_list into orjson", "candles.tests.own_mode.orm_tuples")
    ]
    settings.ROOT_URLCONF = urlconf(serving)
    client = Client()
    miss, hit = (get(client, "orm-tuples", "interval=1m") for _ in range(2))
    assert miss.status_code == 200 and not from_cache(timing_of(miss))
    assert from_cache(timing_of(hit)) and hit.content == miss.content


@pytest.mark.parametrize("workers", [8])
def test_concurrent_misses_render_once_and_the_others_wait_for_it(serving, workers):
    """The stampede guard: of `workers` requests for a cold key at once, one renders (slowly)
    while the others wait for its document; none gets a previous version."""
    renders = []
    started = threading.Barrier(workers)

    def slow_view(request, exchange, market, asset):
        renders.append(1)
        threading.Event().wait(0.3)  # a slow render: every other request arrives meanwhile
        return HttpResponse(b'{"data":[]}', content_type="application/json")

    view = document_cached("slow", slow_view, caches[API_CACHE])
    request = RequestFactory().get(SAMPLE_PATH.format(mode="slow"), {"interval": "1m"})

    def one(_):
        try:
            started.wait()
            response = view(request, "upbit", "KRW", "BTC")
            return response.status_code, response.content, response.get("Server-Timing", "")
        finally:
            connection.close()

    with ThreadPoolExecutor(workers) as pool:
        answers = list(pool.map(one, range(workers)))
    assert len(renders) == 1
    assert {(status, body) for status, body, _ in answers} == {(200, b'{"data":[]}')}
    descs = sorted(
        re.match(r"cache;desc=(\w+)", t).group(1) for _, _, t in answers if from_cache(t)
    )
    assert descs == ["wait"] * (workers - 1)


def test_a_renderer_that_fails_frees_the_key(serving):
    calls = []

    def failing_once(request, exchange, market, asset):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the render failed")
        return HttpResponse(b'{"data":[]}', content_type="application/json")

    view = document_cached("flaky", failing_once, caches[API_CACHE])
    request = RequestFactory().get(SAMPLE_PATH.format(mode="flaky"), {"interval": "1m"})
    with pytest.raises(RuntimeError):
        view(request, "upbit", "KRW", "BTC")
    assert view(request, "upbit", "KRW", "BTC").status_code == 200  # no wait for a dead lock
    assert from_cache(view(request, "upbit", "KRW", "BTC")["Server-Timing"])
    assert len(calls) == 2


def test_a_waiter_gives_up_after_its_deadline_and_renders(serving, monkeypatch):
    monkeypatch.setattr(document_cache, "WAIT_SECONDS", 0.2)
    view = document_cached(
        "stuck", lambda request, *a: HttpResponse(b"{}", content_type="application/json"),
        caches[API_CACHE],
    )  # fmt: skip
    request = RequestFactory().get(SAMPLE_PATH.format(mode="stuck"), {"interval": "1m"})
    first = view(request, "upbit", "KRW", "BTC")  # stored; now hold its lock as a dead renderer
    key = next(k for k in _keys(serving) if ":stuck:" in k)
    caches[API_CACHE].delete(key)
    caches[API_CACHE].add(key + ":lock", 1, 30)
    second = view(request, "upbit", "KRW", "BTC")
    assert first.status_code == second.status_code == 200
    assert not from_cache(second.get("Server-Timing", ""))


def _keys(setup: str) -> list[str]:
    """The document keys stored in this test's cache, without the backend's prefix."""
    cache = caches[API_CACHE]
    if setup == "locmem":
        return [k.split(":", 2)[2] for k in cache._cache]  # type: ignore[attr-defined]
    client = cache._cache.get_client()  # type: ignore[attr-defined]
    prefix = cache.key_prefix
    return [k.decode().split(":", 2)[2] for k in client.scan_iter(f"{prefix}:*")]


async def test_an_async_mode_under_the_projects_asgi_handler(serving):
    """orjson's view is async: its lookup and store run off the event loop (sync_to_async), its
    waits are asyncio sleeps."""
    from asgiref.sync import sync_to_async

    from candleproject.tests.app_driver import asgi_request

    path = SAMPLE_PATH.format(mode="orjson")
    miss = await asgi_request(path, "interval=1m&limit=1000")
    hit = await asgi_request(path, "limit=1000&interval=1m")
    assert miss[0] == hit[0] == 200 and miss[2] == hit[2]
    assert not from_cache(miss[1]["server-timing"]) and HIT.match(hit[1]["server-timing"])
    own, _ = await sync_to_async(own_answer)("orjson", "interval=1m&limit=1000")
    assert hit[2] == own
