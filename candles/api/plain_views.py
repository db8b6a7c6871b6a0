"""Modes without a serializer framework: json, orjson (async) and raw."""
from django.http import HttpResponse, JsonResponse

from ..selectors import CANDLE_FIELDS, CandleQuery, fetch_raw_rows, latest_candles
from .encoding import orjson_dumps, rows_to_dicts
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
