"""wrk as a second load generator: the runner measures the headline cells with it too, so the
report can tell what Locust itself costs (Locust/wrk per cell, loadtest/README.md)."""

from __future__ import annotations

import math
import re
import shutil
import statistics
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from loadtest.serving.servers import pin_to

# The cells measured with both: raw and drf at 1000 rows on every server the runner ran.
HEADLINE_MODES = ("raw", "drf")
HEADLINE_ROWS = 1000
# A response slower than this is a failure for wrk (its default, 2 s, fails drf at 1000 rows
# on a busy machine; Locust waits 60 s).
TIMEOUT_S = 60
# A measured window of at least this many response times (startup reads ~1/this low), capped.
WINDOW_LATENCIES = 10
MAX_WINDOW_S = 10.0
# How long past its window a wrk run may take before it is stopped as hung.
WAIT_EXTRA_S = 30


@dataclass
class WrkRun:
    rps: float  # successful responses per second
    requests: int
    errors: int  # non-2xx/3xx responses and socket errors


@dataclass
class WrkCell:
    server: str
    mode: str
    limit: int
    wrk_rps: float  # median over the runs
    runs: list[dict]

    def as_json(self) -> dict:
        return asdict(self)


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def parse_wrk(output: str) -> WrkRun:
    """wrk's summary: the completed requests, less errors, over the time wrk reports."""
    requests = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),", output, re.M)
    if requests is None:
        raise ValueError(f"no request count in wrk's output:\n{output[-500:]}")
    seconds = float(requests.group(2)) * _UNITS[requests.group(3)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    n = int(requests.group(1))
    # Read errors under a server that closes each connection (gunicorn's sync worker) are closed
    # connections, not failed requests; connect errors and timeouts are failures.
    errors = (int(non2xx.group(1)) if non2xx else 0) + (
        int(sockets.group(1)) + int(sockets.group(4)) if sockets else 0
    )
    return WrkRun(rps=max(0, n - errors) / seconds, requests=n, errors=errors)


def run_wrk(
    url: str, connections: int, seconds: float, cpus: set[int] | None, headers: Sequence[str] = ()
) -> WrkRun:
    """One wrk run: one thread, `connections` keep-alive connections, pinned to `cpus`, for
    `seconds` rounded up to whole seconds (wrk's -d takes no fractions); `headers`: `Name: Value`
    lines sent with every request."""
    whole = max(1, math.ceil(seconds))
    try:
        result = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{whole}s",
                f"--timeout={TIMEOUT_S}s",
                *(arg for line in headers for arg in ("-H", line)),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=whole + WAIT_EXTRA_S,
            preexec_fn=pin_to(cpus),
        )
    except subprocess.TimeoutExpired:
        # Its message holds the command, and so the headers' values: never shown.
        raise RuntimeError(f"wrk timed out after {whole + WAIT_EXTRA_S} s") from None
    if result.returncode != 0:
        raise RuntimeError(
            f"wrk failed ({result.returncode}): {(result.stdout + result.stderr)[-500:]}"
        )
    return parse_wrk(result.stdout)


def measure_once(
    url: str, connections: int, seconds: float, cpus: set[int] | None, headers: Sequence[str] = ()
) -> WrkRun:
    """One measured run after a short warm-up run that is not counted.

    wrk counts what completes within its window, and each connection's first answer takes a
    whole response time: a window of a few response times reads low (drf at 1000 rows, 16
    connections: ~0.8 s each). So a slow cell gets a window of WINDOW_LATENCIES response times
    (at most MAX_WINDOW_S)."""
    warm = run_wrk(url, connections, min(1.0, seconds), cpus, headers)
    latency = connections / warm.rps if warm.rps > 0 else MAX_WINDOW_S
    return run_wrk(
        url, connections, min(max(seconds, WINDOW_LATENCIES * latency), MAX_WINDOW_S), cpus, headers
    )


@dataclass
class PairedCheck:
    """The headline cells measured with wrk right after Locust's run of the same cell, in every
    repeat: each repeat's Locust/wrk compares two runs seconds apart, so the machine's drift
    over a session stays out of the ratio."""

    cells: list[tuple[str, str]]  # (server, mode) at HEADLINE_ROWS
    connections: int
    seconds: float
    cpus: set[int] | None
    headers: Sequence[str] = ()
    runs: dict[tuple[str, str], list[dict]] = field(default_factory=dict)

    def wants(self, server: str, mode: str, limit: int) -> bool:
        return limit == HEADLINE_ROWS and (server, mode) in self.cells

    def measure(
        self, server: str, mode: str, repeat: int, url: str, accept_encoding: str = ""
    ) -> WrkRun:
        """One cell's run; `accept_encoding`: the header of the server's compression setup (wrk
        never decodes a body)."""
        headers = [
            *self.headers,
            *([f"Accept-Encoding: {accept_encoding}"] if accept_encoding else []),
        ]
        run = measure_once(url, self.connections, self.seconds, self.cpus, headers)
        self.runs.setdefault((server, mode), []).append({"repeat": repeat, **asdict(run)})
        return run

    def results(self) -> list[dict]:
        """wrk.json: per cell the median and every repeat's run."""
        return [
            WrkCell(
                server, mode, HEADLINE_ROWS, statistics.median(r["rps"] for r in runs), runs
            ).as_json()
            for (server, mode), runs in self.runs.items()
        ]


def estimate_s(cells: int, repeats: int, seconds: float) -> float:
    """Seconds the paired check adds to a session: per cell and repeat a 1 s warm-up run, the
    window (whole seconds) and about a second of process start and idle waits (a slow cell's
    longer window comes on top)."""
    return cells * repeats * (1 + max(1, math.ceil(seconds)) + 1)


def headline_cells(
    servers: Sequence[str], modes_on, limits: Sequence[int]
) -> list[tuple[str, str]]:
    """(server, mode) pairs of the headline cells the plan ran (modes_on(server): its modes)."""
    if HEADLINE_ROWS not in limits:
        return []
    return [(s, m) for s in servers for m in HEADLINE_MODES if m in modes_on(s)]
