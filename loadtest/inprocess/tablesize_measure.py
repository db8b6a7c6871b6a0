"""The table-size check's measuring process, run once per database by loadtest.inprocess.tablesize
with that database's settings: the table's size, then each mode's view time, as one JSON line."""

from __future__ import annotations

import hashlib
import json
import sys

from loadtest.inprocess.views import setup_django, time_view


def measure(paths: dict[str, str], min_time: float) -> dict:
    """The candle table's row count and, per mode, ms per request and a digest of its body."""
    from django.db import connection

    from candles.models import Candle

    out: dict = {"vendor": connection.vendor, "total": Candle.objects.count(), "modes": {}}
    for mode, path in paths.items():
        timed = time_view(path, min_time)
        out["modes"][mode] = {
            "ms": timed.seconds * 1000,
            "calls": timed.calls,
            "bytes": len(timed.body),
            "sha": hashlib.sha256(timed.body).hexdigest(),
            "rows": len(json.loads(timed.body)["data"]),
        }
    return out


def main(argv: list[str]) -> int:
    args = json.loads(argv[0])
    setup_django()
    print(json.dumps(measure(args["paths"], args["min_time"])), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
