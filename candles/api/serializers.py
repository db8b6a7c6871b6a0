from rest_framework import serializers

from ..models import Candle
from ..selectors import CANDLE_FIELDS


class CandleSerializer(serializers.ModelSerializer):
    class Meta:
        model = Candle
        fields = CANDLE_FIELDS


class CandleOutSerializer(serializers.Serializer):
    """The response's declared shape, like a FastAPI response_model's inner model."""

    basetm = serializers.DateTimeField()
    o = serializers.FloatField()
    h = serializers.FloatField()
    l = serializers.FloatField()  # noqa: E741
    c = serializers.FloatField()
    v = serializers.FloatField()


class CandleResponseSerializer(serializers.Serializer):
    data = CandleOutSerializer(many=True)
