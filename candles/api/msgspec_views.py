"""The msgspec modes: rows validated into CandleOut Structs (msgspec_schema.py), then
msgspec.json.encode. `msgspec` converts the ORM's .values() (a FastAPI response_model,
with msgspec); `raw-msgspec` the raw cursor's rows (validated output from raw's path)."""
import msgspec
from django.http import HttpResponse

from ..selectors import CANDLE_FIELDS, CandleQuery, fetch_raw_rows, latest_candles
from .encoding import rows_to_dicts
from .endpoint import candle_endpoint, fetched
from .errors import ApiError, invalid_response
from .msgspec_schema import CandleDocument, CandleOut
from .timing import ServerTiming

ENCODER = msgspec.json.Encoder()


def schema_violation(exc: msgspec.ValidationError) -> ApiError:
    """msgspec's "Expected `float` >= 0.0 - at `$[3].v`" as the invalid_response 500."""
    detail, _, path = str(exc).rpartition(" - at ")
    return invalid_response(path.strip("`").rsplit(".", 1)[-1], detail)


def validated(rows: list[dict]) -> list[CandleOut]:
    """Every row checked against the schema; one bad row and nothing is sent but the 500."""
    try:
        return msgspec.convert(rows, list[CandleOut])
    except msgspec.ValidationError as exc:
        raise schema_violation(exc) from None


def render(candles: list[CandleOut], timing: ServerTiming) -> HttpResponse:
    timing.lap("serialize")
    body = ENCODER.encode(CandleDocument(data=candles))
    timing.lap("render")
    return HttpResponse(body, content_type="application/json")


@candle_endpoint
def msgspec_mode(q: CandleQuery, timing: ServerTiming) -> HttpResponse:
    rows = fetched(list(latest_candles(q).values(*CANDLE_FIELDS)), q, timing)
    rows.reverse()
    return render(validated(rows), timing)


@candle_endpoint
def raw_msgspec_mode(q: CandleQuery, timing: ServerTiming) -> HttpResponse:
    # On SQLite basetm arrives as the stored UTC text ("...Z"): converting parses it, so a
    # time that is not a valid aware datetime fails like any other field.
    return render(validated(rows_to_dicts(fetched(fetch_raw_rows(q), q, timing))), timing)
