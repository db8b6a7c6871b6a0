"""The open-loop side of a Locust process: one user (the locustfile's OpenLoopUser) starts requests
on a schedule of arrivals, whatever the server does, each in a greenlet of a bounded pool over
the user's one FastHttpSession, and reports each to Locust timed from its intended start.

Imported by the locustfile (never the other way round: a Locust worker loads the locustfile by
path, and a second copy of it would record every request twice).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Any

import gevent
import gevent.lock
import gevent.pool

from loadtest.arrivals import DROPPED, FAILED, OK, SHED, ArrivalLog, arrival_offsets
from loadtest.stats import GC_ENTRY, parse_server_timing

# The arrivals of this process; the capacity command reads them (in distributed mode the
# locustfile's flush sends a worker's to the master).
ARRIVAL_LOG = ArrivalLog()
# Connections one process may open at most (the user's FastHttpSession concurrency); the run's
# own bound (OpenLoopOptions.connections) is enforced by a semaphore below it, so the time an
# arrival waits for a connection is measured apart from the server's time.
MAX_CONNECTIONS = 1024
# The options of a run, set on the Environment's parsed options by the controller (a Locust
# master sends them to its workers with every spawn).
OPTION = "candlebench_open_loop"


class Dropped(Exception):
    """An arrival the generator did not send: every place of its bounded pool was taken."""


@dataclass(frozen=True)
class OpenLoopOptions:
    """One process's share of an open-loop run (wall-clock times, shared by every process)."""

    rate: float  # this process's arrivals per second
    arrivals: str
    processes: int
    connections: int  # this process's connections
    pool: int  # this process's arrivals waiting or in flight at most; more are dropped
    start_at: float  # when the schedule starts (time.time())
    window: tuple[float, float]  # [t0, t1): the measured window

    def to_message(self) -> dict[str, Any]:
        return {**self.__dict__, "window": list(self.window)}

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> OpenLoopOptions:
        return cls(**{**data, "window": tuple(data["window"])})


@dataclass
class Arrival:
    """One scheduled request: its intended start (perf_counter and wall clock), and how late
    its greenlet started (slip) and how long it waited for a connection, in seconds."""

    intended_perf: float
    intended_wall: float
    slip: float = 0.0
    wait: float = 0.0


class RetimedRequests:
    """Stands in for the session's request event: a request made for an arrival is reported
    with its start time and response time from the arrival's intended start (Locust's stats and
    the project's Collector see that), and logged with its slip and connection wait."""

    def __init__(self, event) -> None:
        self.event = event
        self.arrivals: dict[object, Arrival] = {}

    def fire(self, **meta) -> None:
        arrival = self.arrivals.get(gevent.getcurrent())
        if arrival is None:
            self.event.fire(**meta)
            return
        latency_ms = (time.perf_counter() - arrival.intended_perf) * 1000
        meta.update(start_time=arrival.intended_wall, response_time=latency_ms)
        response, exception = meta.get("response"), meta.get("exception")
        status = int(getattr(response, "status_code", 0) or 0) if response is not None else 0
        outcome = OK if exception is None else SHED if status == 503 else FAILED
        error = "" if exception is None else (str(exception) or type(exception).__name__)[:80]
        ARRIVAL_LOG.record(
            arrival.intended_wall,
            time.time(),
            latency_ms,
            outcome,
            status,
            int(meta.get("response_length") or 0),
            arrival.slip * 1000,
            arrival.wait * 1000,
            error if outcome == FAILED else "",
            gc_ms_of(response),
        )
        self.event.fire(**meta)


def gc_ms_of(response) -> float:
    """The answer's Server-Timing `gc` entry in ms (NaN: no answer or no entry)."""
    headers = getattr(response, "headers", None) if response is not None else None
    header = headers.get("Server-Timing") if headers else None
    return parse_server_timing(header).get(GC_ENTRY, math.nan)


def _request(user, retimed: RetimedRequests, connections, arrival: Arrival) -> None:
    me = gevent.getcurrent()
    arrival.slip = time.perf_counter() - arrival.intended_perf
    with connections:
        arrival.wait = time.perf_counter() - arrival.intended_perf - arrival.slip
        retimed.arrivals[me] = arrival
        try:
            user.candles()  # the closed loop's request: the same path, checks and name
        finally:
            del retimed.arrivals[me]


def _drop(user, arrival: Arrival, pool: int) -> None:
    slip_ms = (time.perf_counter() - arrival.intended_perf) * 1000
    ARRIVAL_LOG.record(arrival.intended_wall, time.time(), 0.0, DROPPED, 0, 0, slip_ms, 0.0)
    user.environment.events.request.fire(
        request_type="GET",
        name=user.name,
        response_time=0.0,
        response_length=0,
        response=None,
        context={},
        exception=Dropped(f"dropped: {pool} arrivals already waiting or in flight"),
        start_time=arrival.intended_wall,
    )


def run_arrivals(user) -> None:
    """OpenLoopUser's task: from the run's start, start a request at every arrival of the
    schedule (never waiting for an earlier one to return) until the user is stopped; the pool's
    requests are killed with it. Once the schedule passes the window's end, logs how many
    arrivals it issued inside the window, so the controller knows when every one has ended."""
    options = OpenLoopOptions.from_message(getattr(user.environment.parsed_options, OPTION))
    index = getattr(user.environment.runner, "worker_index", 0) or 0
    total_rate = options.rate * options.processes
    offsets = arrival_offsets(
        options.arrivals, options.rate, random.Random(), phase=index / total_rate
    )
    pool = gevent.pool.Pool(options.pool)
    connections = gevent.lock.BoundedSemaphore(options.connections)
    retimed = RetimedRequests(user.client.request_event)
    user.client.request_event = retimed
    t0, t1 = options.window
    start_perf = time.perf_counter() + (options.start_at - time.time())
    issued, reported = 0, False
    try:
        for offset in offsets:
            intended_perf = start_perf + offset
            delay = intended_perf - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)
            arrival = Arrival(intended_perf, options.start_at + offset)
            if arrival.intended_wall >= t1 and not reported:
                ARRIVAL_LOG.mark_window(issued)
                reported = True
            elif t0 <= arrival.intended_wall < t1:
                issued += 1
            if pool.full():
                _drop(user, arrival, options.pool)
            else:
                pool.spawn(_request, user, retimed, connections, arrival)
    finally:
        pool.kill(block=False)
        user.client.request_event = retimed.event


def split_over(total: int, processes: int) -> int:
    """Each of `processes` processes' share of `total` connections or pool places (rounded up)."""
    return math.ceil(total / processes)
