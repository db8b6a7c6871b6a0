"""Every write to exchanges, pairs and candles: CSV imports, seeding, the pair get-or-create
and the bulk writers they share; and the series versions every write bumps on commit, which the
API's caches key on.

Keyword-only functions named <entity>_<action>. Each checks what it stores (the symbol rule,
intervals, the CSV format), so the admin, the commands and scripts get the same refusals:
ValueError for bad arguments, ImportRejected for a refused file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO, Literal, NamedTuple, Protocol, get_args

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import Count
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django.utils import timezone

from candles.csv_format import ImportRejected, parse_candles, read_limited
from candles.models import (
    ALL_INTERVALS,
    INTERVAL_SECONDS,
    Candle,
    CandleRow,
    Exchange,
    Pair,
    SeriesVersion,
    clean_pair_names,
    series_written,
    validate_intervals,
)
from candles.random_walk import day_chunks, roll_up, walk_minutes
from candles.selectors import CANDLE_FIELDS

# What an import does with candles already stored at one of the file's times: keep them
# or overwrite them (not the API's serialization modes).
ImportMode = Literal["skip", "replace"]
IMPORT_MODES: tuple[ImportMode, ...] = get_args(ImportMode)
IMPORT_BATCH_SIZE = 2000


# --- exchanges and pairs ---------------------------------------------------------------


class PairGetOrCreateResult(NamedTuple):
    pair: Pair
    exchange_created: bool
    pair_created: bool


def pair_get_or_create(*, exchange: str, market: str, asset: str) -> PairGetOrCreateResult:
    """The pair with these names, created (with its exchange) if missing.

    ValueError if a name breaks the symbol rule: the API could never serve such a pair.
    """
    exchange, market, asset = clean_pair_names(exchange=exchange, market=market, asset=asset)
    exchange_obj, exchange_created = Exchange.objects.get_or_create(name=exchange)
    pair, pair_created = Pair.objects.get_or_create(
        exchange=exchange_obj, market=market, asset=asset
    )
    return PairGetOrCreateResult(pair, exchange_created, pair_created)


# --- CSV import --------------------------------------------------------------------------


@dataclass
class ImportResult:
    pair: Pair
    interval: str
    rows: int
    inserted: int = 0
    skipped: int = 0
    replaced: int = 0
    exchange_created: bool = False
    pair_created: bool = False

    @property
    def summary(self) -> str:
        return f"{self.inserted} inserted, {self.skipped} skipped, {self.replaced} replaced"


def candles_import(
    *,
    source: BinaryIO | bytes,
    exchange: str,
    market: str,
    asset: str,
    interval: str,
    mode: ImportMode = "skip",
    max_bytes: int | None = None,
) -> ImportResult:
    """Validate a CSV file (candles.csv_format) completely, then store it all or, on any
    problem, nothing.

    Raises ImportRejected (nothing written) or ValueError for bad arguments, which are
    checked before the file is read. `max_bytes` defaults to CANDLES_UPLOAD_MAX_BYTES.
    """
    _check_interval(interval)
    _check_import_mode(mode)
    clean_pair_names(exchange=exchange, market=market, asset=asset)
    limit = settings.CANDLES_UPLOAD_MAX_BYTES if max_bytes is None else max_bytes
    rows = parse_candles(read_limited(source, limit), interval)
    return candles_store(
        exchange=exchange, market=market, asset=asset, interval=interval, rows=rows, mode=mode
    )


def candles_store(
    *,
    exchange: str,
    market: str,
    asset: str,
    interval: str,
    rows: list[CandleRow],
    mode: ImportMode = "skip",
) -> ImportResult:
    """Store validated rows in one transaction; creates the exchange and pair if missing.

    mode "skip" keeps candles already stored at a row's time; "replace" overwrites them.
    """
    _check_interval(interval)
    _check_import_mode(mode)
    if not rows:
        raise ValueError("no rows to write")
    with transaction.atomic():
        found = pair_get_or_create(exchange=exchange, market=market, asset=asset)
        pair = found.pair
        # Serializes imports into one pair on PostgreSQL, so the stored-row lookup below
        # stays true until commit (SQLite's IMMEDIATE transactions already do this).
        Pair.objects.select_for_update().only("pk").get(pk=pair.pk)
        result = ImportResult(
            pair=pair,
            interval=interval,
            rows=len(rows),
            exchange_created=found.exchange_created,
            pair_created=found.pair_created,
        )
        stored = _stored_candle_ids(pair=pair, interval=interval, rows=rows)
        if mode == "replace":
            # Delete and re-insert: one bulk insert is far cheaper than bulk_update's
            # CASE expressions, and the transaction hides the gap from readers.
            ids = list(stored.values())
            for i in range(0, len(ids), 500):
                result.replaced += Candle.objects.filter(id__in=ids[i : i + 500]).delete()[0]
            new = rows
        else:
            result.skipped = len(stored)
            new = [row for row in rows if row[0] not in stored]
        result.inserted = len(rows) - len(stored)
        try:
            # A savepoint, so a conflict can be turned into a clear message before the
            # outer transaction rolls back.
            with transaction.atomic(), connection.cursor() as cursor:
                sql = _insert_sql(ignore_conflicts=False)
                _executemany(cursor, sql, pair.pk, interval, new, IMPORT_BATCH_SIZE)
        except IntegrityError:
            # Only a writer that does not lock the pair (the seeder) can get here.
            raise ImportRejected.one(
                "another process stored candles for this pair meanwhile; try again"
            ) from None
        if result.inserted or result.replaced:
            series_versions_bump(series=[(pair.pk, interval)])
    return result


def _check_interval(interval: str) -> None:
    if interval not in INTERVAL_SECONDS:
        raise ValueError(
            f"unknown interval {interval!r}; choose from {', '.join(INTERVAL_SECONDS)}"
        )


def _check_import_mode(mode: str) -> None:
    if mode not in IMPORT_MODES:
        raise ValueError(f"mode must be one of {', '.join(IMPORT_MODES)}")


def _stored_candle_ids(*, pair: Pair, interval: str, rows: list[CandleRow]) -> dict[datetime, int]:
    """id of each stored candle at one of the rows' times (a read inside the write's lock)."""
    # One range scan of the (pair, interval, basetm) index instead of an IN list, which
    # would exceed SQLite's parameter limit on large files.
    times = {row[0] for row in rows}
    stored = Candle.objects.filter(
        pair=pair, interval=interval, basetm__range=(min(times), max(times))
    ).values_list("basetm", "id")
    return {moment: pk for moment, pk in stored.iterator(chunk_size=10_000) if moment in times}


# --- seeding -----------------------------------------------------------------------------


def candles_seed(
    *,
    exchange: str,
    market: str,
    asset: str,
    count: int,
    start: datetime,
    seed: int,
    intervals: Iterable[str] = ALL_INTERVALS,
    batch_size: int = 5000,
    start_price: float | None = None,
) -> dict[str, int]:
    """Store `count` 1m candles of the random walk (candles.random_walk) and their complete
    rollups for one pair, created if missing.

    The 1m series is always generated (the rollups come from it) but only stored when
    "1m" is requested. Existing rows are left alone, so re-running is idempotent.
    Everything happens in one transaction. `batch_size` is the number of rows per
    executemany call; PostgreSQL streams all rows through COPY instead.
    Returns the number of candles created per requested interval.
    """
    wanted = validate_intervals(intervals)
    if count <= 0:
        raise ValueError("count must be > 0")
    if batch_size <= 0:
        raise ValueError("batch_size must be > 0")
    exchange, market, asset = clean_pair_names(exchange=exchange, market=market, asset=asset)
    minutes = walk_minutes(start, seed, exchange, market, asset, start_price)

    with transaction.atomic(), connection.cursor() as cursor:
        pair = pair_get_or_create(exchange=exchange, market=market, asset=asset).pair
        before = _candle_counts(pair=pair, intervals=wanted)
        writer: _Writer = (
            _PostgresCopyWriter(cursor)
            if connection.vendor == "postgresql"
            else _ExecutemanyWriter(cursor, batch_size)
        )
        for chunk in day_chunks(minutes, start, count):
            for interval in wanted:
                seconds = INTERVAL_SECONDS[interval]
                rows = chunk if seconds == 60 else roll_up(chunk, seconds)
                writer.write(pair.pk, interval, rows)
        writer.close()
        after = _candle_counts(pair=pair, intervals=wanted)
        changed = [i for i in wanted if after.get(i, 0) != before.get(i, 0)]
        series_versions_bump(series=[(pair.pk, interval) for interval in changed])
    return {i: after.get(i, 0) - before.get(i, 0) for i in wanted}


def candles_analyze() -> None:
    """Refresh the planner's statistics of the candle table after a bulk load.

    Without them PostgreSQL underestimates a pair's rows, chooses a bitmap scan and sorts
    every row instead of reading the index backwards.
    """
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {connection.ops.quote_name(Candle._meta.db_table)}")


def _candle_counts(*, pair: Pair, intervals: Iterable[str]) -> dict[str, int]:
    rows = (
        Candle.objects.filter(pair=pair, interval__in=list(intervals))
        .values("interval")
        .annotate(n=Count("id"))
        .values_list("interval", "n")
    )
    return dict(rows)


# --- bulk writers ------------------------------------------------------------------------
# Both skip model instances: bulk_create spent most of its time building them. The backend's own
# datetime adapter stores basetm exactly as the ORM would (naive UTC text on SQLite, timestamptz
# on PostgreSQL).

_INSERT_FIELDS = ("pair", "interval", *CANDLE_FIELDS)


def _table_and_columns() -> tuple[str, str]:
    qn = connection.ops.quote_name
    column = {f.name: f.column for f in Candle._meta.concrete_fields}
    columns = ", ".join(qn(column[name]) for name in _INSERT_FIELDS)
    return qn(Candle._meta.db_table), columns


def _insert_sql(*, ignore_conflicts: bool) -> str:
    """One-row INSERT for executemany; ON CONFLICT DO NOTHING (SQLite >= 3.24, PostgreSQL)
    makes re-seeding a no-op, while an import wants a conflict to raise."""
    table, columns = _table_and_columns()
    placeholders = ", ".join(["%s"] * len(_INSERT_FIELDS))
    suffix = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    return f"INSERT INTO {table} ({columns}) VALUES ({placeholders}){suffix}"


def _executemany(
    cursor: CursorWrapper,
    sql: str,
    pair_id: int,
    interval: str,
    rows: list[CandleRow],
    batch_size: int,
) -> None:
    adapt = connection.ops.adapt_datetimefield_value
    for i in range(0, len(rows), batch_size):
        cursor.executemany(
            sql, [(pair_id, interval, adapt(row[0]), *row[1:]) for row in rows[i : i + batch_size]]
        )


class _Writer(Protocol):
    def write(self, pair_id: int, interval: str, rows: list[CandleRow]) -> None: ...

    def close(self) -> None: ...


class _ExecutemanyWriter:
    """Portable seeding writer (SQLite and any backend with ON CONFLICT DO NOTHING)."""

    def __init__(self, cursor: CursorWrapper, batch_size: int) -> None:
        self._sql = _insert_sql(ignore_conflicts=True)
        self._cursor = cursor
        self._batch_size = batch_size

    def write(self, pair_id: int, interval: str, rows: list[CandleRow]) -> None:
        _executemany(self._cursor, self._sql, pair_id, interval, rows, self._batch_size)

    def close(self) -> None:
        """Nothing is buffered."""


class _PostgresCopyWriter:
    """PostgreSQL seeding writer: COPY into an unindexed temp table, then one INSERT ... SELECT.

    COPY plus a set-based insert is several times faster than row-by-row inserts through
    psycopg. COPY cannot skip conflicts itself, hence the
    staging table. It lives in this transaction only: dropped in close(), and its
    creation is rolled back with everything else on error.
    """

    _STAGING = "candles_seed_staging"

    def __init__(self, cursor: CursorWrapper) -> None:
        self._table, self._columns = _table_and_columns()
        self._cursor = cursor
        cursor.execute(
            f"CREATE TEMPORARY TABLE {self._STAGING} AS "
            f"SELECT {self._columns} FROM {self._table} WITH NO DATA"
        )

    def write(self, pair_id: int, interval: str, rows: list[CandleRow]) -> None:
        with self._cursor.copy(f"COPY {self._STAGING} ({self._columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((pair_id, interval, *row))

    def close(self) -> None:
        self._cursor.execute(
            f"INSERT INTO {self._table} ({self._columns}) "
            f"SELECT {self._columns} FROM {self._STAGING} ON CONFLICT DO NOTHING"
        )
        self._cursor.execute(f"DROP TABLE {self._STAGING}")


# --- series versions ---------------------------------------------------------------------
# A series is one pair's candles of one interval: one document of the API, whatever the limit.
# Every write bumps the versions of the series it changed once its transaction commits; the
# caches key on them (candles/api/document_cache.py, conditional.py). The writers here call
# series_versions_bump themselves; the models' querysets send series_written for bulk writes
# that send no model signal; the receivers below cover single saves (admin forms, loaddata).


@dataclass
class _PendingBumps:
    """The series one transaction changed, bumped together by one on_commit callback."""

    using: str
    series: set[tuple[int, str]] = field(default_factory=set)
    pairs: set[int] = field(default_factory=set)

    done: bool = False

    def __call__(self) -> None:
        self.done = True
        _bump_now(using=self.using, series=self.series, pairs=self.pairs)


_PENDING_ATTRIBUTE = "candlebench_pending_bumps"


def series_versions_bump(
    *,
    series: Iterable[tuple[int, str]] = (),
    pairs: Iterable[int] = (),
    using: str = DEFAULT_DB_ALIAS,
) -> None:
    """Mark `series` ((pair id, interval) pairs) and every series of `pairs` changed when the
    current transaction commits (at once outside a transaction; never if it rolls back).

    One callback per transaction, however many writes: each later call joins the set of the
    callback still registered (a rolled-back savepoint drops its callback, and then a new one
    is registered).
    """
    series, pairs = set(series), set(pairs)
    if not series and not pairs:
        return
    conn = connections[using]
    if not conn.in_atomic_block:
        _bump_now(using=using, series=series, pairs=pairs)
        return
    pending: _PendingBumps | None = getattr(conn, _PENDING_ATTRIBUTE, None)
    # Django's list of (savepoint ids, callback, robust): the callback is still to run.
    if (
        pending is None
        or pending.done
        or not any(entry[1] is pending for entry in conn.run_on_commit)
    ):
        pending = _PendingBumps(using)
        setattr(conn, _PENDING_ATTRIBUTE, pending)
        transaction.on_commit(pending, using=using)
    pending.series |= series
    pending.pairs |= pairs


def _bump_now(*, using: str, series: set[tuple[int, str]], pairs: set[int]) -> None:
    """One transaction: each series' version + 1 and its change time now (created at version 1
    for a series without a row, unless its pair is gone); every series of `pairs` likewise."""
    conn = connections[using]
    qn = conn.ops.quote_name
    table = qn(SeriesVersion._meta.db_table)
    pair_table = qn(Pair._meta.db_table)
    now = conn.ops.adapt_datetimefield_value(timezone.now())
    column = {f.name: qn(f.column) for f in SeriesVersion._meta.concrete_fields}
    pair_id, interval, version, changed, previous = (
        column[name]
        for name in ("pair", "interval", "version", "changed_at", "previous_changed_at")
    )
    # SQLite needs the WHERE to read ON CONFLICT as the upsert's, not a join's (its docs).
    upsert = (
        f"INSERT INTO {table} ({pair_id}, {interval}, {version}, {changed}, {previous}) "
        f"SELECT {qn(Pair._meta.pk.column)}, %s, 1, %s, NULL FROM {pair_table} "
        f"WHERE {qn(Pair._meta.pk.column)} = %s "
        f"ON CONFLICT ({pair_id}, {interval}) DO UPDATE SET {version} = {table}.{version} + 1, "
        f"{previous} = {table}.{changed}, {changed} = excluded.{changed}"
    )
    update = (
        f"UPDATE {table} SET {version} = {version} + 1, {previous} = {changed}, "
        f"{changed} = %s WHERE {pair_id} = %s"
    )
    with transaction.atomic(using=using), conn.cursor() as cursor:
        if series:
            cursor.executemany(upsert, [(i, now, p) for p, i in sorted(series)])
        if pairs:
            cursor.executemany(update, [(now, p) for p in sorted(pairs)])


@receiver(series_written)
def _series_written(
    sender: Any, *, series: Iterable = (), pairs: Iterable = (), using: str, **kwargs: Any
) -> None:
    series_versions_bump(series=series, pairs=pairs, using=using)


@receiver(pre_save, sender=Candle)
def _candle_moving(sender: Any, instance: Candle, raw: bool, using: str, **kwargs: Any) -> None:
    """A fixture (raw) may overwrite a stored candle: remember the series it was in."""
    if raw and instance.pk is not None and instance.loaded_series is None:
        stored = Candle.objects.using(using).filter(pk=instance.pk)
        instance.loaded_series = stored.values_list("pair_id", "interval").first()


@receiver(post_save, sender=Candle)
def _candle_saved(sender: Any, instance: Candle, using: str, **kwargs: Any) -> None:
    series = {(instance.pair_id, instance.interval)}
    if instance.loaded_series is not None:
        series.add(instance.loaded_series)
    instance.loaded_series = (instance.pair_id, instance.interval)
    series_versions_bump(series=series, using=using)


@receiver(post_save, sender=Pair)
def _pair_saved(sender: Any, instance: Pair, created: bool, using: str, **kwargs: Any) -> None:
    """A pair renamed (or moved to another exchange): its series answer under new names."""
    if not created:
        series_versions_bump(pairs=[instance.pk], using=using)


@receiver(post_save, sender=Exchange)
def _exchange_saved(
    sender: Any, instance: Exchange, created: bool, using: str, **kwargs: Any
) -> None:
    if not created:
        pairs = Pair.objects.using(using).filter(exchange=instance).values_list("pk", flat=True)
        series_versions_bump(pairs=pairs, using=using)
