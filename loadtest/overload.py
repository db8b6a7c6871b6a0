"""What the overload tests (spike, soak) share: every request's status from Locust, how a
response counts (ok / shed / failed), starting a checked server, and their number formats.

Imports no Locust until listen() is called, so the verdicts are tested without it.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from loadtest.axes import Deployment
from loadtest.cli import CheckError
from loadtest.request import candle_path
from loadtest.serving.checks import Document, answers_modes, check_same_document
from loadtest.serving.compression import compression_of, with_accept_encoding
from loadtest.serving.modes import ModeMap
from loadtest.serving.servers import ServerProcess, ServerSpec
from loadtest.session import Session, open_session
from loadtest.stats import percentile

# (start, end, response_time_ms, status, error): every request while a spike/soak runs.
Record = tuple[float, float, float, int, str]


class StatusLog:
    """Every request's HTTP status (0: no response) and error, from Locust's request event.

    The locustfile's own samples only say ok / not ok; overload needs to tell a 503 (shed,
    allowed) from every other failure.
    """

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.active = False
        self.attached = False

    def __call__(
        self,
        request_type,
        name,
        response_time,
        response_length,
        response=None,
        exception=None,
        **kwargs,
    ) -> None:
        if not self.active:
            return
        end = time.time()
        start = kwargs.get("start_time") or end - response_time / 1000
        status = int(getattr(response, "status_code", 0) or 0) if response is not None else 0
        error = "" if exception is None else (str(exception) or type(exception).__name__)
        self.records.append((start, end, float(response_time), status, error))

    def drain(self) -> list[Record]:
        records, self.records = self.records, []
        return records


STATUS_LOG = StatusLog()


def listen() -> None:
    """Attach STATUS_LOG to Locust's request event (once; imports Locust)."""
    from locust import events

    if not STATUS_LOG.attached:
        events.request.add_listener(STATUS_LOG)
        STATUS_LOG.attached = True


def classify(record: Record) -> str:
    """'ok' (200, full body), 'shed' (503) or 'failed' (anything else)."""
    _, _, _, status, error = record
    if status == 200 and not error:
        return "ok"
    if status == 503:
        return "shed"
    return "failed"


def failure_kind(record: Record) -> str:
    """A short label for a failed request: its status, or the error when there was no response."""
    status, error = record[3], record[4]
    if status == 0:
        return error[:80] or "no response"
    return f"HTTP {status}" + (f" ({error[:60]})" if error and error != f"HTTP {status}" else "")


def percentile_of(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of unsorted `values` (NaN when empty)."""
    return percentile(sorted(values), pct)


def fmt(value: float, digits: int = 1) -> str:
    """A figure for a CSV cell or a table: empty when there is none (NaN)."""
    return "" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def open_overload_session(modes: list[str], limit: int) -> Session:
    """The session of a spike or soak: checked settings, `modes` known, `limit` within the API's
    range. The caller creates its output folder, then prepares the database."""
    session = open_session()
    ModeMap(session.settings["registry"]).refuse_unknown(modes)
    if not 1 <= limit <= session.settings["max_limit"]:
        raise CheckError(
            f"--limit must be within 1..{session.settings['max_limit']} (the API's range)"
        )
    return session


def start_checked_server(
    session: Session,
    spec: ServerSpec,
    out: Path,
    requested: list[str],
    limit: int,
    pair: str,
    interval: str,
    deployment: Deployment | None = None,
) -> tuple[ServerProcess, dict[str, Document]]:
    """Start one server under `deployment` (None: every axis's default) and check that it serves
    its modes of `requested` (a server of its own modes: all of them when none is requested) with
    one document at `limit` rows, in its compression setup's coding; returns it and each of those
    modes' answer (its wire size is what the load expects). A server that fails a check is
    stopped."""
    registry = ModeMap(session.settings["registry"])
    registry.refuse_servers_without_modes([spec.name], requested)
    server, served = session.start_server(spec, out, deployment)
    try:
        modes = registry.modes_on(spec.name, requested, served)
        missing = [m for m in registry.modes_on(spec.name, requested) if m not in modes]
        if missing:
            raise CheckError(
                f"{spec.name} does not serve {', '.join(missing)} (it lists {', '.join(served)})"
            )
        documents = check_same_document(
            server.base_url,
            modes,
            [limit],
            lambda m, n: candle_path(m, n, pair, interval),
            spec.same_document,
            with_accept_encoding(None, server.deployment),
            compression_of(server.deployment).content_encoding,
        )
    except BaseException:
        server.stop()
        raise
    return server, {mode: document for (mode, _), document in documents.items()}


def still_answers(server: ServerProcess, timeout: float = 5.0) -> bool:
    """The server is alive and answers GET /api/modes with 200 within `timeout` seconds."""
    return server.alive() and answers_modes(server.base_url, timeout)
