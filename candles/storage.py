"""Bulk writes of candle rows, shared by the seeder and the importer.

Both skip model instances: bulk_create spent most of its time building them (about 4 s
per 100k rows here). The backend's own datetime adapter stores basetm exactly as the ORM
would (naive UTC text on SQLite, timestamptz on PostgreSQL).
"""
from datetime import datetime

from django.db import connection
from django.db.backends.utils import CursorWrapper

from .models import Candle
from .selectors import CANDLE_FIELDS

# (basetm, o, h, l, c, v), in the API document's order.
CandleRow = tuple[datetime, float, float, float, float, float]
INSERT_FIELDS = ("pair", "interval", *CANDLE_FIELDS)


def table_and_columns() -> tuple[str, str]:
    qn = connection.ops.quote_name
    columns = ", ".join(qn(Candle._meta.get_field(name).column) for name in INSERT_FIELDS)
    return qn(Candle._meta.db_table), columns


def insert_sql(*, ignore_conflicts: bool) -> str:
    """One-row INSERT for executemany; ON CONFLICT DO NOTHING (SQLite >= 3.24, PostgreSQL)
    makes re-seeding a no-op, while the importer wants a conflict to raise."""
    table, columns = table_and_columns()
    placeholders = ", ".join(["%s"] * len(INSERT_FIELDS))
    suffix = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    return f"INSERT INTO {table} ({columns}) VALUES ({placeholders}){suffix}"


def executemany_rows(
    cursor: CursorWrapper, sql: str, pair_id: int, interval: str, rows: list[CandleRow], batch_size: int
) -> None:
    adapt = connection.ops.adapt_datetimefield_value
    for i in range(0, len(rows), batch_size):
        cursor.executemany(
            sql, [(pair_id, interval, adapt(row[0]), *row[1:]) for row in rows[i : i + batch_size]]
        )
