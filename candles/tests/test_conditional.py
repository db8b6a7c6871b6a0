"""The `conditional` setup: validators from the series' version, and a 304 answered before any
candle is read or serialized (If-None-Match, If-Modified-Since), in every mode."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils.http import http_date

from candleproject.tests.app_driver import wsgi_request
from candleproject.tests.test_compression_chain import serving as compression_serving
from candles.api.compression import decoded
from candles.models import Candle, Exchange, Pair, SeriesVersion

from .cache_support import GC_ENTRY, SAMPLE_PATH, cache_serving, from_cache, get, timing_of
from .conftest import ALL_MODES

QUERY = "interval=1m&limit=1000"
NOT_MODIFIED = re.compile(r"^cache;desc=not-modified;dur=\d+\.\d{3}" + GC_ENTRY + "$")


@pytest.fixture
def conditional(db, django_capture_on_commit_callbacks):
    """The sample candles, their versions bumped as a commit would, served under `conditional`."""
    with django_capture_on_commit_callbacks(execute=True):
        call_command("loaddata", "sample_candles", verbosity=0)
    with cache_serving("conditional"):
        yield


def candle_queries(queries) -> list[str]:
    return [q["sql"] for q in queries if "candles_candle" in q["sql"]]


@pytest.mark.parametrize("mode", ALL_MODES)
def test_a_client_holding_the_document_gets_a_304_without_a_candle_query(conditional, mode):
    client = Client()
    with CaptureQueriesContext(connection) as full:
        first = get(client, mode, QUERY)
    assert first.status_code == 200 and candle_queries(full.captured_queries)
    etag, modified = first["ETag"], first["Last-Modified"]
    assert re.fullmatch(r'W/"[0-9a-f]{24}"', etag) and first["Cache-Control"] == "no-cache"
    assert not from_cache(timing_of(first))
    for validator in ({"If-None-Match": etag}, {"If-Modified-Since": modified}):
        with CaptureQueriesContext(connection) as revalidated:
            again = get(client, mode, QUERY, **validator)
        assert again.status_code == 304 and again.content == b"", validator
        assert len(revalidated.captured_queries) == 1  # the version row, by the pair's names
        assert not candle_queries(revalidated.captured_queries)
        assert again["ETag"] == etag and again["Last-Modified"] == modified
        assert NOT_MODIFIED.match(timing_of(again)), timing_of(again)


def test_every_mode_gives_one_document_one_etag_and_another_document_another(conditional):
    client = Client()
    tags = {get(client, mode, QUERY)["ETag"] for mode in ALL_MODES}
    assert len(tags) == 1
    others = {
        get(client, "raw", q)["ETag"]
        for q in ("interval=1m&limit=999", "interval=5m&limit=1000", f"{QUERY}&before=2023-08-24")
    }
    assert len(others | tags) == 4
    assert get(client, "raw", "limit=1000&interval=1m")["ETag"] in tags  # normalized


def test_validators_that_do_not_match_get_the_document(conditional):
    client = Client()
    first = get(client, "raw", QUERY)
    modified = datetime.strptime(first["Last-Modified"], "%a, %d %b %Y %H:%M:%S GMT").replace(
        tzinfo=UTC
    )
    earlier = http_date((modified - timedelta(seconds=1)).timestamp())
    later = http_date((modified + timedelta(seconds=1)).timestamp())
    for validator, status in (
        ({"If-None-Match": 'W/"0123456789abcdef01234567"'}, 200),
        ({"If-None-Match": first["ETag"].removeprefix("W/")}, 304),  # weak comparison
        ({"If-None-Match": f'"x", {first["ETag"]}'}, 304),
        ({"If-None-Match": "*"}, 304),
        ({"If-Modified-Since": earlier}, 200),
        ({"If-Modified-Since": later}, 304),
        ({"If-Modified-Since": "not a date"}, 200),
        # If-None-Match decides when both are sent (RFC 9110 §13.2.2).
        ({"If-None-Match": 'W/"other"', "If-Modified-Since": later}, 200),
    ):
        answer = get(client, "raw", QUERY, **validator)
        assert answer.status_code == status, validator
        if status == 200:
            assert answer.content == first.content and not from_cache(timing_of(answer))


def test_a_write_changes_both_validators(conditional, django_capture_on_commit_callbacks):
    client = Client()
    first = get(client, "raw", QUERY)
    with django_capture_on_commit_callbacks(execute=True):
        Candle.objects.filter(pk=Candle.objects.filter(interval="1m").latest("basetm").pk).update(
            c=1.0, l=0.5
        )
    answer = get(client, "raw", QUERY, **{"If-None-Match": first["ETag"]})
    assert answer.status_code == 200 and answer["ETag"] != first["ETag"]
    assert answer.content != first.content


def test_two_changes_within_one_second_make_if_modified_since_at_that_second_ambiguous(
    conditional,
):
    """A client that saw the first of two changes in one second holds the same Last-Modified as
    one that saw the second: at that second only If-None-Match can say, so it gets a 200."""
    row = SeriesVersion.objects.get(pair__asset="BTC", pair__market="KRW", interval="1m")
    second = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    at_that_second = {"If-Modified-Since": http_date(second.timestamp())}
    row.changed_at, row.previous_changed_at = second.replace(microsecond=900_000), second
    row.save()
    assert get(Client(), "raw", QUERY, **at_that_second).status_code == 200
    row.previous_changed_at = second - timedelta(microseconds=1)  # the second before
    row.save()
    assert get(Client(), "raw", QUERY, **at_that_second).status_code == 304


def test_head_and_errors(conditional):
    client = Client()
    etag = get(client, "raw", QUERY)["ETag"]
    head = client.head(f"{SAMPLE_PATH.format(mode='raw')}?{QUERY}", headers={"If-None-Match": etag})
    assert head.status_code == 304
    for response in (
        get(client, "raw", "interval=7m", **{"If-None-Match": "*"}),
        client.get("/api/raw/candle/upbit/KRW/NOPE?interval=1m", headers={"If-None-Match": "*"}),
        client.post(f"{SAMPLE_PATH.format(mode='raw')}?{QUERY}", headers={"If-None-Match": "*"}),
    ):
        assert response.status_code in (400, 404, 405) and "ETag" not in response


def test_a_series_no_write_has_touched_has_an_etag_and_no_last_modified(db):
    Pair.objects.create(exchange=Exchange.objects.create(name="empty"), market="KRW", asset="BTC")
    with cache_serving("conditional"):
        client = Client()
        first = client.get("/api/raw/candle/empty/KRW/BTC?interval=1m")
        assert first.status_code == 200 and first.content == b'{"data":[]}'
        assert "ETag" in first and "Last-Modified" not in first
        again = client.get(
            "/api/raw/candle/empty/KRW/BTC?interval=1m", headers={"If-None-Match": first["ETag"]}
        )
        assert again.status_code == 304


@pytest.mark.django_db(transaction=True)
def test_compressed_and_plain_answers_share_the_weak_etag(committed_sample_candles):
    with compression_serving("zstd-1") as (wsgi, _asgi, _stock), cache_serving("conditional"):
        path = SAMPLE_PATH.format(mode="raw")
        zstd = {"Accept-Encoding": "zstd"}
        status, headers, body = wsgi_request(path, QUERY, headers=zstd, application=wsgi)
        assert status == 200 and headers["Content-Encoding"] == "zstd"
        _, plain_headers, plain = wsgi_request(path, QUERY, application=wsgi)
        assert decoded(body, "zstd") == plain and headers["ETag"] == plain_headers["ETag"]
        status, not_modified, body = wsgi_request(
            path, QUERY, headers={**zstd, "If-None-Match": headers["ETag"]}, application=wsgi
        )
    assert status == 304 and body == b""
    assert not_modified["ETag"] == headers["ETag"] and not_modified["Vary"] == "Accept-Encoding"
