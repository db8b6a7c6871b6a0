"""The endpoint, through every mode: same document, same errors, never HTML."""

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.db import connection, connections
from django.test import AsyncClient, Client
from django.test.utils import CaptureQueriesContext

from candles.api.gc_setups import SETUP_NAMES as GC_SETUP_NAMES
from candles.api.paths import path_template
from candles.api.registry import ServerKind, django_modes, modes_document, modes_for_kind
from candles.models import Candle, Pair
from loadtest.stats import parse_server_timing

from .conftest import ALL_MODES, SAMPLE, SCHEMA_MODES


def get_all(client: Client, query: str, path: str = SAMPLE) -> dict[str, object]:
    return {mode: client.get(path.format(mode=mode) + query) for mode in ALL_MODES}


def expected_document(interval: str, limit: int, before: datetime | None) -> dict:
    pair = Pair.objects.get(exchange__name="upbit", market="KRW", asset="BTC")
    qs = Candle.objects.filter(pair=pair, interval=interval)
    if before is not None:
        qs = qs.filter(basetm__lt=before)
    rows = list(qs.order_by("-basetm")[:limit])[::-1]
    return {
        "data": [
            {
                "basetm": row.basetm.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "o": row.o,
                "h": row.h,
                "l": row.l,
                "c": row.c,
                "v": row.v,
            }
            for row in rows
        ]
    }


CASES = [
    ("1m", 1, None),
    ("1m", 100, None),
    ("1m", 1440, None),
    ("1m", 100, "2023-08-24T00:00:00Z"),
    ("1m", 1440, "2023-08-24T01:00:00+00:00"),
    ("5m", 100, "2023-08-23T12:00:00"),
]


