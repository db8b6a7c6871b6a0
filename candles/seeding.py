"""Deterministic synthetic OHLCV data: a pure generator plus a fast database writer.

The benchmark needs the same data on every machine and every run, so everything is
derived from a seed; nothing reads the clock or the global random state.
"""
from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import groupby, islice
from typing import Protocol

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Count

from candles.models import INTERVAL_SECONDS, Candle, Exchange, Interval, Pair
from candles.storage import CandleRow, executemany_rows, insert_sql, table_and_columns

# (basetm, open, high, low, close, volume)

DEFAULT_PAIRS: list[tuple[str, str, str]] = [
    ("upbit", "KRW", "BTC"),
    ("upbit", "KRW", "ETH"),
    ("binance", "USDT", "BTC"),
]
DEFAULT_START = datetime(2023, 7, 1, tzinfo=UTC)
# 90 days of minutes: every interval up to 1h then has at least 1440 candles (1h: 2160),
# enough for the API's largest page.
DEFAULT_COUNT = 90 * 24 * 60
DEFAULT_SEED = 42
ALL_INTERVALS: tuple[str, ...] = tuple(Interval.values)

# Rough real-world price levels keyed by (market, asset), so the data looks plausible.
DEFAULT_START_PRICES: dict[tuple[str, str], float] = {
    ("KRW", "BTC"): 35_000_000.0,
    ("KRW", "ETH"): 2_300_000.0,
    ("USDT", "BTC"): 26_000.0,
}
FALLBACK_START_PRICE = 100.0

_MINUTE = timedelta(minutes=1)
_DAY_SECONDS = INTERVAL_SECONDS[Interval.D1]
_SIGMA = 0.0008  # per-minute log-return volatility
_WICK = 0.0004  # scale of the (half-normal) high/low wicks beyond open/close
# A weak pull back towards the start price (half-life ~240 days) keeps arbitrarily
# long series within a few multiples of it, so prices never approach the limits below.
_REVERSION = 2e-6
_VOLUME_MU, _VOLUME_SIGMA = math.log(2.0), 0.9  # lognormal volume, median 2 units
# Every value must be 0 or in [1e-4, 1e15): inside that range the stdlib json module
# and orjson print floats identically (outside it they pick different exponent forms),
# which the API's byte-equality checks between encoders rely on.
_MIN_PRICE = 0.01
_MAX_START_PRICE = 1e12
# Generation and rollup work one chunk of whole UTC days at a time, which bounds memory
# for multi-million-candle runs; all intervals divide a day, so no bucket is split.
_CHUNK_DAYS = 7


def default_start_price(market: str, asset: str) -> float:
    return DEFAULT_START_PRICES.get((market.upper(), asset.upper()), FALLBACK_START_PRICE)


def _resolve_start_price(market: str, asset: str, start_price: float | None) -> float:
    price = default_start_price(market, asset) if start_price is None else start_price
    if not 0 < price <= _MAX_START_PRICE:
        raise ValueError(f"start_price must be in (0, {_MAX_START_PRICE:g}]")
    return price


def _check_start(start: datetime) -> None:
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    if start.second or start.microsecond:
        raise ValueError("start must be aligned to the minute")


def _iter_minutes(
    start: datetime, seed: int, exchange: str, market: str, asset: str, start_price: float
) -> Iterator[CandleRow]:
    """Endless seeded random walk of 1m candles; see generate_minutes."""
    # A string seed is hashed with SHA-512, independent of PYTHONHASHSEED, so each pair
    # gets its own reproducible stream.
    rng = random.Random(f"{seed}:{exchange}/{market}/{asset}")
    gauss, lognormvariate, exp, log = rng.gauss, rng.lognormvariate, math.exp, math.log
    anchor = log(start_price)
    close = max(round(start_price, 2), _MIN_PRICE)
    t = start.astimezone(UTC)
    while True:
        o = close
        c = max(round(o * exp(gauss(-_REVERSION * (log(o) - anchor), _SIGMA)), 2), _MIN_PRICE)
        top, bottom = max(o, c), min(o, c)
        # Wicks are computed from the already rounded open/close; rounding is monotonic,
        # so the outer max/min only guard the invariant l <= min(o, c) <= max(o, c) <= h.
        high = max(round(top * (1.0 + abs(gauss(0.0, _WICK))), 2), top)
        low = min(max(round(bottom * (1.0 - abs(gauss(0.0, _WICK))), 2), _MIN_PRICE), bottom)
        v = round(lognormvariate(_VOLUME_MU, _VOLUME_SIGMA), 4)
        yield (t, o, high, low, c, v)
        close = c
        t += _MINUTE


