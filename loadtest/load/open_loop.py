"""Open-loop runs on the session's Locust: one arrival-scheduling user per Locust process (the
rate split over them), a measured window selected by intended arrival, every straggler of it
waited for (loadtest/README.md, "Open loop and capacity").

Importing it imports Locust (through the load generator): import it where the load generator
may be imported.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gevent

from loadtest import locustfile
from loadtest.arrivals import CONNECTIONS, POOL, STRAGGLER_TIMEOUT_S, ArrivalRecord
from loadtest.load.arrival_user import (
    ARRIVAL_LOG,
    MAX_CONNECTIONS,
    OPTION,
    OpenLoopOptions,
    split_over,
)
from loadtest.load.generator import CandleRequest, LoadGenerator, Measurement
from loadtest.serving.deployment import RequestOptions

# From the call to the schedule's start: spawning the user (local) or every worker's (remote).
LEAD_S = 0.2
DISTRIBUTED_LEAD_S = 1.0


def listen_overflows() -> int | None:
    """This machine's count of connections its listening sockets' accept queues turned away
    (TcpExt ListenOverflows), or None where it cannot be read."""
    try:
        with open("/proc/net/netstat") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for names, values in zip(lines[::2], lines[1::2]):
        if names.startswith("TcpExt:"):
            table = dict(zip(names.split()[1:], values.split()[1:]))
            return int(table["ListenOverflows"]) if "ListenOverflows" in table else None
    return None


@dataclass
class OpenLoopMeasurement(Measurement):
    """A Measurement (its samples: the window's arrivals as the Collector saw them) plus every
    arrival's record and how the run was bounded."""

    records: list[ArrivalRecord] = field(default_factory=list)
    issued: int = 0  # arrivals the processes issued inside the window
    processes: int = 1
    connections: int = CONNECTIONS
    pool: int = POOL
    straggler_wait_s: float = 0.0
    listen_overflows: int | None = None  # on this machine, during the run (None: unknown)


class OpenLoopGenerator(LoadGenerator):
    """The session's load generator, able to run open-loop windows as well as closed-loop ones."""

    @classmethod
    def from_options(
        cls,
        host: str,
        options: argparse.Namespace,
        cpus: set[int] | None,
        log_dir: Path,
        request: RequestOptions | None,
    ) -> OpenLoopGenerator:
        """As a command's options ask: --processes, or --expect-workers with --master-bind and
        --workers-wait."""
        return cls(
            host,
            options.processes,
            cpus,
            log_dir,
            request,
            expect_workers=options.expect_workers,
            master_bind=options.master_bind,
            workers_wait_s=options.workers_wait,
        )

    def processes(self) -> int:
        """Locust processes that generate load (the workers, or this one)."""
        return len(self._roster) if self.distributed else 1

    def _await_window(self, t0: float, t1: float, timeout: float) -> float:
        """Wait until every arrival of [t0, t1) ended (load keeps running meanwhile), at most
        `timeout` seconds; returns the seconds waited."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.distributed:
                self._flush_workers()
                self._check_workers()
            if ARRIVAL_LOG.window_complete(t0, t1, self.processes()):
                break
            gevent.sleep(0.25 if self.distributed else 0.05)
        return time.monotonic() - started

    def open_loop(
        self,
        request: CandleRequest,
        rate: float,
        arrivals: str,
        warmup: float,
        duration: float,
        probe: Callable[[], dict[str, float]] | None = None,
        *,
        connections: int = CONNECTIONS,
        pool: int = POOL,
        straggler_timeout: float = STRAGGLER_TIMEOUT_S,
    ) -> OpenLoopMeasurement:
        """Offer `rate` requests/s for `warmup` + `duration` seconds and keep offering it until
        every arrival intended inside the measured window ended (or `straggler_timeout`)."""
        if not (rate > 0 and duration > 0 and warmup >= 0):
            raise ValueError("rate and duration must be > 0, warmup >= 0")
        self.set_request(request)
        ARRIVAL_LOG.drain()
        processes = self.processes()
        start_at = time.time() + (DISTRIBUTED_LEAD_S if self.distributed else LEAD_S)
        t0 = start_at + warmup
        t1 = t0 + duration
        options = OpenLoopOptions(
            rate=rate / processes,
            arrivals=arrivals,
            processes=processes,
            connections=min(MAX_CONNECTIONS, split_over(connections, processes)),
            pool=split_over(pool, processes),
            start_at=start_at,
            window=(t0, t1),
        )
        setattr(self.options, OPTION, options.to_message())
        overflows0 = listen_overflows()
        self.env.user_classes[:] = [locustfile.OpenLoopUser]
        try:
            self.start(processes)
            self._sleep(max(0.0, t0 - time.time()))
            cpu0, probe0 = self._cpu_seconds(), self._probe(probe)
            self.runner.stats.reset_all()
            self._sleep(max(0.0, t1 - time.time()))
            cpu1, probe1 = self._cpu_seconds(), self._probe(probe)
            warning = self._cpu_warning()
            waited = self._await_window(t0, t1, straggler_timeout)
        finally:
            self.stop()
            self.env.user_classes[:] = [locustfile.CandleUser]
        samples = [s for s in self._samples() if t0 <= s[0] < t1]
        overflows1 = listen_overflows()
        m = OpenLoopMeasurement(
            samples,
            duration,
            0.0,
            warning,
            warmup,
            True,
            t0,
            t1,
            records=list(ARRIVAL_LOG.records),
            issued=sum(n for _, n in ARRIVAL_LOG.issued),
            processes=processes,
            connections=options.connections * processes,
            pool=options.pool * processes,
            straggler_wait_s=waited,
            listen_overflows=(
                None if overflows0 is None or overflows1 is None else overflows1 - overflows0
            ),
        )
        if len(ARRIVAL_LOG.issued) < processes:
            m.notes.append(
                f"{processes - len(ARRIVAL_LOG.issued)} of {processes} load process(es) did not "
                "report their window"
            )
        self._cpu_shares(m, cpu0, cpu1, probe0, probe1, t1 - t0)
        self._count_workers(m)
        return m
