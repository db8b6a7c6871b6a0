"""HTTP checks on a started server before it is measured (and after an overload): DEBUG off, same
document from every mode (and every server), still answering."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime
from email.message import Message

from .cli import CheckError
from .servers import BYTES


def fetch(url: str, timeout: float = 60) -> tuple[int, Message, bytes]:
    """(status, headers (case-insensitive), body), for error statuses too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def check_server_debug_off(base_url: str) -> None:
    """A live check on the running server: an unknown API path must answer the API's JSON
    404. With DEBUG on, Django answers its HTML technical 404 page instead."""
    status, headers, _ = fetch(base_url + "/api/__candlebench_no_such_endpoint__")
    content_type = headers.get("Content-Type", "")
    if status != 404 or not content_type.startswith("application/json"):
        raise CheckError(
            f"{base_url}: an unknown API path answered {status} {content_type!r}, not the API's JSON 404 "
            "(is DEBUG on?)"
        )


def as_instants(body: bytes) -> object:
    """A document parsed, each row's time as an instant (so `Z` and `+00:00` compare equal)."""
    document = json.loads(body)
    return {**document, "data": [{**row, "basetm": datetime.fromisoformat(row["basetm"])}
                                 for row in document["data"]]}


def same_document(a: bytes, b: bytes, compare: str) -> bool:
    """`a` and `b` are one document: byte for byte, or (INSTANTS) as parsed JSON with times as instants."""
    return a == b if compare == BYTES else as_instants(a) == as_instants(b)


def fetch_documents(base_url: str, modes: list[str], limits: list[int],
                    path_for: Callable[[str, int], str]) -> dict[tuple[str, int], bytes]:
    """Every mode's body at every limit: each must answer 200, JSON, with a Server-Timing
    header and `limit` rows. `path_for(mode, limit)` builds the request path."""
    bodies: dict[tuple[str, int], bytes] = {}
    for limit in limits:
        for mode in modes:
            status, headers, body = fetch(base_url + path_for(mode, limit))
            if status != 200:
                raise CheckError(f"{mode} limit={limit}: HTTP {status}: {body[:300]!r}")
            if not headers.get("Content-Type", "").startswith("application/json"):
                raise CheckError(f"{mode} limit={limit}: Content-Type {headers.get('Content-Type')!r}")
            if "Server-Timing" not in headers:
                raise CheckError(f"{mode} limit={limit}: no Server-Timing header")
            rows = len(json.loads(body)["data"])
            if rows != limit:
                raise CheckError(
                    f"limit={limit}: the document holds only {rows} rows; seed more data "
                    "(python manage.py seed_candles) or lower --limits"
                )
            bodies[(mode, limit)] = body
    return bodies


def check_same_document(base_url: str, modes: list[str], limits: list[int], path_for: Callable[[str, int], str],
                        compare: str = BYTES) -> dict[tuple[str, int], int]:
    """Every mode must answer the first mode's document at each limit (see fetch_documents),
    byte for byte or as instants (`compare`). Returns each body's size (the load generator
    checks every response's length against it)."""
    bodies = fetch_documents(base_url, modes, limits, path_for)
    for limit in limits:
        reference_name, expected = modes[0], bodies[(modes[0], limit)]
        differing = [m for m in modes if not same_document(bodies[(m, limit)], expected, compare)]
        if differing:
            detail = ", ".join(f"{m} ({len(bodies[(m, limit)])} B)" for m in differing)
            raise CheckError(
                f"limit={limit}: {detail} answered a different document than {reference_name} "
                f"({len(expected)} B); the comparison would not be fair"
            )
    return {key: len(body) for key, body in bodies.items()}


def answers_modes(base_url: str, timeout: float = 5.0) -> bool:
    """GET /api/modes answers 200 within `timeout` seconds."""
    try:
        status, _, _ = fetch(base_url + "/api/modes", timeout=timeout)
    except OSError:
        return False
    return status == 200
