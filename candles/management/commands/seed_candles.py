"""Seed deterministic synthetic candles (candles.random_walk, stored by services.candles_seed)."""

from __future__ import annotations

import time
from argparse import ArgumentParser
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from candles import random_walk
from candles.models import ALL_INTERVALS, Candle, clean_pair_names, validate_intervals
from candles.services import candles_analyze, candles_seed

PAIR_OPTIONS = ("exchange", "market", "asset")


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
        return validate_intervals(items)
    except ValueError as exc:
        raise CommandError(f"--intervals: {exc}") from None


def parse_pairs(options: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The one pair named by --exchange/--market/--asset, or the default pairs if none is."""
    given = {name: options[name] for name in PAIR_OPTIONS if options[name] is not None}
    if not given:
        return random_walk.DEFAULT_PAIRS
    if len(given) < len(PAIR_OPTIONS):
        missing = ", ".join(f"--{name}" for name in PAIR_OPTIONS if name not in given)
        raise CommandError(
            f"--exchange, --market and --asset must be given together; missing {missing}"
        )
    try:
        return [clean_pair_names(**given)]
    except ValueError as exc:
        raise CommandError(str(exc)) from None


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
            default=random_walk.DEFAULT_COUNT,
            help=f"Number of 1m candles per pair (default {random_walk.DEFAULT_COUNT}, 90 days).",
        )
        parser.add_argument(
            "--start",
            default=random_walk.DEFAULT_START.isoformat(),
            help="Open time of the first candle, ISO 8601; naive means UTC "
            f"(default {random_walk.DEFAULT_START.isoformat()}).",
        )
        parser.add_argument(
            "--seed", type=int, default=random_walk.DEFAULT_SEED, help="Random seed."
        )
        parser.add_argument(
            "--intervals",
            default=",".join(ALL_INTERVALS),
            help="Comma-separated intervals to store (default: all).",
        )
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Do nothing if the database already holds any candle.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        pairs = parse_pairs(options)
        if options["count"] <= 0:
            raise CommandError("--count must be a positive number of minutes")
        start = parse_start(options["start"])
        intervals = parse_intervals(options["intervals"])

        if options["if_empty"] and Candle.objects.exists():
            self.stdout.write("Candles already present; nothing seeded (--if-empty).")
            return

        started = time.perf_counter()
        for exchange, market, asset in pairs:
            pair_started = time.perf_counter()
            created = candles_seed(
                exchange=exchange,
                market=market,
                asset=asset,
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
        candles_analyze()
        self.stdout.write(self.style.SUCCESS(f"Seeded in {time.perf_counter() - started:.1f}s"))
