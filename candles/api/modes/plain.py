"""Modes without a serializer framework or validation: json, orjson (async) and raw."""

from django.http import HttpResponse, JsonResponse

from ...selectors import CandleQuery, fetch_raw_rows
from ..encoding import orjson_dumps, rows_to_dicts
from ..endpoint import acandle_values, candle_endpoint, candle_values, fetched
from ..timing import ServerTiming


@candle_endpoint
def json_mode(q: CandleQuery, timing: ServerTiming) -> HttpResponse:
    rows = candle_values(q, timing)
    timing.lap("serialize")
    response = JsonResponse({"data": rows}, json_dumps_params={"separators": (",", ":")})
    timing.lap("render")
    return response


@candle_endpoint
async def orjson_mode(q: CandleQuery, timing: ServerTiming) -> HttpResponse:
    rows = await acandle_values(q, timing)
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
