"""The project's ASGI application, driven directly: same answers, one long-lived sync thread."""
import asyncio
import threading

import orjson
from django.core.signals import request_started

from candleproject.asgi import application
from candles.api.modes import MODES


async def asgi_get(path: str, query: str) -> tuple[int, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict] = []
    body_sent = False
    never = asyncio.Event()

    async def receive() -> dict:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await never.wait()  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await application(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def test_asgi_application_serves_every_mode_identically(committed_sample_candles):
    bodies = {}
    for mode in MODES:
        status, body = await asgi_get(f"/api/{mode}/candle/upbit/KRW/BTC", "interval=1m&limit=50")
        assert status == 200, (mode, body[:200])
        bodies[mode] = body
    assert len(set(bodies.values())) == 1
    assert len(orjson.loads(bodies["raw"])["data"]) == 50


async def test_sync_code_runs_on_one_long_lived_thread_not_one_per_request(committed_sample_candles):
    threads: list[int] = []

    def record(**kwargs) -> None:
        threads.append(threading.get_ident())

    request_started.connect(record)
    try:
        for _ in range(3):
            status, _body = await asgi_get("/api/raw/candle/upbit/KRW/BTC", "interval=1m&limit=5")
            assert status == 200
    finally:
        request_started.disconnect(record)
    assert len(threads) == 3 and len(set(threads)) == 1
    assert threads[0] != threading.get_ident()  # off the event loop's thread
