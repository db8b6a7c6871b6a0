"""Compression's own part of serving (the `compression` axis, loadtest/serving/axes.py, starts
each server under its setups): what meta.json records of a setup, the Accept-Encoding each sends
and what the load expects of its answers."""

from __future__ import annotations

from typing import TypedDict

from candles.api.compression import (
    RECOMMENDED,
    CompressionSetup,
    UnknownSetup,
    compression_setup,
)
from loadtest.axes import COMPRESSION, Deployment
from loadtest.cli import CheckError
from loadtest.serving.checks import Document
from loadtest.serving.deployment import RequestOptions


def setup_details(setup: CompressionSetup) -> dict:
    """What meta.json records of a setup besides its name, description and servers (the report
    reads these, never the app)."""
    return {
        "accept_encoding": setup.accept_encoding,
        "content_encoding": setup.content_encoding,
        "size_slack": setup.size_slack,
        "recommended": setup.recommended,
    }


def setup_named(name: str) -> CompressionSetup:
    """The setup called `name` (CheckError for one this checkout does not know)."""
    try:
        return compression_setup(name)
    except UnknownSetup as exc:
        raise CheckError(str(exc)) from None


def recommended_setup() -> str:
    return RECOMMENDED.name


def compression_of(deployment: Deployment) -> CompressionSetup:
    """The compression setup a server under `deployment` runs."""
    return setup_named(deployment[COMPRESSION.name])


def with_accept_encoding(options: RequestOptions | None, deployment: Deployment) -> RequestOptions:
    """The checks' request options under `deployment`: the target's headers (if any) and the
    Accept-Encoding the load sends under its compression setup."""
    options = options or RequestOptions()
    headers = {**options.headers, "Accept-Encoding": compression_of(deployment).accept_encoding}
    return RequestOptions(headers, options.insecure)


class ExpectedAnswer(TypedDict):
    """The load's side of a checked answer (the load generator's CandleRequest fields)."""

    expect_bytes: int
    accept_encoding: str
    size_slack: int


def expected_answer(document: Document, deployment: Deployment) -> ExpectedAnswer:
    """What the load generator's CandleRequest needs of a checked answer under `deployment`'s
    compression setup: the wire size, the Accept-Encoding to send, and how far the size may vary."""
    setup = compression_of(deployment)
    return {
        "expect_bytes": document.wire_bytes,
        "accept_encoding": setup.accept_encoding,
        "size_slack": setup.size_slack if document.content_encoding else 0,
    }
