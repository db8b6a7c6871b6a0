"""An open-loop sweep of one cell (server x mode x limit) on a running server: its closed-loop
maximum first (unless the rates are given), then each offered rate measured and checked, as
the rows of capacity.csv. The capacity command sweeps every cell it is asked for; bench sweeps
the few its plan names."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from loadtest.arrivals import (
    CONNECTIONS,
    POISSON,
    POOL,
    ROUGH_P99_REQUESTS,
    STRAGGLER_TIMEOUT_S,
    arrival_notes,
    arrival_reasons,
    summarize_arrivals,
)
from loadtest.report.capacity import DEFAULT_SLO_MS, CapacityRow
from loadtest.run_checks import MIN_REQUESTS, measurement_reasons, untrustworthy_reasons
from loadtest.stats import summarize

# Offered rates as fractions of the closed-loop maximum: the knee of the curve lies between.
FRACTIONS: tuple[float, ...] = (0.25, 0.5, 0.7, 0.85, 0.95, 1.05)
# The closed-loop run that finds the maximum: bench's users, a window long enough to settle.
CLOSED_LOOP_USERS = 16
CLOSED_LOOP_WARMUP_S = 0.5
CLOSED_LOOP_WINDOW_S = 3.0
# Requests/s one Locust process is trusted to generate open-loop. Measured against a server
# faster than it on a core others kept half busy: p99 slip under 10 ms up to 1,000 req/s with
# 1-row bodies, 500 with 1000-row ones; ~0.3 ms of CPU a request, ~3,000/s on a core of its own
# (loadtest/README.md, "How fast the generator goes"). A rate above processes x this is refused;
# the slip check marks any rate the generator did not keep.
GENERATOR_RPS_PER_PROCESS = 1000.0


@dataclass(frozen=True)
class SweepOptions:
    arrivals: str = POISSON
    slo_ms: float = DEFAULT_SLO_MS
    duration: float = 10.0  # each rate's window at least, seconds
    max_window: float = 30.0  # at most, when a slow rate needs longer for its p99
    warmup: float = 1.0
    connections: int = CONNECTIONS
    pool: int = POOL
    straggler_timeout: float = STRAGGLER_TIMEOUT_S
    max_rps_per_process: float = GENERATOR_RPS_PER_PROCESS


def generator_refusal(rate: float, processes: int, per_process: float) -> str:
    """Why `rate` is not offered with `processes` Locust processes of `per_process` each."""
    return (
        f"{rate:g} requests/s is more than {processes} Locust process(es) generate "
        f"(~{per_process:g}/s each, measured)"
    )


def window_for(rate: float, options: SweepOptions) -> float:
    """A rate's window: --duration, or longer (up to max_window) until ROUGH_P99_REQUESTS
    arrivals fall in it, so its p99 rests on enough requests."""
    return max(options.duration, min(options.max_window, ROUGH_P99_REQUESTS / rate))


# Seconds a rate costs beyond its warm-up and window (waiting for stragglers and an idle server),
# and a server's start with its checks: rough, for the estimate printed before a sweep.
RATE_OVERHEAD_S = 3.0
SERVER_START_S = 8.0


def sweep_estimate_s(
    cells: int,
    servers: int,
    rates: Sequence[float] | None,
    fractions: Sequence[float],
    options: SweepOptions,
) -> tuple[float, float]:
    """How long a sweep of `cells` cells on `servers` server starts takes, at least and at most
    (seconds): each rate's warm-up and window (with fractions, the rate is not known before the
    closed loop: its window lies between --duration and --max-window), the closed loop per cell."""
    if rates is not None:
        per_cell = sum(options.warmup + window_for(r, options) + RATE_OVERHEAD_S for r in rates)
        low = high = per_cell
    else:
        closed = CLOSED_LOOP_WARMUP_S + CLOSED_LOOP_WINDOW_S + RATE_OVERHEAD_S
        each = options.warmup + RATE_OVERHEAD_S
        low = closed + len(fractions) * (each + options.duration)
        high = closed + len(fractions) * (each + options.max_window)
    return cells * low + servers * SERVER_START_S, cells * high + servers * SERVER_START_S


def rates_from(closed_loop_rps: float, fractions: Sequence[float] = FRACTIONS) -> list[float]:
    """The offered rates of a sweep: fractions of the closed-loop maximum (two significant
    digits, so the report's figures read as what was asked for)."""
    return [_two_digits(closed_loop_rps * f) for f in fractions]


def _two_digits(value: float) -> float:
    if value <= 0:
        raise ValueError("a rate must be > 0")
    digits = 1 - math.floor(math.log10(value))
    return round(value, digits) if digits > 0 else float(round(value, digits))


def measure_closed_loop(loadgen, request, probe) -> tuple[float, list[str]]:
    """The cell's closed-loop maximum (requests/s of CLOSED_LOOP_USERS users without wait) and
    why it cannot be trusted (empty when it can)."""
    m = loadgen.steady(
        request,
        CLOSED_LOOP_USERS,
        CLOSED_LOOP_WARMUP_S,
        CLOSED_LOOP_WINDOW_S,
        probe,
        MIN_REQUESTS,
    )
    if not m.samples:
        return math.nan, ["no request completed", *m.notes]
    stats = summarize(m.samples, m.duration_s)
    return stats.rps, untrustworthy_reasons(stats, m)


# capacity.csv's columns that are the window's statistics, or the measurement's, by the same name.
FROM_STATS = (
    "achieved_rps",
    "dropped",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "generated_rps",
    "served_pct",
    "unfinished",
    "window_s",
    "mean_ms",
    "slip_p99_ms",
    "wait_p99_ms",
    "gc_p50_ms",
    "gc_tail_ms",
    "tail_ms",
)
FROM_MEASUREMENT = (
    "connections",
    "pool",
    "processes",
    "loadgen_cpu_pct",
    "server_cpu_pct",
    "other_cpu_pct",
)


def measure_rate(
    loadgen, server, request, rate: float, options: SweepOptions, probe, closed_loop_rps: float
) -> CapacityRow:
    """One offered rate against `server`: measured open-loop, checked, as a capacity.csv row."""
    lingering = server.wait_disconnected()
    pids = server.pids()
    m = loadgen.open_loop(
        request,
        rate,
        options.arrivals,
        options.warmup,
        window_for(rate, options),
        probe,
        connections=options.connections,
        pool=options.pool,
        straggler_timeout=options.straggler_timeout,
    )
    restarted = server.pids() != pids
    server.wait_idle()
    stats = summarize_arrivals(m.records, m.started, m.ended, rate, m.issued)
    reasons = arrival_reasons(stats, options.slo_ms, request.size_slack) + measurement_reasons(m)
    if restarted:
        reasons.append("a server process was replaced during the run")
    if lingering:
        reasons.append(f"{lingering} connection(s) of an earlier run were still open on the server")
    notes = arrival_notes(stats)
    if m.listen_overflows:
        notes.append(
            f"this machine's accept queues overflowed {m.listen_overflows} time(s): those "
            "connections waited in SYN retries (1-3 s), inside the latency"
        )
    return CapacityRow(
        server=server.served_by,
        mode=request.mode,
        limit=request.limit,
        arrivals=options.arrivals,
        offered_rps=rate,
        requests=stats.ok,
        failed=stats.failed + stats.shed,
        trustworthy=not reasons,
        note="; ".join([*reasons, *notes]),
        slo_ms=options.slo_ms,
        closed_loop_rps=closed_loop_rps,
        **{name: getattr(stats, name) for name in FROM_STATS},
        **{name: getattr(m, name) for name in FROM_MEASUREMENT},
    )


def sweep_cell(
    loadgen,
    server,
    request,
    options: SweepOptions,
    probe_for: Callable[[], Callable[[], dict[str, float]]],
    rates: Sequence[float] | None = None,
    fractions: Sequence[float] = FRACTIONS,
    on_row: Callable[[CapacityRow], None] = lambda row: None,
    log: Callable[[str], None] = print,
    closed_loop_rps: float = math.nan,
) -> list[CapacityRow]:
    """Sweep one cell: the closed-loop maximum (unless `rates` are given, then
    `closed_loop_rps` is recorded as it), then each rate in ascending order; `on_row` gets every
    row as soon as it is measured. A rate the generator cannot produce is left out, with a line
    saying why."""
    closed = closed_loop_rps
    label = f"{server.served_by} {request.mode} limit={request.limit}"
    if rates is None:
        server.wait_disconnected()
        closed, reasons = measure_closed_loop(loadgen, request, probe_for())
        server.wait_idle()
        flag = "" if not reasons else " NOT TRUSTWORTHY: " + "; ".join(reasons)
        log(f"{label}: closed-loop max {closed:.1f} req/s ({CLOSED_LOOP_USERS} users){flag}")
        if not closed > 0:
            return []
        rates = rates_from(closed, fractions)
        low, _ = sweep_estimate_s(1, 0, rates, (), options)
        log(f"{label}: {len(rates)} rate(s), about {low / 60:.1f} min")
    rows = []
    for rate in sorted(rates):
        if rate > loadgen.processes() * options.max_rps_per_process:
            refusal = generator_refusal(rate, loadgen.processes(), options.max_rps_per_process)
            log(f"{label}: not offered: {refusal}; add --processes or --expect-workers")
            continue
        row = measure_rate(loadgen, server, request, rate, options, probe_for(), closed)
        on_row(row)
        rows.append(row)
        rough = "~" if row.rough else ""
        flag = "ok" if row.trustworthy else "NOT TRUSTWORTHY"
        log(
            f"{label} {options.arrivals} {rate:>8g} req/s -> {row.achieved_rps:8.1f} served, "
            f"p50 {row.p50_ms:7.1f} p99 {rough}{row.p99_ms:7.1f} ms ({row.requests} requests), "
            f"dropped {row.dropped}, {flag}" + (f" ({row.note})" if row.note else "")
        )
    return rows
