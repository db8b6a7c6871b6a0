"""The orjson options shared by every orjson-based mode, so they all write the same bytes."""
from typing import Any

import orjson

# Naive datetimes come from SQLite's raw cursor and are UTC; "Z" matches DRF and Django.
ORJSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def orjson_dumps(data: Any) -> bytes:
    return orjson.dumps(data, option=ORJSON_OPTIONS)
