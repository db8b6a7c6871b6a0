"""The case study's FastAPI app, written as the study wrote it, on the project's rows.

A reference to measure Django against, not a product surface: the `interval` enum and
`limit` (1..1440) are FastAPI parameters (bad input is FastAPI's own 422), an async handler
awaits a data-access function that returns the study's Pydantic `Candle` objects, built
from rows the driver gave as datetimes and floats. Three of the study's variants, each a
mode of the registry: `fastapi-model` (response_model), `fastapi-dict` (no response_model:
FastAPI's jsonable_encoder) and `fastapi-orjson` (orjson.dumps(..., default=str) in a plain
Response). Rows come from the `raw` mode's SQL (candles.selectors); `floor` answers the
Django floor's bytes. Serve it with `uvicorn loadtest.reference.fastapi_app:app`.
"""

import os
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "candleproject.settings")
django.setup()

import orjson
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from fastapi import FastAPI, Query, Request, Response
from pydantic import BaseModel

from candles.api.caching import served_setup as served_cache
from candles.api.encoding import orjson_dumps, rows_to_dicts
from candles.api.endpoint import fetched
from candles.api.errors import ApiError
from candles.api.gc_setups import apply_configured, gc_document
from candles.api.gc_time import install, mark, since
from candles.api.modes.floor import compute_body, remembered_body
from candles.api.params import DEFAULT_LIMIT, MAX_LIMIT, check_symbols
from candles.api.registry import ServerKind, modes_document, modes_for_kind
from candles.api.timing import ServerTiming, gc_entry
from candles.models import Interval
from candles.selectors import CandleQuery, fetch_raw_rows

CANDLE_PATH = "/candle/{exchange}/{market}/{asset}"
# A TypeVar, not PEP 695's syntax: this app runs on Python 3.11 too (stacks/, docs/stacks.md).
T = TypeVar("T")
# The cache setup it runs is always `none` (caching.served_setup says so for any CANDLEBENCH_CACHE);
# the GC setup it runs is read back at each request (gc_document).
MODES = {
    **modes_document(modes_for_kind(ServerKind.FASTAPI, diagnostics=True)),
    "cache": served_cache(settings.CANDLEBENCH_CACHE, ServerKind.FASTAPI).name,
}


class Candle(BaseModel):
    basetm: datetime
    o: float
    h: float
    l: float
    c: float
    v: float


class CandleResponse(BaseModel):
    data: list[Candle]


class ServerTimingMiddleware:
    """Server-Timing on candle answers, as the Django modes send it: a handler keeps a
    ServerTiming in request.state and laps db and serialize; `render` is everything from the
    handler's return to the response's start (FastAPI's response_model validation and
    encoding, or the Response the handler built); `gc` the collector's time since the request
    came in (candles/api/timing.py). Error answers carry none, as in Django."""

    def __init__(self, app) -> None:
        self.app = app
        install()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = mark()

        async def send_with_timing(message) -> None:
            timing = scope.get("state", {}).get("timing")
            if message["type"] == "http.response.start" and timing and message["status"] < 400:
                timing.lap("render")
                message["headers"] = [
                    *message.get("headers", []),
                    (
                        b"server-timing",
                        f"{timing.header()}, {gc_entry(since(start))}".encode(),
                    ),
                ]
            await send(message)

        await self.app(scope, receive, send_with_timing)


app = FastAPI(
    title="candlebench: the case study's FastAPI app",
    openapi_url=None,
    docs_url=None,
    redoc_url=None,
)
app.add_middleware(ServerTimingMiddleware)


@app.exception_handler(ApiError)
async def api_error(request: Request, exc: ApiError) -> Response:
    """The project's own answers (unknown pair: 404) keep the project's body."""
    django_response = exc.response()
    return Response(
        django_response.content, status_code=exc.status, headers=dict(django_response.items())
    )