@pytest.mark.parametrize("interval,limit,before", CASES)
def test_every_mode_answers_the_same_document(sample_candles, client, interval, limit, before):
    query = f"?interval={interval}&limit={limit}" + (f"&before={before}" if before else "")
    responses = get_all(client, query.replace("+", "%2B"))
    before_dt = (
        datetime.fromisoformat(before.replace("Z", "+00:00")).replace(tzinfo=UTC)
        if before
        else None
    )
    expected = expected_document(interval, limit, before_dt)
    assert expected["data"], "the fixture must cover every case"
    bodies = {mode: r.content for mode, r in responses.items()}
    for mode, response in responses.items():
        assert response.status_code == 200, (mode, response.content[:200])
        assert response["Content-Type"] == "application/json", mode
        assert orjson.loads(response.content) == expected, mode
        # Same keys in the same order and the same number formatting: the same bytes.
        assert bodies[mode] == bodies["raw"], mode
    times = [row["basetm"] for row in expected["data"]]
    assert times == sorted(times) and len(set(times)) == len(times)
    if limit == 1440 and before is None:
        assert len(times) == 1440
    if before_dt is not None:
        step = {"1m": 1, "5m": 5}[interval]
        assert times[-1] == (before_dt - timedelta(minutes=step)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_values_modes_build_no_model_instance(sample_candles, client, monkeypatch):
    """What the decomposition claims: the `.values()` modes differ from their neighbours by
    the model instances the ORM no longer builds."""

    def hydrated(*args, **kwargs):
        raise AssertionError("a model instance was built")

    monkeypatch.setattr(Candle, "from_db", classmethod(hydrated))
    client.raise_request_exception = False
    for mode in ("drf-values", "ninja-values", "ninja-basemodel", "pydantic"):
        response = client.get(SAMPLE.format(mode=mode) + "?interval=1m&limit=10")
        assert response.status_code == 200, mode
    for mode in ("drf-orjson", "ninja-orjson"):
        response = client.get(SAMPLE.format(mode=mode) + "?interval=1m&limit=10")
        assert response.status_code == 500, mode


def test_latest_candles_are_the_newest_oldest_first(sample_candles, client):
    newest = Candle.objects.filter(pair__asset="BTC", pair__market="KRW", interval="1m").latest(
        "basetm"
    )
    data = orjson.loads(client.get(SAMPLE.format(mode="raw") + "?interval=1m&limit=3").content)[
        "data"
    ]
    assert data[-1]["basetm"] == newest.basetm.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [row["basetm"] for row in data] == sorted(row["basetm"] for row in data)


async def test_every_mode_answers_the_same_document_through_the_async_client(
    committed_sample_candles,
):
    # The project's own ASGI application is driven in candleproject/tests/test_asgi.py.
    client = AsyncClient()
    bodies = {}
    for mode in ALL_MODES:
        response = await client.get(SAMPLE.format(mode=mode) + "?interval=1m&limit=100")
        assert response.status_code == 200, mode
        bodies[mode] = response.content
    assert len(set(bodies.values())) == 1
    assert len(orjson.loads(bodies["raw"])["data"]) == 100


def test_limit_defaults_to_100(sample_candles, client):
    for mode, response in get_all(client, "?interval=1m").items():
        assert len(orjson.loads(response.content)["data"]) == 100, mode


def test_known_pair_without_candles_is_an_empty_list_not_404(empty_pair, client):
    for mode, response in get_all(client, "?interval=1d").items():
        assert response.status_code == 200, mode
        assert response.content == b'{"data":[]}', mode


def test_before_far_in_the_past_or_future(sample_candles, client):
    for before, count in (("0001-01-01T00:00:00Z", 0), ("9999-12-31T23:59:59Z", 5)):
        for mode, response in get_all(client, f"?interval=1m&limit=5&before={before}").items():
            assert response.status_code == 200, (mode, before)
            assert len(orjson.loads(response.content)["data"]) == count, (mode, before)


def test_server_timing_splits_db_serialize_render_and_says_gc_last(sample_candles, client):
    for mode, response in get_all(client, "?interval=1m&limit=10").items():
        parts = parse_server_timing(response["Server-Timing"])
        assert list(parts) == ["db", "serialize", "render", "gc"], mode
        assert all(value >= 0 for value in parts.values()), mode


def test_head_answers_headers_without_a_body(sample_candles, client):
    for mode in ALL_MODES:
        response = client.head(SAMPLE.format(mode=mode) + "?interval=1m")
        assert response.status_code == 200, mode
        assert response["Content-Type"] == "application/json"
        assert response.content == b""


BAD_QUERIES = [
    ("", "interval"),
    ("?interval=", "interval"),
    ("?interval=2m", "interval"),
    ("?interval=1M", "interval"),
    ("?interval=1m&interval=5m", "interval"),
    ("?interval=1m&limit=abc", "limit"),
    ("?interval=1m&limit=1.5", "limit"),
    ("?interval=1m&limit=", "limit"),
    ("?interval=1m&limit=0", "limit"),
    ("?interval=1m&limit=-1", "limit"),
    ("?interval=1m&limit=1441", "limit"),
    ("?interval=1m&limit=" + "9" * 5000, "limit"),
    ("?interval=1m&limit=1&limit=2", "limit"),
    ("?interval=1m&before=yesterday", "before"),
    ("?interval=1m&before=2023-13-01T00:00:00Z", "before"),
    ("?interval=1m&before=2023-08-24T00:00:00%2B99:00", "before"),
    ("?interval=1m&before=0001-01-01T00:00:00%2B01:00", "before"),
    ("?interval=1m&before=%27%3B%20DROP%20TABLE%20candles_candle%3B--", "before"),
]


@pytest.mark.parametrize("query,parameter", BAD_QUERIES)
def test_bad_parameters_are_the_same_400_in_every_mode(empty_pair, client, query, parameter):
    responses = get_all(client, query)
    bodies = {response.content for response in responses.values()}
    assert len(bodies) == 1, {mode: r.content for mode, r in responses.items()}
    for mode, response in responses.items():
        assert response.status_code == 400, mode
        assert response["Content-Type"] == "application/json", mode
    body = orjson.loads(bodies.pop())
    assert body["error"] == "invalid_parameter"
    assert body["parameter"] == parameter
    assert body["detail"] and body["allowed"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/{mode}/candle/upbit/KRW/DOGE",
        "/api/{mode}/candle/bithumb/KRW/BTC",
        "/api/{mode}/candle/upbit/USDT/BTC",
        "/api/{mode}/candle/%E2%82%BF/KRW/BTC",
    ],
)
def test_unknown_exchange_or_pair_is_the_same_404_in_every_mode(empty_pair, client, path):
    responses = get_all(client, "?interval=1m", path)
    for mode, response in responses.items():
        assert response.status_code == 404, mode
        assert response["Content-Type"] == "application/json", mode
        assert orjson.loads(response.content) == {
            "error": "not_found",
            "detail": "unknown exchange or pair",
        }


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "options"])
def test_writes_are_the_same_405_in_every_mode_not_a_csrf_403(empty_pair, method):
    client = Client(enforce_csrf_checks=True)
    for mode in ALL_MODES:
        response = getattr(client, method)(SAMPLE.format(mode=mode) + "?interval=1m")
        assert response.status_code == 405, (mode, response.content[:100])
        assert response["Allow"] == "GET, HEAD", mode
        assert orjson.loads(response.content)["error"] == "method_not_allowed", mode


