from candles.api.modes import MODES

ALL_MODES = list(MODES)
SAMPLE = "/api/{mode}/candle/upbit/KRW/BTC"
