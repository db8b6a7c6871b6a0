import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from candles.models import INTERVAL_SECONDS, Candle, Pair
from candles.seeding import (
    ALL_INTERVALS,
    DEFAULT_PAIRS,
    CandleRow,
    generate_minutes,
    roll_up,
    seed_pair,
)

START = datetime(2023, 8, 23, tzinfo=UTC)
PAIR = ("upbit", "KRW", "BTC")


def minutes(
    count: int, start: datetime = START, seed: int = 42, pair: tuple[str, str, str] = PAIR
) -> list[CandleRow]:
    return generate_minutes(start, count, seed, *pair)


def stored(pair: Pair, interval: str) -> list[CandleRow]:
    rows = Candle.objects.filter(pair=pair, interval=interval).order_by("basetm")
    return [tuple(r) for r in rows.values_list("basetm", "o", "h", "l", "c", "v")]


def run(*args: str) -> str:
    out = StringIO()
    call_command("seed_candles", *args, stdout=out)
    return out.getvalue()


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
    assert all(cur[1] == prev[4] for prev, cur in zip(rows, rows[1:]))  # open = previous close
    assert rows[0][1] == 35_000_000
    assert minutes(1, pair=("binance", "USDT", "BTC"))[0][1] == 26_000
    assert minutes(1, pair=("upbit", "KRW", "ETH"))[0][1] == 2_300_000
    assert minutes(1, pair=("x", "EUR", "DOGE"))[0][1] == 100
    assert generate_minutes(START, 1, 42, *PAIR, start_price=123.456)[0][1] == 123.46


@pytest.mark.parametrize("pair", DEFAULT_PAIRS + [("x", "EUR", "DOGE")])
def test_ohlc_invariants_and_rounding(pair: tuple[str, str, str]) -> None:
    for _, o, h, l, c, v in minutes(5000, pair=pair):  # noqa: E741
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


# --- seed_pair -----------------------------------------------------------------------


@pytest.mark.django_db
def test_seed_pair_stores_series_and_complete_rollups() -> None:
    # 9 days from 23:00 crosses several internal day-aligned chunks and leaves partial
    # buckets at both ends.
    start = datetime(2023, 7, 1, 23, tzinfo=UTC)
    count = 9 * 1440
    created = seed_pair(*PAIR, count=count, start=start, seed=7)
    assert created == {"1m": count, "5m": 2592, "15m": 864, "1h": 216, "4h": 53, "1d": 8}

    pair = Pair.objects.get(exchange__name="upbit", market="KRW", asset="BTC")
    expected = generate_minutes(start, count, 7, *PAIR)
    assert stored(pair, "1m") == expected
    for interval in ALL_INTERVALS[1:]:
        assert stored(pair, interval) == roll_up(expected, INTERVAL_SECONDS[interval])


@pytest.mark.django_db
def test_seed_pair_is_idempotent_and_extends() -> None:
    assert seed_pair(*PAIR, count=120, start=START, seed=42)["1m"] == 120
    again = seed_pair(*PAIR, count=120, start=START, seed=42)
    assert again == {interval: 0 for interval in ALL_INTERVALS}
    assert Candle.objects.filter(interval="1m").count() == 120
    more = seed_pair(*PAIR, count=180, start=START, seed=42)
    assert more == {"1m": 60, "5m": 12, "15m": 4, "1h": 1, "4h": 0, "1d": 0}


@pytest.mark.django_db
def test_seed_pair_stores_only_requested_intervals() -> None:
    assert seed_pair(*PAIR, count=180, start=START, seed=42, intervals=["1h", "15m"]) == {
        "15m": 12,
        "1h": 3,
    }
    assert set(Candle.objects.values_list("interval", flat=True).distinct()) == {"15m", "1h"}
    with pytest.raises(ValueError, match="2m"):
        seed_pair(*PAIR, count=10, start=START, seed=42, intervals=["2m"])


# --- command -------------------------------------------------------------------------


@pytest.mark.django_db
def test_command_seeds_one_pair() -> None:
    out = run(
        "--exchange=bithumb", "--market=KRW", "--asset=BTC",
        "--count=1500", "--start=2023-08-23T09:00:00+09:00", "--seed=1",
    )  # fmt: skip
    assert "bithumb/KRW/BTC: created 1m=1500 5m=300 15m=100 1h=25 4h=6 1d=1" in out
    pair = Pair.objects.get(exchange__name="bithumb")
    assert stored(pair, "1m") == generate_minutes(START, 1500, 1, "bithumb", "KRW", "BTC")


@pytest.mark.django_db
def test_command_seeds_default_pairs() -> None:
    out = run("--count=60", "--start=2023-08-23T00:00", "--intervals=5m, 1m")
    for exchange, market, asset in DEFAULT_PAIRS:
        assert f"{exchange}/{market}/{asset}: created 1m=60 5m=12 (" in out
    assert Candle.objects.count() == 3 * 72
    assert Candle.objects.order_by("basetm").first().basetm == START  # naive = UTC


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--intervals=1m,2m"], "unknown interval.*2m"),
        (["--intervals=,"], "at least one interval"),
        (["--exchange=upbit"], "must be given together"),
        (["--exchange=upbit", "--market=KRW"], "must be given together"),
        (["--start=yesterday"], "not an ISO 8601"),
        (["--start=2023-08-23T00:00:30Z"], "not aligned to the minute"),
        (["--count=0"], "positive"),
    ],
)
def test_command_rejects_bad_options(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not Candle.objects.exists()


@pytest.mark.django_db
def test_command_if_empty() -> None:
    args = ["--exchange=upbit", "--market=KRW", "--asset=BTC", "--count=10", "--intervals=1m"]
    assert "created 1m=10" in run(*args, "--if-empty")
    out = run("--exchange=upbit", "--market=KRW", "--asset=ETH", "--count=10", "--if-empty")
    assert "nothing seeded" in out
    assert not Pair.objects.filter(asset="ETH").exists()
    assert Candle.objects.count() == 10


# --- fixture -------------------------------------------------------------------------


@pytest.mark.django_db
def test_sample_fixture_loads_with_consistent_rollups() -> None:
    call_command("loaddata", "sample_candles", verbosity=0)
    pair = Pair.objects.get(exchange__name="upbit", market="KRW", asset="BTC")
    ones = stored(pair, "1m")
    assert len(ones) >= 1440
    assert ones[0][0] == START
    assert any(r[0] == datetime(2023, 8, 24, tzinfo=UTC) for r in ones)
    for interval in ALL_INTERVALS[1:]:
        assert stored(pair, interval) == roll_up(ones, INTERVAL_SECONDS[interval])
    assert Pair.objects.filter(exchange__name="binance", market="USDT", asset="BTC").exists()
