"""django-bolt's own server, started for real (`manage.py runbolt`) on the test database:
the same documents, errors and headers as Django's `raw` mode answers in-process."""

import http.client
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import orjson
import pytest
from django.core.management import call_command
from django.db import connection

from candles.api.errors import DB_RETRY_AFTER_SECONDS
from candles.api.registry import modes_document, modes_for_kind
from candles.models import Candle, Exchange, Pair
from loadtest.serving.servers import SERVERS, bolt_command
from loadtest.tests.live_servers import running_server, server_database_url

from .test_api import CASES

pytestmark = [pytest.mark.live, pytest.mark.database]

SAMPLE = "/api/{mode}/candle/upbit/KRW/BTC"
BOLT_MODES = ("bolt", "bolt-raw", "floor")
VALIDATED = ("bolt", "bolt-raw")
# Pairs of their own for rows that break the response schema, so the sample pair stays valid.
PLANTED = "/api/{mode}/candle/upbit/KRW/{asset}"
# Each test in a transaction of its own (pytest-django sets the test database up only for
# tests that ask for it); the server reads what the module fixture committed.
pytestmark = pytest.mark.django_db


class Bolt:
    """A running runbolt (loadtest/tests/live_servers.py), asked with any method."""

    def __init__(self, base_url: str) -> None:
        self.port = urlsplit(base_url).port

    def request(self, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path)
            response = conn.getresponse()
            return (
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            conn.close()


def plant_invalid_pair(asset: str, sql_set: str) -> None:
    """upbit/KRW/<asset>: one candle broken with SQL (`sql_set`), past any model check."""
    pair = Pair.objects.create(
        exchange=Exchange.objects.get(name="upbit"), market="KRW", asset=asset
    )
    candle = Candle.objects.create(
        pair=pair, interval="1m", basetm="2023-08-24T00:00:00Z", o=1.0, h=2.0, l=0.5, c=1.5, v=3.0
    )
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Candle._meta.db_table} SET {sql_set} WHERE id = %s", [candle.id])


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    """One runbolt for the module, on committed sample data (removed afterwards)."""
    with django_db_blocker.unblock():
        call_command("loaddata", "sample_candles", verbosity=0)
        plant_invalid_pair("NEGV", "v = -1")
        if connection.vendor == "postgresql":  # SQLite stores a NaN float as NULL
            plant_invalid_pair("NAN", "o = 'NaN'")
    try:
        with running_server(
            bolt_command, tmp_path_factory.mktemp("bolt"), CANDLEBENCH_GC="default"
        ) as base_url:
            yield Bolt(base_url)
    finally:
        with django_db_blocker.unblock():
            Exchange.objects.all().delete()  # cascades to pairs and candles


