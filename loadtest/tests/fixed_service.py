"""A test-only mode whose server time is fixed: it busy-waits CANDLEBENCH_FIXED_SERVICE_MS
(wall clock, so a preempted server still takes the same time) and answers the floor's bytes
(no query after the first request). Under Poisson arrivals it is an M/D/1 queue, whose mean
wait is known: the open-loop generator is checked against it (test_open_loop.py)."""

import os
import time

from django.http import HttpResponse

from candles.api.endpoint import candle_endpoint
from candles.api.modes.floor import floor_body
from candles.api.timing import ServerTiming
from candles.selectors import CandleQuery

SERVICE_S = float(os.environ.get("CANDLEBENCH_FIXED_SERVICE_MS", "5")) / 1000


@candle_endpoint
def fixed_service(q: CandleQuery, timing: ServerTiming) -> HttpResponse:
    """Busy for SERVICE_S of wall-clock time, then the document from memory."""
    deadline = time.perf_counter() + SERVICE_S
    while time.perf_counter() < deadline:
        pass
    timing.lap("serialize")
    body = floor_body(q, timing)
    timing.lap("render")
    return HttpResponse(body, content_type="application/json")
