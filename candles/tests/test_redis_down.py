"""Redis down mid-run and back, through the project's WSGI application: answers go on uncached
(never a 500), the log says so once, and Redis is used again once it answers. Each test starts a
redis-server of its own and stops it; the shared one is never touched."""

import logging
import os
import signal
import time

import pytest

from candleproject.tests.app_driver import wsgi_request
from candles.api import cache_backend

from .cache_support import SAMPLE_PATH, RedisServer, cache_serving, from_cache

pytestmark = pytest.mark.django_db(transaction=True)
PATH, QUERY = SAMPLE_PATH.format(mode="raw"), "interval=1m&limit=1000"


@pytest.fixture
def redis(tmp_path, require_tool, monkeypatch):
    from .cache_support import REDIS_SERVER

    require_tool(REDIS_SERVER is not None, "redis-server is not installed (Debian: redis-server)")
    monkeypatch.setattr(cache_backend, "FIRST_BACKOFF_SECONDS", 0.1)
    monkeypatch.setattr(cache_backend, "MAX_BACKOFF_SECONDS", 0.2)
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None:
            os.kill(server.proc.pid, signal.SIGCONT)  # if a test left it stopped
        server.stop()


def answers(count: int = 3) -> list[tuple[int, bool, bytes]]:
    """`count` requests: status, whether the cache answered, body."""
    result = []
    for _ in range(count):
        status, headers, body = wsgi_request(PATH, QUERY)
        result.append((status, from_cache(headers.get("Server-Timing", "")), body))
    return result


def until_a_hit(timeout: float = 10.0) -> list[tuple[int, bool, bytes]]:
    seen: list[tuple[int, bool, bytes]] = []
    deadline = time.monotonic() + timeout
    while not (seen and seen[-1][1]):
        assert time.monotonic() < deadline, "Redis was not used again"
        seen += answers(1)
        time.sleep(0.05)
    return seen


def warnings_of(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == cache_backend.__name__ and r.levelno == logging.WARNING
    ]


@pytest.mark.parametrize("setup", ["redis", "cache-page-redis"])
def test_the_api_answers_uncached_while_redis_is_down_and_uses_it_again(
    setup, redis, committed_sample_candles, caplog
):
    caplog.set_level(logging.WARNING, logger=cache_backend.__name__)
    with cache_serving(setup, redis_url=redis.url):
        (_, cached_first, document), (_, cached_second, _) = answers(2)
        assert (cached_first, cached_second) == (False, True)
        redis.stop()
        down = answers(5)
        assert {(status, cached) for status, cached, _ in down} == {(200, False)}
        assert {body for _, _, body in down} == {document}
        time.sleep(0.3)  # past the back-off: the next request tries Redis again, and fails
        assert answers(2)[-1][:2] == (200, False)
        assert len(warnings_of(caplog)) == 1 and "unavailable" in warnings_of(caplog)[0]
        redis.start()  # the same port, empty
        back = until_a_hit()
        assert {status for status, _, _ in back} == {200}
        assert {body for _, _, body in back} == {document}
    said = warnings_of(caplog)
    assert len(said) == 2 and "is back" in said[1], said


def test_a_hung_redis_costs_one_timeout_then_none(redis, committed_sample_candles, monkeypatch):
    """A Redis that stops answering (SIGSTOP) holds a request for the socket timeout once; the
    back-off spares the next ones."""
    monkeypatch.setattr(cache_backend, "FIRST_BACKOFF_SECONDS", 30.0)
    with cache_serving("redis", redis_url=redis.url):
        answers(2)
        assert redis.proc is not None
        os.kill(redis.proc.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            first = answers(1)
            first_took = time.monotonic() - started
            started = time.monotonic()
            rest = answers(3)
            rest_took = time.monotonic() - started
        finally:
            os.kill(redis.proc.pid, signal.SIGCONT)
    assert {(s, c) for s, c, _ in first + rest} == {(200, False)}
    assert first_took < 2.0 and rest_took < first_took, (first_took, rest_took)