@pytest.fixture
def django_api(client):
    """Django's own API, in-process, on the same committed rows."""

    def get(path: str, query: str = "", method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        response = client.generic(method, url(path, query))
        return response.status_code, {k.lower(): v for k, v in response.items()}, response.content

    return get


def url(path: str, query: str) -> str:
    return f"{path}?{query}" if query else path


@pytest.mark.parametrize("interval,limit,before", CASES)
def test_documents_are_the_bytes_of_django_raw(server, django_api, interval, limit, before):
    query = f"interval={interval}&limit={limit}" + (
        f"&before={before.replace('+', '%2B')}" if before else ""
    )
    status, headers, expected = django_api(SAMPLE.format(mode="raw"), query)
    assert status == 200 and len(orjson.loads(expected)["data"]) > 0
    for mode in BOLT_MODES:
        status, headers, body = server.request(url(SAMPLE.format(mode=mode), query))
        assert status == 200, (mode, body[:300])
        assert headers["content-type"] == "application/json", mode
        assert body == expected, mode
        phases = [part.split(";")[0] for part in headers["server-timing"].split(", ")]
        expected_phases = ["db", "render"] if mode == "floor" else ["db", "serialize", "render"]
        assert phases == [*expected_phases, "gc"], mode


BAD_QUERIES = [
    "",  # interval missing
    "interval=",
    "interval=2m",
    "interval=1m&interval=5m",
    "interval=1m&limit=ten",
    "interval=1m&limit=0",
    "interval=1m&limit=1441",
    "interval=1m&limit=5&limit=6",
    "interval=1m&before=yesterday",
    "interval=1m&before=2023-13-01T00:00:00Z",
]


@pytest.mark.parametrize("query", BAD_QUERIES)
def test_bad_input_is_django_s_400(server, django_api, query):
    status, _, expected = django_api(SAMPLE.format(mode="raw"), query)
    assert status == 400 and orjson.loads(expected)["error"] == "invalid_parameter"
    for mode in BOLT_MODES:
        status, headers, body = server.request(url(SAMPLE.format(mode=mode), query))
        assert (status, headers["content-type"], body) == (400, "application/json", expected), mode


@pytest.mark.parametrize(
    "path", ["/api/{mode}/candle/upbit/KRW/NOPE", "/api/{mode}/candle/upbit/KRW/B%00D"]
)
def test_unknown_pair_is_django_s_404(server, django_api, path):
    _, _, expected = django_api(path.format(mode="raw").replace("%00", "\x00"), "interval=1m")
    for mode in BOLT_MODES:
        status, _, body = server.request(url(path.format(mode=mode), "interval=1m"))
        assert (status, body) == (404, expected), mode
    assert orjson.loads(expected)["detail"] == "unknown exchange or pair"


def test_unknown_api_path_is_django_s_json_404(server, django_api):
    status, _, expected = django_api("/api/nothing-here")
    assert status == 404
    for path in (
        "/api/nothing-here",
        "/api/raw/candle/upbit/KRW/BTC",
        "/api/bolt/candle/upbit/KRW",
    ):
        status, headers, body = server.request(path)
        assert (status, headers["content-type"], body) == (404, "application/json", expected), path


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"])
def test_other_methods_are_django_s_405_with_allow(server, django_api, method):
    status, headers, expected = django_api(SAMPLE.format(mode="raw"), "interval=1m", method)
    assert status == 405 and headers["allow"] == "GET, HEAD"
    for path in [*(SAMPLE.format(mode=mode) for mode in BOLT_MODES), "/api/modes"]:
        status, headers, body = server.request(url(path, "interval=1m"), method)
        assert (status, headers["allow"], body) == (405, "GET, HEAD", expected), path


def test_head_answers_like_get_without_a_body(server):
    status, headers, body = server.request(url(SAMPLE.format(mode="bolt"), "interval=1m"), "HEAD")
    assert (status, body) == (200, b"") and headers["content-type"] == "application/json"


def test_a_row_breaking_the_schema_is_a_500_in_validated_modes_only(server, django_api):
    negative = PLANTED.format(mode="{mode}", asset="NEGV")
    for mode in VALIDATED:
        status, headers, body = server.request(url(negative.format(mode=mode), "interval=1m"))
        assert (status, headers["content-type"]) == (500, "application/json"), mode
        error = orjson.loads(body)
        assert (error["error"], error["field"]) == ("invalid_response", "v"), mode
        assert ">= 0" in error["detail"], mode
    # The floor, like raw, validates nothing: it serves the row as stored.
    _, _, expected = django_api(negative.format(mode="raw"), "interval=1m")
    status, _, body = server.request(url(negative.format(mode="floor"), "interval=1m"))
    assert (status, body) == (200, expected) and orjson.loads(body)["data"][0]["v"] == -1.0


def test_nan_is_a_500_in_validated_modes(server):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite stores a NaN float as NULL, which the NOT NULL column refuses")
    for mode in VALIDATED:
        status, _, body = server.request(url(PLANTED.format(mode=mode, asset="NAN"), "interval=1m"))
        error = orjson.loads(body)
        assert (status, error["error"], error["field"]) == (500, "invalid_response", "o"), mode


def test_modes_lists_what_bolt_serves(server):
    status, headers, body = server.request("/api/modes")
    assert (status, headers["content-type"]) == (200, "application/json")
    document = orjson.loads(body)
    assert document.pop("compression") == "none"  # bolt's own: bolt-native only when asked
    assert document.pop("cache") == "none"  # bolt's server runs no cache setup
    assert document.pop("gc") == "default" and document.pop("gc_state")["automatic"]
    assert document == modes_document(modes_for_kind(SERVERS["bolt"].app_kind, diagnostics=True))
    assert [m["name"] for m in document["modes"]] == ["bolt", "bolt-raw"]
    assert [m["name"] for m in document["diagnostics"]] == ["floor"]
    assert all(m["validates"] for m in document["modes"])


OUTAGE_APP = "candlebench-bolt-outage"


@contextmanager
def sqlite_outage(tmp_path: Path) -> Iterator[tuple[str, Callable[[bool], None]]]:
    """A copy of the test database in a directory that can be taken away and put back:
    without it SQLite cannot open the file (with it gone, it would create an empty one)."""
    directory = tmp_path / "db"
    directory.mkdir()
    with (
        sqlite3.connect(connection.settings_dict["NAME"]) as source,
        sqlite3.connect(directory / "db.sqlite3") as copy,
    ):
        source.backup(copy)
    away = tmp_path / "away"

    def down(is_down: bool) -> None:
        (directory if is_down else away).rename(away if is_down else directory)

    yield f"sqlite:///{directory / 'db.sqlite3'}", down


@contextmanager
def postgres_outage(tmp_path: Path) -> Iterator[tuple[str, Callable[[bool], None]]]:
    """The test database refusing new connections, the server's own ones ended."""
    import psycopg

    name = connection.settings_dict["NAME"]
    admin = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path="/postgres", query=""))

    def down(is_down: bool) -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {"false" if is_down else "true"}'
            )
            if is_down:
                conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                    [OUTAGE_APP],
                )

    try:
        yield f"{server_database_url()}?application_name={OUTAGE_APP}", down
    finally:
        down(False)


