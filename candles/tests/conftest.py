from candles.api.registry import django_modes

ALL_MODES = [mode.name for mode in django_modes()]
SAMPLE = "/api/{mode}/candle/upbit/KRW/BTC"
# The modes with a response schema, written out: what the registry's `validates` must say.
SCHEMA_MODES = [
    "drf-validated",
    "ninja",
    "ninja-orjson",
    "ninja-values",
    "ninja-basemodel",
    "pydantic",
    "msgspec",
    "raw-msgspec",
]
