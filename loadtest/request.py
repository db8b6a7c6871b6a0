"""The benchmark's request: one path per mode and limit, named the same everywhere, and the
diagnostic endpoints measured beside the modes (a server's or a mode's label under a deployment:
loadtest/axes.py)."""

from __future__ import annotations

DEFAULT_PAIR = "upbit/KRW/BTC"
DEFAULT_INTERVAL = "1m"
DEFAULT_LIMITS: tuple[int, ...] = (1, 100, 1000, 1440)
# Diagnostic endpoints the runner measures like modes (candles/api/modes/floor.py): the exact
# bytes of the real answer from memory, no query. Their requests/s is the server set-up's
# ceiling at that response size. They are never listed among the modes.
DIAGNOSTICS: tuple[str, ...] = ("floor", "floor-async")


def candle_path(
    mode: str, limit: int, pair: str = DEFAULT_PAIR, interval: str = DEFAULT_INTERVAL
) -> str:
    exchange, market, asset = split_pair(pair)
    return f"/api/{mode}/candle/{exchange}/{market}/{asset}?interval={interval}&limit={limit}"


def request_name(mode: str, limit: int) -> str:
    return f"{mode} limit={limit}"


def split_pair(pair: str) -> tuple[str, str, str]:
    parts = pair.split("/")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"pair must look like exchange/market/asset, not {pair!r}")
    return parts[0], parts[1], parts[2]
