"""What one measured run is made of: per-request samples (wall-clock times, so samples of several
Locust processes cut to one window) and their summary. Pure Python, no Locust."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# (start, end, response ms, ok, body bytes, Server-Timing, request name[, source]): samples a
# Locust master received from its workers end with the worker's id.
Sample = (
    tuple[float, float, float, bool, int, str, str]
    | tuple[float, float, float, bool, int, str, str, str]
)

# The phases every mode reports, in the order the report stacks them (compress: only answers the
# project's negotiated compression compressed). Not `gc`: the collector's time is inside them (and
# inside the framework's work around them), never summed with them (candles/api/timing.py).
PHASES: tuple[str, ...] = ("db", "serialize", "render", "compress")
GC_ENTRY = "gc"

_METRIC = re.compile(r"^\s*([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\s*(.*)$")
_DUR = re.compile(r";\s*dur\s*=\s*\"?([-+0-9.eE]+)\"?")


def parse_server_timing(header: str | None) -> dict[str, float]:
    """Parse a Server-Timing header into {metric: milliseconds}.

    `db;dur=1.5, serialize;dur=2, render;dur=0.25` -> {"db": 1.5, "serialize": 2.0,
    "render": 0.25}. Metrics without a (valid) dur are left out; a repeated metric is
    summed, like ServerTiming.lap does on the server.
    """
    result: dict[str, float] = {}
    if not header:
        return result
    for part in header.split(","):
        match = _METRIC.match(part)
        if not match:
            continue
        name, params = match.groups()
        dur = _DUR.search(params)
        if not dur:
            continue
        try:
            value = float(dur.group(1))
        except ValueError:
            continue
        if math.isfinite(value):
            result[name] = result.get(name, 0.0) + value
    return result


_DESC = re.compile(r";\s*desc\s*=\s*\"([^\"]*)\"")
_GC_GENERATION = re.compile(r"gen(\d+) (\d+)x ([0-9.]+)ms")


def parse_gc_generations(header: str | None) -> dict[int, tuple[int, float]]:
    """The `gc` entry's collections per generation, {generation: (collections, ms)}, from its
    desc (`gc;dur=1.2;desc="gen0 2x 0.100ms gen2 1x 1.100ms"`); {} when none ran or no entry."""
    for part in (header or "").split(","):
        match = _METRIC.match(part)
        if match and match.group(1) == GC_ENTRY:
            desc = _DESC.search(match.group(2))
            if desc:
                return {int(g): (int(n), float(ms)) for g, n, ms in _GC_GENERATION.findall(desc[1])}
    return {}


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending sequence (pct in 0..100); NaN when empty."""
    if not sorted_values:
        return math.nan
    if not 0 <= pct <= 100:
        raise ValueError("pct must be within 0..100")
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return float(sorted_values[rank - 1])


@dataclass
class RunStats:
    """One run's numbers, as they go into results.csv."""

    requests: int
    failures: int
    duration_s: float
    rps: float
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    bytes: int
    timing_ms: dict[str, float] = field(default_factory=dict)
    # Distinct body sizes seen among successful responses (more than one means the
    # mode answered different documents during the run).
    body_sizes: tuple[int, ...] = ()


def window(samples: Iterable[Sample], start: float, end: float) -> list[Sample]:
    """The samples whose request completed within (start, end]."""
    return [s for s in samples if start < s[1] <= end]


def requests_by_source(samples: Iterable[Sample]) -> dict[str, int]:
    """How many of `samples` each source (a Locust worker's id; "" for this process) made."""
    counts: dict[str, int] = {}
    for s in samples:
        source = s[7] if len(s) > 7 else ""
        counts[source] = counts.get(source, 0) + 1
    return counts


