"""Exchanges, pairs and candles, and the rules every way of storing them shares."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.core.validators import RegexValidator
from django.db import models
from django.dispatch import Signal

# Sent after writes that change series (pair x interval) without a model signal of their own:
# queryset deletes, updates and bulk writes of the models below. Arguments: `series` (pairs of
# pair id and interval), `pairs` (ids of pairs all of whose series changed) and `using` (the
# database alias). candles.services bumps the series' versions when the transaction commits.
series_written = Signal()


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


class ExchangeQuerySet(models.QuerySet):
    """Bulk renames and deletes change every series of the exchanges' pairs."""

    def update(self, **kwargs: Any) -> int:
        pairs = list(Pair.objects.filter(exchange__in=self).values_list("pk", flat=True))
        updated = super().update(**kwargs)
        series_written.send(Exchange, pairs=pairs, using=self.db)
        return updated

    def delete(self) -> tuple[int, dict[str, int]]:
        pairs = list(Pair.objects.filter(exchange__in=self).values_list("pk", flat=True))
        deleted = super().delete()
        series_written.send(Exchange, pairs=pairs, using=self.db)
        return deleted


class Exchange(models.Model):
    name = models.CharField(max_length=64, unique=True, validators=[symbol_validator])

    objects = ExchangeQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PairQuerySet(models.QuerySet):
    """Bulk renames and deletes change every series of the pairs."""

    def update(self, **kwargs: Any) -> int:
        pairs = list(self.values_list("pk", flat=True))
        updated = super().update(**kwargs)
        series_written.send(Pair, pairs=pairs, using=self.db)
        return updated

    def delete(self) -> tuple[int, dict[str, int]]:
        pairs = list(self.values_list("pk", flat=True))
        deleted = super().delete()
        series_written.send(Pair, pairs=pairs, using=self.db)
        return deleted


class Pair(models.Model):
    """A market on an exchange: `market` is the quote currency (KRW), `asset` the base (BTC)."""

    exchange = models.ForeignKey(Exchange, on_delete=models.CASCADE, related_name="pairs")
    market = models.CharField(max_length=32, validators=[symbol_validator])
    asset = models.CharField(max_length=32, validators=[symbol_validator])

    objects = PairQuerySet.as_manager()

    class Meta:
        ordering = ["exchange__name", "market", "asset"]
        constraints = [
            models.UniqueConstraint(
                fields=["exchange", "market", "asset"], name="pair_unique_exchange_market_asset"
            )
        ]

    def __str__(self) -> str:
        return f"{self.exchange.name}/{self.market}/{self.asset}"


class CandleQuerySet(models.QuerySet):
    """The candles' bulk writes, which send no model signal, say which series they changed.

    (Deleting a pair or an exchange deletes its candles without this queryset: Django's fast
    delete, which a post_delete receiver on Candle would turn into loading every row.)
    """

    def _series(self) -> set[tuple[int, str]]:
        return set(self.order_by().values_list("pair_id", "interval").distinct())

    def update(self, **kwargs: Any) -> int:
        before = self._series()
        updated = super().update(**kwargs)
        # Candles moved to another pair or interval change that series too.
        pair = kwargs.get("pair_id", kwargs.get("pair"))
        pair_id = pair.pk if isinstance(pair, Pair) else pair
        interval = kwargs.get("interval")
        after = {(pair_id or p, interval or i) for p, i in before}
        series_written.send(Candle, series=before | after, using=self.db)
        return updated

    def delete(self) -> tuple[int, dict[str, int]]:
        series = self._series()
        deleted = super().delete()
        series_written.send(Candle, series=series, using=self.db)
        return deleted

    def bulk_create(self, objs: Iterable[Candle], *args: Any, **kwargs: Any) -> list[Candle]:
        created = super().bulk_create(objs, *args, **kwargs)
        series = {(c.pair_id, c.interval) for c in created}
        series_written.send(Candle, series=series, using=self.db)
        return created

    def bulk_update(self, objs: Iterable[Candle], *args: Any, **kwargs: Any) -> int:
        objs = list(objs)
        updated = super().bulk_update(objs, *args, **kwargs)
        series = {(c.pair_id, c.interval) for c in objs}
        series_written.send(Candle, series=series, using=self.db)
        return updated


class Candle(models.Model):
    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="candles")
    interval = models.CharField(max_length=3, choices=Interval.choices)
    basetm = models.DateTimeField(help_text="Open time of the candle, UTC.")
    o = models.FloatField("open")
    h = models.FloatField("high")
    l = models.FloatField("low")
    c = models.FloatField("close")
    v = models.FloatField("volume")

    objects = CandleQuerySet.as_manager()
    # (pair id, interval) as loaded from the database (from_db), else None.
    loaded_series: tuple[int, str] | None = None

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

    @classmethod
    def from_db(cls, db: str | None, field_names: Any, values: Any) -> Candle:
        """As loaded, remembering its series: a save that moves it changes that one too."""
        candle = super().from_db(db, field_names, values)
        candle.loaded_series = (candle.pair_id, candle.interval)
        return candle

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        series = {(self.pair_id, self.interval)}
        deleted = super().delete(*args, **kwargs)
        series_written.send(Candle, series=series, using=kwargs.get("using") or self._state.db)
        return deleted


class SeriesVersion(models.Model):
    """How often and when a series (a pair's candles of one interval: one document) last changed.

    Every write bumps it when its transaction commits (candles.services): the API's caches key
    answers on `version` and answer Last-Modified from `changed_at`. `previous_changed_at` tells
    whether two changes fell within one second (then a second-resolution If-Modified-Since cannot
    tell them apart). A series without a row has had no write since the table was made: no
    candles, unless written by SQL behind the project's back.
    """

    pair = models.ForeignKey(Pair, on_delete=models.CASCADE, related_name="series_versions")
    interval = models.CharField(max_length=3, choices=Interval.choices)
    version = models.PositiveBigIntegerField(default=1)
    changed_at = models.DateTimeField()
    previous_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["pair", "interval"], name="seriesversion_unique_pair_interval"
            )
        ]

    def __str__(self) -> str:
        return f"{self.pair_id} {self.interval} v{self.version}"


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
