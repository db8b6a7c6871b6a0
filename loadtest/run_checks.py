"""Whether one measured run can be trusted: the thresholds (used by the load generator, the
runner and the report's text alike) and the check itself. Imports no Locust."""

from __future__ import annotations

from typing import Protocol

from loadtest.stats import RunStats

# Fewer requests than this in a measured window make a run untrustworthy; the load
# generator extends a window until this many completed, up to MAX_WINDOW_FACTOR x its length.
MIN_REQUESTS = 20
MAX_WINDOW_FACTOR = 3
# The warm-up ends after at least --warmup seconds and one response per user; a run whose
# warm-up has not ended after this many seconds is untrustworthy.
MAX_WARMUP_S = 10.0
# Locust's own CPU warning threshold, for the busiest load-generating process (% of a core):
# the local one, or the busiest Locust worker wherever it runs.
LOADGEN_CPU_LIMIT = 90.0
# CPU used by anything but the server, the load generator and the local database during a
# window (% of one core): another benchmark on the machine would skew the comparison.
OTHER_CPU_LIMIT = 25.0


class MeasuredWindow(Protocol):
    """What the check reads of a load generator's measurement (loadgen.Measurement)."""

    locust_cpu_warning: bool
    loadgen_cpu_pct: float
    other_cpu_pct: float
    warmup_complete: bool
    warmup_s: float
    notes: list[str]
    busiest: str  # the Locust worker of loadgen_cpu_pct ("" without workers)


def untrustworthy_reasons(
    stats: RunStats, measurement: MeasuredWindow, size_slack: int = 0
) -> list[str]:
    """Why a run cannot be trusted (empty when it can); `size_slack`: by how many bytes the body
    may vary by design (Django's gzip pads at random)."""
    reasons = []
    if stats.failures:
        reasons.append(f"{stats.failures} failed request(s)")
    if stats.requests < MIN_REQUESTS:
        reasons.append(f"only {stats.requests} requests measured")
    if stats.body_sizes and stats.body_sizes[-1] - stats.body_sizes[0] > size_slack:
        reasons.append(f"body sizes varied: {', '.join(map(str, stats.body_sizes))}")
    return reasons + measurement_reasons(measurement)


def measurement_reasons(measurement: MeasuredWindow) -> list[str]:
    """Why a window cannot be trusted whatever was measured in it: the load generator or other
    processes short of CPU, a warm-up that did not end, the generator's own notes."""
    reasons = []
    if measurement.locust_cpu_warning:
        reasons.append("Locust CPU warning")
    if measurement.loadgen_cpu_pct >= LOADGEN_CPU_LIMIT:
        where = f" (worker {measurement.busiest})" if measurement.busiest else ""
        reasons.append(f"load generator at {measurement.loadgen_cpu_pct:.0f}% CPU{where}")
    if measurement.other_cpu_pct > OTHER_CPU_LIMIT:
        reasons.append(f"other processes used {measurement.other_cpu_pct:.0f}% of a CPU")
    if not measurement.warmup_complete:
        reasons.append(f"warm-up incomplete after {measurement.warmup_s:.1f} s")
    return [*reasons, *measurement.notes]


# Little's law in a closed loop of N users without wait: N = requests/s x mean latency, when every
# user always has a request at the server. A shortfall is time the users spent outside a request
# (the load generator itself); past this share, plus the window's edges (up to N requests
# straddle each), the run did not keep N requests at the server.
LITTLES_LAW_TOLERANCE = 0.10


def littles_law(users: int, rps: float, mean_ms: float, requests: int) -> tuple[float, float]:
    """(requests/s x mean latency / users, the tolerance of that ratio around 1 for a window of
    `requests` requests: LITTLES_LAW_TOLERANCE plus users / requests for its edges)."""
    edges = users / requests if requests else float("inf")
    return rps * mean_ms / 1000 / users, LITTLES_LAW_TOLERANCE + edges
