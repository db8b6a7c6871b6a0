"""The case study's FastAPI app (loadtest.reference.fastapi_app) under uvicorn, for real: the
same documents as Django's raw mode (parsed, times compared as instants), FastAPI's own 422
for bad input, the project's 404 for an unknown pair, its /api/modes and the Django floor's
bytes."""

from datetime import datetime

import orjson
import pytest

from candles.api.registry import modes_document, modes_for_kind
from loadtest.serving.servers import SERVERS
from loadtest.tests.live_servers import http_get, running_server

pytestmark = [pytest.mark.live, pytest.mark.database]

PAIR = "candle/upbit/KRW/BTC"
QUERY = "?interval=1m&limit=1000"
MODES = ("fastapi-model", "fastapi-dict", "fastapi-orjson")


def as_instants(document: bytes) -> list[dict]:
    """The document's rows with each time parsed, so Z and +00:00 compare equal."""
    rows = orjson.loads(document)["data"]
    return [{**row, "basetm": datetime.fromisoformat(row["basetm"])} for row in rows]


@pytest.fixture(scope="module")
def fastapi_server(django_db_setup, tmp_path_factory):
    with running_server(
        SERVERS["fastapi"].command, tmp_path_factory.mktemp("fastapi"), CANDLEBENCH_GC="default"
    ) as base_url:
        yield base_url


def test_documents_equal_djangos_raw_as_instants(fastapi_server, committed_sample_candles, client):
    raw = client.get(f"/api/raw/{PAIR}", {"interval": "1m", "limit": "1000"}).content
    expected = as_instants(raw)
    assert len(expected) == 1000
    spellings = {}
    for mode in MODES:
        status, headers, body = http_get(f"{fastapi_server}/api/{mode}/{PAIR}{QUERY}")
        assert status == 200, (mode, body[:300])
        assert as_instants(body) == expected, mode
        assert headers["content-type"] == "application/json"
        assert [part.split(";")[0] for part in headers["server-timing"].split(", ")] == [
            "db",
            "serialize",
            "render",
            "gc",
        ]
        spellings[mode] = orjson.loads(body)["data"][0]["basetm"][19:]
    # Pydantic writes UTC as Z, like the project; orjson without OPT_UTC_Z writes +00:00.
    assert spellings == {"fastapi-model": "Z", "fastapi-dict": "Z", "fastapi-orjson": "+00:00"}


def test_floor_answers_the_django_floors_bytes(fastapi_server, committed_sample_candles, client):
    # A limit no other test asks for, so that the first request computes the answer.
    expected = client.get(f"/api/floor/{PAIR}", {"interval": "1m", "limit": "999"}).content
    for phases in (["db", "render", "gc"], ["render", "gc"]):  # computed, then from memory
        status, headers, body = http_get(f"{fastapi_server}/api/floor/{PAIR}?interval=1m&limit=999")
        assert (status, body) == (200, expected)
        assert [part.split(";")[0] for part in headers["server-timing"].split(", ")] == phases


def test_bad_parameters_get_fastapis_own_422(fastapi_server):
    for query, field in (
        ("?interval=1m&limit=1441", "limit"),
        ("?interval=2m", "interval"),
        ("", "interval"),
    ):
        status, headers, body = http_get(f"{fastapi_server}/api/fastapi-model/{PAIR}{query}")
        assert status == 422, query
        assert [error["loc"] for error in orjson.loads(body)["detail"]] == [["query", field]]
        assert "server-timing" not in headers


def test_unknown_pair_is_the_projects_404(fastapi_server, committed_sample_candles, client):
    """Only once the parameters are valid, from every candle route."""
    expected = client.get("/api/raw/candle/upbit/KRW/NOPE", {"interval": "1m"}).content
    for mode in (*MODES, "floor"):
        for pair in (
            "upbit/KRW/NOPE",
            "upbit/KRW/no%20such",
        ):  # unknown, and a name no pair can have
            status, _headers, body = http_get(
                f"{fastapi_server}/api/{mode}/candle/{pair}?interval=1m"
            )
            assert (status, body) == (404, expected), (mode, pair)


def test_modes_lists_the_reference_modes_and_the_floor(fastapi_server, db):
    status, _headers, body = http_get(f"{fastapi_server}/api/modes")
    document = orjson.loads(body)
    assert document.pop("cache") == "none"  # the reference app runs no cache setup
    assert document.pop("gc") == "default" and document.pop("gc_state")["automatic"]
    assert status == 200 and document == modes_document(
        modes_for_kind(SERVERS["fastapi"].app_kind, diagnostics=True)
    )
    assert [m["name"] for m in document["modes"]] == list(MODES)
    assert [m["name"] for m in document["diagnostics"]] == ["floor"]
