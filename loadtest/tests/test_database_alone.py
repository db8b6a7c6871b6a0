"""The database-alone timings: the document the database writes is raw's document."""

from datetime import UTC, datetime

import orjson
import pytest
from django.db import connection

from candles.models import Candle
from candles.selectors import CandleQuery
from loadtest.inprocess import database_alone


@pytest.mark.parametrize("limit", [1, 100, 1440])
def test_the_database_writes_raw_s_document(sample_candles, client, limit):
    raw = client.get(f"/api/raw/candle/upbit/KRW/BTC?interval=1m&limit={limit}").content
    q_sql, params, _alias = database_alone.document_sql(
        CandleQuery("upbit", "KRW", "BTC", "1m", limit)
    )
    with connection.cursor() as cursor:
        cursor.execute(q_sql, params)
        body = cursor.fetchone()[0].encode()
    assert orjson.loads(body) == orjson.loads(raw)
    assert len(orjson.loads(body)["data"]) == limit


def test_measure_times_both_and_compares_the_document(sample_candles):
    got = database_alone.measure(100, "upbit/KRW/BTC", "1m", min_time=0.01)
    assert got.limit == 100 and got.rows_ms > 0 and got.json_ms > 0 and got.json_same_document
    if connection.vendor == "sqlite":
        assert got.json_same_bytes  # SQLite writes 2.0 as 2.0; PostgreSQL as 2


def test_sub_second_times_and_an_empty_series(empty_pair):
    Candle.objects.create(
        pair=empty_pair,
        interval="1m",
        basetm=datetime(2023, 8, 24, 0, 0, 0, 500, tzinfo=UTC),
        o=2.0,
        h=2.5,
        l=1.0,
        c=2.0,
        v=1e-7,
    )
    Candle.objects.create(
        pair=empty_pair,
        interval="1m",
        basetm=datetime(2023, 8, 24, tzinfo=UTC),
        o=2.0,
        h=2.5,
        l=1.0,
        c=2.0,
        v=3.0,
    )
    # As text, "...00.000500Z" sorts before "...00Z": the order must come from the times.
    for interval, expected in (
        ("1m", ["2023-08-24T00:00:00Z", "2023-08-24T00:00:00.000500Z"]),
        ("5m", []),
    ):
        sql, params, _ = database_alone.document_sql(
            CandleQuery("upbit", "KRW", "BTC", interval, 10)
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            data = orjson.loads(cursor.fetchone()[0])["data"]
        assert [row["basetm"] for row in data] == expected  # oldest first, by time
        assert all(
            row["v"] in (1e-7, 3.0) and list(row) == ["basetm", "o", "h", "l", "c", "v"]
            for row in data
        )


def test_a_document_with_other_values_is_recorded_not_hidden(empty_pair):
    # 0.1 + 0.2 needs 17 significant digits; SQLite 3.40's json_object writes 15 (0.3).
    Candle.objects.create(
        pair=empty_pair,
        interval="1m",
        basetm=datetime(2023, 8, 24, tzinfo=UTC),
        o=0.1 + 0.2,
        h=1.0,
        l=0.1,
        c=0.5,
        v=1.0,
    )
    got = database_alone.measure(1, "upbit/KRW/BTC", "1m", min_time=0.01)
    sqlite_rounds = connection.vendor == "sqlite" and not _sqlite_json_round_trips()
    assert got.json_same_document is not sqlite_rounds


def _sqlite_json_round_trips() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT json_object('x', 0.1 + 0.2)")
        return orjson.loads(cursor.fetchone()[0])["x"] == 0.1 + 0.2
