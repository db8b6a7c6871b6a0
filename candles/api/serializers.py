"""The DRF modes' serializers: the model serializer every DRF mode renders, and the
response schema `drf-validated` checks its output against."""
from datetime import datetime

from django.utils import timezone
from rest_framework import serializers

from ..models import Candle
from ..selectors import CANDLE_FIELDS


class CandleSerializer(serializers.ModelSerializer):
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


class CandleOutSerializer(serializers.Serializer):
    """The response schema, like a FastAPI response_model's inner model: basetm aware,
    every number finite (DRF's FloatField refuses NaN and infinity), the volume >= 0."""

    basetm = AwareDateTimeField()
    o = serializers.FloatField()
    h = serializers.FloatField()
    l = serializers.FloatField()  # noqa: E741
    c = serializers.FloatField()
    v = serializers.FloatField(min_value=0)


class CandleResponseSerializer(serializers.Serializer):
    data = CandleOutSerializer(many=True)
