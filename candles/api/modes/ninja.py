"""The ninja modes: a Pydantic response schema, the case study's FastAPI pattern in Django,
and the two changes a ninja user can make to it, one at a time.

`ninja` is what ninja's documentation starts with: the handler returns model instances and
ninja's default JSON renderer writes the answer. `ninja-orjson` swaps in the orjson renderer
ninja's documentation shows; `ninja-values` also returns the selector's `.values()` dicts
instead of model instances; `ninja-basemodel` also declares the response as the pydantic
mode's plain Pydantic model instead of a ninja Schema, whose getter reads every field in
Python. Each is the view of its own NinjaAPI's operation (routing inside ninja, the answer
validated against the response schema, the API's renderer), mounted by the URLconf like every
mode's view; the handler follows the shared pipeline of endpoint.py.

On Pydantic v1 (django-ninja 0.22, the 2023-08 stack: docs/stacks.md) the schema comes from
pydantic_v1.py, the same rules in v1's idiom; the rest of this module is the same code.
"""

from collections.abc import Callable
from typing import Any

import pydantic
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern
from ninja import NinjaAPI, Schema
from ninja.renderers import BaseRenderer, JSONRenderer

from ...selectors import CandleQuery
from ..encoding import orjson_dumps
from ..endpoint import begin, candle_instances, candle_values
from ..errors import ApiError
from ..timing import ServerTiming

if pydantic.VERSION.startswith("1."):
    from .pydantic_v1 import CandleDocument as PydanticDocument
    from .pydantic_v1 import CandleOut as PydanticCandleOut
    from .pydantic_v1 import schema_violation
else:
    from .pydantic import CandleDocument as PydanticDocument
    from .pydantic import CandleOut as PydanticCandleOut
    from .pydantic import schema_violation

# Every method reaches the handler so the shared check answers 405 like the other modes
# (ninja's own answer is a plain-text 405).
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# The request attribute that carries the operation's ServerTiming to create_response.
_TIMING_ATTRIBUTE = "server_timing"


class CandleOut(Schema, PydanticCandleOut):
    """The pydantic mode's response schema as a ninja Schema: the same fields and rules,
    read through ninja's getter (attributes of model instances, or keys of dicts)."""


class CandleDocument(Schema):
    data: list[CandleOut]


class CompactJSONRenderer(JSONRenderer):
    json_dumps_params = {"separators": (",", ":")}


class ORJSONRenderer(BaseRenderer):
    """The orjson renderer of ninja's documentation, with the project's orjson options
    (UTC written with "Z", as in every mode's document)."""

    media_type = "application/json"

    def render(self, request: HttpRequest, data: Any, *, response_status: int) -> bytes:
        return orjson_dumps(data)


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


def api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
    return exc.response()


def invalid_row(request: HttpRequest, exc: pydantic.ValidationError) -> HttpResponse:
    """Only the response is validated by Pydantic here (the parameters by params.py):
    a row that breaks CandleOut is the shared invalid_response 500."""
    return schema_violation(exc).response()


def candle_view(
    namespace: str,
    renderer: BaseRenderer,
    rows: Callable[[CandleQuery, ServerTiming], list],
    document: type[pydantic.BaseModel] = CandleDocument,
) -> Callable[..., HttpResponse]:
    """The view of a NinjaAPI of its own whose candle operation answers `rows` validated
    against `document`, rendered by `renderer`."""
    api = TimedNinjaAPI(
        title=f"candlebench {namespace} mode",
        urls_namespace=namespace,
        renderer=renderer,
        docs_url=None,
        openapi_url=None,
    )
    api.exception_handler(ApiError)(api_error)
    api.exception_handler(pydantic.ValidationError)(invalid_row)

    @api.api_operation(
        ALL_METHODS,
        "/candle/{exchange}/{market}/{asset}",
        response=document,
        url_name="candles",
    )
    def candles(request: HttpRequest, exchange: str, market: str, asset: str) -> dict[str, Any]:
        q, timing = begin(request, exchange, market, asset)
        setattr(request, _TIMING_ATTRIBUTE, timing)
        return {"data": rows(q, timing)}

    for pattern in api.urls[0]:
        if isinstance(pattern, URLPattern) and pattern.name == "candles":
            return pattern.callback
    raise LookupError("ninja's URL patterns have no 'candles' operation")


ninja = candle_view("ninja", CompactJSONRenderer(), candle_instances)
ninja_orjson = candle_view("ninja-orjson", ORJSONRenderer(), candle_instances)
ninja_values = candle_view("ninja-values", ORJSONRenderer(), candle_values)
ninja_basemodel = candle_view("ninja-basemodel", ORJSONRenderer(), candle_values, PydanticDocument)
