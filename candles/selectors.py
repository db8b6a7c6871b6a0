"""The one place that builds the endpoint's query; every mode reads through it."""
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet, Subquery

from .models import Candle, Pair

CANDLE_FIELDS: tuple[str, ...] = ("basetm", "o", "h", "l", "c", "v")


@dataclass(frozen=True)
class CandleQuery:
    exchange: str
    market: str
    asset: str
    interval: str
    limit: int
    before: datetime | None = None


def pair_queryset(q: CandleQuery) -> QuerySet[Pair]:
    return Pair.objects.filter(exchange__name=q.exchange, market=q.market, asset=q.asset)


def latest_candles(q: CandleQuery) -> QuerySet[Candle]:
    """The latest `q.limit` candles, newest first (callers reverse to oldest first).

    The pair is resolved in a subquery so a request costs one round trip; the
    (pair, interval, basetm) index serves both the filter and the order.
    """
    qs = Candle.objects.filter(
        pair_id=Subquery(pair_queryset(q).order_by().values("id")[:1]), interval=q.interval
    )
    if q.before is not None:
        qs = qs.filter(basetm__lt=q.before)
    return qs.order_by("-basetm")[: q.limit]
