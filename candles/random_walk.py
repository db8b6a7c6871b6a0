"""Deterministic synthetic OHLCV candles: a seeded random walk of 1m candles and their rollups.

The benchmark needs the same data on every machine and every run, so everything is
derived from a seed; nothing reads the clock or the global random state. Pure: the
services store what it generates.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import groupby, islice

from candles.models import INTERVAL_SECONDS, CandleRow, Interval

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


def walk_minutes(
    start: datetime,
    seed: int,
    exchange: str,
    market: str,
    asset: str,
    start_price: float | None = None,
) -> Iterator[CandleRow]:
    """The endless seeded random walk of 1m candles from `start` (aware, minute-aligned), in UTC.

    Each open is the previous close. Prices are rounded to 2 decimals and volumes to 4.
    The arguments are checked when it is called, not when the first candle is taken.
    """
    _check_start(start)
    price = _resolve_start_price(market, asset, start_price)
    return _walk(start, f"{seed}:{exchange}/{market}/{asset}", price)


def _walk(start: datetime, stream: str, start_price: float) -> Iterator[CandleRow]:
    # A string seed is hashed with SHA-512, independent of PYTHONHASHSEED, so each pair
    # gets its own reproducible stream.
    rng = random.Random(stream)
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
    """The first `count` candles of walk_minutes."""
    if count < 0:
        raise ValueError("count must be >= 0")
    return list(islice(walk_minutes(start, seed, exchange, market, asset, start_price), count))


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


def day_chunks(rows: Iterator[CandleRow], start: datetime, count: int) -> Iterator[list[CandleRow]]:
    """The first `count` minutes from `start` split at UTC midnights, at most _CHUNK_DAYS
    days per chunk: bounded memory for multi-million-candle seeds, and every interval
    divides a day, so rolling up one chunk at a time splits no bucket."""
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
