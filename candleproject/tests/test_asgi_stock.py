"""candleproject.asgi_stock: stock Django under ASGI, the baseline the project's handler is
measured against. Same documents and error bodies; Django's thread per request."""

import threading

from django.core.signals import request_started

from candleproject.asgi_stock import application as stock_application

from .app_driver import asgi_request

SAMPLE = "/api/{mode}/candle/upbit/KRW/BTC"


async def test_stock_handler_answers_every_mode_as_the_projects_handler(committed_sample_candles):
    from candles.api.registry import django_modes

    for mode in (m.name for m in django_modes(diagnostics=True)):
        project = await asgi_request(SAMPLE.format(mode=mode), "interval=1m&limit=50")
        stock = await asgi_request(
            SAMPLE.format(mode=mode), "interval=1m&limit=50", application=stock_application
        )
        assert project[0] == stock[0] == 200, (mode, stock[2][:200])
        assert stock[2] == project[2], mode


async def test_stock_handler_keeps_the_projects_error_bodies(committed_sample_candles):
    for path, query, status in (
        (SAMPLE.format(mode="raw"), "interval=1m&limit=0", 400),
        (SAMPLE.format(mode="raw"), "interval=2m", 400),
        ("/api/raw/candle/upbit/KRW/NOPE", "interval=1m", 404),
        ("/api/nope", "", 404),
    ):
        project = await asgi_request(path, query)
        stock = await asgi_request(path, query, application=stock_application)
        assert project[0] == stock[0] == status and stock[2] == project[2], (path, query)
        assert stock[1]["content-type"] == "application/json"


async def test_stock_handler_runs_each_request_on_a_thread_of_its_own(committed_sample_candles):
    """What a user who changes nothing gets, and what candleproject.handlers removes."""
    threads: list[str] = []

    def record(**kwargs) -> None:
        # By name: a finished thread's ident is reused; each executor numbers its threads anew.
        threads.append(threading.current_thread().name)

    request_started.connect(record)
    try:
        for _ in range(3):
            status, _headers, _body = await asgi_request(
                SAMPLE.format(mode="raw"), "interval=1m&limit=5", application=stock_application
            )
            assert status == 200
    finally:
        request_started.disconnect(record)
    assert len(threads) == 3 and len(set(threads)) == 3
