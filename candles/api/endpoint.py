"""What every non-framework mode shares: method check, parameter parsing, errors, timing.

A mode body receives the parsed query and a ServerTiming and only turns rows into bytes.
"""
from collections.abc import Awaitable, Callable
from functools import wraps
from inspect import iscoroutinefunction

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ..selectors import CandleQuery, apair_exists, pair_exists
from .errors import ApiError, check_method, pair_not_found
from .params import parse_candle_query
from .timing import ServerTiming

SyncBody = Callable[[CandleQuery, ServerTiming], HttpResponse]
AsyncBody = Callable[[CandleQuery, ServerTiming], Awaitable[HttpResponse]]


def ensure_pair_exists(found_rows: bool, q: CandleQuery) -> None:
    """An empty answer is only a 404 when the pair itself is unknown (checked only then)."""
    if not found_rows and not pair_exists(q):
        raise pair_not_found()


async def aensure_pair_exists(found_rows: bool, q: CandleQuery) -> None:
    if not found_rows and not await apair_exists(q):
        raise pair_not_found()


def _query(request: HttpRequest, exchange: str, market: str, asset: str) -> CandleQuery:
    check_method(request)
    return parse_candle_query(exchange, market, asset, request.GET)


def candle_endpoint(body: SyncBody | AsyncBody) -> Callable[..., HttpResponse]:
    """Wrap a mode body into a Django view (async when the body is a coroutine function)."""
    if iscoroutinefunction(body):

        @wraps(body)
        async def async_view(request: HttpRequest, exchange: str, market: str, asset: str):
            try:
                q = _query(request, exchange, market, asset)
                timing = ServerTiming()
                response = await body(q, timing)
            except ApiError as exc:
                return exc.response()
            return timing.apply(response)

        return csrf_exempt(async_view)

    @wraps(body)
    def sync_view(request: HttpRequest, exchange: str, market: str, asset: str):
        try:
            q = _query(request, exchange, market, asset)
            timing = ServerTiming()
            response = body(q, timing)
        except ApiError as exc:
            return exc.response()
        return timing.apply(response)

    return csrf_exempt(sync_view)
