"""The site's front door: what `make run` answers at / (the API and the admin live below it)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from candles.api.paths import candle_url
from candles.api.registry import django_modes
from candles.models import Pair
from candles.random_walk import DEFAULT_PAIRS

SAMPLE_INTERVAL = "1m"
SAMPLE_LIMIT = 5


def sample_pair() -> tuple[str, str, str]:
    """The first stored pair (the one the sample links can answer), else seed_candles' first."""
    pair = Pair.objects.select_related("exchange").order_by("pk").first()
    if pair is None:
        return DEFAULT_PAIRS[0]
    return pair.exchange.name, pair.market, pair.asset


def home(request: HttpRequest) -> HttpResponse:
    """A landing page: the modes with a sample request each, the admin, the OpenAPI document,
    and how to run the benchmark."""
    exchange, market, asset = sample_pair()
    modes = [
        {
            "name": m.name,
            "description": m.description,
            "validates": m.validates,
            "url": candle_url(
                m.name, exchange, market, asset, interval=SAMPLE_INTERVAL, limit=SAMPLE_LIMIT
            ),
        }
        for m in django_modes()
    ]
    return render(
        request,
        "home.html",
        {
            "pair": f"{exchange}/{market}/{asset}",
            "interval": SAMPLE_INTERVAL,
            "limit": SAMPLE_LIMIT,
            "modes": modes,
            "admin_url": reverse("admin:index"),
            "load_sample_data_url": reverse("admin:candles_load_sample_data"),
            "openapi_url": reverse("openapi"),
            "modes_url": reverse("modes"),
        },
    )
