"""CANDLEBENCH_GC in the servers that run it, started for real: each setup applied where the server
applies it (gunicorn's post_worker_init, the app's load under uvicorn and granian, bolt's API
module, the FastAPI app), said by GET /api/modes as read back from `gc`; and Server-Timing's `gc`
entry on live answers."""

import orjson
import pytest
from django.core.management import call_command

from candles.api.gc_setups import SETUP_NAMES, gc_setup
from candles.models import Exchange
from loadtest.serving.servers import SERVERS
from loadtest.stats import parse_gc_generations, parse_server_timing
from loadtest.tests.live_servers import http_get, running_server

from .test_api import SAMPLE

pytestmark = [pytest.mark.live, pytest.mark.database, pytest.mark.django_db]

DRF_1000 = SAMPLE.format(mode="drf") + "?interval=1m&limit=1000"
# Django's servers each apply it at their own place; this setup reads back as itself only when
# both the freeze and the collection between requests ran.
EVERY_DJANGO_SERVER = ["asgi", "asgi-gunicorn", "asgi-stock", "granian-wsgi", "granian-asgi"]


@pytest.fixture(scope="module")
def sample_rows(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        call_command("loaddata", "sample_candles", verbosity=0)
    try:
        yield
    finally:
        with django_db_blocker.unblock():
            Exchange.objects.all().delete()


def served_setup(base_url: str) -> dict:
    status, _, body = http_get(base_url + "/api/modes")
    assert status == 200
    return orjson.loads(body)


def gc_entries(base_url: str, path: str, count: int) -> list[str]:
    """The Server-Timing header of `count` answers to `path`."""
    headers = []
    for _ in range(count):
        status, got, _ = http_get(base_url + path)
        assert status == 200
        headers.append(got["server-timing"])
    return headers


@pytest.mark.parametrize("setup", SETUP_NAMES)
def test_gunicorn_applies_every_setup_in_post_worker_init(sample_rows, tmp_path, setup):
    with running_server(SERVERS["wsgi"].command, tmp_path, CANDLEBENCH_GC=setup) as base_url:
        document = served_setup(base_url)
        headers = gc_entries(base_url, DRF_1000, 6)
    assert document["gc"] == setup
    expected = gc_setup(setup)
    assert document["gc_state"]["frozen"] is expected.freeze
    assert document["gc_state"]["automatic"] is (expected.between is None)
    for header in headers:
        assert header.split(", ")[-1].startswith("gc;dur="), header
    gc_ms = [parse_server_timing(h)["gc"] for h in headers]
    if expected.between:  # collected after the answers, never inside one
        assert gc_ms == [0.0] * 6
    elif setup == "default":  # drf at 1000 rows allocates past 2,000 objects: young collections
        assert any(ms > 0 for ms in gc_ms) and any(parse_gc_generations(h) for h in headers)


@pytest.mark.parametrize("server", EVERY_DJANGO_SERVER)
def test_every_django_server_applies_the_setup_once_its_app_loaded(sample_rows, tmp_path, server):
    with running_server(
        SERVERS[server].command, tmp_path, CANDLEBENCH_GC="freeze-between-requests"
    ) as base_url:
        document = served_setup(base_url)
        headers = gc_entries(base_url, DRF_1000, 3)
    assert document["gc"] == "freeze-between-requests", document["gc_state"]
    assert document["gc_state"]["frozen_objects"] > 10_000
    gc_ms = [parse_server_timing(h)["gc"] for h in headers]
    if not SERVERS[server].event_loop:
        assert gc_ms == [0.0] * 3  # one request at a time: the collection ran between them
    # Under ASGI the collection after an answer runs while the next request may already be in:
    # that one's entry counts it (measured under asgi-stock: 4.5 ms once in three).


@pytest.mark.parametrize(
    "server, setup, runs",
    [
        ("bolt", "freeze-threshold-50k", "freeze-threshold-50k"),
        ("bolt", "between-requests", "default"),  # no request_finished in bolt's server
        ("fastapi", "freeze-threshold-50k", "freeze-threshold-50k"),
        ("fastapi", "between-requests", "default"),
    ],
)
def test_bolt_and_fastapi_run_the_setups_they_can(sample_rows, tmp_path, server, setup, runs):
    mode = "bolt" if server == "bolt" else "fastapi-model"
    with running_server(SERVERS[server].command, tmp_path, CANDLEBENCH_GC=setup) as base_url:
        document = served_setup(base_url)
        (header,) = gc_entries(base_url, SAMPLE.format(mode=mode) + "?interval=1m&limit=100", 1)
    assert document["gc"] == runs
    assert "gc" in parse_server_timing(header)
