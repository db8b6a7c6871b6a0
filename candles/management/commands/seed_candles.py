"""Seed deterministic synthetic candles (see candles.seeding)."""
from __future__ import annotations

import time
from argparse import ArgumentParser
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from candles import seeding
from candles.models import Candle


def parse_start(value: str) -> datetime:
    """ISO 8601 start time; naive means UTC, offsets are converted to UTC."""
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--start: {value!r} is not an ISO 8601 date-time") from None
    start = start.replace(tzinfo=UTC) if start.tzinfo is None else start.astimezone(UTC)
    if start.second or start.microsecond:
        raise CommandError(f"--start: {value!r} is not aligned to the minute")
    return start


def parse_intervals(value: str) -> list[str]:
    items = [item.strip() for item in value.split(",") if item.strip()]
    try:
        return seeding.validate_intervals(items)
    except ValueError as exc:
        raise CommandError(f"--intervals: {exc}") from None


class Command(BaseCommand):
    help = (
        "Seed deterministic 1m candles and their rollups. Without --exchange/--market/"
        "--asset, seeds the default pairs. Re-running creates no duplicates."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--exchange", help="Exchange name, e.g. upbit.")
        parser.add_argument("--market", help="Quote currency, e.g. KRW.")
        parser.add_argument("--asset", help="Base currency, e.g. BTC.")
        parser.add_argument(
            "--count",
            type=int,
            default=seeding.DEFAULT_COUNT,
            help=f"Number of 1m candles per pair (default {seeding.DEFAULT_COUNT}, 90 days).",
        )
        parser.add_argument(
            "--start",
            default=seeding.DEFAULT_START.isoformat(),
            help="Open time of the first candle, ISO 8601; naive means UTC "
            f"(default {seeding.DEFAULT_START.isoformat()}).",
        )
        parser.add_argument("--seed", type=int, default=seeding.DEFAULT_SEED, help="Random seed.")
        parser.add_argument(
            "--intervals",
            default=",".join(seeding.ALL_INTERVALS),
            help="Comma-separated intervals to store (default: all).",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing if the database already holds any candle.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        pair: tuple[str, str, str] = (options["exchange"], options["market"], options["asset"])
        if any(pair) and not all(pair):
            raise CommandError("--exchange, --market and --asset must be given together")
        if options["count"] <= 0:
            raise CommandError("--count must be a positive number of minutes")
        start = parse_start(options["start"])
        intervals = parse_intervals(options["intervals"])
        pairs = [pair] if all(pair) else seeding.DEFAULT_PAIRS

        if options["if_empty"] and Candle.objects.exists():
            self.stdout.write("Candles already present; nothing seeded (--if-empty).")
            return

        started = time.perf_counter()
        for exchange, market, asset in pairs:
            pair_started = time.perf_counter()
            created = seeding.seed_pair(
                exchange,
                market,
                asset,
                count=options["count"],
                start=start,
                seed=options["seed"],
                intervals=intervals,
            )
            counts = " ".join(f"{interval}={n}" for interval, n in created.items())
            self.stdout.write(
                f"{exchange}/{market}/{asset}: created {counts} "
                f"({time.perf_counter() - pair_started:.1f}s)"
            )
        seeding.analyze_candles()
        self.stdout.write(self.style.SUCCESS(f"Seeded in {time.perf_counter() - started:.1f}s"))
