"""What every cache setup reads before a mode runs: the request normalized and its series' version
(one query on the version table and the pair's names, no candle), and the answer the cache gives
in place of the mode's."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from time import perf_counter

from django.http import HttpRequest, HttpResponse

from ..selectors import CandleQuery, SeriesState, series_state
from .caching import cache_timing
from .errors import ALLOWED_METHODS, ApiError
from .params import parse_candle_query


@dataclass(frozen=True)
class SeriesRequest:
    """A valid candle request for a pair that exists, with its series' state."""

    query: CandleQuery
    state: SeriesState

    @property
    def normalized(self) -> str:
        """The request's parameters, defaults filled in and spelled one way: `?limit=1000&
        interval=1m` and `?interval=1m&limit=1000` (or a `before` with an offset and the same
        instant in UTC) are one string. The pair is the state's id, not the names."""
        q = self.query
        before = "-" if q.before is None else f"{q.before.timestamp():.6f}"
        return f"{self.state.pair_id}:{q.interval}:{q.limit}:{before}"


def series_request(
    request: HttpRequest, exchange: str, market: str, asset: str
) -> SeriesRequest | None:
    """The request as the caches key it; None when no cache may answer it: a method the API
    refuses, bad parameters or an unknown pair. The mode's own view answers those (errors are
    never cached, and are the same in every mode)."""
    if request.method not in ALLOWED_METHODS:
        return None
    try:
        q = parse_candle_query(exchange, market, asset, request.GET)
    except ApiError:
        return None
    state = series_state(q)
    return None if state is None else SeriesRequest(q, state)


def cached_answer(
    body: bytes, headers: Iterable[tuple[str, str]], desc: str, started: float
) -> HttpResponse:
    """A 200 from stored bytes and the mode's own headers, its Server-Timing the cache's own
    entry (time since `started`), never the stored render's laps."""
    response = HttpResponse(body)
    for name, value in headers:
        response[name] = value
    response["Server-Timing"] = cache_timing(desc, perf_counter() - started)
    return response
