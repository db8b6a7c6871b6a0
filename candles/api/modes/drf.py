"""The DRF modes: what a DRF user writes, with and without a second validation pass.

The model serializer the DRF modes render (`drf-values` writes `.values()` dicts with the
schema's fields instead) and the response schema (`CandleOut` rows in a `CandleDocument`)
that `drf-validated` checks its output against; each mode is an APIView
(DRF's own request, negotiation, rendering and exception handling) whose get() follows the
shared pipeline of endpoint.py.
"""

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ...models import Candle
from ...selectors import CANDLE_FIELDS, CandleQuery
from ..encoding import orjson_dumps
from ..endpoint import begin, candle_instances, candle_values
from ..errors import ApiError, check_method, invalid_response
from ..timing import ServerTiming


class CandleModelSerializer(serializers.ModelSerializer):
    """The rows every DRF mode renders: the model's fields in the document's order."""

    class Meta:
        model = Candle
        fields = CANDLE_FIELDS


class AwareDateTimeField(serializers.DateTimeField):
    """A datetime that carries its offset (DRF alone reads a naive one as local time);
    written in UTC like every mode's document."""

    default_error_messages = {"naive": "Expected a datetime with a time zone."}

    def enforce_timezone(self, value: datetime) -> datetime:
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


class CandleOut(serializers.Serializer):
    """The response schema, like a FastAPI response_model's inner model: basetm aware,
    every number finite (DRF's FloatField refuses NaN and infinity), the volume >= 0."""

    basetm = AwareDateTimeField()
    o = serializers.FloatField()
    h = serializers.FloatField()
    l = serializers.FloatField()
    c = serializers.FloatField()
    v = serializers.FloatField(min_value=0)


class CandleDocument(serializers.Serializer):
    data = CandleOut(many=True)  # type: ignore[assignment]  # the metaclass moves fields off the class: Serializer.data stays


class FirstRendererNegotiation(BaseContentNegotiation):
    """Ignore Accept: every mode answers JSON, never DRF's 406."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ORJSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None

    def render(self, data: Any, accepted_media_type=None, renderer_context=None) -> bytes:
        return orjson_dumps(data)


class TimedResponse(Response):
    """Times DRF's rendering, which runs after the view returns, and adds Server-Timing."""

    def __init__(self, data: Any, timing: ServerTiming):
        super().__init__(data)
        self.timing = timing

    @property
    def rendered_content(self):
        self.timing.restart()
        content = super().rendered_content
        self.timing.lap("render")
        self.timing.apply(self)
        return content


class CandleAPIView(APIView):
    http_method_names = ["get", "head"]
    content_negotiation_class = FirstRendererNegotiation

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any):
        check_method(request)  # raises the shared 405

    def handle_exception(self, exc: Exception):
        if isinstance(exc, ApiError):
            return exc.response()
        return super().handle_exception(exc)

    def get(self, request: Request, exchange: str, market: str, asset: str) -> Response:
        q, timing = begin(request, exchange, market, asset)
        payload = self.serialize(self.rows(q, timing))
        timing.lap("serialize")
        return TimedResponse(payload, timing)

    def rows(self, q: CandleQuery, timing: ServerTiming) -> list:
        return candle_instances(q, timing)

    def serialize(self, candles: list) -> dict[str, Any]:
        return {"data": CandleModelSerializer(candles, many=True).data}


class DrfView(CandleAPIView):
    renderer_classes = [JSONRenderer]


class DrfOrjsonView(CandleAPIView):
    renderer_classes = [ORJSONRenderer]


class DrfValuesView(DrfOrjsonView):
    """drf-orjson without model instances: the selector's `.values()` dicts written by a
    plain Serializer of the same fields (CandleOut, for output only: nothing is validated)."""

    def rows(self, q: CandleQuery, timing: ServerTiming) -> list:
        return candle_values(q, timing)

    def serialize(self, candles: list) -> dict[str, Any]:
        return {"data": CandleOut(candles, many=True).data}


class DrfValidatedView(DrfView):
    """Serialize, then validate the output again through a response serializer: the
    analogue of FastAPI's response_model. A row that breaks the schema is the shared
    invalid_response 500, not DRF's 400 for bad input."""

    def serialize(self, candles: list[Candle]) -> dict[str, Any]:
        response: serializers.Serializer = CandleDocument(data=super().serialize(candles))
        if not response.is_valid():
            raise first_invalid_field(response.errors)
        return response.data


def first_invalid_field(errors: dict[str, Any]) -> ApiError:
    """The first failing field in CandleDocument's errors, which DRF keys by
    row index: {"data": {3: {"v": ["Ensure this value is greater than or equal to 0."]}}}."""
    rows = errors["data"]
    field, messages = next(iter(rows[min(rows)].items()))
    return invalid_response(field, str(messages[0]))


# The views the mode registry names.
drf_validated = DrfValidatedView.as_view()
drf = DrfView.as_view()
drf_orjson = DrfOrjsonView.as_view()
drf_values = DrfValuesView.as_view()
