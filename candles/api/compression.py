"""Compression on the wire: the setups a deployment chooses from (settings.CANDLEBENCH_COMPRESSION),
the codecs, Accept-Encoding negotiation (RFC 9110 §12.5.3) and the one function that compresses an
API answer, which the middleware, the micro benchmark and the instruction counter all call.

Codecs, one package each: zstd from `backports.zstd` (the API of Python 3.14's stdlib
`compression.zstd`, used directly from 3.14 on; as fast as `zstandard` on the document), brotli
from `brotli` (Google's C binding, the package Locust and geventhttpclient already install),
gzip from the stdlib's zlib. loadtest/README.md ("Compression on the wire") has the measurements
behind the levels and the recommended setup. The stacks of 2023 (stacks/, docs/stacks.md) have
neither package: there the setups that need one are refused by name when the settings load.

No Django import at module level: settings.py reads the registry while Django loads.
"""

from __future__ import annotations

import importlib
import logging
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from time import perf_counter
from types import ModuleType
from typing import TYPE_CHECKING

from .registry import BOLT_ONLY, DJANGO_ONLY, EVERY_KIND, ServerKind

if TYPE_CHECKING:
    from django.http import HttpResponseBase

logger = logging.getLogger(__name__)

# Bodies shorter than this stay uncompressed: a few hundred bytes gain nothing worth a codec call
# (a 1-row document is ~100 bytes; django-bolt's own threshold is 500).
MIN_COMPRESS_BYTES = 512
# An Accept-Encoding value longer than this is ignored (answered uncompressed) rather than parsed:
# browsers send ~30 characters, and the parse result is cached per distinct value.
MAX_ACCEPT_ENCODING_CHARS = 1024
# Django's GZipMiddleware.max_random_bytes: its gzip header carries a random file name of up to
# this many bytes (against BREACH), so its compressed sizes vary by design.
DJANGO_GZIP_RANDOM_BYTES = 100


def optional_module(*names: str) -> ModuleType | None:
    """The first of the modules `names` that imports, or None: a codec's package, which an older
    stack may not have."""
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


# zstd: the stdlib's from Python 3.14 on, else backports.zstd. brotli ships no type stubs.
ZSTD = optional_module("compression.zstd", "backports.zstd")
BROTLI = optional_module("brotli")


@dataclass(frozen=True)
class Codec:
    """One content coding at one level: `token` is what Content-Encoding says; `missing` names
    the package it needs when this Python does not have it ("" when it runs here)."""

    token: str
    level: int
    compress: Callable[[bytes], bytes] = field(compare=False, repr=False)
    missing: str = field(default="", compare=False)

    @property
    def name(self) -> str:
        return f"{self.token}-{self.level}"


def unavailable(package: str) -> Callable[[bytes], bytes]:
    """The compress function of a codec whose package is missing (never called by a server:
    compression_middleware refuses its setups)."""

    def compress(body: bytes) -> bytes:
        raise RuntimeError(f"{package} is not installed in this Python")

    return compress


def zstd_codec(level: int) -> Codec:
    """zstd, one frame with the content size in its header (what browsers decode)."""
    if (zstd := ZSTD) is None:
        return Codec("zstd", level, unavailable("backports.zstd"), missing="backports.zstd")
    return Codec("zstd", level, lambda body: zstd.compress(body, level=level))


def brotli_codec(level: int) -> Codec:
    if (brotli := BROTLI) is None:
        return Codec("br", level, unavailable("brotli"), missing="brotli")
    return Codec("br", level, lambda body: brotli.compress(body, quality=level))


def gzip_codec(level: int) -> Codec:
    """gzip with a fixed header (no time stamp): the same body gives the same bytes."""

    def compress(body: bytes) -> bytes:
        compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
        return compressor.compress(body) + compressor.flush()

    return Codec("gzip", level, compress)


ZSTD_1, BROTLI_1, GZIP_1 = zstd_codec(1), brotli_codec(1), gzip_codec(1)
AUTO_CODECS = (ZSTD_1, BROTLI_1, GZIP_1)  # every client, the fastest coding it accepts


class Handling(StrEnum):
    """Who compresses under a setup."""

    NONE = "none"
    DJANGO_GZIP = "django-gzip"  # django.middleware.gzip.GZipMiddleware, exactly as shipped
    NEGOTIATED = "negotiated"  # the project's own: candleproject.middleware.CompressionMiddleware
    BOLT = "bolt"  # django-bolt's own compression (its BOLT_COMPRESSION setting)


@dataclass(frozen=True)
class CompressionSetup:
    name: str
    description: str
    handling: Handling
    # What a client the setup compresses for sends (the runner's requests), and the coding the
    # server answers it with ("" for none).
    accept_encoding: str
    content_encoding: str = ""
    codecs: tuple[Codec, ...] = ()  # NEGOTIATED: the codings offered, preferred first
    kinds: frozenset[ServerKind] = DJANGO_ONLY  # the kinds of server that run it
    recommended: bool = False
    # Bytes by which one document's compressed size may differ between answers.
    size_slack: int = 0

    @property
    def compresses_in_django(self) -> bool:
        """Compressed by a Django process's middleware (the project's or Django's own)."""
        return self.handling in (Handling.NEGOTIATED, Handling.DJANGO_GZIP)