def test_database_down_is_a_503_with_retry_after_and_recovers(server, tmp_path):
    outage = sqlite_outage if connection.vendor == "sqlite" else postgres_outage
    # Ready once /api/modes answers: no query yet (SQLite keeps an open file usable).
    with (
        outage(tmp_path) as (database, down),
        running_server(
            bolt_command, tmp_path, DATABASE_URL=database, DATABASE_POOL_TIMEOUT="0.5"
        ) as base_url,
    ):
        bolt = Bolt(base_url)
        down(True)
        for mode in VALIDATED:
            for _ in range(2):  # a connection that broke or cannot open, then the next one
                status, headers, body = bolt.request(
                    url(SAMPLE.format(mode=mode), "interval=1m&limit=5")
                )
                assert (status, headers["retry-after"]) == (503, str(DB_RETRY_AFTER_SECONDS)), (
                    mode,
                    body,
                )
                assert orjson.loads(body)["error"] == "service_unavailable"
        down(False)
        path = url(SAMPLE.format(mode="bolt-raw"), "interval=1m&limit=5")
        deadline = time.monotonic() + 20  # a pool waits a little before it reconnects
        while (status := bolt.request(path)[0]) == 503 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert status == 200


def test_the_floor_reads_the_database_once_per_query(server):
    # A query no other test asks for: computed on the first request, then from memory.
    query = "interval=1m&limit=997"
    for phases in (["db", "render", "gc"], ["render", "gc"]):
        status, headers, _ = server.request(url(SAMPLE.format(mode="floor"), query))
        assert status == 200
        assert [part.split(";")[0] for part in headers["server-timing"].split(", ")] == phases
