"""Modes without a serializer framework or validation: json, orjson (async) and raw."""
from django.http import HttpResponse, JsonResponse

from ..selectors import CANDLE_FIELDS, CandleQuery, fetch_raw_rows, latest_candles
from .encoding import orjson_dumps, rows_to_dicts
from .endpoint import afetched, candle_endpoint, fetched
from .timing import ServerTiming


@candle_endpoint
def json_mode(q: CandleQuery, timing: ServerTiming) -> HttpResponse:
    rows = fetched(list(latest_candles(q).values(*CANDLE_FIELDS)), q, timing)
    rows.reverse()
    timing.lap("serialize")
    response = JsonResponse({"data": rows}, json_dumps_params={"separators": (",", ":")})
    timing.lap("render")
    return response


@candle_endpoint
async def orjson_mode(q: CandleQuery, timing: ServerTiming) -> HttpResponse:
    rows = await afetched([row async for row in latest_candles(q).values(*CANDLE_FIELDS)], q, timing)
    rows.reverse()
    timing.lap("serialize")
    body = orjson_dumps({"data": rows})
    timing.lap("render")
    return HttpResponse(body, content_type="application/json")


@candle_endpoint
def raw_mode(q: CandleQuery, timing: ServerTiming) -> HttpResponse:
    data = rows_to_dicts(fetched(fetch_raw_rows(q), q, timing))
    timing.lap("serialize")
    body = orjson_dumps({"data": data})
    timing.lap("render")
    return HttpResponse(body, content_type="application/json")
