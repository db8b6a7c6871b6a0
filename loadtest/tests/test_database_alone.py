"""The database-alone timings: the document the database writes is raw's document."""
from datetime import UTC, datetime

import orjson
import pytest
from django.db import connection

from candles.models import Candle
from candles.selectors import CandleQuery
from loadtest import database_alone


@pytest.mark.parametrize("limit", [1, 100, 1440])
def test_the_database_writes_raw_s_document(sample_candles, client, limit):
    raw = client.get(f"/api/raw/candle/upbit/KRW/BTC?interval=1m&limit={limit}").content
    q_sql, params, alias = database_alone.document_sql(
        CandleQuery("upbit", "KRW", "BTC", "1m", limit))
    with connection.cursor() as cursor:
        cursor.execute(q_sql, params)
        body = cursor.fetchone()[0].encode()
    assert orjson.loads(body) == orjson.loads(raw)
    assert len(orjson.loads(body)["data"]) == limit


def test_measure_times_both_and_checks_the_document(sample_candles):
    got = database_alone.measure(100, "upbit/KRW/BTC", "1m", min_time=0.01)
    assert got.limit == 100 and got.rows_ms > 0 and got.json_ms > 0 and got.json_bytes > 100 * 80
    if connection.vendor == "sqlite":
        assert got.json_same_bytes  # SQLite writes 2.0 as 2.0; PostgreSQL as 2


def test_sub_second_times_and_an_empty_series(empty_pair):
    Candle.objects.create(pair=empty_pair, interval="1m", basetm=datetime(2023, 8, 24, 0, 0, 0, 500, tzinfo=UTC),
                          o=2.0, h=2.5, l=1.0, c=2.0, v=1e-7)
    for interval, expected in (("1m", [{"basetm": "2023-08-24T00:00:00.000500Z", "o": 2.0, "h": 2.5, "l": 1.0,
                                         "c": 2.0, "v": 1e-7}]), ("5m", [])):
        sql, params, _ = database_alone.document_sql(CandleQuery("upbit", "KRW", "BTC", interval, 10))
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            assert orjson.loads(cursor.fetchone()[0]) == {"data": expected}


def test_a_document_that_differs_stops_the_benchmark(sample_candles, monkeypatch):
    # Reads the same rows but leaves them all out of the document.
    monkeypatch.setitem(database_alone.JSON_SQL, connection.vendor,
                        "SELECT '{{\"data\":[]}}' FROM (SELECT count(*) AS n FROM ({inner}) AS t) AS u")
    with pytest.raises(SystemExit, match="not raw's document"):
        database_alone.measure(10, "upbit/KRW/BTC", "1m", min_time=0.01)