# The recommended setup is chosen by measurement (loadtest/README.md, "Compression on the wire"):
# on the 108,524-byte 1000-row document zstd-1 took 0.18 ms for 26,206 bytes (24%), br-1 0.30 ms
# for 28,214, gzip-1 0.61 ms for 32,410, Django's gzip-6 3.1 ms for ~28,460.
SETUPS: tuple[CompressionSetup, ...] = (
    CompressionSetup(
        "none",
        "no compression: every answer as the document's bytes",
        Handling.NONE,
        accept_encoding="identity",
        kinds=EVERY_KIND,
    ),
    CompressionSetup(
        "django-gzip",
        "Django's GZipMiddleware as shipped, first in the middleware chain (gzip level 6 with "
        "random header padding against BREACH; ignores q-values)",
        Handling.DJANGO_GZIP,
        accept_encoding="gzip",
        content_encoding="gzip",
        size_slack=DJANGO_GZIP_RANDOM_BYTES + 1,
    ),
    CompressionSetup(
        "zstd-1",
        "the project's negotiated compression: zstd level 1 to clients that accept zstd",
        Handling.NEGOTIATED,
        accept_encoding="zstd",
        content_encoding="zstd",
        codecs=(ZSTD_1,),
        recommended=True,
    ),
    CompressionSetup(
        "br-1",
        "the project's negotiated compression: brotli quality 1 to clients that accept br",
        Handling.NEGOTIATED,
        accept_encoding="br",
        content_encoding="br",
        codecs=(BROTLI_1,),
    ),
    CompressionSetup(
        "gzip-1",
        "the project's negotiated compression: gzip level 1 to clients that accept gzip",
        Handling.NEGOTIATED,
        accept_encoding="gzip",
        content_encoding="gzip",
        codecs=(GZIP_1,),
    ),
    CompressionSetup(
        "auto",
        "the project's negotiated compression for every client: zstd-1, else br-1, else gzip-1, "
        "by the client's q-values (zstd on a tie)",
        Handling.NEGOTIATED,
        accept_encoding="gzip, deflate, br, zstd",  # what Chrome and Firefox send
        content_encoding="zstd",
        codecs=AUTO_CODECS,
    ),
    CompressionSetup(
        "bolt-native",
        "django-bolt's own compression with its defaults (brotli 5, gzip 6 fallback, 500-byte "
        "minimum), on its own server only",
        Handling.BOLT,
        accept_encoding="br",
        content_encoding="br",
        kinds=BOLT_ONLY,
    ),
)
SETUP_NAMES: tuple[str, ...] = tuple(s.name for s in SETUPS)
RECOMMENDED: CompressionSetup = next(s for s in SETUPS if s.recommended)


class UnknownSetup(ValueError):
    """A name that is not a compression setup of SETUPS."""


def compression_setup(name: str) -> CompressionSetup:
    """The setup called `name`; UnknownSetup (naming the setups there are) otherwise."""
    for setup in SETUPS:
        if setup.name == name:
            return setup
    raise UnknownSetup(
        f"CANDLEBENCH_COMPRESSION={name!r} is not a compression setup "
        f"(choose from {', '.join(SETUP_NAMES)})"
    )


def served_setup(name: str, kind: ServerKind) -> CompressionSetup:
    """What a server of `kind` runs when CANDLEBENCH_COMPRESSION is `name`: the setup, or `none`
    when that kind of server does not run it (bolt-native under Django, zstd-1 under bolt)."""
    setup = compression_setup(name)
    return setup if kind in setup.kinds else SETUPS[0]


def compression_middleware(name: str) -> list[str]:
    """The middleware a Django chain runs first for the setup called `name` (settings.py);
    UnknownSetup for a setup whose codec's package this Python does not have."""
    setup = compression_setup(name)
    missing = sorted({codec.missing for codec in setup.codecs if codec.missing})
    if missing:
        raise UnknownSetup(
            f"CANDLEBENCH_COMPRESSION={name!r} needs {', '.join(missing)}, which this Python "
            "does not have (a stack of stacks/ without it: choose another setup)"
        )
    handling = setup.handling
    if handling is Handling.DJANGO_GZIP:
        return ["django.middleware.gzip.GZipMiddleware"]
    if handling is Handling.NEGOTIATED:
        return ["candleproject.middleware.CompressionMiddleware"]
    return []


# -- negotiation (RFC 9110 §12.5.3) -------------------------------------------------------------

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_QVALUE = re.compile(r"0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?")


