"""Modes without a serializer framework: json, orjson (async) and raw."""
from django.db import connections
from django.http import HttpResponse, JsonResponse

from ..selectors import CANDLE_FIELDS, CandleQuery, latest_candles
from .encoding import orjson_dumps
from .endpoint import aensure_pair_exists, candle_endpoint, ensure_pair_exists
from .timing import ServerTiming


@candle_endpoint
def json_mode(q: CandleQuery, timing: ServerTiming) -> HttpResponse:
    rows = list(latest_candles(q).values(*CANDLE_FIELDS))
    ensure_pair_exists(bool(rows), q)
    timing.lap("db")
    rows.reverse()
    timing.lap("serialize")
    response = JsonResponse({"data": rows}, json_dumps_params={"separators": (",", ":")})
    timing.lap("render")
    return response


@candle_endpoint
async def orjson_mode(q: CandleQuery, timing: ServerTiming) -> HttpResponse:
    rows = [row async for row in latest_candles(q).values(*CANDLE_FIELDS)]
    await aensure_pair_exists(bool(rows), q)
    timing.lap("db")
    rows.reverse()
    timing.lap("serialize")
    body = orjson_dumps({"data": rows})
    timing.lap("render")
    return HttpResponse(body, content_type="application/json")


def fetch_raw_rows(q: CandleQuery) -> list[tuple]:
    """The selector's own SQL on the cursor: the ORM builds it but never hydrates a row."""
    qs = latest_candles(q).values_list(*CANDLE_FIELDS)
    sql, params = qs.query.get_compiler(qs.db).as_sql()
    connection = connections[qs.db]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            use_native_timestamptz_loader(cursor.cursor)
        cursor.execute(sql, params)
        return cursor.fetchall()


def use_native_timestamptz_loader(psycopg_cursor) -> None:
    """Load timestamptz with psycopg's own loader, still aware and in the session's UTC.

    Django registers a Python subclass of psycopg's loader on every connection; the
    subclass loses psycopg's C implementation and cost about 4.7 µs a row (cProfile, 1000
    rows), most of the raw mode's time on PostgreSQL.
    """
    from psycopg.types.datetime import TimestamptzLoader

    psycopg_cursor.adapters.register_loader("timestamptz", TimestamptzLoader)


def rows_to_dicts(rows: list[tuple]) -> list[dict]:
    """Newest-first tuples to oldest-first dicts in the document's key order."""
    return [dict(zip(CANDLE_FIELDS, row)) for row in reversed(rows)]


@candle_endpoint
def raw_mode(q: CandleQuery, timing: ServerTiming) -> HttpResponse:
    rows = fetch_raw_rows(q)
    ensure_pair_exists(bool(rows), q)
    timing.lap("db")
    data = rows_to_dicts(rows)
    timing.lap("serialize")
    body = orjson_dumps({"data": data})
    timing.lap("render")
    return HttpResponse(body, content_type="application/json")
