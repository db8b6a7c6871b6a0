"""Exchanges, pairs and candles, and the rules every way of storing them shares."""

import re
from collections.abc import Iterable
from datetime import datetime

from django.core.validators import RegexValidator
from django.db import models


class Interval(models.TextChoices):
    """Candle intervals; the value is what the API and the seed command accept."""

    M1 = "1m", "1 minute"
    M5 = "5m", "5 minutes"
    M15 = "15m", "15 minutes"
    H1 = "1h", "1 hour"
    H4 = "4h", "4 hours"
    D1 = "1d", "1 day"


INTERVAL_SECONDS: dict[str, int] = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "1h": 3600,
    "4h": 14400,
    "1d": 86400,
}
ALL_INTERVALS: tuple[str, ...] = tuple(Interval.values)


def validate_intervals(intervals: Iterable[str]) -> list[str]:
    """Known, de-duplicated intervals in canonical (shortest first) order; ValueError if none."""
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


# Exchange, market and asset names become segments of the API's URL. The pattern and the
# fields' max_length are the one symbol rule: the fields' validators apply it to model
# forms, clean_symbol (below) to every other way a name gets in.
SYMBOL_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]*"
SYMBOL_RE = re.compile(SYMBOL_PATTERN)
SYMBOL_CHARACTERS = "letters, digits, '.', '_' and '-'"
symbol_validator = RegexValidator(
    f"^{SYMBOL_PATTERN}\\Z", f"Use only {SYMBOL_CHARACTERS} (it becomes part of the API's URL)."
)


class Exchange(models.Model):
    name = models.CharField(max_length=64, unique=True, validators=[symbol_validator])

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Pair(models.Model):
    """A market on an exchange: `market` is the quote currency (KRW), `asset` the base (BTC)."""

    exchange = models.ForeignKey(Exchange, on_delete=models.CASCADE, related_name="pairs")
    market = models.CharField(max_length=32, validators=[symbol_validator])
    asset = models.CharField(max_length=32, validators=[symbol_validator])

    class Meta:
        ordering = ["exchange__name", "market", "asset"]
        constraints = [
            models.UniqueConstraint(
                fields=["exchange", "market", "asset"], name="pair_unique_exchange_market_asset"
            )
        ]

    def __str__(self) -> str:
        return f"{self.exchange.name}/{self.market}/{self.asset}"


class Candle(models.Model):
    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="candles")
    interval = models.CharField(max_length=3, choices=Interval.choices)
    basetm = models.DateTimeField(help_text="Open time of the candle, UTC.")
    o = models.FloatField("open")
    h = models.FloatField("high")
    l = models.FloatField("low")
    c = models.FloatField("close")
    v = models.FloatField("volume")

    class Meta:
        # The unique index (pair, interval, basetm) is also the one that serves the
        # endpoint: equality on the first two columns, range + order on basetm.
        constraints = [
            models.UniqueConstraint(
                fields=["pair", "interval", "basetm"], name="candle_unique_pair_interval_basetm"
            )
        ]

    def __str__(self) -> str:
        return f"{self.pair_id} {self.interval} {self.basetm:%Y-%m-%d %H:%M}"


# A candle as a plain tuple (basetm, o, h, l, c, v), the API document's field order: what
# the generator and the CSV parser produce and the bulk writers store.
CandleRow = tuple[datetime, float, float, float, float, float]


def _max_length(model: type[models.Model], name: str) -> int:
    field = model._meta.get_field(name)
    if not isinstance(field, models.CharField) or field.max_length is None:
        raise TypeError(f"{model.__name__}.{name} must be a CharField with a max_length")
    return field.max_length


SYMBOL_MAX_LENGTHS: dict[str, int] = {
    "exchange": _max_length(Exchange, "name"),
    "market": _max_length(Pair, "market"),
    "asset": _max_length(Pair, "asset"),
}


def is_symbol(kind: str, value: str) -> bool:
    """Whether `value` can be the `kind` ("exchange", "market" or "asset") of a pair as stored."""
    return len(value) <= SYMBOL_MAX_LENGTHS[kind] and SYMBOL_RE.fullmatch(value) is not None


def clean_symbol(kind: str, value: str) -> str:
    """`value` stripped, if it can be the `kind` ("exchange", "market" or "asset") of a pair
    the API can serve; otherwise ValueError saying what is wrong with it."""
    value = value.strip()
    max_length = SYMBOL_MAX_LENGTHS[kind]
    if not value:
        raise ValueError(f"the {kind} name is empty")
    if len(value) > max_length:
        raise ValueError(f"{kind} is longer than {max_length} characters")
    if not SYMBOL_RE.fullmatch(value):
        shown = repr(value[:40])
        if SYMBOL_RE.fullmatch("0" + value[1:]):
            raise ValueError(f"{kind} {shown} must start with a letter or a digit")
        raise ValueError(
            f"{kind} {shown} may contain only {SYMBOL_CHARACTERS} (it becomes part of the API's URL)"
        )
    return value


def clean_pair_names(*, exchange: str, market: str, asset: str) -> tuple[str, str, str]:
    """clean_symbol for the three names of a pair; the first problem is the ValueError."""
    return (
        clean_symbol("exchange", exchange),
        clean_symbol("market", market),
        clean_symbol("asset", asset),
    )
