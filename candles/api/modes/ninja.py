"""The ninja mode: a Pydantic response schema, the case study's FastAPI pattern in Django.

`ninja` is the view of ninja's own operation (routing inside NinjaAPI, the response
validated against CandleDocument, ninja's renderer), mounted by the URLconf like every
mode's view; its handler follows the shared pipeline of endpoint.py.
"""

from collections.abc import Callable
from typing import Annotated, Any

import pydantic
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern
from ninja import NinjaAPI, Schema
from ninja.renderers import JSONRenderer

from ..endpoint import begin, candle_instances
from ..errors import ApiError, invalid_response
from ..timing import ServerTiming

# Every method reaches the handler so the shared check answers 405 like the other modes
# (ninja's own answer is a plain-text 405).
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# The request attribute that carries the operation's ServerTiming to create_response.
_TIMING_ATTRIBUTE = "server_timing"

Finite = Annotated[float, pydantic.Field(allow_inf_nan=False)]
Volume = Annotated[float, pydantic.Field(ge=0, allow_inf_nan=False)]


class CandleOut(Schema):
    """The response schema: basetm aware, every number finite, the volume >= 0."""

    basetm: pydantic.AwareDatetime
    o: Finite
    h: Finite
    l: Finite
    c: Finite
    v: Volume


class CandleDocument(Schema):
    data: list[CandleOut]


class CompactJSONRenderer(JSONRenderer):
    json_dumps_params = {"separators": (",", ":")}


class TimedNinjaAPI(NinjaAPI):
    """Times the schema validation (between handler and render) and the rendering."""

    def get_content_type(self) -> str:
        return "application/json"

    def create_response(
        self, request: HttpRequest, data: Any, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        timing: ServerTiming | None = getattr(request, _TIMING_ATTRIBUTE, None)
        if timing is None:
            return super().create_response(request, data, *args, **kwargs)
        timing.lap("serialize")
        response = super().create_response(request, data, *args, **kwargs)
        timing.lap("render")
        timing.apply(response)
        return response


api = TimedNinjaAPI(
    title="candlebench ninja mode",
    urls_namespace="ninja",
    renderer=CompactJSONRenderer(),
    docs_url=None,
    openapi_url=None,
)


@api.exception_handler(ApiError)
def api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return exc.response()


@api.exception_handler(pydantic.ValidationError)
def invalid_row(request: HttpRequest, exc: pydantic.ValidationError) -> HttpResponse:
    """Only the response is validated by Pydantic here (the parameters by params.py):
    a row that breaks CandleOut is the shared invalid_response 500."""
    error = exc.errors()[0]
    return invalid_response(str(error["loc"][-1]), error["msg"]).response()


@api.api_operation(
    ALL_METHODS, "/candle/{exchange}/{market}/{asset}", response=CandleDocument, url_name="candles"
)
def candles(request: HttpRequest, exchange: str, market: str, asset: str) -> dict[str, Any]:
    q, timing = begin(request, exchange, market, asset)
    setattr(request, _TIMING_ATTRIBUTE, timing)
    rows = candle_instances(q, timing)
    return {"data": rows}


def _operation_view() -> Callable[..., HttpResponse]:
    """The candle operation's view out of ninja's URL patterns."""
    for pattern in api.urls[0]:
        if isinstance(pattern, URLPattern) and pattern.name == "candles":
            return pattern.callback
    raise LookupError("ninja's URL patterns have no 'candles' operation")


ninja = _operation_view()
