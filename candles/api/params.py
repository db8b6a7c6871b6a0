"""Shared parsing of the candle endpoint's parameters: every mode rejects bad input alike."""

import re
from datetime import UTC, datetime

from django.http import QueryDict
from django.utils.dateparse import parse_datetime

from ..models import Interval, is_symbol
from ..selectors import CandleQuery
from .errors import invalid_parameter, pair_not_found

MAX_LIMIT = 1440
DEFAULT_LIMIT = 100
INTERVALS = tuple(Interval.values)
_INTEGER = re.compile(r"-?[0-9]+")
_LIMIT_ALLOWED = f"an integer from 1 to {MAX_LIMIT}"
_BEFORE_ALLOWED = "an ISO 8601 datetime, e.g. 2023-08-24T00:00:00Z (no offset means UTC)"


def _single(params: QueryDict, name: str, allowed: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise invalid_parameter(name, f"{name} is given more than once", allowed)
    return values[0] if values else None


def parse_interval(value: str | None) -> str:
    allowed = "one of " + ", ".join(INTERVALS)
    if value is None or value == "":
        raise invalid_parameter("interval", "interval is required", allowed)
    if value not in INTERVALS:
        raise invalid_parameter("interval", "interval is not a known interval", allowed)
    return value


def parse_limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not _INTEGER.fullmatch(value):
        raise invalid_parameter("limit", "limit is not an integer", _LIMIT_ALLOWED)
    # Compare the length before int() so a 100k-digit number costs nothing.
    if len(value) > 6 or not 1 <= int(value) <= MAX_LIMIT:
        raise invalid_parameter("limit", "limit is out of range", _LIMIT_ALLOWED)
    return int(value)


def parse_before(value: str | None) -> datetime | None:
    if value is None:
        return None
    # An unencoded "+09:00" offset arrives as " 09:00": accept what the user meant.
    text = value[:11] + value[11:].replace(" ", "+") if len(value) > 11 else value
    try:
        parsed = parse_datetime(text) if len(text) <= 64 else None
    except ValueError:  # well-formed but impossible, e.g. month 13
        parsed = None
    if parsed is None:
        raise invalid_parameter("before", "before is not a valid datetime", _BEFORE_ALLOWED)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 has no UTC equivalent
        raise invalid_parameter("before", "before is out of range", _BEFORE_ALLOWED) from None


def check_symbols(exchange: str, market: str, asset: str) -> None:
    """A name no pair can have is a 404 at once: no database trip, and no NUL or other
    text the database would reject reaches it (PostgreSQL refuses NUL with an error)."""
    for kind, symbol in (("exchange", exchange), ("market", market), ("asset", asset)):
        if not is_symbol(kind, symbol):
            raise pair_not_found()


def parse_candle_query(exchange: str, market: str, asset: str, params: QueryDict) -> CandleQuery:
    """Validate the request's parameters in a fixed order: interval, limit, before; then
    the pair's names (an unknown pair is a 404 only once the parameters are valid)."""
    interval = parse_interval(_single(params, "interval", "one of " + ", ".join(INTERVALS)))
    limit = parse_limit(_single(params, "limit", _LIMIT_ALLOWED))
    before = parse_before(_single(params, "before", _BEFORE_ALLOWED))
    check_symbols(exchange, market, asset)
    return CandleQuery(exchange, market, asset, interval, limit, before)
