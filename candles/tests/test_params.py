from datetime import UTC, datetime

import pytest
from django.http import QueryDict

from candles.api.errors import ApiError
from candles.api.params import DEFAULT_LIMIT, parse_before, parse_candle_query, parse_limit


def test_defaults_and_fields():
    q = parse_candle_query("upbit", "KRW", "BTC", QueryDict("interval=1h"))
    assert (q.exchange, q.market, q.asset, q.interval, q.limit, q.before) == (
        "upbit",
        "KRW",
        "BTC",
        "1h",
        DEFAULT_LIMIT,
        None,
    )


@pytest.mark.parametrize(
    "text,expected",
    [
        ("2023-08-24T00:00:00Z", datetime(2023, 8, 24, tzinfo=UTC)),
        ("2023-08-24T00:00:00", datetime(2023, 8, 24, tzinfo=UTC)),
        ("2023-08-24T09:00:00+09:00", datetime(2023, 8, 24, tzinfo=UTC)),
        # "+" unencoded in a query string arrives as a space.
        ("2023-08-24T09:00:00 09:00", datetime(2023, 8, 24, tzinfo=UTC)),
        ("2023-08-24 00:00:00Z", datetime(2023, 8, 24, tzinfo=UTC)),
        ("2023-08-24T00:00:00.5Z", datetime(2023, 8, 24, 0, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_before_accepts_iso_8601_and_normalises_to_utc(text, expected):
    parsed = parse_before(text)
    assert parsed == expected and parsed.tzinfo == UTC


@pytest.mark.parametrize("text", ["", "24/08/2023", "2023-02-30T00:00:00Z", "x" * 100])
def test_before_rejects_what_is_not_a_datetime(text):
    with pytest.raises(ApiError) as err:
        parse_before(text)
    assert err.value.status == 400 and err.value.body["parameter"] == "before"


@pytest.mark.parametrize("text,expected", [("1", 1), ("1440", 1440), ("0100", 100)])
def test_limit_accepts_1_to_1440(text, expected):
    assert parse_limit(text) == expected


@pytest.mark.parametrize("text", ["0", "-5", "1441", "10000000", "1e3", " 5", "+5", "٣"])
def test_limit_rejects_the_rest(text):
    with pytest.raises(ApiError) as err:
        parse_limit(text)
    assert err.value.body["parameter"] == "limit"
