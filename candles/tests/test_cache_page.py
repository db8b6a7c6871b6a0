"""The `cache-page` setups: Django's cache_page as shipped (on the local-memory backend and on
Redis), with only a hit's Server-Timing its own. What the docs say of it, shown: an entry per URL
spelling, and a stale answer after a committed write, until its timeout."""

import re

import pytest
from django.test import Client

from candles.models import Candle

from .cache_support import GC_ENTRY, cache_serving, from_cache, get, timing_of
from .conftest import ALL_MODES

pytestmark = pytest.mark.django_db(transaction=True)
QUERY = "interval=1m&limit=1000"


@pytest.fixture(params=["cache-page", "cache-page-redis"])
def serving(request, committed_sample_candles):
    redis_url = request.getfixturevalue("redis_url") if request.param.endswith("redis") else None
    with cache_serving(request.param, **({"redis_url": redis_url} if redis_url else {})):
        yield request.param


@pytest.mark.parametrize("mode", ["drf", "ninja", "orjson", "raw"])
def test_a_hit_is_the_modes_bytes_with_its_own_server_timing(serving, mode):
    with cache_serving("none"):
        own = get(Client(), mode, QUERY).content
    client = Client()
    miss, hit = get(client, mode, QUERY), get(client, mode, QUERY)
    assert miss.content == hit.content == own
    assert not from_cache(timing_of(miss)) and "db;dur=" in timing_of(miss)
    assert re.fullmatch(r"cache;desc=hit;dur=\d+\.\d{3}" + GC_ENTRY, timing_of(hit)), timing_of(hit)
    assert hit["Cache-Control"] == "max-age=60"  # cache_page's own headers, as shipped


def test_it_keys_on_the_whole_url(serving):
    client = Client()
    assert not from_cache(timing_of(get(client, "raw", "interval=1m&limit=1000")))
    assert from_cache(timing_of(get(client, "raw", "interval=1m&limit=1000")))
    # The same request spelled another way is another entry (and another render).
    assert not from_cache(timing_of(get(client, "raw", "limit=1000&interval=1m")))


def test_it_serves_a_stale_answer_after_a_write(serving):
    """A committed write bumps the series' version, which cache_page never reads: the answer it
    stored is served until its timeout (the staleness the runner will count)."""
    client = Client()
    before = get(client, "raw", QUERY)
    newest = Candle.objects.filter(pair__asset="BTC", interval="1m").latest("basetm")
    Candle.objects.filter(pk=newest.pk).update(c=1.0, l=0.5)  # committed
    with cache_serving("none"):
        current = get(Client(), "raw", QUERY).content
    after = get(client, "raw", QUERY)
    assert current != before.content
    assert from_cache(timing_of(after)) and after.content == before.content  # stale


def test_errors_are_not_cached(serving):
    client = Client()
    for _ in range(2):
        assert not from_cache(timing_of(get(client, "raw", "interval=7m")))
        response = client.get("/api/raw/candle/upbit/KRW/NOPE?interval=1m")
        assert response.status_code == 404 and not from_cache(timing_of(response))


def test_every_mode_is_served_under_it(serving):
    client = Client()
    answers = {get(client, mode, QUERY).content for mode in ALL_MODES}
    assert len(answers) == 1
