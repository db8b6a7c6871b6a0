"""Compression where a deployment runs it: CANDLEBENCH_COMPRESSION's middleware first in the
API's chain and in the stock chain, through the project's real WSGI and ASGI applications and
stock Django's ASGIHandler (the live gunicorn tests: candles/tests/test_compression_live.py)."""

from collections.abc import Iterator
from contextlib import contextmanager

import orjson
import pytest
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.test import override_settings

from candles.api import compression
from candles.api.compression import (
    AUTO_CODECS,
    SETUPS,
    choose_codec,
    compression_middleware,
    decoded,
)
from candles.api.registry import django_modes
from candles.tests.test_compression import ODD_ACCEPT_ENCODINGS

from .app_driver import asgi_request, wsgi_request

SAMPLE = "/api/{mode}/candle/upbit/KRW/BTC"
QUERY = "interval=1m&limit=1000"
EVERY_COMPRESSION_MIDDLEWARE = {m for s in SETUPS for m in compression_middleware(s.name)}
# The unit tests' odd values, and one far over any server's header limit (in-process only).
HOSTILE = [*ODD_ACCEPT_ENCODINGS, "gzip, " * 2000]


@contextmanager
def serving(setup: str) -> Iterator[tuple]:
    """The project's WSGI and ASGI applications and stock Django's ASGI handler, built with the
    chains that CANDLEBENCH_COMPRESSION=`setup` gives."""
    from candleproject.handlers import SplitASGIApplication, SplitWSGIApplication

    first = [settings.GC_TIMING_MIDDLEWARE, *compression_middleware(setup)]

    def chain(middleware: list[str]) -> list[str]:
        return [
            *first,
            *(m for m in middleware if m not in {*EVERY_COMPRESSION_MIDDLEWARE, *first}),
        ]

    with override_settings(
        CANDLEBENCH_COMPRESSION=setup,
        MIDDLEWARE=chain(settings.MIDDLEWARE),
        API_MIDDLEWARE=chain(settings.API_MIDDLEWARE),
    ):
        yield SplitWSGIApplication(), SplitASGIApplication(), ASGIHandler()


def plain_document(mode: str = "raw", query: str = QUERY) -> bytes:
    with serving("none") as (wsgi, _, _):
        status, headers, body = wsgi_request(SAMPLE.format(mode=mode), query, application=wsgi)
    assert status == 200 and "Content-Encoding" not in headers
    return body


def lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


@pytest.mark.django_db(transaction=True)
def test_zstd_1_compresses_every_mode_for_a_client_that_accepts_zstd(committed_sample_candles):
    document = plain_document()
    with serving("zstd-1") as (wsgi, _, _):
        for mode in (m.name for m in django_modes(diagnostics=True)):
            path = SAMPLE.format(mode=mode)
            status, headers, body = wsgi_request(
                path,
                QUERY,
                headers={"Accept-Encoding": "gzip, deflate, br, zstd"},
                application=wsgi,
            )
            headers = lower(headers)
            assert status == 200, (mode, body[:200])
            assert headers["content-encoding"] == "zstd", mode
            assert headers["vary"] == "Accept-Encoding" and headers["content-length"] == str(
                len(body)
            )
            assert "compress;dur=" in headers["server-timing"], mode
            # The collector's time covers the compression too: its entry comes after.
            assert headers["server-timing"].split(", ")[-1].startswith("gc;dur="), mode
            assert len(body) < len(document) * 0.35 and decoded(body, "zstd") == document, mode
            # A client that does not accept zstd gets the plain document.
            status, headers, body = wsgi_request(
                path, QUERY, headers={"Accept-Encoding": "gzip, br"}, application=wsgi
            )
            assert status == 200 and body == document, mode
            assert "content-encoding" not in lower(headers) and lower(headers)["vary"] == (
                "Accept-Encoding"
            )


@pytest.mark.django_db(transaction=True)
def test_head_answers_carry_the_same_headers_as_get(committed_sample_candles):
    with serving("zstd-1") as (wsgi, _, _):
        for accept in ("zstd", "identity"):
            got = lower(
                wsgi_request(
                    SAMPLE.format(mode="raw"),
                    QUERY,
                    headers={"Accept-Encoding": accept},
                    application=wsgi,
                )[1]
            )
            head = lower(
                wsgi_request(
                    SAMPLE.format(mode="raw"),
                    QUERY,
                    method="HEAD",
                    headers={"Accept-Encoding": accept},
                    application=wsgi,
                )[1]
            )
            assert got.keys() == head.keys(), accept
            for name in ("content-encoding", "content-length", "vary", "content-type"):
                assert got.get(name) == head.get(name), (accept, name)


