"""The one place that builds the endpoint's query; every mode reads through it. And the series'
version the API's caches read before it (series_state)."""

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache

from django.db import connections, router
from django.db.models import CharField, F, Func, Model, QuerySet, Subquery

from .models import Candle, Exchange, Pair, SeriesVersion

CANDLE_FIELDS: tuple[str, ...] = ("basetm", "o", "h", "l", "c", "v")


@dataclass(frozen=True)
class CandleQuery:
    exchange: str
    market: str
    asset: str
    interval: str
    limit: int
    before: datetime | None = None


def pair_queryset(q: CandleQuery) -> QuerySet[Pair]:
    return Pair.objects.filter(exchange__name=q.exchange, market=q.market, asset=q.asset)


def pair_exists(q: CandleQuery) -> bool:
    return pair_queryset(q).exists()


async def apair_exists(q: CandleQuery) -> bool:
    return await pair_queryset(q).aexists()


def latest_candles(q: CandleQuery) -> QuerySet[Candle]:
    """The latest `q.limit` candles, newest first (callers reverse to oldest first).

    The pair is resolved in a subquery so a request costs one round trip; the
    (pair, interval, basetm) index serves both the filter and the order.
    """
    qs = Candle.objects.filter(
        pair_id=Subquery(pair_queryset(q).order_by().values("id")[:1]), interval=q.interval
    )
    if q.before is not None:
        qs = qs.filter(basetm__lt=q.before)
    return qs.order_by("-basetm")[: q.limit]


class SqliteDocumentTime(Func):
    """basetm as the document already spells it: 'YYYY-MM-DDTHH:MM:SS[.ffffff]Z'.

    Django stores an aware datetime on SQLite as str() of it made naive in UTC
    ('YYYY-MM-DD HH:MM:SS', plus '.ffffff' when there are microseconds): orjson's OPT_UTC_Z
    spelling with a space for the 'T' and no 'Z'. Reading that text skips the sqlite3
    converter, which parsed every row into a datetime for orjson to format again. An
    expression column has no declared type, so no converter runs on it. Only valid for what
    Django itself writes in UTC (raw_sql checks the connection's time zone); text written by
    SQL, such as SQLite's own CURRENT_TIMESTAMP or Django's Now() ('.fff' milliseconds), would
    be passed on as stored.
    """

    template = "(replace(%(expressions)s, ' ', 'T') || 'Z')"
    output_field = CharField()


def raw_sql(q: CandleQuery) -> tuple[str, tuple, str]:
    """The selector's query compiled to (sql, params, database alias), for a bare cursor."""
    qs = latest_candles(q)
    connection = connections[qs.db]
    stored_as_utc_text = connection.vendor == "sqlite" and connection.timezone_name == "UTC"
    columns: tuple[str | Func | F, ...] = CANDLE_FIELDS
    if stored_as_utc_text:
        # Every column an expression, so that the SELECT keeps the document's order: before
        # Django 5.2 (the stacks of 2023) values_list() put expressions after the model's fields.
        columns = (SqliteDocumentTime("basetm"), *(F(name) for name in CANDLE_FIELDS[1:]))
    qs = qs.values_list(*columns)
    sql, params = qs.query.get_compiler(qs.db).as_sql()
    return sql, params, qs.db


# Stand-ins for a request's values (never sent to the database): the selector is compiled
# with them once per SQL text, and finding them among the parameters tells which request
# field each placeholder binds. No request has them (params.py refuses NUL in names).
_MARKERS = CandleQuery(
    "\x00exchange",
    "\x00market",
    "\x00asset",
    "\x00interval",
    1,
    datetime(1901, 2, 3, 4, 5, 6, 789012, tzinfo=UTC),
)
# Distinct SQL texts per alias: 2 (before or not) x 1440 limits, times the time zones seen.
COMPILED_SQL_ENTRIES = 4096


def _db_param(field: str, value: object, alias: str) -> object:
    """A request field as the compiler binds it (basetm: adapted for the database)."""
    if field == "before":
        return Candle._meta.get_field("basetm").get_db_prep_value(value, connections[alias])
    return value


