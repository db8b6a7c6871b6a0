"""The benchmark's request: one path per mode and limit, named the same everywhere."""
from __future__ import annotations

DEFAULT_PAIR = "upbit/KRW/BTC"
DEFAULT_INTERVAL = "1m"
DEFAULT_LIMITS: tuple[int, ...] = (1, 100, 1000, 1440)


def candle_path(mode: str, limit: int, pair: str = DEFAULT_PAIR, interval: str = DEFAULT_INTERVAL) -> str:
    exchange, market, asset = split_pair(pair)
    return f"/api/{mode}/candle/{exchange}/{market}/{asset}?interval={interval}&limit={limit}"


def request_name(mode: str, limit: int) -> str:
    return f"{mode} limit={limit}"


def split_pair(pair: str) -> tuple[str, str, str]:
    parts = pair.split("/")
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"pair must look like exchange/market/asset, not {pair!r}")
    return parts[0], parts[1], parts[2]


def parse_int_list(text: str) -> list[int]:
    values = [int(item) for item in text.split(",") if item.strip()]
    if not values:
        raise ValueError("empty list")
    return values


def parse_name_list(text: str) -> list[str]:
    values = [item.strip() for item in text.split(",") if item.strip()]
    if not values:
        raise ValueError("empty list")
    return values
