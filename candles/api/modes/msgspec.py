"""The msgspec modes: rows validated into CandleOut Structs, then msgspec.json.encode.
`msgspec` converts the ORM's .values() (a FastAPI response_model, with msgspec);
`raw-msgspec` the raw cursor's rows (validated output from raw's path). django-bolt's
handlers (bolt.py) send the same Structs.
"""

import sys
from datetime import datetime
from typing import Annotated

import msgspec
from django.http import HttpResponse

from ...selectors import CandleQuery, fetch_raw_rows
from ..encoding import rows_to_dicts
from ..endpoint import candle_endpoint, candle_values, fetched
from ..errors import ApiError, invalid_response
from ..timing import ServerTiming

FLOAT_MAX = sys.float_info.max
Finite = Annotated[float, msgspec.Meta(ge=-FLOAT_MAX, le=FLOAT_MAX)]
Volume = Annotated[float, msgspec.Meta(ge=0, le=FLOAT_MAX)]
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]


class CandleOut(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    """The response schema, with the same rules as DRF's and ninja's: `basetm` an aware
    datetime, every price and the volume finite (bounds at the largest float shut out NaN
    and infinity), the volume >= 0. It holds only a datetime and floats, so it can never be
    part of a reference cycle: `gc=False` keeps a thousand of them per response out of the
    garbage collector's lists."""

    basetm: AwareDatetime
    o: Finite
    h: Finite
    l: Finite
    c: Finite
    v: Volume


class CandleDocument(msgspec.Struct):
    data: list[CandleOut]


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


def encoded(candles: list[CandleOut], timing: ServerTiming) -> bytes:
    timing.lap("serialize")
    body = ENCODER.encode(CandleDocument(data=candles))
    timing.lap("render")
    return body


def msgspec_body(q: CandleQuery, timing: ServerTiming) -> bytes:
    """`msgspec`'s bytes (django-bolt's `bolt` mode sends the same)."""
    return encoded(validated(candle_values(q, timing)), timing)


def raw_msgspec_body(q: CandleQuery, timing: ServerTiming) -> bytes:
    """`raw-msgspec`'s bytes (and `bolt-raw`'s). On SQLite basetm arrives as the stored UTC
    text ("...Z"): converting parses it, so a time that is not a valid aware datetime fails
    like any other field."""
    return encoded(validated(rows_to_dicts(fetched(fetch_raw_rows(q), q, timing))), timing)


@candle_endpoint
def msgspec_mode(q: CandleQuery, timing: ServerTiming) -> HttpResponse:
    return HttpResponse(msgspec_body(q, timing), content_type="application/json")


@candle_endpoint
def raw_msgspec_mode(q: CandleQuery, timing: ServerTiming) -> HttpResponse:
    return HttpResponse(raw_msgspec_body(q, timing), content_type="application/json")