@pytest.mark.parametrize(
    "path",
    [
        "/api/{mode}/candle/up%00bit/KRW/BTC",
        "/api/{mode}/candle/upbit/KRW/" + "B" * 65,
        "/api/{mode}/candle/upbit/KRW/BTC%20",
        "/api/{mode}/candle/upbit/KRW/-BTC",
    ],
)
def test_names_no_pair_can_have_are_a_404_without_a_query(empty_pair, client, path):
    with CaptureQueriesContext(connection) as queries:
        responses = get_all(client, "?interval=1m", path)
    assert not queries.captured_queries  # NUL would be a DataError on PostgreSQL
    for mode, response in responses.items():
        assert response.status_code == 404, mode
        assert orjson.loads(response.content)["error"] == "not_found", mode


def test_tiny_and_huge_numbers_are_the_same_values_in_every_mode(empty_pair, client):
    # stdlib json and orjson spell these exponents differently (1e-05 / 1e-5), so the bytes
    # may differ, but every mode must answer the same numbers.
    Candle.objects.create(
        pair=empty_pair,
        interval="1m",
        basetm=datetime(2023, 8, 24, tzinfo=UTC),
        o=1e16,
        h=1.5e16,
        l=0.00001,
        c=1.234e-7,
        v=0.0,
    )
    responses = get_all(client, "?interval=1m")
    documents = {mode: orjson.loads(r.content) for mode, r in responses.items()}
    assert all(doc == documents["raw"] for doc in documents.values()), documents
    assert documents["raw"]["data"][0]["c"] == 1.234e-7
    # From 1e16 up msgspec leaves out the exponent's "+" (seeded prices never get there).
    for mode, response in responses.items():
        spelling = b'"o":1e16,"h":1.5e16' if mode.endswith("msgspec") else b'"o":1e+16,"h":1.5e+16'
        assert spelling in response.content, (mode, response.content)


def test_modes_endpoint_lists_every_routed_mode(empty_pair, client):
    response = client.get("/api/modes")
    assert response.status_code == 200
    document = orjson.loads(response.content)
    assert [mode["name"] for mode in document["modes"]] == ALL_MODES
    assert [mode["name"] for mode in document["diagnostics"]] == ["floor", "floor-async"]
    for mode in document["modes"] + document["diagnostics"]:
        assert mode["description"]
        assert mode["path"] == path_template(mode["name"])  # what the URLconf routes
        url = mode["path"].format(exchange="upbit", market="KRW", asset="BTC")
        assert client.get(url + "?interval=1m").status_code == 200, mode["name"]
    validating = {mode["name"] for mode in document["modes"] if mode["validates"]}
    assert validating == set(SCHEMA_MODES)


