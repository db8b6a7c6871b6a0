"""The benchmark's request: one path per mode and limit, named the same everywhere, the
diagnostic endpoints measured beside the modes, and how a compression setup is named beside a
server (or a mode) in plans, results and reports."""

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


# A server (or a mode's in-process call) under a compression setup other than `none` is named
# `<name>+<setup>` (wsgi+zstd-1, raw+zstd-1); under `none` by its name alone, as before.
NO_COMPRESSION = "none"
SETUP_SEPARATOR = "+"


def setup_label(name: str, compression: str) -> str:
    """`wsgi` under `none`, `wsgi+zstd-1` under zstd-1."""
    if compression in ("", NO_COMPRESSION):
        return name
    return f"{name}{SETUP_SEPARATOR}{compression}"


def split_setup_label(label: str) -> tuple[str, str]:
    """`wsgi+zstd-1` -> ("wsgi", "zstd-1"); `wsgi` -> ("wsgi", "none")."""
    name, _, compression = label.partition(SETUP_SEPARATOR)
    return name, compression or NO_COMPRESSION


# A mode (or a server) under a GC setup other than Python's default is named `<name>+gc-<setup>`
# (drf+gc-freeze) wherever it is measured; under `default` by its name alone. The one place that
# spells it, until the runner's deployment axes name every setup alike.
DEFAULT_GC = "default"
GC_LABEL_PREFIX = "gc-"


def gc_label(name: str, gc: str) -> str:
    """`drf` under `default`, `drf+gc-freeze` under freeze."""
    if gc in ("", DEFAULT_GC):
        return name
    return f"{name}{SETUP_SEPARATOR}{GC_LABEL_PREFIX}{gc}"
