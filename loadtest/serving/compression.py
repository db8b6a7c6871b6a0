"""Which compression setups each server runs (the setups' kinds of server, candles/api/compression.py,
against each server's app_kind), the environment and Accept-Encoding of each, and the start-up
check that a server runs the setup it was started with (its GET /api/modes says which)."""

from __future__ import annotations

from typing import TypedDict

from candles.api.compression import (
    RECOMMENDED,
    SETUPS,
    CompressionSetup,
    UnknownSetup,
    compression_setup,
)
from loadtest.cli import CheckError
from loadtest.request import NO_COMPRESSION
from loadtest.serving.checks import Document
from loadtest.serving.deployment import RequestOptions
from loadtest.serving.servers import SERVERS

# The setting a server reads; the runner always sets it, so a value left in the shell never leaks.
COMPRESSION_ENV = "CANDLEBENCH_COMPRESSION"


def setup_entries() -> list[dict]:
    """Every setup as the plan records it in meta.json (the report reads these, never the app)."""
    return [
        {
            "name": s.name,
            "description": s.description,
            "accept_encoding": s.accept_encoding,
            "content_encoding": s.content_encoding,
            "size_slack": s.size_slack,
            "recommended": s.recommended,
            "servers": [name for name, spec in SERVERS.items() if spec.app_kind in s.kinds],
        }
        for s in SETUPS
    ]


def refuse_unknown_setups(names: list[str]) -> None:
    """--compression names only setups of the registry (one line, before anything starts)."""
    unknown = [n for n in names if n not in {s.name for s in SETUPS}]
    if unknown:
        raise CheckError(
            f"unknown compression setup(s): {', '.join(unknown)} "
            f"(the project has {', '.join(s.name for s in SETUPS)})"
        )


def setups_on(server: str, requested: list[str]) -> list[str]:
    """The setups of `requested` that `server` runs, in the registry's order (fastapi: none only;
    bolt: none and bolt-native; the Django servers every other)."""
    kind = SERVERS[server].app_kind
    return [s.name for s in SETUPS if s.name in requested and kind in s.kinds]


def setup_named(name: str) -> CompressionSetup:
    """The setup called `name` (CheckError for one this checkout does not know)."""
    try:
        return compression_setup(name)
    except UnknownSetup as exc:
        raise CheckError(str(exc)) from None


def recommended_setup() -> str:
    return RECOMMENDED.name


def served_setup_name(modes_document: dict) -> str:
    """The setup a server says it runs in GET /api/modes (a server that says none: `none`)."""
    return str(modes_document.get("compression") or NO_COMPRESSION)


def check_served_setup(who: str, modes_document: dict, expected: str) -> None:
    """The server runs the setup it was started with (CheckError otherwise)."""
    served = served_setup_name(modes_document)
    if served != expected:
        raise CheckError(
            f"{who} was started with {COMPRESSION_ENV}={expected} but its /api/modes says it runs "
            f"{served}"
        )


def compression_env(env: dict[str, str], setup: str) -> dict[str, str]:
    """`env` with the setting set to `setup`."""
    return {**env, COMPRESSION_ENV: setup}


def with_accept_encoding(options: RequestOptions | None, setup: str) -> RequestOptions:
    """The checks' request options for `setup`: the target's headers (if any) and the
    Accept-Encoding the load sends under it."""
    options = options or RequestOptions()
    headers = {**options.headers, "Accept-Encoding": setup_named(setup).accept_encoding}
    return RequestOptions(headers, options.insecure)


class ExpectedAnswer(TypedDict):
    """The load's side of a checked answer (the load generator's CandleRequest fields)."""

    expect_bytes: int
    accept_encoding: str
    size_slack: int


def expected_answer(document: Document, compression: str) -> ExpectedAnswer:
    """What the load generator's CandleRequest needs of a checked answer under `compression`:
    the wire size, the Accept-Encoding to send, and how far the size may vary."""
    setup = setup_named(compression)
    return {
        "expect_bytes": document.wire_bytes,
        "accept_encoding": setup.accept_encoding,
        "size_slack": setup.size_slack if document.content_encoding else 0,
    }