def generate_minutes(
    start: datetime,
    count: int,
    seed: int,
    exchange: str,
    market: str,
    asset: str,
    start_price: float | None = None,
) -> list[CandleRow]:
    """`count` consecutive 1m candles from `start` (aware, minute-aligned), in UTC.

    Each open is the previous close. Prices are rounded to 2 decimals and volumes to 4.
    """
    _check_start(start)
    if count < 0:
        raise ValueError("count must be >= 0")
    price = _resolve_start_price(market, asset, start_price)
    return list(islice(_iter_minutes(start, seed, exchange, market, asset, price), count))


def roll_up(minutes: Iterable[CandleRow], interval_seconds: int) -> list[CandleRow]:
    """Aggregate time-ordered, duplicate-free 1m candles into `interval_seconds` buckets.

    Buckets are aligned to the Unix epoch (so 1d = UTC day) and only buckets with all
    their minutes present are returned: a partial candle would differ from the real one.
    """
    if interval_seconds <= 0 or interval_seconds % 60:
        raise ValueError("interval_seconds must be a positive multiple of 60")
    per_bucket = interval_seconds // 60
    out: list[CandleRow] = []
    for bucket, group in groupby(minutes, key=lambda m: int(m[0].timestamp()) // interval_seconds):
        rows = list(group)
        if len(rows) != per_bucket:
            continue
        out.append(
            (
                datetime.fromtimestamp(bucket * interval_seconds, UTC),
                rows[0][1],
                max(r[2] for r in rows),
                min(r[3] for r in rows),
                rows[-1][4],
                round(sum(r[5] for r in rows), 4),
            )
        )
    return out


def _day_chunks(
    rows: Iterator[CandleRow], start: datetime, count: int
) -> Iterator[list[CandleRow]]:
    """Split the first `count` rows at UTC midnights, at most _CHUNK_DAYS days per chunk."""
    start_ts = int(start.timestamp())
    # The first chunk runs to the first midnight after start plus whole days.
    size = ((start_ts // _DAY_SECONDS + 1) * _DAY_SECONDS - start_ts) // 60
    size += (_CHUNK_DAYS - 1) * (_DAY_SECONDS // 60)
    remaining = count
    while remaining > 0:
        n = min(size, remaining)
        yield list(islice(rows, n))
        remaining -= n
        size = _CHUNK_DAYS * (_DAY_SECONDS // 60)


class _Writer(Protocol):
    def write(self, pair_id: int, interval: str, rows: list[CandleRow]) -> None: ...

    def close(self) -> None: ...


class _ExecutemanyWriter:
    """Portable writer (SQLite and any backend with ON CONFLICT DO NOTHING).

    A raw executemany skips model instantiation, which makes bulk_create about three
    times slower here; the backend's own adapter stores basetm exactly as the ORM
    would (naive UTC text on SQLite).
    """

    def __init__(self, cursor: CursorWrapper, batch_size: int) -> None:
        self._sql = insert_sql(ignore_conflicts=True)
        self._cursor = cursor
        self._batch_size = batch_size

    def write(self, pair_id: int, interval: str, rows: list[CandleRow]) -> None:
        executemany_rows(self._cursor, self._sql, pair_id, interval, rows, self._batch_size)

    def close(self) -> None:
        """Nothing is buffered."""


class _PostgresCopyWriter:
    """PostgreSQL writer: COPY into an unindexed temp table, then one INSERT ... SELECT.

    Row-by-row inserts through psycopg run at ~20k rows/s here; COPY plus a set-based
    insert is about three times faster. COPY cannot skip conflicts itself, hence the
    staging table. It lives in this transaction only: dropped in close(), and its
    creation is rolled back with everything else on error.
    """

    _STAGING = "candles_seed_staging"

    def __init__(self, cursor: CursorWrapper) -> None:
        self._table, self._columns = table_and_columns()
        self._cursor = cursor
        cursor.execute(
            f"CREATE TEMPORARY TABLE {self._STAGING} AS "
            f"SELECT {self._columns} FROM {self._table} WITH NO DATA"
        )

    def write(self, pair_id: int, interval: str, rows: list[CandleRow]) -> None:
        with self._cursor.copy(f"COPY {self._STAGING} ({self._columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((pair_id, interval, *row))

    def close(self) -> None:
        self._cursor.execute(
            f"INSERT INTO {self._table} ({self._columns}) "
            f"SELECT {self._columns} FROM {self._STAGING} ON CONFLICT DO NOTHING"
        )
        self._cursor.execute(f"DROP TABLE {self._STAGING}")


def _counts(pair: Pair, intervals: Iterable[str]) -> dict[str, int]:
    rows = (
        Candle.objects.filter(pair=pair, interval__in=list(intervals))
        .values("interval")
        .annotate(n=Count("id"))
        .values_list("interval", "n")
    )
    return dict(rows)


def validate_intervals(intervals: Iterable[str]) -> list[str]:
    """Known, de-duplicated intervals in canonical (shortest first) order."""
    wanted = set(intervals)
    unknown = wanted - set(ALL_INTERVALS)
    if unknown:
        raise ValueError(
            f"unknown interval(s) {', '.join(sorted(unknown))}; "
            f"choose from {', '.join(ALL_INTERVALS)}"
        )
    if not wanted:
        raise ValueError("at least one interval is required")
    return [i for i in ALL_INTERVALS if i in wanted]


def seed_pair(
    exchange: str,
    market: str,
    asset: str,
    *,
    count: int,
    start: datetime,
    seed: int,
    intervals: Iterable[str] = ALL_INTERVALS,
    batch_size: int = 5000,
    start_price: float | None = None,
) -> dict[str, int]:
    """Seed one pair with `count` 1m candles and their complete rollups.

    The 1m series is always generated (the rollups come from it) but only stored when
    "1m" is requested. Existing rows are left alone, so re-running is idempotent.
    Everything happens in one transaction. `batch_size` is the number of rows per
    executemany call; PostgreSQL streams all rows through COPY instead.
    Returns the number of candles created per requested interval.
    """
    wanted = validate_intervals(intervals)
    _check_start(start)
    if count <= 0:
        raise ValueError("count must be > 0")
    if batch_size <= 0:
        raise ValueError("batch_size must be > 0")
    price = _resolve_start_price(market, asset, start_price)
    minutes = _iter_minutes(start, seed, exchange, market, asset, price)

    with transaction.atomic(), connection.cursor() as cursor:
        exchange_obj, _ = Exchange.objects.get_or_create(name=exchange)
        pair, _ = Pair.objects.get_or_create(exchange=exchange_obj, market=market, asset=asset)
        before = _counts(pair, wanted)
        writer: _Writer = (
            _PostgresCopyWriter(cursor)
            if connection.vendor == "postgresql"
            else _ExecutemanyWriter(cursor, batch_size)
        )
        for chunk in _day_chunks(minutes, start, count):
            for interval in wanted:
                seconds = INTERVAL_SECONDS[interval]
                rows = chunk if seconds == 60 else roll_up(chunk, seconds)
                writer.write(pair.pk, interval, rows)
        writer.close()
        after = _counts(pair, wanted)
    return {i: after.get(i, 0) - before.get(i, 0) for i in wanted}


def analyze_candles() -> None:
    """Refresh the planner's statistics after a bulk load.

    Without them PostgreSQL estimated 9 rows for a pair holding 129,600, chose a bitmap
    scan and sorted every row (45 ms at limit=1000) instead of reading the index
    backwards (about 1 ms).
    """
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(Candle._meta.db_table)}")