def with_connection_checks(work: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """`work` on asgiref's one database thread, the connection checked before and after as
    Django's request signals do (a broken one dropped, a pooled one back in the pool)."""

    def checked(*args: object) -> T:
        close_old_connections()
        try:
            return work(*args)
        finally:
            close_old_connections()

    return sync_to_async(checked, thread_sensitive=True)


def read_rows(q: CandleQuery, timing: ServerTiming) -> list[tuple]:
    """The `raw` mode's rows (newest first, as the selector orders them) with the time as a
    datetime, as the study's driver gave it (on SQLite the raw SQL reads the stored text: it
    is parsed here, in Python, row by row; psycopg gives datetimes itself)."""
    rows = fetched(fetch_raw_rows(q), q, timing)  # the 404, and the "db" lap
    if rows and isinstance(rows[0][0], str):
        return [(datetime.fromisoformat(t), o, h, lo, c, v) for t, o, h, lo, c, v in rows]
    return rows


read_rows_async = with_connection_checks(read_rows)
compute_body_async = with_connection_checks(compute_body)


def candle_query(
    exchange: str, market: str, asset: str, interval: Interval, limit: int
) -> CandleQuery:
    check_symbols(exchange, market, asset)  # a name no pair can have never reaches the database
    return CandleQuery(exchange, market, asset, interval.value, limit)


async def get_candles(request: Request, q: CandleQuery) -> list[Candle]:
    """The study's data-access function: a list of the inner model objects."""
    timing = request.state.timing = ServerTiming()
    rows = await read_rows_async(q, timing)
    data = [Candle(basetm=t, o=o, h=h, l=lo, c=c, v=v) for t, o, h, lo, c, v in reversed(rows)]
    timing.lap("serialize")
    return data


LimitQuery = Query(DEFAULT_LIMIT, gt=0, le=MAX_LIMIT)


@app.get("/api/fastapi-model" + CANDLE_PATH, response_model=CandleResponse)
async def candles_model(
    request: Request,
    exchange: str,
    market: str,
    asset: str,
    interval: Interval,
    limit: int = LimitQuery,
):
    data = await get_candles(request, candle_query(exchange, market, asset, interval, limit))
    return {"data": data}


@app.get("/api/fastapi-dict" + CANDLE_PATH)
async def candles_dict(
    request: Request,
    exchange: str,
    market: str,
    asset: str,
    interval: Interval,
    limit: int = LimitQuery,
):
    data = await get_candles(request, candle_query(exchange, market, asset, interval, limit))
    return {"data": data}


@app.get("/api/fastapi-orjson" + CANDLE_PATH)
async def candles_orjson(
    request: Request,
    exchange: str,
    market: str,
    asset: str,
    interval: Interval,
    limit: int = LimitQuery,
) -> Response:
    """The study's fast variant. orjson cannot encode Pydantic objects (default=str would
    write each one's repr as a string), so it dumps the driver's rows as dicts; orjson writes
    an aware UTC datetime as +00:00, never calling default=str for it."""
    q = candle_query(exchange, market, asset, interval, limit)
    timing = request.state.timing = ServerTiming()
    rows = await read_rows_async(q, timing)
    data = rows_to_dicts(rows)
    timing.lap("serialize")
    return Response(
        content=orjson.dumps({"data": data}, default=str), media_type="application/json"
    )


@app.get("/api/floor" + CANDLE_PATH)
async def floor(
    request: Request,
    exchange: str,
    market: str,
    asset: str,
    interval: Interval,
    limit: int = LimitQuery,
) -> Response:
    """The Django floor's bytes for the same request, from memory after the first: FastAPI's
    and uvicorn's own cost for this body size."""
    q = candle_query(exchange, market, asset, interval, limit)
    timing = request.state.timing = ServerTiming()
    body = remembered_body(q) or await compute_body_async(q, timing)
    return Response(content=body, media_type="application/json")


@app.get("/api/modes")
async def modes() -> Response:
    """The modes, and the GC setup this process runs (read back from `gc`)."""
    return Response(content=orjson_dumps({**MODES, **gc_document()}), media_type="application/json")


# settings.CANDLEBENCH_GC as this app runs it (the between-requests setups, which need Django's
# request signals, run `default` here), once the app is loaded.
apply_configured(ServerKind.FASTAPI)
