"""Seeding (services.candles_seed), `manage.py seed_candles` and the sample fixture."""

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from candles.models import ALL_INTERVALS, INTERVAL_SECONDS, Candle, CandleRow, Pair
from candles.random_walk import DEFAULT_PAIRS, generate_minutes, roll_up
from candles.services import candles_seed

START = datetime(2023, 8, 23, tzinfo=UTC)
PAIR = ("upbit", "KRW", "BTC")
NAMES = dict(zip(("exchange", "market", "asset"), PAIR, strict=True))


def stored(pair: Pair, interval: str) -> list[CandleRow]:
    rows = Candle.objects.filter(pair=pair, interval=interval).order_by("basetm")
    return [tuple(r) for r in rows.values_list("basetm", "o", "h", "l", "c", "v")]


def run(*args: str) -> str:
    out = StringIO()
    call_command("seed_candles", *args, stdout=out)
    return out.getvalue()


# --- candles_seed --------------------------------------------------------------------


@pytest.mark.django_db
def test_candles_seed_stores_series_and_complete_rollups() -> None:
    # 9 days from 23:00 crosses several internal day-aligned chunks and leaves partial
    # buckets at both ends.
    start = datetime(2023, 7, 1, 23, tzinfo=UTC)
    count = 9 * 1440
    created = candles_seed(**NAMES, count=count, start=start, seed=7)
    assert created == {"1m": count, "5m": 2592, "15m": 864, "1h": 216, "4h": 53, "1d": 8}

    pair = Pair.objects.get(exchange__name="upbit", market="KRW", asset="BTC")
    expected = generate_minutes(start, count, 7, *PAIR)
    assert stored(pair, "1m") == expected
    for interval in ALL_INTERVALS[1:]:
        assert stored(pair, interval) == roll_up(expected, INTERVAL_SECONDS[interval])


@pytest.mark.django_db
def test_candles_seed_is_idempotent_and_extends() -> None:
    assert candles_seed(**NAMES, count=120, start=START, seed=42)["1m"] == 120
    again = candles_seed(**NAMES, count=120, start=START, seed=42)
    assert again == dict.fromkeys(ALL_INTERVALS, 0)
    assert Candle.objects.filter(interval="1m").count() == 120
    more = candles_seed(**NAMES, count=180, start=START, seed=42)
    assert more == {"1m": 60, "5m": 12, "15m": 4, "1h": 1, "4h": 0, "1d": 0}


@pytest.mark.django_db
def test_candles_seed_stores_only_requested_intervals() -> None:
    assert candles_seed(**NAMES, count=180, start=START, seed=42, intervals=["1h", "15m"]) == {
        "15m": 12,
        "1h": 3,
    }
    assert set(Candle.objects.values_list("interval", flat=True).distinct()) == {"15m", "1h"}
    with pytest.raises(ValueError, match="2m"):
        candles_seed(**NAMES, count=10, start=START, seed=42, intervals=["2m"])


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
        (["--market=KRW", "--asset=BTC"], "must be given together; missing --exchange$"),
        (["--exchange=", "--market=KRW", "--asset=BTC"], "^the exchange name is empty$"),
        (["--exchange=up/bit", "--market=KRW", "--asset=BTC"], "^exchange 'up/bit' may contain"),
        (["--exchange=upbit", "--market=KRW", "--asset=BTC?"], "^asset 'BTC\\?' may contain"),
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
