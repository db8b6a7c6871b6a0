"""Adding a mode is one view and one registry entry (README: "add your own serializer as
a mode"): a mode from a settings module is served, listed and documented like the others."""

import os
import subprocess
import sys

import orjson
import pytest
from django.conf import settings
from django.test import override_settings

from candles.tests import own_mode_settings

from .conftest import ALL_MODES, SAMPLE, reload_urlconf


@pytest.fixture
def own_mode():
    with override_settings(CANDLEBENCH_EXTRA_MODES=own_mode_settings.CANDLEBENCH_EXTRA_MODES):
        reload_urlconf()
        yield "orm-tuples"
    reload_urlconf()


def test_the_mode_is_served_with_the_same_document_and_errors(sample_candles, client, own_mode):
    url = SAMPLE.format(mode=own_mode)
    for query in ("?interval=1m&limit=1000", "?interval=5m&before=2023-08-23T12:00:00Z"):
        response = client.get(url + query)
        assert response.status_code == 200
        assert response.content == client.get(SAMPLE.format(mode="raw") + query).content
        assert list(dict(p.split(";dur=") for p in response["Server-Timing"].split(", "))) == [
            "db",
            "serialize",
            "render",
            "gc",
        ]
    assert client.get(url + "?interval=2m").status_code == 400
    assert client.get(url.replace("BTC", "DOGE") + "?interval=1m").status_code == 404
    assert client.post(url + "?interval=1m").status_code == 405


def test_the_mode_is_listed_and_documented(db, client, own_mode):
    modes = orjson.loads(client.get("/api/modes").content)["modes"]
    assert [m["name"] for m in modes] == [*ALL_MODES, own_mode]
    assert modes[-1]["validates"] is False
    paths = orjson.loads(client.get("/api/openapi.json").content)["paths"]
    assert f"/api/{own_mode}/candle/{{exchange}}/{{market}}/{{asset}}" in paths


def test_without_the_setting_it_is_gone(db, client):
    assert not getattr(settings, "CANDLEBENCH_EXTRA_MODES", None)
    assert client.get(SAMPLE.format(mode="orm-tuples") + "?interval=1m").status_code == 404
    assert "orm-tuples" not in client.get("/api/modes").content.decode()


def test_the_settings_module_routes_the_mode_in_a_fresh_process():
    code = (
        "import django; django.setup(); from django.urls import reverse; "
        "from candles.api.registry import django_modes; "
        "print(reverse('candles-orm-tuples', args=['upbit', 'KRW', 'BTC']), django_modes()[-1].name)"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "candles.tests.own_mode_settings"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["/api/orm-tuples/candle/upbit/KRW/BTC", "orm-tuples"]


def test_a_mode_name_given_twice_is_refused():
    from django.core.exceptions import ImproperlyConfigured

    from candles.api.registry import Mode, registered_modes

    twice = [Mode("raw", "a second raw", "candles.tests.own_mode.orm_tuples")]
    with (
        override_settings(CANDLEBENCH_EXTRA_MODES=twice),
        pytest.raises(ImproperlyConfigured, match="raw"),
    ):
        registered_modes()
