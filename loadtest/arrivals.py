"""Open-loop load without Locust: the schedule of arrivals (Poisson or constant), the record of
each arrival, and a window of them summarized, latency timed from each request's intended start
and the generator's own lateness (slip) kept apart from the server's queue."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from loadtest.stats import percentile

POISSON = "poisson"
CONSTANT = "constant"
ARRIVAL_KINDS = (POISSON, CONSTANT)

# How an arrival ended: answered 200 with the expected body; not sent, every place of the
# generator's bounded pool taken; answered 503 (shed by the server); anything else.
OK = "ok"
DROPPED = "dropped"
SHED = "shed"
FAILED = "failed"

# (intended start, end, ms from intended start to the end, outcome, status, body bytes,
#  slip ms, connection wait ms, error, gc ms[, source]): wall-clock seconds, so the records of
# several Locust processes share one window. Slip: how late the generator started the request
# (its timer or CPU lagging the schedule). Connection wait: how long it waited for one of the
# generator's connections (all busy on the server); both are inside the latency. gc ms: the
# answer's Server-Timing `gc` entry (collections while the server handled it; NaN: no entry).
ArrivalRecord = (
    tuple[float, float, float, str, int, int, float, float, str, float]
    | tuple[float, float, float, str, int, int, float, float, str, float, str]
)
RECORD_FIELDS = 10  # an ArrivalRecord's fields before the source a Locust master adds

# Connections the generator opens at most, over all its processes. An arrival that finds them
# all busy waits for one (the wait counts in its latency). 64 keeps every server the runner
# starts out of its own overflow: gunicorn's accept backlog is 64 (gunicorn.conf.py; past it new
# connections wait in SYN retries of 1-3 s), uvicorn sheds with a 503 past 200 connections
# plus tasks (at most 2 x 64 here), granian's backlog is 1024. The queue forms here instead,
# where it is timed.
CONNECTIONS = 64
# Arrivals waiting or in flight at most, over all processes; one more is dropped (counted, never
# sent). An admitted arrival waits at most about POOL / (the server's rate): 2000 is 2 s at
# 1,000 requests/s, so a drop happens only where latency is already 20x the default 100 ms
# target, and a 105% rate over a 30 s window (a queue of 1.5 s of the server's work) fits.
POOL = 2000
# How long after the window's end to wait for its last arrivals to end (at most).
STRAGGLER_TIMEOUT_S = 30.0
# A p99 from fewer answered requests than this is rough: its 1% tail is a handful of requests.
ROUGH_P99_REQUESTS = 1000
# Slip beyond this share of the latency target at the 99th percentile makes a run untrustworthy:
# the generator, not the server, would then be adding a tenth of the budget to the tail.
SLIP_SHARE_OF_SLO = 0.1
# A rate counts as served when this share of what was generated in the window was answered in it.
SERVED_SHARE = 0.97


def arrival_offsets(
    kind: str, rate: float, rng: random.Random, phase: float = 0.0
) -> Iterator[float]:
    """Seconds after the schedule's start at which requests should start: a Poisson process of
    `rate` per second (exponential gaps: independent users), or one every 1/rate seconds
    starting at `phase` (several processes at one constant rate each take their own phase)."""
    if kind not in ARRIVAL_KINDS:
        raise ValueError(f"arrivals must be one of {', '.join(ARRIVAL_KINDS)}, not {kind!r}")
    if not rate > 0:
        raise ValueError("rate must be > 0")
    if kind == CONSTANT:
        n = 0
        while True:
            yield phase + n / rate
            n += 1
    t = phase
    while True:
        t += rng.expovariate(rate)
        yield t


class ArrivalLog:
    """The arrivals of this process (appended by the open-loop user), and per Locust process
    how many arrivals it issued inside the measured window (reported once its schedule passed
    the window's end). A Locust master merges its workers' logs with extend()."""

    def __init__(self) -> None:
        self.records: list[ArrivalRecord] = []
        self.issued: list[tuple[str, int]] = []

    def record(
        self,
        intended: float,
        end: float,
        latency_ms: float,
        outcome: str,
        status: int,
        nbytes: int,
        slip_ms: float,
        wait_ms: float,
        error: str = "",
        gc_ms: float = math.nan,
    ) -> None:
        self.records.append(
            (intended, end, latency_ms, outcome, status, nbytes, slip_ms, wait_ms, error, gc_ms)
        )

    def mark_window(self, issued: int, source: str = "") -> None:
        self.issued.append((source, issued))

    def drain(self) -> dict[str, list]:
        """Everything logged so far, as a message to the master; the log starts empty again."""
        payload: dict[str, list] = {"records": self.records, "issued": self.issued}
        self.records, self.issued = [], []
        return payload

    def extend(self, payload: dict[str, Sequence], source: str = "") -> None:
        """Add another process's drained log, its records and markers tagged with `source`."""
        self.records.extend((*r[:RECORD_FIELDS], source) for r in payload.get("records", ()))
        self.issued.extend((source, int(n)) for _, n in payload.get("issued", ()))

    def window_complete(self, t0: float, t1: float, processes: int) -> bool:
        """Every process reported its window, and every arrival it issued in [t0, t1) has ended."""
        if len(self.issued) < processes:
            return False
        return in_window_count(self.records, t0, t1) >= sum(n for _, n in self.issued)


def in_window(records: Iterable[ArrivalRecord], t0: float, t1: float) -> list[ArrivalRecord]:
    """The arrivals whose intended start lies in [t0, t1): a request caught by a pause at the
    window's end belongs to it however late it ends."""
    return [r for r in records if t0 <= r[0] < t1]


def in_window_count(records: Iterable[ArrivalRecord], t0: float, t1: float) -> int:
    return sum(1 for r in records if t0 <= r[0] < t1)


@dataclass
class ArrivalStats:
    """One offered rate's window, as capacity.csv reports it."""

    offered_rps: float
    window_s: float
    requests: int  # arrivals intended inside the window
    issued: int  # what the load processes say they issued in it (more: unfinished at the end)
    ok: int
    dropped: int
    shed: int
    failed: int
    achieved_rps: float  # 200s that ended inside the window, per second
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    slip_p99_ms: float
    slip_max_ms: float
    wait_p99_ms: float  # waiting for a free connection of the generator
    # The collector's time inside the answers (their Server-Timing `gc` entry): its median over
    # the answered arrivals, and its mean over the slowest 1% of them (the tail); NaN when no
    # answer carried the entry.
    gc_p50_ms: float = math.nan
    gc_tail_ms: float = math.nan
    tail_ms: float = math.nan  # the mean latency of those slowest 1%, beside their gc
    body_sizes: tuple[int, ...] = ()
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def unfinished(self) -> int:
        """Arrivals of the window without an end when the run stopped waiting for them."""
        return max(0, self.issued - self.requests)

    @property
    def generated_rps(self) -> float:
        """Arrivals the schedule put in the window, per second (Poisson: offered +- its noise)."""
        return self.issued / self.window_s if self.window_s > 0 else math.nan

    @property
    def served_pct(self) -> float:
        """200s per second inside the window as a share of the arrivals generated in it."""
        if not self.issued:
            return math.nan
        return 100 * self.achieved_rps / self.generated_rps

    @property
    def rough(self) -> bool:
        return self.ok < ROUGH_P99_REQUESTS


def summarize_arrivals(
    records: Sequence[ArrivalRecord], t0: float, t1: float, offered_rps: float, issued: int
) -> ArrivalStats:
    """The window [t0, t1) of an open-loop run: percentiles over the answered arrivals intended
    in it (latency from the intended start); achieved = 200s that ended inside it per second,
    so a server that falls behind shows it even though every straggler was waited for."""
    if not t1 > t0:
        raise ValueError("the window must have a positive length")
    mine = in_window(records, t0, t1)
    answered = [r for r in mine if r[3] == OK]
    latencies = sorted(r[2] for r in answered)
    slips = sorted(r[6] for r in mine)
    waits = sorted(r[7] for r in mine if r[3] != DROPPED)
    served = sum(1 for r in records if r[3] == OK and t0 <= r[1] < t1)
    errors: dict[str, int] = {}
    for r in mine:
        if r[3] in (FAILED, SHED):
            kind = r[8] or f"HTTP {r[4]}"
            errors[kind] = errors.get(kind, 0) + 1
    return ArrivalStats(
        offered_rps=offered_rps,
        window_s=t1 - t0,
        requests=len(mine),
        issued=max(issued, len(mine)),
        ok=len(answered),
        dropped=sum(1 for r in mine if r[3] == DROPPED),
        shed=sum(1 for r in mine if r[3] == SHED),
        failed=sum(1 for r in mine if r[3] == FAILED),
        achieved_rps=served / (t1 - t0),
        p50_ms=percentile(latencies, 50),
        p90_ms=percentile(latencies, 90),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
        max_ms=latencies[-1] if latencies else math.nan,
        mean_ms=sum(latencies) / len(latencies) if latencies else math.nan,
        slip_p99_ms=percentile(slips, 99),
        slip_max_ms=slips[-1] if slips else math.nan,
        wait_p99_ms=percentile(waits, 99),
        **gc_in_tail(answered),
        body_sizes=tuple(sorted({r[5] for r in answered})),
        errors=dict(sorted(errors.items(), key=lambda kv: -kv[1])),
    )


def gc_in_tail(answered: Sequence[ArrivalRecord]) -> dict[str, float]:
    """The `gc` ms of the answered arrivals: the median over all (gc_p50_ms), the mean over the
    slowest 1% of them, at least one (gc_tail_ms), beside those requests' mean latency (tail_ms);
    NaN where no answer carried the entry."""
    with_gc = [r for r in answered if len(r) > 9 and math.isfinite(r[9])]
    if not with_gc:
        return {"gc_p50_ms": math.nan, "gc_tail_ms": math.nan, "tail_ms": math.nan}
    slowest = sorted(with_gc, key=lambda r: r[2])[-max(1, math.ceil(len(with_gc) / 100)) :]
    return {
        "gc_p50_ms": percentile(sorted(r[9] for r in with_gc), 50),
        "gc_tail_ms": sum(r[9] for r in slowest) / len(slowest),
        "tail_ms": sum(r[2] for r in slowest) / len(slowest),
    }


def slip_limit_ms(slo_ms: float) -> float:
    """The generator's largest trustworthy p99 slip for a latency target of `slo_ms`."""
    return SLIP_SHARE_OF_SLO * slo_ms


def arrival_reasons(stats: ArrivalStats, slo_ms: float, size_slack: int = 0) -> list[str]:
    """Why an open-loop window cannot be trusted as a measurement of the server (empty when it
    can): the generator lagged its schedule, or the answers differed by more than `size_slack`
    bytes (what a setup varies by design: Django's gzip pads at random). Dropped, shed and
    failed requests are the server's doing, reported, not a fault of the measurement."""
    reasons = []
    limit = slip_limit_ms(slo_ms)
    if stats.slip_p99_ms > limit:
        reasons.append(
            f"generator slip p99 {stats.slip_p99_ms:.1f} ms > {limit:g} ms (the load generator "
            "lagged its schedule)"
        )
    if not stats.requests:
        reasons.append("no arrival in the window")
    if stats.body_sizes and stats.body_sizes[-1] - stats.body_sizes[0] > size_slack:
        reasons.append(f"body sizes varied: {', '.join(map(str, stats.body_sizes))}")
    return reasons


def arrival_notes(stats: ArrivalStats) -> list[str]:
    """What a reader of the row must know that is not a fault of the measurement."""
    notes = []
    if stats.rough:
        notes.append(f"rough p99: {stats.ok} answered requests")
    if stats.dropped:
        notes.append(f"{stats.dropped} dropped (the generator's pool was full)")
    if stats.unfinished:
        notes.append(f"{stats.unfinished} unanswered when the run stopped waiting")
    if stats.errors:
        notes.append(", ".join(f"{kind} x{n}" for kind, n in stats.errors.items()))
    return notes
