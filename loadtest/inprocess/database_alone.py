"""The database alone, on raw's query compiled once: fetching the rows into Python, and the
database writing the whole JSON document itself (part of the micro benchmark; the report's G4 bound)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from loadtest.request import split_pair

if TYPE_CHECKING:  # importing the models needs Django set up, which micro does first
    from candles.selectors import CandleQuery

# The document from the selector's rows, ordered oldest first; {inner} is the selector's
# SQL with the CANDLE_FIELDS as column names.
JSON_SQL = {
    "sqlite": (
        "SELECT '{{\"data\":[' || coalesce(group_concat(json_object("
        "'basetm', replace(basetm, ' ', 'T') || 'Z', 'o', o, 'h', h, 'l', l, 'c', c, 'v', v), ','), '') || ']}}' "
        "FROM (SELECT * FROM ({inner}) ORDER BY basetm)"
    ),
    "postgresql": (
        "SELECT '{{\"data\":[' || coalesce(string_agg(row_to_json(d)::text, ',' ORDER BY t.basetm), '') || ']}}' "
        "FROM ({inner}) AS t CROSS JOIN LATERAL (SELECT CASE WHEN mod(extract(microseconds FROM t.basetm)::bigint, "
        "1000000) = 0 THEN to_char(t.basetm AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
        "ELSE to_char(t.basetm AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') END AS basetm, "
        "t.o AS o, t.h AS h, t.l AS l, t.c AS c, t.v AS v) AS d"
    ),
}


@dataclass
class DatabaseAlone:
    limit: int
    rows_ms: float
    json_ms: float
    json_same_document: bool  # the same values as raw's body
    json_same_bytes: bool


def best_ms(call: Callable[[], object], min_time: float, batches: int = 3) -> float:
    """Best-of-`batches` mean milliseconds per call, after a short warm-up."""
    started = time.perf_counter()
    for _ in range(3):
        call()
    per_call = max((time.perf_counter() - started) / 3, 1e-7)
    n = max(3, math.ceil(min_time / batches / per_call))
    best = math.inf
    for _ in range(batches):
        started = time.perf_counter()
        for _ in range(n):
            call()
        best = min(best, (time.perf_counter() - started) / n)
    return best * 1000


def document_sql(q: CandleQuery) -> tuple[str, tuple, str]:
    """SQL that makes the database write raw's document itself: (sql, params, alias)."""
    from django.db import connections

    from candles.selectors import CANDLE_FIELDS, latest_candles

    qs = latest_candles(q).values_list(*CANDLE_FIELDS)
    inner, params = qs.query.get_compiler(qs.db).as_sql()
    vendor = connections[qs.db].vendor
    if vendor not in JSON_SQL:
        raise SystemExit(f"no JSON query for {vendor}")
    return JSON_SQL[vendor].format(inner=inner), params, qs.db


def measure(limit: int, pair: str, interval: str, min_time: float) -> DatabaseAlone:
    from django.db import connections

    from candles.api.encoding import orjson_dumps, rows_to_dicts
    from candles.selectors import CandleQuery, execute_raw_sql, raw_sql

    q = CandleQuery(*split_pair(pair), interval, limit)
    statement = raw_sql(q)
    raw_body = orjson_dumps({"data": rows_to_dicts(execute_raw_sql(*statement))})
    json_sql, params, alias = document_sql(q)

    def fetch_json() -> bytes:
        with connections[alias].cursor() as cursor:
            cursor.execute(json_sql, params)
            return cursor.fetchone()[0].encode()

    body = fetch_json()
    return DatabaseAlone(
        limit,
        rows_ms=best_ms(lambda: execute_raw_sql(*statement), min_time),
        json_ms=best_ms(fetch_json, min_time),
        json_same_document=orjson.loads(body) == orjson.loads(raw_body),
        json_same_bytes=body == raw_body,
    )