def summarize(samples: Sequence[Sample], duration_s: float) -> RunStats:
    """Summarize the samples of one measurement window of `duration_s` seconds.

    Requests/s counts successful requests only (a 503 or a wrong body is not a served
    request; failures are reported separately and make the row untrustworthy); latency
    percentiles and Server-Timing means are over successful requests only too.
    """
    if duration_s <= 0:
        raise ValueError("duration_s must be positive")
    ok = [s for s in samples if s[3]]
    times = sorted(s[2] for s in ok)
    sizes = sorted({s[4] for s in ok})
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for s in ok:
        for name, value in parse_server_timing(s[5]).items():
            sums[name] = sums.get(name, 0.0) + value
            counts[name] = counts.get(name, 0) + 1
    return RunStats(
        requests=len(samples),
        failures=len(samples) - len(ok),
        duration_s=duration_s,
        rps=len(ok) / duration_s,
        mean_ms=sum(times) / len(times) if times else math.nan,
        p50_ms=percentile(times, 50),
        p95_ms=percentile(times, 95),
        p99_ms=percentile(times, 99),
        max_ms=times[-1] if times else math.nan,
        bytes=round(sum(s[4] for s in ok) / len(ok)) if ok else 0,
        timing_ms={name: sums[name] / counts[name] for name in sums},
        body_sizes=tuple(sizes),
    )


def span(samples: Sequence[Sample]) -> tuple[float, float]:
    """(first request start, last response end): the seed profile's measured interval."""
    if not samples:
        raise ValueError("no samples")
    return min(s[0] for s in samples), max(s[1] for s in samples)


class Collector:
    """Per-request samples of the current process, appended by the request listener.

    The hot path is one tuple append; parsing happens after the run. Samples from Locust
    worker processes are merged in with extend().
    """

    def __init__(self) -> None:
        self.samples: list[Sample] = []

    def record(
        self,
        start: float,
        end: float,
        response_time_ms: float,
        ok: bool,
        nbytes: int,
        server_timing: str,
        name: str,
    ) -> None:
        self.samples.append((start, end, response_time_ms, ok, nbytes, server_timing, name))

    def extend(self, samples: Iterable[Sequence], source: str = "") -> None:
        """Add samples of another process (they arrive as lists), tagged with `source` when given."""
        if source:
            self.samples.extend((*s[:7], source) for s in samples)
        else:
            self.samples.extend(tuple(s) for s in samples)

    def drain(self) -> list[Sample]:
        samples, self.samples = self.samples, []
        return samples

    def __len__(self) -> int:
        return len(self.samples)


@dataclass
class TimingSummary:
    """Running Server-Timing means per request name (for `make locust` runs by hand)."""

    counts: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    sums: dict[str, dict[str, float]] = field(default_factory=dict)

    def clear(self) -> None:
        """Forget everything added (a new test started)."""
        self.counts.clear()
        self.failures.clear()
        self.sums.clear()

    def add(self, samples: Iterable[Sample]) -> None:
        for s in samples:
            name = s[6]
            self.counts[name] = self.counts.get(name, 0) + 1
            if not s[3]:
                self.failures[name] = self.failures.get(name, 0) + 1
                continue
            sums = self.sums.setdefault(name, {})
            for phase, value in parse_server_timing(s[5]).items():
                sums[phase] = sums.get(phase, 0.0) + value

    def table(self) -> str:
        lines = ["Server-Timing means per request (ms):"]
        header = f"{'name':<28} {'requests':>9} {'failures':>9}" + "".join(
            f" {p:>10}" for p in PHASES
        )
        lines.append(header)
        for name in sorted(self.counts):
            ok = self.counts[name] - self.failures.get(name, 0)
            sums = self.sums.get(name, {})
            cells = "".join(
                f" {sums[p] / ok:>10.3f}" if ok and p in sums else f" {'-':>10}" for p in PHASES
            )
            lines.append(
                f"{name:<28} {self.counts[name]:>9} {self.failures.get(name, 0):>9}{cells}"
            )
        return "\n".join(lines)
