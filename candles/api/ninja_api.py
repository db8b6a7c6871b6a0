"""The ninja mode: a Pydantic response schema, the case study's FastAPI pattern in Django."""
from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.renderers import JSONRenderer

from ..selectors import latest_candles
from .endpoint import ensure_pair_exists
from .errors import ApiError, check_method
from .params import parse_candle_query
from .timing import ServerTiming

# Every method reaches the handler so the shared check answers 405 like the other modes
# (ninja's own answer is a plain-text 405).
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class CandleSchema(Schema):
    basetm: datetime
    o: float
    h: float
    l: float  # noqa: E741
    c: float
    v: float


class CandleResponse(Schema):
    data: list[CandleSchema]


class CompactJSONRenderer(JSONRenderer):
    json_dumps_params = {"separators": (",", ":")}


class TimedNinjaAPI(NinjaAPI):
    """Times the schema validation (between handler and render) and the rendering."""

    def get_content_type(self) -> str:
        return "application/json"

    def create_response(self, request: HttpRequest, data: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        timing: ServerTiming | None = getattr(request, "server_timing", None)
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


@api.api_operation(ALL_METHODS, "/candle/{exchange}/{market}/{asset}", response=CandleResponse)
def candles(request: HttpRequest, exchange: str, market: str, asset: str) -> dict[str, Any]:
    check_method(request)
    q = parse_candle_query(exchange, market, asset, request.GET)
    timing = request.server_timing = ServerTiming()
    rows = list(latest_candles(q))
    ensure_pair_exists(bool(rows), q)
    timing.lap("db")
    rows.reverse()
    return {"data": rows}
