"""The request pipeline every mode follows: method check and parameters (`begin`), the
selector's rows with the 404 for an unknown pair (`fetched`), then the mode's own
serialization and rendering, with Server-Timing laps db / serialize / render.

`candle_endpoint` wraps a mode body (rows to bytes) into a view; the DRF and ninja modes
run the same steps inside their framework's view and error handling.
"""

from collections.abc import Awaitable, Callable
from functools import wraps
from inspect import iscoroutinefunction
from typing import TypeVar, cast

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ..models import Candle
from ..selectors import CANDLE_FIELDS, CandleQuery, apair_exists, latest_candles, pair_exists
from .errors import ApiError, check_method, pair_not_found
from .params import parse_candle_query
from .timing import ServerTiming

SyncBody = Callable[[CandleQuery, ServerTiming], HttpResponse]
AsyncBody = Callable[[CandleQuery, ServerTiming], Awaitable[HttpResponse]]
# A Django view: an async one returns an awaitable of its response.
View = Callable[..., HttpResponse | Awaitable[HttpResponse]]
# A TypeVar, not PEP 695's syntax: the app runs on Python 3.11 too (stacks/, docs/stacks.md).
Rows = TypeVar("Rows", bound=list)


def begin(
    request: HttpRequest, exchange: str, market: str, asset: str
) -> tuple[CandleQuery, ServerTiming]:
    """The shared 405 and 400/404 checks (ApiError), then the clock starts."""
    check_method(request)
    return parse_candle_query(exchange, market, asset, request.GET), ServerTiming()


def fetched(rows: Rows, q: CandleQuery, timing: ServerTiming) -> Rows:
    """The selector's rows, once an empty answer has been told apart from an unknown pair
    (checked only then: a 404); the time so far is the database's."""
    if not rows and not pair_exists(q):
        raise pair_not_found()
    timing.lap("db")
    return rows


async def afetched(rows: Rows, q: CandleQuery, timing: ServerTiming) -> Rows:
    """`fetched` for async views."""
    if not rows and not await apair_exists(q):
        raise pair_not_found()
    timing.lap("db")
    return rows


def candle_values(q: CandleQuery, timing: ServerTiming) -> list[dict]:
    """The selector's rows as `.values()` dicts, oldest first (the document's order)."""
    rows = fetched(list(latest_candles(q).values(*CANDLE_FIELDS)), q, timing)
    rows.reverse()
    return rows


async def acandle_values(q: CandleQuery, timing: ServerTiming) -> list[dict]:
    """`candle_values` for async views, iterating the async ORM."""
    rows = await afetched(
        [row async for row in latest_candles(q).values(*CANDLE_FIELDS)], q, timing
    )
    rows.reverse()
    return rows


def candle_instances(q: CandleQuery, timing: ServerTiming) -> list[Candle]:
    """The selector's rows as model instances, oldest first (for the serializer frameworks)."""
    candles = fetched(list(latest_candles(q)), q, timing)
    candles.reverse()
    return candles


def candle_endpoint(body: SyncBody | AsyncBody) -> View:
    """Wrap a mode body into a Django view (async when the body is a coroutine function)."""
    if iscoroutinefunction(body):
        async_body = cast(AsyncBody, body)

        @wraps(body)
        async def async_view(
            request: HttpRequest, exchange: str, market: str, asset: str
        ) -> HttpResponse:
            try:
                q, timing = begin(request, exchange, market, asset)
                return timing.apply(await async_body(q, timing))
            except ApiError as exc:
                return exc.response()

        # csrf_exempt's mark, set here: before Django 5.0 (the stacks of 2023) csrf_exempt
        # wraps an async view in a sync function, which Django then calls without awaiting.
        async_view.csrf_exempt = True  # type: ignore[attr-defined]
        return async_view

    sync_body = cast(SyncBody, body)  # not a coroutine function

    @wraps(body)
    def sync_view(request: HttpRequest, exchange: str, market: str, asset: str) -> HttpResponse:
        try:
            q, timing = begin(request, exchange, market, asset)
            return timing.apply(sync_body(q, timing))
        except ApiError as exc:
            return exc.response()

    return csrf_exempt(sync_view)
