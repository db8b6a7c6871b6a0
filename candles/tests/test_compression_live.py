"""Compression against live servers: gunicorn under CANDLEBENCH_COMPRESSION=zstd-1 (the issue's
done-when check, odd and hostile Accept-Encoding values, HEAD) and django-gzip, and runbolt
under bolt-native, each answering what negotiation says with the plain document inside."""

import http.client
from collections.abc import Iterator
from functools import partial
from urllib.parse import urlsplit

import orjson
import pytest
from django.core.management import call_command

from candles.api.compression import choose_codec, compression_setup, decoded
from candles.models import Exchange
from loadtest.serving.servers import PROJECT_WSGI_APP, bolt_command, gunicorn_command
from loadtest.tests.live_servers import running_server

from .test_api import SAMPLE
from .test_compression import ODD_ACCEPT_ENCODINGS

pytestmark = [pytest.mark.live, pytest.mark.database, pytest.mark.django_db]

PATH = SAMPLE.format(mode="raw") + "?interval=1m&limit=1000"
GUNICORN = partial(gunicorn_command, app=PROJECT_WSGI_APP, worker_class="sync")


def request(
    base_url: str, path: str, accept_encoding: str | None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    """One request with exactly this Accept-Encoding (None: no such header at all)."""
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(base_url).port, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        if accept_encoding is not None:
            conn.putheader("Accept-Encoding", accept_encoding)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def sample_rows(django_db_setup, django_db_blocker) -> Iterator[None]:
    with django_db_blocker.unblock():
        call_command("loaddata", "sample_candles", verbosity=0)
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            Exchange.objects.all().delete()


@pytest.fixture(scope="module")
def plain(sample_rows, tmp_path_factory) -> bytes:
    """The document as gunicorn serves it without compression."""
    with running_server(GUNICORN, tmp_path_factory.mktemp("none")) as base_url:
        status, headers, body = request(base_url, PATH, "zstd")
    assert status == 200 and "content-encoding" not in headers
    return body


@pytest.fixture(scope="module")
def zstd_server(sample_rows, tmp_path_factory) -> Iterator[str]:
    with running_server(
        GUNICORN, tmp_path_factory.mktemp("zstd"), CANDLEBENCH_COMPRESSION="zstd-1"
    ) as base_url:
        yield base_url


def test_zstd_1_answers_zstd_to_a_client_that_accepts_it_and_plain_to_one_that_does_not(
    zstd_server, plain
):
    status, headers, body = request(zstd_server, PATH, "gzip, deflate, br, zstd")
    assert status == 200 and headers["content-encoding"] == "zstd"
    assert headers["vary"] == "Accept-Encoding" and int(headers["content-length"]) == len(body)
    assert "compress;dur=" in headers["server-timing"]
    assert decoded(body, "zstd") == plain
    for accept in (None, "identity", "gzip, deflate, br"):
        status, headers, body = request(zstd_server, PATH, accept)
        assert status == 200 and body == plain and "content-encoding" not in headers, accept
        assert headers["vary"] == "Accept-Encoding", accept
    status, _, body = request(zstd_server, "/api/modes", None)
    assert orjson.loads(body)["compression"] == "zstd-1"


@pytest.mark.parametrize("accept", ODD_ACCEPT_ENCODINGS)
def test_odd_and_hostile_values_get_a_correct_answer(zstd_server, plain, accept):
    status, headers, body = request(zstd_server, PATH, accept)
    assert status == 200, body[:200]
    expected = choose_codec(compression_setup("zstd-1").codecs, accept)
    assert headers.get("content-encoding") == (expected.token if expected else None)
    assert decoded(body, headers.get("content-encoding")) == plain


def test_a_header_over_the_servers_limit_is_refused_by_gunicorn_not_a_500(zstd_server):
    status, _, _ = request(zstd_server, PATH, "gzip, " * 2000)
    assert status == 431  # Request Header Fields Too Large, before Django sees it


def test_head_carries_the_headers_of_get(zstd_server):
    for accept in ("zstd", None):
        _, got, _ = request(zstd_server, PATH, accept)
        status, head, body = request(zstd_server, PATH, accept, method="HEAD")
        assert status == 200 and body == b""
        for name in ("content-encoding", "content-length", "vary", "content-type"):
            assert head.get(name) == got.get(name), (accept, name)


def test_errors_stay_uncompressed(zstd_server):
    status, headers, body = request(
        zstd_server, "/api/raw/candle/upbit/KRW/NOPE?interval=1m", "zstd"
    )
    assert status == 404 and "content-encoding" not in headers
    assert orjson.loads(body)["error"] == "not_found"


def test_django_gzip_on_gunicorn_pads_its_gzip_at_random(sample_rows, plain, tmp_path):
    with running_server(GUNICORN, tmp_path, CANDLEBENCH_COMPRESSION="django-gzip") as base_url:
        answers = [request(base_url, PATH, "gzip") for _ in range(8)]
        modes = orjson.loads(request(base_url, "/api/modes", None)[2])
    assert modes["compression"] == "django-gzip"
    for status, headers, body in answers:
        assert status == 200 and headers["content-encoding"] == "gzip"
        assert decoded(body, "gzip") == plain
    sizes = {len(body) for _, _, body in answers}
    assert max(sizes) - min(sizes) <= compression_setup("django-gzip").size_slack


def test_bolt_native_is_bolts_own_brotli(sample_rows, plain, tmp_path):
    with running_server(bolt_command, tmp_path, CANDLEBENCH_COMPRESSION="bolt-native") as base:
        bolt_path = PATH.replace("/api/raw/", "/api/bolt-raw/")
        status, headers, body = request(base, bolt_path, "br")
        modes = orjson.loads(request(base, "/api/modes", None)[2])
        identity = request(base, bolt_path, None)
    assert modes["compression"] == "bolt-native"
    assert status == 200 and headers["content-encoding"] == "br"
    assert decoded(body, "br") == plain
    assert identity[0] == 200 and identity[2] == plain
