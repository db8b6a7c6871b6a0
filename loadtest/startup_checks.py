"""HTTP checks on a started server before it is measured (and after an overload): DEBUG off, same
document from every mode, still answering."""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message

from .cli import CheckError


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


@dataclass(frozen=True)
class SameDocument:
    limit: int
    bytes: int
    rows: int


def check_same_document(base_url: str, modes: list[str], limits: list[int],
                        path_for: Callable[[str, int], str]) -> list[SameDocument]:
    """Every mode must answer 200 with byte-identical bodies holding `limit` rows.

    `path_for(mode, limit)` builds the request path. Returns the body size per limit.
    """
    found: list[SameDocument] = []
    for limit in limits:
        bodies: dict[str, bytes] = {}
        for mode in modes:
            status, headers, body = fetch(base_url + path_for(mode, limit))
            if status != 200:
                raise CheckError(f"{mode} limit={limit}: HTTP {status}: {body[:300]!r}")
            if not headers.get("Content-Type", "").startswith("application/json"):
                raise CheckError(f"{mode} limit={limit}: Content-Type {headers.get('Content-Type')!r}")
            if "Server-Timing" not in headers:
                raise CheckError(f"{mode} limit={limit}: no Server-Timing header")
            bodies[mode] = body
        reference_mode = modes[0]
        reference = bodies[reference_mode]
        differing = [m for m, b in bodies.items() if b != reference]
        if differing:
            detail = ", ".join(f"{m} ({len(bodies[m])} B)" for m in differing)
            raise CheckError(
                f"limit={limit}: {detail} answered a different document than {reference_mode} "
                f"({len(reference)} B); the comparison would not be fair"
            )
        rows = len(json.loads(reference)["data"])
        if rows != limit:
            raise CheckError(
                f"limit={limit}: the document holds only {rows} rows; seed more data "
                "(python manage.py seed_candles) or lower --limits"
            )
        found.append(SameDocument(limit, len(reference), rows))
    return found


def answers_modes(base_url: str, timeout: float = 5.0) -> bool:
    """GET /api/modes answers 200 within `timeout` seconds."""
    try:
        status, _, _ = fetch(base_url + "/api/modes", timeout=timeout)
    except OSError:
        return False
    return status == 200
