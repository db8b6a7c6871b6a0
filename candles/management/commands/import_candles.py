"""`manage.py import_candles FILE ...`: the admin's CSV upload, for scripts.

Exit status 0 with the counts on success; non-zero with every problem on stderr (and
nothing written) when the file is rejected.
"""

import sys
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from candles.csv_format import HEADER, ImportRejected
from candles.models import Interval
from candles.services import candles_import


class Command(BaseCommand):
    help = (
        f"Import OHLCV candles from a CSV file with the header {HEADER} (times ISO 8601 or "
        "epoch milliseconds, UTC) into one pair and interval. The exchange and pair are "
        "created if missing. The file is validated completely first: one bad row and "
        "nothing is written."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("file", help="CSV file to import, or - for standard input")
        parser.add_argument("--exchange", required=True)
        parser.add_argument("--market", required=True, help="quote currency, e.g. KRW")
        parser.add_argument("--asset", required=True, help="base currency, e.g. BTC")
        parser.add_argument("--interval", required=True, choices=Interval.values)
        parser.add_argument(
            "--replace",
            action="store_true",
            help="overwrite candles already stored at the file's times (default: keep them)",
        )
        parser.add_argument(
            "--max-bytes",
            type=int,
            default=None,
            help="refuse larger files (default: CANDLES_UPLOAD_MAX_BYTES, "
            f"{settings.CANDLES_UPLOAD_MAX_BYTES} bytes)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path = options["file"]
        if options["max_bytes"] is not None and options["max_bytes"] <= 0:
            raise CommandError("--max-bytes must be a positive number of bytes")
        kwargs = {
            "exchange": options["exchange"],
            "market": options["market"],
            "asset": options["asset"],
            "interval": options["interval"],
            "mode": "replace" if options["replace"] else "skip",
            "max_bytes": options["max_bytes"],
        }
        try:
            if path == "-":
                result = candles_import(source=sys.stdin.buffer, **kwargs)
            else:
                with open(path, "rb") as source:
                    result = candles_import(source=source, **kwargs)
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        except ImportRejected as exc:
            for line in exc.lines():
                self.stderr.write(line)
            raise CommandError(f"{path} was rejected: {exc.summary}") from None

        pair = result.pair
        if result.exchange_created:
            self.stdout.write(f"Created exchange {pair.exchange.name}.")
        if result.pair_created:
            self.stdout.write(f"Created pair {pair}.")
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {result.rows} rows from {path} into {pair} {result.interval}: {result.summary}."
            )
        )
