"""The codec alone on the real document: each compression setup's own code (candles/api/compression.py,
compress_document: what the server runs for that setup's clients) timed in-process on the bytes
`raw` answers, with the size it sends. The report's "what compression costs" quotes it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from loadtest.inprocess.views import checked_body, view_caller
from loadtest.request import candle_path


@dataclass
class CodecTiming:
    setup: str
    coding: str  # Content-Encoding it answers with
    limit: int
    document_bytes: int
    wire_bytes: int
    ms: float  # per call, best of the batches


def document(limit: int, pair: str, interval: str) -> bytes:
    """The document at `limit` rows, as the `raw` mode's view answers it (every mode's bytes)."""
    path = candle_path("raw", limit, pair, interval)
    call, _ = view_caller(path)
    return checked_body(call(), path)


def time_codec(
    setup_name: str, body: bytes, min_time: float, batches: int = 3
) -> tuple[float, int]:
    """(ms per call, best of `batches`; bytes of one answer) of the setup's compression of `body`."""
    from candles.api.compression import compress_document, compression_setup

    setup = compression_setup(setup_name)
    size = len(compress_document(setup, body))  # warm, and one size (django-gzip's varies)
    started = time.perf_counter()
    compress_document(setup, body)
    once = max(time.perf_counter() - started, 1e-6)
    calls = max(3, round(min_time / batches / once))
    best = float("inf")
    for _ in range(batches):
        started = time.perf_counter()
        for _ in range(calls):
            compress_document(setup, body)
        best = min(best, (time.perf_counter() - started) / calls)
    return best * 1000, size


def time_codecs(
    setups: list[str], limit: int, pair: str, interval: str, min_time: float
) -> list[CodecTiming]:
    """Every setup of `setups` that compresses in this process (not none, not bolt-native)."""
    from candles.api.compression import compression_setup

    body = document(limit, pair, interval)
    out = []
    for name in setups:
        setup = compression_setup(name)
        if not setup.compresses_in_django:
            continue
        ms, size = time_codec(name, body, min_time)
        out.append(CodecTiming(name, setup.content_encoding, limit, len(body), size, ms))
    return out


def format_codecs(timings: list[CodecTiming]) -> str:
    if not timings:
        return ""
    first = timings[0]
    lines = [
        f"The codec alone on the {first.limit}-row document ({first.document_bytes:,} bytes): "
        "ms per call, best of 3 batches, and the bytes sent"
    ]
    lines += [
        f"  {t.setup:<12} {t.coding:<5} {t.ms:7.3f} ms  {t.wire_bytes:>8,} B "
        f"({t.wire_bytes / t.document_bytes:.0%})"
        for t in timings
    ]
    return "\n".join(lines)
