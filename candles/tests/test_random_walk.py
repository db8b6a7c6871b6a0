"""The random walk that generates sample candles (candles/random_walk.py) and its rollups."""

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest

from candles.models import CandleRow
from candles.random_walk import DEFAULT_PAIRS, generate_minutes, roll_up

START = datetime(2023, 8, 23, tzinfo=UTC)
PAIR = ("upbit", "KRW", "BTC")


def minutes(
    count: int, start: datetime = START, seed: int = 42, pair: tuple[str, str, str] = PAIR
) -> list[CandleRow]:
    return generate_minutes(start, count, seed, *pair)


# --- generator ---------------------------------------------------------------------


def test_generator_is_deterministic_per_seed_and_pair() -> None:
    assert minutes(500) == minutes(500)
    assert minutes(500, seed=43) != minutes(500)
    assert minutes(500, pair=("upbit", "KRW", "ETH"))[1:] != minutes(500)[1:]
    # A longer run extends a shorter one rather than producing a different series.
    assert minutes(1000)[:500] == minutes(500)


def test_generator_shape_and_default_prices() -> None:
    rows = minutes(300)
    assert [r[0] for r in rows] == [START + timedelta(minutes=i) for i in range(300)]
    assert all(r[0].utcoffset() == timedelta(0) for r in rows)
    assert all(cur[1] == prev[4] for prev, cur in itertools.pairwise(rows))  # open = previous close
    assert rows[0][1] == 35_000_000
    assert minutes(1, pair=("binance", "USDT", "BTC"))[0][1] == 26_000
    assert minutes(1, pair=("upbit", "KRW", "ETH"))[0][1] == 2_300_000
    assert minutes(1, pair=("x", "EUR", "DOGE"))[0][1] == 100
    assert generate_minutes(START, 1, 42, *PAIR, start_price=123.456)[0][1] == 123.46


@pytest.mark.parametrize("pair", [*DEFAULT_PAIRS, ("x", "EUR", "DOGE")])
def test_ohlc_invariants_and_rounding(pair: tuple[str, str, str]) -> None:
    for _, o, h, l, c, v in minutes(5000, pair=pair):
        assert l <= min(o, c) <= max(o, c) <= h
        assert all(round(x, 2) == x for x in (o, h, l, c))
        assert round(v, 4) == v
        assert all(x == 0 or 1e-4 <= x < 1e15 for x in (o, h, l, c, v))


def test_values_encode_identically_with_json_and_orjson() -> None:
    orjson = pytest.importorskip("orjson")
    values = [list(r[1:]) for pair in DEFAULT_PAIRS for r in minutes(3000, pair=pair)]
    values += [list(r[1:]) for r in roll_up(minutes(2880), 86400)]
    assert json.dumps(values, separators=(",", ":")).encode() == orjson.dumps(values)


@pytest.mark.parametrize(
    "start",
    [datetime(2023, 8, 23), datetime(2023, 8, 23, 0, 0, 30, tzinfo=UTC)],
    ids=["naive", "unaligned"],
)
def test_generator_rejects_bad_start(start: datetime) -> None:
    with pytest.raises(ValueError):
        generate_minutes(start, 10, 42, *PAIR)


def test_generator_rejects_bad_start_price() -> None:
    with pytest.raises(ValueError):
        generate_minutes(START, 10, 42, *PAIR, start_price=0)


# --- rollup --------------------------------------------------------------------------


def manual(rows: list[CandleRow]) -> CandleRow:
    return (
        rows[0][0],
        rows[0][1],
        max(r[2] for r in rows),
        min(r[3] for r in rows),
        rows[-1][4],
        round(sum(r[5] for r in rows), 4),
    )


def test_roll_up_matches_manual_aggregation() -> None:
    # Starts at 00:03, so the first 5m and 1h buckets are incomplete.
    rows = minutes(200, start=START + timedelta(minutes=3))
    five = roll_up(rows, 300)
    assert five[0] == manual(rows[2:7])  # 00:05 .. 00:09
    assert five[1] == manual(rows[7:12])
    assert five[-1] == manual(rows[192:197])  # 03:15 .. 03:19; 03:20-03:22 incomplete
    assert len(five) == 39
    hours = roll_up(rows, 3600)
    assert hours == [manual(rows[57:117]), manual(rows[117:177])]  # 01:00 and 02:00


def test_roll_up_drops_incomplete_buckets() -> None:
    rows = minutes(30)
    assert len(roll_up(rows, 300)) == 6
    gap = rows[:12] + rows[13:]  # 00:12 missing
    assert [r[0] for r in roll_up(gap, 300)] == [
        START + timedelta(minutes=m) for m in (0, 5, 15, 20, 25)
    ]
    assert roll_up(rows, 3600) == []
    assert roll_up([], 300) == []


def test_roll_up_rejects_bad_interval() -> None:
    with pytest.raises(ValueError):
        roll_up(minutes(10), 90)
