"""The pydantic mode: Pydantic without a framework. The selector's `.values()` dicts are
validated by a TypeAdapter of the response schema and written by its `dump_json()`: FastAPI's
response_model done in Pydantic's own code from dicts to bytes, the counterpart of the msgspec
mode. ninja.py declares its Schema over this module's `CandleOut`.
"""

from typing import Annotated

import pydantic
from django.http import HttpResponse

from ...selectors import CandleQuery
from ..endpoint import candle_endpoint, candle_values
from ..errors import ApiError, invalid_response
from ..timing import ServerTiming

Finite = Annotated[float, pydantic.Field(allow_inf_nan=False)]
Volume = Annotated[float, pydantic.Field(ge=0, allow_inf_nan=False)]


class CandleOut(pydantic.BaseModel):
    """The response schema: basetm aware, every number finite, the volume >= 0."""

    basetm: pydantic.AwareDatetime
    o: Finite
    h: Finite
    l: Finite
    c: Finite
    v: Volume


class CandleDocument(pydantic.BaseModel):
    data: list[CandleOut]


DOCUMENT = pydantic.TypeAdapter(CandleDocument)


def schema_violation(exc: pydantic.ValidationError) -> ApiError:
    """Pydantic's first error (its location ends with the field) as the invalid_response 500."""
    error = exc.errors()[0]
    return invalid_response(str(error["loc"][-1]), error["msg"])


@candle_endpoint
def pydantic_mode(q: CandleQuery, timing: ServerTiming) -> HttpResponse:
    try:
        document = DOCUMENT.validate_python({"data": candle_values(q, timing)})
    except pydantic.ValidationError as exc:
        raise schema_violation(exc) from None
    timing.lap("serialize")
    body = DOCUMENT.dump_json(document)
    timing.lap("render")
    return HttpResponse(body, content_type="application/json")