@lru_cache(maxsize=256)
def accepted_codings(header: str) -> dict[str, float] | None:
    """An Accept-Encoding value as {coding (lower case; `*` and `identity` included): q}; None
    when the value is malformed or too long (then it is ignored). A coding listed twice keeps its
    lowest q: a refusal anywhere stands."""
    if len(header) > MAX_ACCEPT_ENCODING_CHARS:
        return None
    codings: dict[str, float] = {}
    for element in header.split(","):
        coding, *params = element.split(";")
        coding = coding.strip()
        if not coding and not params:
            continue  # the list syntax allows empty elements ("gzip, , br")
        if not _TOKEN.fullmatch(coding):
            return None
        q = 1.0
        for param in params:
            name, equals, value = param.partition("=")
            if name.strip().lower() != "q" or not equals or not _QVALUE.fullmatch(value.strip()):
                return None
            q = float(value)
        coding = coding.lower()
        codings[coding] = min(q, codings.get(coding, q))
    return codings


def choose_codec(codecs: tuple[Codec, ...], accept_encoding: str | None) -> Codec | None:
    """The codec to answer with, or None for the document as it is (identity). No header or a
    malformed one: identity. Otherwise the offered codec with the highest q above 0 (the first
    offered on a tie; `*` covers codings not listed), unless the client ranks identity higher.
    Identity is the answer even when refused (`identity;q=0`, `*;q=0`): never a 406."""
    if not accept_encoding or not codecs:
        return None
    accepted = accepted_codings(accept_encoding)
    if not accepted:
        return None
    star = accepted.get("*")

    def q(token: str) -> float:
        return accepted.get(token, 0.0 if star is None else star)

    best = max(codecs, key=lambda codec: q(codec.token))
    best_q = q(best.token)
    identity_q = accepted.get("identity", star)
    if best_q <= 0 or (identity_q is not None and identity_q > best_q):
        return None
    return best


# -- the response -------------------------------------------------------------------------------


def compressible(response: HttpResponseBase) -> bool:
    """A 200 JSON answer with a body worth compressing, not compressed yet; error bodies and tiny
    ones stay as they are (and need no Vary: no client would get them compressed)."""
    return (
        response.status_code == 200
        and not response.streaming
        and not response.has_header("Content-Encoding")
        and response.get("Content-Type", "").startswith("application/json")
        and len(response.content) >= MIN_COMPRESS_BYTES  # type: ignore[attr-defined]
    )


def compress_response(
    response: HttpResponseBase, accept_encoding: str | None, codecs: tuple[Codec, ...]
) -> HttpResponseBase:
    """The one compression of an API answer: negotiated against `accept_encoding`, the body
    replaced by the codec's bytes with Content-Encoding, Content-Length and a `compress` phase in
    Server-Timing; `Vary: Accept-Encoding` on every compressible answer. A codec that fails, or
    one whose output is no smaller, leaves the answer uncompressed (logged), never lost."""
    from django.utils.cache import patch_vary_headers

    from .timing import add_phase

    if not codecs or not compressible(response):
        return response
    patch_vary_headers(response, ("Accept-Encoding",))
    codec = choose_codec(codecs, accept_encoding)
    if codec is None:
        return response
    body: bytes = response.content  # type: ignore[attr-defined]
    started = perf_counter()
    try:
        compressed = codec.compress(body)
    except Exception:
        logger.exception("%s failed; the answer goes out uncompressed", codec.name)
        return response
    elapsed = perf_counter() - started
    if len(compressed) >= len(body):
        return response
    response.content = compressed  # type: ignore[attr-defined]
    response["Content-Length"] = str(len(compressed))
    response["Content-Encoding"] = codec.token
    etag = response.get("ETag")
    if etag and etag.startswith('"'):  # RFC 9110 §8.8.1: another representation, a weak ETag
        response["ETag"] = "W/" + etag
    add_phase(response, "compress", elapsed)
    return response


def compress_document(setup: CompressionSetup, body: bytes) -> bytes:
    """What `setup` sends for `body` to the client of its `accept_encoding`: the codec alone, as
    the micro benchmark times it (django-gzip: Django's own compress_string, padding included).
    `none` and bolt-native (compressed in bolt's Rust server) are not codecs of this process."""
    if not setup.compresses_in_django:
        raise ValueError(f"{setup.name} compresses nothing in this process")
    if setup.handling is Handling.DJANGO_GZIP:
        from django.utils.text import compress_string

        return compress_string(body, max_random_bytes=DJANGO_GZIP_RANDOM_BYTES)
    codec = choose_codec(setup.codecs, setup.accept_encoding)
    assert codec is not None, setup.name  # every negotiated setup answers its own clients
    return codec.compress(body)


DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "identity": lambda body: body,
    "gzip": lambda body: zlib.decompress(body, 47),  # 47: a gzip or zlib header
    **({"br": BROTLI.decompress} if BROTLI else {}),
    **({"zstd": ZSTD.decompress} if ZSTD else {}),
}


def decoded(body: bytes, content_encoding: str | None) -> bytes:
    """`body` as it was before the server compressed it (Content-Encoding `content_encoding`);
    ValueError for a coding this project does not speak."""
    coding = (content_encoding or "identity").strip().lower()
    if coding not in DECODERS:
        raise ValueError(f"unknown Content-Encoding {content_encoding!r}")
    return DECODERS[coding](body)
