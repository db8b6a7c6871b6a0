from candles.api.registry import django_modes

ALL_MODES = [mode.name for mode in django_modes()]
SAMPLE = "/api/{mode}/candle/upbit/KRW/BTC"
