"""A project's own serializer as a mode, as the README shows it: one view..."""

from django.http import HttpResponse

from candles.api.encoding import orjson_dumps, rows_to_dicts
from candles.api.endpoint import candle_endpoint, fetched
from candles.api.timing import ServerTiming
from candles.selectors import CANDLE_FIELDS, CandleQuery, latest_candles


@candle_endpoint
def orm_tuples(q: CandleQuery, timing: ServerTiming) -> HttpResponse:
    """The ORM's values_list() tuples, turned into the document's dicts and orjson."""
    rows = fetched(list(latest_candles(q).values_list(*CANDLE_FIELDS)), q, timing)
    data = rows_to_dicts(rows)
    timing.lap("serialize")
    body = orjson_dumps({"data": data})
    timing.lap("render")
    return HttpResponse(body, content_type="application/json")