@lru_cache(maxsize=COMPILED_SQL_ENTRIES)
def _compiled_sql(
    alias: str, vendor: str, timezone_name: str, has_before: bool, limit: int
) -> tuple[str, tuple]:
    """raw_sql for one SQL text, and per placeholder the request field it binds (or a
    constant). The key is what the text depends on: the database (alias, vendor), its time
    zone (SQLite's text column), whether `before` is given, and `limit` (in the text)."""
    template = replace(_MARKERS, limit=limit, before=_MARKERS.before if has_before else None)
    sql, params, compiled_alias = raw_sql(template)
    if compiled_alias != alias:
        raise RuntimeError(
            f"the selector compiled for {compiled_alias!r}, the router reads {alias!r}"
        )
    fields = ("exchange", "market", "asset", "interval", "before")
    marked = {
        _db_param(f, getattr(template, f), alias): f
        for f in fields
        if getattr(template, f) is not None
    }
    return sql, tuple(marked.get(p, (p,)) for p in params)


def compiled_raw_sql(q: CandleQuery) -> tuple[str, tuple, str]:
    """raw_sql(q) without building the query with the ORM on every request: the selector's
    SQL compiled once per text (see _compiled_sql) with this request's values bound."""
    alias = router.db_for_read(Candle)
    connection = connections[alias]
    sql, slots = _compiled_sql(
        alias, connection.vendor, connection.timezone_name, q.before is not None, q.limit
    )
    params = tuple(
        slot[0] if isinstance(slot, tuple) else _db_param(slot, getattr(q, slot), alias)
        for slot in slots
    )
    return sql, params, alias


def fetch_raw_rows(q: CandleQuery) -> list[tuple]:
    """The selector's own SQL on the cursor: the ORM builds it but never hydrates a row."""
    return execute_raw_sql(*compiled_raw_sql(q))


def execute_raw_sql(sql: str, params: tuple, alias: str) -> list[tuple]:
    connection = connections[alias]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            use_native_timestamptz_loader(cursor.cursor)
        cursor.execute(sql, params)
        return cursor.fetchall()


def use_native_timestamptz_loader(psycopg_cursor) -> None:
    """Load timestamptz with psycopg's own loader, still aware and in the session's UTC.

    Django registers a Python subclass of psycopg's loader on every connection; the
    subclass loses psycopg's C implementation, which made it most of the raw mode's time on
    PostgreSQL.
    """
    from psycopg.types.datetime import TimestamptzLoader

    psycopg_cursor.adapters.register_loader("timestamptz", TimestamptzLoader)


# --- series versions (the caches' read) ------------------------------------------------------


@dataclass(frozen=True)
class SeriesState:
    """A request's series as the caches see it: its pair's id and the series' version row
    (version 0 and no times for a series no write has touched since versions existed)."""

    pair_id: int
    version: int
    changed_at: datetime | None
    previous_changed_at: datetime | None


@lru_cache(maxsize=16)
def _series_state_sql(alias: str, vendor: str) -> str:
    """One round trip, three unique indexes: the exchange by name, the pair by its names, the
    series' row (a LEFT JOIN: a known pair without a row is version 0, an unknown one no row)."""
    qn = connections[alias].ops.quote_name

    def col(model: type[Model], name: str) -> str:
        return qn({f.name: f.column for f in model._meta.concrete_fields}[name])

    exchange, pair, version = (qn(m._meta.db_table) for m in (Exchange, Pair, SeriesVersion))
    return (
        f"SELECT p.{col(Pair, 'id')}, v.{col(SeriesVersion, 'version')}, "
        f"v.{col(SeriesVersion, 'changed_at')}, v.{col(SeriesVersion, 'previous_changed_at')} "
        f"FROM {pair} p INNER JOIN {exchange} e ON p.{col(Pair, 'exchange')} = e.{col(Exchange, 'id')} "
        f"LEFT OUTER JOIN {version} v ON v.{col(SeriesVersion, 'pair')} = p.{col(Pair, 'id')} "
        f"AND v.{col(SeriesVersion, 'interval')} = %s "
        f"WHERE e.{col(Exchange, 'name')} = %s AND p.{col(Pair, 'market')} = %s "
        f"AND p.{col(Pair, 'asset')} = %s"
    )


def _aware(value: datetime | str | None) -> datetime | None:
    """A time as the cursor returns it, aware in UTC (SQLite's converter gives naive UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def series_state(q: CandleQuery) -> SeriesState | None:
    """The version of `q`'s series, or None for a pair that does not exist. A query on the
    version table and the pair's names only: no candle is read."""
    alias = router.db_for_read(SeriesVersion)
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(
            _series_state_sql(alias, connection.vendor), (q.interval, q.exchange, q.market, q.asset)
        )
        row = cursor.fetchone()
    if row is None:
        return None
    pair_id, version, changed_at, previous = row
    return SeriesState(pair_id, version or 0, _aware(changed_at), _aware(previous))
