"""The project's own WSGI and ASGI applications: the API's chain and the admin's chain."""

import threading

import orjson
import pytest
from django.core.signals import request_started

from candles.tests.conftest import ALL_MODES as MODES

from .app_driver import asgi_request, wsgi_request

SECURITY_HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY"}


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


async def test_both_applications_serve_every_mode_identically(committed_sample_candles):
    from asgiref.sync import sync_to_async

    bodies = set()
    for mode in MODES:
        path = f"/api/{mode}/candle/upbit/KRW/BTC"
        status, headers, body = await asgi_request(path, "interval=1m&limit=50")
        assert status == 200, (mode, body[:200])
        wsgi_status, wsgi_headers, wsgi_body = await sync_to_async(wsgi_request)(
            path, "interval=1m&limit=50"
        )
        assert wsgi_status == 200 and wsgi_body == body, mode
        for h in (headers, lower(wsgi_headers)):
            assert SECURITY_HEADERS.items() <= h.items(), (mode, h)
            assert "set-cookie" not in h and "Cookie" not in h.get("vary", ""), (mode, h)
        bodies.add(body)
    assert len(bodies) == 1
    assert len(orjson.loads(bodies.pop())["data"]) == 50


async def test_sync_code_runs_on_one_long_lived_thread_not_one_per_request(
    committed_sample_candles,
):
    """Thread objects, not threading.get_ident(): a finished thread's id is reused by the next
    one, so Django's per-request threads (test_asgi_stock.py) could all show one id."""
    threads: list[threading.Thread] = []

    def record(**kwargs) -> None:
        threads.append(threading.current_thread())

    request_started.connect(record)
    try:
        for _ in range(3):
            status, _headers, _body = await asgi_request(
                "/api/raw/candle/upbit/KRW/BTC", "interval=1m&limit=5"
            )
            assert status == 200
    finally:
        request_started.disconnect(record)
    assert len(threads) == 3
    assert all(t.is_alive() for t in threads)  # per-request threads are joined when it ends
    assert len(set(threads)) == 1
    assert threading.current_thread() not in threads  # off the event loop's thread


@pytest.mark.django_db(transaction=True)
def test_the_api_chain_keeps_the_host_check_and_the_admin_keeps_csrf():
    assert wsgi_request("/api/modes")[0] == 200
    status, headers, _ = wsgi_request("/api/modes", host="evil.example")
    assert status == 400 and lower(headers)["content-type"] == "application/json"
    # The admin's chain: a login form with a CSRF cookie, and a POST without a token refused.
    status, headers, _body = wsgi_request("/admin/login/")
    assert status == 200 and "csrftoken" in lower(headers).get("set-cookie", "")
    status, _headers, _body = wsgi_request("/admin/login/", method="POST")
    assert status == 403


@pytest.mark.django_db(transaction=True)
async def test_the_asgi_api_chain_keeps_the_host_check():
    assert (await asgi_request("/api/modes"))[0] == 200
    status, headers, _body = await asgi_request("/api/modes", host="evil.example")
    assert status == 400 and headers["content-type"] == "application/json"


def test_django_bolt_stays_out_of_the_other_servers():
    """Importing django_bolt replaces asgiref's single thread-sensitive thread with bolt's ORM
    pool; only runbolt's own settings install it."""
    import subprocess
    import sys

    from django.conf import settings

    assert "django_bolt" not in settings.INSTALLED_APPS
    probe = (
        "import django, sys; django.setup(); import candleproject.asgi, candleproject.wsgi; "
        "print('django_bolt' in sys.modules)"
    )
    env = {"DJANGO_SETTINGS_MODULE": "candleproject.settings", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "False"
