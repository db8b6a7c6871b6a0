"""The endpoint's query: one round trip, served by the (pair, interval, basetm) index."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from candles.selectors import (
    CANDLE_FIELDS,
    COMPILED_SQL_ENTRIES,
    CandleQuery,
    _compiled_sql,
    compiled_raw_sql,
    latest_candles,
    raw_sql,
)
from candles.services import candles_analyze, candles_seed

INDEX = "candle_unique_pair_interval_basetm"  # the UniqueConstraint's name


@pytest.fixture
def seeded(db) -> None:
    # Enough rows that PostgreSQL's planner would rather scan than probe a poor index.
    candles_seed(
        exchange="upbit",
        market="KRW",
        asset="BTC",
        count=20_000,
        start=datetime(2023, 7, 1, tzinfo=UTC),
        seed=1,
        intervals=["1m", "5m"],
    )
    candles_seed(
        exchange="upbit",
        market="KRW",
        asset="ETH",
        count=20_000,
        start=datetime(2023, 7, 1, tzinfo=UTC),
        seed=1,
        intervals=["1m", "5m"],
    )
    candles_analyze()  # what seed_candles does after loading


def orm_sql(q: CandleQuery) -> tuple[str, tuple]:
    qs = latest_candles(q).values_list(*CANDLE_FIELDS)
    return qs.query.get_compiler(qs.db).as_sql()


def plan(q: CandleQuery, build=orm_sql) -> str:
    sql, params = build(q)[:2]
    prefix = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
    with connection.cursor() as cursor:
        cursor.execute(prefix + sql, params)
        return "\n".join(" ".join(str(col) for col in row) for row in cursor.fetchall())


@pytest.mark.parametrize("build", [orm_sql, raw_sql], ids=["orm", "raw"])
@pytest.mark.parametrize("before", [None, datetime(2023, 7, 5, tzinfo=UTC)])
def test_the_query_uses_the_candle_index_without_sorting(seeded, before, build):
    # raw compiles the same selector with basetm read as text on SQLite; same plan.
    text = plan(CandleQuery("upbit", "KRW", "BTC", "1m", 1000, before), build)
    if connection.vendor == "sqlite":
        # SQLite keeps the unique constraint as an automatic index; check its columns.
        assert (
            "SEARCH candles_candle USING INDEX sqlite_autoindex_candles_candle_1 (pair_id=? AND interval=?"
            in text
        ), text
    else:
        assert f"Index Scan Backward using {INDEX} on candles_candle" in text, text
    # The index's order is the answer's order: no sort step, no full scan of candles.
    assert "TEMP B-TREE" not in text and "Sort" not in text, text
    assert (
        "Seq Scan on candles_candle" not in text and "SCAN candles_candle\n" not in text + "\n"
    ), text


def test_the_query_is_one_round_trip(seeded):
    with CaptureQueriesContext(connection) as queries:
        rows = list(latest_candles(CandleQuery("upbit", "KRW", "BTC", "5m", 1440)))
    assert len(queries) == 1
    assert len(rows) == 1440
    assert rows[0].basetm > rows[-1].basetm  # newest first; modes reverse it


SAMPLE_REQUESTS = [
    CandleQuery("upbit", "KRW", "BTC", "1m", 100),
    CandleQuery("upbit", "KRW", "ETH", "5m", 100),  # same SQL text as above, other values
    CandleQuery("bithumb", "USDT", "XRP", "1d", 1),
    CandleQuery("upbit", "KRW", "BTC", "1m", 1440, datetime(2023, 8, 24, tzinfo=UTC)),
    CandleQuery(
        "upbit", "KRW", "ETH", "1h", 1440, datetime(2023, 8, 24, 9, 30, 15, 250000, tzinfo=UTC)
    ),
    CandleQuery("x", "y", "z", "1m", 7, datetime(1, 1, 1, tzinfo=UTC)),
]


@pytest.mark.parametrize("q", SAMPLE_REQUESTS, ids=lambda q: f"{q.interval}-{q.limit}-{q.before}")
def test_the_cached_sql_is_what_the_selector_compiles(db, q):
    for _ in range(2):  # compiled on the first call, from the cache on the second
        assert compiled_raw_sql(q) == raw_sql(q)


def test_the_cache_is_keyed_on_the_time_zone_and_bounded(db, monkeypatch):
    q = CandleQuery("upbit", "KRW", "BTC", "1m", 10)
    assert compiled_raw_sql(q) == raw_sql(q)
    # SQLite's text column depends on the connection's time zone: a new entry, not the old text.
    monkeypatch.setitem(connection.__dict__, "timezone_name", "Asia/Seoul")
    assert compiled_raw_sql(q) == raw_sql(q)
    assert _compiled_sql.cache_info().maxsize == COMPILED_SQL_ENTRIES >= 2 * 1440
