"""The `floor` diagnostic: not a mode, the ceiling a server set-up reaches for a body size.

It parses and validates like every mode, then answers the exact bytes of the real answer,
computed once per distinct request and kept in memory, so later requests touch no database
and do no serialization. What is left is the cost of Django plus the server: the most any
mode could reach on that server at that response size. `floor` is a sync view like most
modes; `floor-async` is its async twin, the ceiling for the async `orjson` mode.
"""

from asgiref.sync import sync_to_async
from django.http import HttpResponse

from ...selectors import CandleQuery, fetch_raw_rows
from ..encoding import orjson_dumps, rows_to_dicts
from ..endpoint import candle_endpoint, fetched
from ..timing import ServerTiming

MAX_BODIES = 512
_bodies: dict[CandleQuery, bytes] = {}


def compute_body(q: CandleQuery, timing: ServerTiming) -> bytes:
    rows = fetched(fetch_raw_rows(q), q, timing)  # raises, so unknown pairs are never kept
    body = orjson_dumps({"data": rows_to_dicts(rows)})
    if len(_bodies) >= MAX_BODIES:  # a diagnostic, not a cache to grow without bound
        _bodies.clear()
    _bodies[q] = body
    return body


def remembered_body(q: CandleQuery) -> bytes | None:
    """The answer kept for `q`, if any (async servers compute a missing one off the loop)."""
    return _bodies.get(q)


def floor_body(q: CandleQuery, timing: ServerTiming) -> bytes:
    """The floor's answer to `q`: from memory, computed on the first request (also the
    ceiling of django-bolt's server)."""
    return remembered_body(q) or compute_body(q, timing)


def _answer(body: bytes, timing: ServerTiming) -> HttpResponse:
    timing.lap("render")
    return HttpResponse(body, content_type="application/json")


@candle_endpoint
def floor(q: CandleQuery, timing: ServerTiming) -> HttpResponse:
    return _answer(floor_body(q, timing), timing)


@candle_endpoint
async def floor_async(q: CandleQuery, timing: ServerTiming) -> HttpResponse:
    return _answer(remembered_body(q) or await sync_to_async(compute_body)(q, timing), timing)
