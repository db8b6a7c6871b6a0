import re

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


# Exchange, market and asset names become segments of the API's URL.
SYMBOL_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]*"
SYMBOL_RE = re.compile(SYMBOL_PATTERN)
symbol_validator = RegexValidator(
    f"^{SYMBOL_PATTERN}\\Z", "Use only letters, digits, '.', '_' and '-' (it becomes part of the API's URL)."
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
    l = models.FloatField("low")  # noqa: E741 - the API's field name
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