@pytest.mark.django_db(transaction=True)
def test_error_answers_stay_uncompressed_json(committed_sample_candles):
    with serving("zstd-1") as (wsgi, _, _):
        for path, query, status in (
            (SAMPLE.format(mode="raw"), "interval=1m&limit=0", 400),
            ("/api/raw/candle/upbit/KRW/NOPE", "interval=1m", 404),
            ("/api/nope", "", 404),
        ):
            got, headers, body = wsgi_request(
                path, query, headers={"Accept-Encoding": "zstd"}, application=wsgi
            )
            assert got == status and orjson.loads(body)["error"], (path, query)
            assert "content-encoding" not in lower(headers)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("accept", HOSTILE)
def test_odd_and_hostile_accept_encoding_values_get_a_correct_answer(
    committed_sample_candles, accept
):
    document = plain_document()
    with serving("auto") as (wsgi, _, _):
        status, headers, body = wsgi_request(
            SAMPLE.format(mode="raw"), QUERY, headers={"Accept-Encoding": accept}, application=wsgi
        )
    headers = lower(headers)
    assert status == 200
    expected = choose_codec(AUTO_CODECS, accept)
    assert headers.get("content-encoding") == (expected.token if expected else None)
    assert decoded(body, headers.get("content-encoding")) == document


@pytest.mark.django_db(transaction=True)
def test_a_failing_codec_in_the_chain_still_answers_the_document(
    committed_sample_candles, monkeypatch
):
    document = plain_document()

    def broken(body: bytes, level: int = 0) -> bytes:
        raise RuntimeError("codec failure")

    monkeypatch.setattr(compression.ZSTD, "compress", broken)
    with serving("zstd-1") as (wsgi, _, _):
        status, headers, body = wsgi_request(
            SAMPLE.format(mode="raw"), QUERY, headers={"Accept-Encoding": "zstd"}, application=wsgi
        )
    assert status == 200 and body == document and "content-encoding" not in lower(headers)


@pytest.mark.django_db(transaction=True)
async def test_asgi_and_stock_asgi_compress_the_same_document(committed_sample_candles):
    from asgiref.sync import sync_to_async

    document = await sync_to_async(plain_document)()
    for setup, coding in (
        ("zstd-1", "zstd"),
        ("br-1", "br"),
        ("gzip-1", "gzip"),
        ("django-gzip", "gzip"),
    ):
        with serving(setup) as (_, project, stock):
            for application in (project, stock):
                status, headers, body = await asgi_request(
                    SAMPLE.format(mode="raw"),
                    QUERY,
                    application=application,
                    headers={"Accept-Encoding": coding},
                )
                assert status == 200 and headers["content-encoding"] == coding, setup
                assert "accept-encoding" in headers["vary"].lower(), setup
                assert decoded(body, coding) == document, setup


@pytest.mark.django_db(transaction=True)
def test_django_gzip_is_djangos_middleware_as_shipped(committed_sample_candles):
    """Django's GZipMiddleware ignores q-values (measured as shipped, not held to RFC 9110)."""
    document = plain_document()
    with serving("django-gzip") as (wsgi, _, _):
        for accept in ("gzip", "gzip;q=0"):
            status, headers, body = wsgi_request(
                SAMPLE.format(mode="raw"),
                QUERY,
                headers={"Accept-Encoding": accept},
                application=wsgi,
            )
            assert status == 200 and lower(headers)["content-encoding"] == "gzip"
            assert decoded(body, "gzip") == document
        status, headers, body = wsgi_request(
            SAMPLE.format(mode="raw"), QUERY, headers={"Accept-Encoding": "zstd"}, application=wsgi
        )
        assert body == document and "content-encoding" not in lower(headers)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("setup", ["none", "django-gzip", "zstd-1", "auto", "bolt-native"])
def test_api_modes_says_which_setup_the_server_runs(committed_sample_candles, setup):
    with serving(setup) as (wsgi, _, _):
        status, _, body = wsgi_request("/api/modes", application=wsgi)
    # bolt-native is bolt's own server's: a Django server under it compresses nothing.
    assert status == 200 and orjson.loads(body)["compression"] == (
        "none" if setup == "bolt-native" else setup
    )


def test_the_admin_is_left_alone_by_the_projects_compression(admin_client):
    with serving("zstd-1"):
        response = admin_client.get("/admin/", HTTP_ACCEPT_ENCODING="zstd")
    assert response.status_code == 200 and not response.has_header("Content-Encoding")
