"""The landing page at /: every link it shows leads somewhere that answers."""

import re

import pytest
from django.urls import reverse

from candles.api.paths import candle_url
from candles.api.registry import django_modes
from candles.models import Exchange, Pair

HREF = re.compile(r'href="([^"]+)"')


def links(html: str) -> list[str]:
    return [href.replace("&amp;", "&") for href in HREF.findall(html)]


@pytest.mark.django_db
def test_the_front_door_is_an_html_page_not_a_404(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "candlebench" in html and "make bench" in html
    assert "cdn" not in html.lower() and "<script" not in html  # nothing fetched from elsewhere


def test_every_sample_link_is_a_candle_response_for_the_stored_pair(client, sample_candles):
    html = client.get("/").content.decode()
    samples = [u for u in links(html) if u.startswith("/api/") and "/candle/" in u]
    assert samples == [
        candle_url(m.name, "upbit", "KRW", "BTC", interval="1m", limit=5) for m in django_modes()
    ]
    bodies = set()
    for url in samples:
        response = client.get(url)
        assert response.status_code == 200, url
        assert len(response.json()["data"]) == 5, url
        bodies.add(response.content)
    assert len(bodies) == 1  # the same document from every mode


@pytest.mark.django_db
def test_samples_use_the_first_stored_pair_else_the_default_one(client):
    assert candle_url("raw", "upbit", "KRW", "BTC", interval="1m", limit=5) in links(
        client.get("/").content.decode()
    )
    exchange = Exchange.objects.create(name="kraken")
    Pair.objects.create(exchange=exchange, market="EUR", asset="XBT")
    assert candle_url("raw", "kraken", "EUR", "XBT", interval="1m", limit=5) in links(
        client.get("/").content.decode()
    )


@pytest.mark.django_db
def test_the_admin_its_load_page_and_the_openapi_document_are_linked_and_answer(
    client, admin_client
):
    hrefs = links(client.get("/").content.decode())
    for name in ("admin:index", "admin:candles_load_sample_data", "openapi", "modes"):
        assert reverse(name) in hrefs, name
    assert admin_client.get(reverse("admin:candles_load_sample_data")).status_code == 200
    openapi = client.get(reverse("openapi"))
    assert openapi.status_code == 200 and openapi.json()["openapi"].startswith("3.")