def test_a_django_server_lists_exactly_the_modes_the_registry_gives_its_kind(db, client):
    """Django routes the modes with a view; the runner plans a Django server's modes by its
    kind: the two must be the same list."""
    document = orjson.loads(client.get("/api/modes").content)
    assert document.pop("compression") == "none"  # the setup it runs (test_compression_chain.py)
    assert document.pop("cache") == "none"  # the setup it runs (test_caching.py)
    assert set(document.pop("gc_state")) >= {"threshold", "frozen", "automatic"}  # test_gc.py
    assert document.pop("gc") in GC_SETUP_NAMES  # which one: test_gc.py, test_gc_live.py
    assert document == modes_document(modes_for_kind(ServerKind.DJANGO, diagnostics=True))


def test_the_openapi_document_has_every_django_mode_and_says_which_validate(db, client):
    document = orjson.loads(client.get("/api/openapi.json").content)
    operations = {path: item["get"] for path, item in document["paths"].items() if "candle" in path}
    assert list(operations) == [path_template(mode) for mode in ALL_MODES]
    for mode in django_modes():
        operation = operations[path_template(mode.name)]
        assert operation["x-validates"] is mode.validates, mode.name
        assert ("500" in operation["responses"]) is mode.validates, mode.name
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert schema.endswith("/ValidatedCandles" if mode.validates else "/Candles"), mode.name
    # Only Django's own paths: the floor diagnostics and other servers' modes stay out.
    assert not any(
        f"/{name}/" in path
        for path in document["paths"]
        for name in ("floor", "bolt", "fastapi-model")
    )


def test_api_errors_outside_the_views_are_json_too(db, client):
    response = client.get("/api/no-such-mode/candle/upbit/KRW/BTC?interval=1m")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    response = client.get("/api/modes", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert b"Traceback" not in response.content and b"<html" not in response.content.lower()


def test_pages_outside_the_api_keep_html_errors(db, client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_raw_spells_sub_second_times_as_the_orjson_and_drf_modes_do(empty_pair, client):
    # On SQLite raw reads basetm as the stored text instead of a parsed datetime, so that
    # text must be what orjson and DRF write, microseconds included. The generator and the
    # importer only store times on an interval boundary; a script using the ORM need not.
    # (json and ninja go through Django's encoder, which cuts microseconds to milliseconds;
    # the ninja modes with orjson and pydantic do not.)
    for basetm in (
        datetime(2023, 8, 24, 0, 0, 0, 123456, tzinfo=UTC),
        datetime(2023, 8, 24, 0, 1, 0, 500, tzinfo=UTC),
        datetime(2023, 8, 24, 0, 2, tzinfo=UTC),
    ):
        Candle.objects.create(
            pair=empty_pair, interval="1m", basetm=basetm, o=1.0, h=2.0, l=0.5, c=1.5, v=10.0
        )
    bodies = {mode: r.content for mode, r in get_all(client, "?interval=1m").items()}
    assert {
        bodies[mode]
        for mode in (
            "drf-validated",
            "drf",
            "drf-orjson",
            "drf-values",
            "ninja-orjson",
            "ninja-values",
            "ninja-basemodel",
            "pydantic",
            "orjson",
            "msgspec",
            "raw-msgspec",
        )
    } == {bodies["raw"]}
    times = [row["basetm"] for row in orjson.loads(bodies["raw"])["data"]]
    assert times == [
        "2023-08-24T00:00:00.123456Z",
        "2023-08-24T00:01:00.000500Z",
        "2023-08-24T00:02:00Z",
    ]


def test_raw_parses_stored_times_when_the_database_keeps_another_time_zone(db, monkeypatch):
    # With DATABASES["default"]["TIME_ZONE"] set, SQLite holds local times: reading the text
    # and appending "Z" would be wrong, so raw goes back to parsed, aware datetimes.
    from candles.selectors import CandleQuery, raw_sql

    q = CandleQuery("upbit", "KRW", "BTC", "1m", 10)
    assert ("replace(" in raw_sql(q)[0]) == (connection.vendor == "sqlite")
    monkeypatch.setitem(connections["default"].__dict__, "timezone_name", "Asia/Seoul")
    assert "replace(" not in raw_sql(q)[0]
