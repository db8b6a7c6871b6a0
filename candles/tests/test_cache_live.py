"""The cache setups on live gunicorn servers started with CANDLEBENCH_CACHE: `redis` with three
workers (one render for a stampede of concurrent misses across the processes, before and after a
write; Redis stopped and restarted under load without a failed request), `locmem` and
`conditional`. Each Redis is a redis-server of the test's own."""

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import orjson
import pytest

from loadtest.serving.servers import PROJECT_ROOT, PROJECT_WSGI_APP, gunicorn_command
from loadtest.tests.live_servers import http_get, running_server, server_env

from .cache_support import REDIS_SERVER, SAMPLE_PATH, RedisServer, from_cache
from .test_compression_live import request

# Transactional: the servers and the writer's process read and write the rows each test commits.
pytestmark = [pytest.mark.live, pytest.mark.database, pytest.mark.django_db(transaction=True)]

GUNICORN = partial(gunicorn_command, app=PROJECT_WSGI_APP, worker_class="sync")
THREE_WORKERS = partial(GUNICORN, workers=3)
SLOW = SAMPLE_PATH.format(mode="drf-validated") + "?interval=1m&limit=1440"  # ~0.1 s to render


def env(setup: str, redis_url: str = "redis://127.0.0.1:9/0") -> dict[str, str]:
    """The server's settings for `setup`, whatever the shell holds."""
    return {
        "CANDLEBENCH_CACHE": setup,
        "CANDLEBENCH_REDIS_URL": redis_url,
        "CANDLEBENCH_CACHE_SECONDS": "60",
        "CANDLEBENCH_COMPRESSION": "none",
    }


@pytest.fixture(scope="module")
def redis(tmp_path_factory) -> Iterator[RedisServer]:
    if REDIS_SERVER is None:  # conftest's require_tool, for a module's fixture
        why = "redis-server is not installed (Debian: redis-server)"
        if os.environ.get("CANDLEBENCH_REQUIRE_TOOLS") == "1":
            pytest.fail(f"CANDLEBENCH_REQUIRE_TOOLS=1 but {why}")
        pytest.skip(why)
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def redis_server_url(django_db_setup, redis, tmp_path_factory) -> Iterator[str]:
    with running_server(
        THREE_WORKERS, tmp_path_factory.mktemp("gunicorn-redis"), **env("redis", redis.url)
    ) as base_url:
        yield base_url


def stampede(base_url: str, path: str, clients: int = 12) -> list[tuple[int, str, bytes]]:
    """`clients` requests for `path` sent at once: status, Server-Timing, body."""
    barrier = threading.Barrier(clients)

    def one(_):
        barrier.wait()
        status, headers, body = request(base_url, path, None)
        return status, headers.get("server-timing", ""), body

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, range(clients)))


def import_in_another_process(candle: dict) -> None:
    """`manage.py import_candles --replace` of one 1m candle of upbit/KRW/BTC, in its own process."""
    row = ",".join(str(candle[k]) for k in ("basetm", "o", "h", "l", "c", "v"))
    subprocess.run(
        [sys.executable, "manage.py", "import_candles", "-", "--exchange", "upbit", "--market",
         "KRW", "--asset", "BTC", "--interval", "1m", "--replace"],
        input=f"basetm,o,h,l,c,v\n{row}\n".encode(),
        env=server_env(),
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip


def renders(answers) -> int:
    return sum(not from_cache(timing) for _, timing, _ in answers)


def waits(answers) -> int:
    return sum(timing.startswith("cache;desc=wait") for _, timing, _ in answers)


def test_redis_on_three_workers_renders_a_stampede_once_before_and_after_a_write(
    redis_server_url, committed_sample_candles
):
    status, _, body = request(redis_server_url, "/api/modes", None)
    assert status == 200 and orjson.loads(body)["cache"] == "redis"
    stampede(redis_server_url, SLOW.replace("limit=1440", "limit=10"))  # every worker warmed up
    cold = stampede(redis_server_url, SLOW)
    assert {status for status, _, _ in cold} == {200} and len({b for _, _, b in cold}) == 1
    assert renders(cold) == 1 and waits(cold) >= 1, [t for _, t, _ in cold]
    last = orjson.loads(cold[0][2])["data"][-1]
    changed = {**last, "c": last["o"], "v": last["v"] + 1.0}
    import_in_another_process(changed)  # as the admin's or a feed's process would
    after = stampede(redis_server_url, SLOW)
    assert renders(after) == 1 and len({b for _, _, b in after}) == 1
    assert after[0][2] != cold[0][2]
    assert orjson.loads(after[0][2])["data"][-1] == changed


def test_redis_stopped_and_restarted_under_load_fails_no_request(
    redis_server_url, redis, committed_sample_candles
):
    path = SAMPLE_PATH.format(mode="raw") + "?interval=1m&limit=1000"
    statuses: list[int] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            statuses.append(request(redis_server_url, path, None)[0])

    with ThreadPoolExecutor(3) as pool:
        for _ in range(3):
            pool.submit(load)
        time.sleep(0.5)
        redis.stop()
        time.sleep(1.5)
        redis.start()
        deadline = time.monotonic() + 20
        while not from_cache(request(redis_server_url, path, None)[1].get("server-timing", "")):
            assert time.monotonic() < deadline, "the server did not use Redis again"
            time.sleep(0.2)
        stop.set()
    assert statuses and set(statuses) == {200}, {s: statuses.count(s) for s in set(statuses)}


def test_locmem_and_conditional_on_gunicorn(committed_sample_candles, tmp_path):
    path = SAMPLE_PATH.format(mode="msgspec") + "?interval=1m&limit=1000"
    (tmp_path / "locmem").mkdir()
    with running_server(GUNICORN, tmp_path / "locmem", **env("locmem")) as base_url:
        answers = [request(base_url, path, None) for _ in range(2)]
        assert orjson.loads(http_get(base_url + "/api/modes")[2])["cache"] == "locmem"
    assert [a[0] for a in answers] == [200, 200] and answers[0][2] == answers[1][2]
    assert re.match(r"cache;desc=hit;dur=", answers[1][1]["server-timing"])
    (tmp_path / "conditional").mkdir()
    with running_server(GUNICORN, tmp_path / "conditional", **env("conditional")) as base_url:
        first = request(base_url, path, None)
        conn_headers = {"If-None-Match": first[1]["etag"]}
        status, headers, body = http_get_with(base_url + path, conn_headers)
    assert first[0] == 200 and status == 304 and body == b""
    assert headers["server-timing"].startswith("cache;desc=not-modified")


def http_get_with(url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()
