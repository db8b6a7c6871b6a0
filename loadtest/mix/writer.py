"""The mix's writer, as an exchange feed writes: every `period` seconds it updates the newest
candle of each of its series (close, high/low, a volume that only grows), and when the series'
interval closes on its clock it appends the next candle; all through candles.services
(candles_store, replace), so every write bumps the series' version on commit. Each write is
logged (loadtest/mix/staleness.py's WriteRecord) once the service returned.

Run as its own process, as a feed is: `python -m loadtest.mix.writer --series "upbit/KRW/BTC 1m"
... --log FILE --seconds S`, with the servers' DATABASE_URL."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path

from loadtest.mix.staleness import WriteRecord

# The writer's clock runs this many times faster than the wall's: a 1m candle closes every 15 s
# of the run (a run of minutes would otherwise see one or two appends).
DEFAULT_SPEED = 4.0
VOLUME_STEP = 0.5


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtest.mix.writer", description=__doc__)
    p.add_argument("--series", action="append", required=True, help='"exchange/market/asset 1m"')
    p.add_argument("--log", type=Path, required=True, help="the write log (JSON lines)")
    p.add_argument("--seconds", type=float, required=True, help="how long to write")
    p.add_argument("--period", type=float, default=1.0, help="seconds between updates")
    p.add_argument("--speed", type=float, default=DEFAULT_SPEED, help="the clock's speed-up")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "candleproject.settings")
    import django

    django.setup()
    from candles.models import INTERVAL_SECONDS, Candle
    from candles.services import candles_store

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    state = {}
    with open(args.log, "w", buffering=1) as log:
        start = time.monotonic()
        for series in args.series:
            pair, interval = series.split()
            exchange, market, asset = pair.split("/")
            newest = (
                Candle.objects.filter(
                    pair__exchange__name=exchange,
                    pair__market=market,
                    pair__asset=asset,
                    interval=interval,
                )
                .order_by("-basetm")
                .first()
            )
            if newest is None:
                print(f"writer: {series} has no candle", file=sys.stderr)
                return 2
            row = [newest.basetm, newest.o, newest.h, newest.l, newest.c, newest.v]
            close_every = INTERVAL_SECONDS[interval] / args.speed
            state[series] = {
                "names": (exchange, market, asset, interval),
                "row": row,
                "seq": 0,
                "next_close": start + close_every,
                "close_every": close_every,
            }
            now = time.monotonic()
            log.write(WriteRecord(series, 0, now, now, row[0].timestamp(), row[5]).as_json() + "\n")
        tick = 0
        while not stop and time.monotonic() - start < args.seconds:
            tick += 1
            time.sleep(max(0.0, start + tick * args.period - time.monotonic()))
            for series, s in state.items():
                if stop:
                    break
                exchange, market, asset, interval = s["names"]
                basetm, o, h, lo, c, v = s["row"]
                if time.monotonic() >= s["next_close"]:
                    s["next_close"] += s["close_every"]
                    row = [
                        basetm + timedelta(seconds=INTERVAL_SECONDS[interval]),
                        c,
                        c,
                        c,
                        c,
                        VOLUME_STEP,
                    ]
                else:
                    price = c * (1 + (0.0005 if s["seq"] % 3 else -0.0004))
                    row = [basetm, o, max(h, price), min(lo, price), price, v + VOLUME_STEP]
                started = time.monotonic()
                candles_store(exchange=exchange, market=market, asset=asset, interval=interval,
                              rows=[tuple(row)], mode="replace")  # fmt: skip
                committed = time.monotonic()
                s["row"], s["seq"] = row, s["seq"] + 1
                record = WriteRecord(
                    series, s["seq"], started, committed, row[0].timestamp(), row[5]
                )
                log.write(record.as_json() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
