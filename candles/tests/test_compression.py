"""Compression on the wire, unit by unit: the setups' registry, Accept-Encoding negotiation
(RFC 9110 §12.5.3), the shared compress_response, and the codecs' round trips."""

import gzip
import logging

import orjson
import pytest
from django.http import HttpResponse
from django.middleware.gzip import GZipMiddleware

from candles.api import compression
from candles.api.compression import (
    BROTLI_1,
    DJANGO_GZIP_RANDOM_BYTES,
    GZIP_1,
    MAX_ACCEPT_ENCODING_CHARS,
    MIN_COMPRESS_BYTES,
    RECOMMENDED,
    SETUPS,
    ZSTD_1,
    Codec,
    Handling,
    UnknownSetup,
    accepted_codings,
    choose_codec,
    compress_document,
    compress_response,
    compression_middleware,
    compression_setup,
    decoded,
    served_setup,
)
from candles.api.registry import ServerKind

AUTO = compression.AUTO_CODECS
# Odd and hostile Accept-Encoding values a client may send, each owed a correct answer (the
# chain and live tests send them to the real applications; all fit under gunicorn's 8190-byte
# header line).
ODD_ACCEPT_ENCODINGS = [
    "zstd;q=abc",
    "zstd;q=2",
    "ZSTD",
    "Zstd;Q=0.9, gzip;q=1",
    "*;q=0",
    "identity;q=0",
    "*;q=0, identity;q=0",
    "x-unknown, compress",
    ",,,",
    ";;;",
    "zstd;" * 400,  # a long header: ignored past MAX_ACCEPT_ENCODING_CHARS
    "gzip, deflate, br, zstd, " * 40 + "zstd",
    "\t zstd \t",
    "zstd;q=0.000",
    "br;q=0.5, zstd;q=0.4",
    "*",
]
DOCUMENT = orjson.dumps(
    {"data": [{"basetm": "2023-08-24T00:00:00Z", "o": 1.5 + i, "v": i} for i in range(200)]}
)


def answer(body: bytes = DOCUMENT, status: int = 200, **headers: str) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type="application/json")
    response["Server-Timing"] = "db;dur=1.000, render;dur=0.100"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


# -- the registry ------------------------------------------------------------------------------


def test_the_registry_names_each_setup_once_and_one_recommended():
    names = [s.name for s in SETUPS]
    assert len(set(names)) == len(names)
    assert [s.name for s in SETUPS if s.recommended] == [RECOMMENDED.name] == ["zstd-1"]
    assert SETUPS[0].name == "none" and SETUPS[0].kinds == frozenset(ServerKind)
    assert compression_setup("bolt-native").kinds == {ServerKind.BOLT}


def test_an_unknown_setup_is_refused_naming_the_setups():
    with pytest.raises(UnknownSetup, match="choose from none, django-gzip, zstd-1"):
        compression_setup("zstd-9")


@pytest.mark.parametrize(
    "name, middleware",
    [
        ("none", []),
        ("django-gzip", ["django.middleware.gzip.GZipMiddleware"]),
        ("zstd-1", ["candleproject.middleware.CompressionMiddleware"]),
        ("auto", ["candleproject.middleware.CompressionMiddleware"]),
        ("bolt-native", []),  # bolt's server compresses, not a Django chain
    ],
)
def test_each_setup_puts_its_middleware_first(name, middleware):
    assert compression_middleware(name) == middleware


def test_a_server_reports_none_for_a_setup_its_kind_does_not_run():
    assert served_setup("zstd-1", ServerKind.DJANGO).name == "zstd-1"
    assert served_setup("zstd-1", ServerKind.BOLT).name == "none"
    assert served_setup("bolt-native", ServerKind.DJANGO).name == "none"
    assert served_setup("bolt-native", ServerKind.BOLT).name == "bolt-native"


def test_django_gzip_padding_is_djangos_own():
    assert GZipMiddleware.max_random_bytes == DJANGO_GZIP_RANDOM_BYTES


def test_every_negotiated_setup_answers_its_own_clients_with_its_coding():
    for setup in SETUPS:
        if setup.handling is Handling.NEGOTIATED:
            assert choose_codec(setup.codecs, setup.accept_encoding).token == (
                setup.content_encoding
            ), setup.name


@pytest.mark.parametrize(
    "setup", [s for s in SETUPS if s.handling in (Handling.NEGOTIATED, Handling.DJANGO_GZIP)]
)
def test_every_codec_round_trips_to_the_same_bytes(setup):
    body = compress_document(setup, DOCUMENT)
    assert len(body) < len(DOCUMENT)
    assert decoded(body, setup.content_encoding) == DOCUMENT


def test_setups_without_a_codec_in_this_process_refuse_to_time_one():
    with pytest.raises(ValueError, match="compresses nothing"):
        compress_document(compression_setup("none"), DOCUMENT)


def test_django_gzip_sizes_vary_within_the_setups_slack():
    setup = compression_setup("django-gzip")
    sizes = {len(compress_document(setup, DOCUMENT)) for _ in range(50)}
    assert len(sizes) > 1  # the padding is random by design
    assert max(sizes) - min(sizes) <= setup.size_slack


def test_decoded_refuses_a_coding_it_does_not_speak():
    assert decoded(DOCUMENT, None) == decoded(DOCUMENT, "identity") == DOCUMENT
    assert decoded(gzip.compress(DOCUMENT), " GZIP ") == DOCUMENT
    with pytest.raises(ValueError, match="unknown Content-Encoding 'compress'"):
        decoded(DOCUMENT, "compress")


# -- negotiation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header, parsed",
    [
        ("", {}),
        ("gzip", {"gzip": 1.0}),
        ("gzip, deflate, br, zstd", {"gzip": 1.0, "deflate": 1.0, "br": 1.0, "zstd": 1.0}),
        ("ZSTD;Q=0.5 ,  Br ; q=0.25", {"zstd": 0.5, "br": 0.25}),
        ("gzip,, ,br", {"gzip": 1.0, "br": 1.0}),  # empty list elements are allowed
        ("*;q=0, identity;q=1.000", {"*": 0.0, "identity": 1.0}),
        ("gzip;q=0., br;q=1.", {"gzip": 0.0, "br": 1.0}),
        ("gzip, gzip;q=0", {"gzip": 0.0}),  # a refusal anywhere stands
    ],
)
def test_accept_encoding_is_parsed_as_rfc_9110_says(header, parsed):
    assert accepted_codings(header) == parsed


@pytest.mark.parametrize(
    "header",
    [
        "gzip;q=abc",
        "gzip;q=2",
        "gzip;q=1.5",
        "gzip;q=-1",
        "gzip;q=0.1234",
        "gzip;q=",
        "gzip;q",
        "gzip;level=1",
        ";q=1",
        "gz ip",
        "gzip\x00",
        "zstd;q=0.5;q",
        "bröt",
        "gzip, " * (MAX_ACCEPT_ENCODING_CHARS // 6 + 1),
    ],
)
def test_a_malformed_or_overlong_header_is_ignored(header):
    assert accepted_codings(header) is None
    assert choose_codec(AUTO, header) is None


@pytest.mark.parametrize(
    "header, chosen",
    [
        (None, None),  # no header: the document as it is
        ("", None),
        ("identity", None),
        ("compress, deflate, x-unknown", None),  # unknown codings only
        ("zstd", ZSTD_1),
        ("ZsTd", ZSTD_1),
        ("gzip, deflate, br, zstd", ZSTD_1),  # a tie: the server's preference
        ("gzip;q=0.5, zstd;q=0.4", GZIP_1),  # the client's preference first
        ("br;q=0.001", BROTLI_1),
        ("zstd;q=0, br;q=0, gzip;q=0", None),
        ("*", ZSTD_1),
        ("*;q=0.5, zstd;q=0", BROTLI_1),  # * covers the codings not listed
        ("*;q=0", None),  # nothing acceptable: identity anyway, never a 406
        ("identity;q=0", None),
        ("identity;q=0, zstd", ZSTD_1),
        ("*;q=0, br", BROTLI_1),
        ("identity;q=1, zstd;q=0.5", None),  # the client prefers it uncompressed
        ("identity;q=0.5, zstd;q=0.5", ZSTD_1),
        ("*;q=0.9, identity;q=1", None),
    ],
)
def test_the_codec_follows_the_clients_q_values_then_the_servers_order(header, chosen):
    assert choose_codec(AUTO, header) == chosen


def test_a_single_codec_setup_answers_identity_to_a_client_without_its_coding():
    assert choose_codec((ZSTD_1,), "gzip, deflate, br") is None
    assert choose_codec((ZSTD_1,), "gzip, deflate, br, zstd") == ZSTD_1


# -- compress_response ---------------------------------------------------------------------------


def test_a_compressed_answer_carries_its_coding_length_vary_and_timing():
    response = compress_response(answer(), "zstd", (ZSTD_1,))
    assert response["Content-Encoding"] == "zstd"
    assert response["Content-Length"] == str(len(response.content)) != str(len(DOCUMENT))
    assert response["Vary"] == "Accept-Encoding"
    assert response["Server-Timing"].startswith("db;dur=1.000, render;dur=0.100, compress;dur=")
    assert decoded(response.content, "zstd") == DOCUMENT


def test_an_answer_the_client_gets_uncompressed_still_varies_on_accept_encoding():
    response = compress_response(answer(), "gzip", (ZSTD_1,))
    assert response.content == DOCUMENT and not response.has_header("Content-Encoding")
    assert response["Vary"] == "Accept-Encoding"
    assert "compress" not in response["Server-Timing"]


@pytest.mark.parametrize(
    "response",
    [
        answer(status=404),
        answer(status=500),
        answer(b'{"data":[]}'),
        answer(b"x" * (MIN_COMPRESS_BYTES - 1)),
        answer(Content_Encoding="br"),
        HttpResponse(DOCUMENT, content_type="text/html"),
    ],
    ids=["404", "500", "empty", "tiny", "already-encoded", "not-json"],
)
def test_errors_tiny_and_encoded_bodies_stay_as_they_are(response):
    before = (response.content, dict(response.items()))
    compress_response(response, "zstd", (ZSTD_1,))
    assert (response.content, dict(response.items())) == before


def test_a_failing_codec_never_loses_the_answer(caplog):
    def broken(body: bytes) -> bytes:
        raise MemoryError("out of memory")

    with caplog.at_level(logging.ERROR, logger=compression.__name__):
        response = compress_response(answer(), "zstd", (Codec("zstd", 1, broken),))
    assert response.status_code == 200 and response.content == DOCUMENT
    assert not response.has_header("Content-Encoding") and response["Vary"] == "Accept-Encoding"
    assert "zstd-1 failed; the answer goes out uncompressed" in caplog.text


def test_a_codec_that_does_not_shrink_the_body_is_not_used():
    grows = Codec("zstd", 1, lambda body: body + b"!")
    response = compress_response(answer(), "zstd", (grows,))
    assert response.content == DOCUMENT and not response.has_header("Content-Encoding")


def test_a_strong_etag_becomes_weak_once_compressed():
    response = compress_response(answer(ETag='"abc"'), "zstd", (ZSTD_1,))
    assert response["ETag"] == 'W/"abc"'


def test_a_codec_whose_package_is_missing_is_refused_by_name(monkeypatch):
    """The stacks of 2023 have neither backports.zstd nor brotli: their setups are refused when
    the settings load, the others run."""
    monkeypatch.setattr(compression, "ZSTD", None)
    monkeypatch.setattr(compression, "BROTLI", None)
    zstd, br = compression.zstd_codec(1), compression.brotli_codec(1)
    assert (zstd.missing, br.missing) == ("backports.zstd", "brotli")
    assert zstd == ZSTD_1  # the same coding; it only cannot run here
    with pytest.raises(RuntimeError, match=r"backports\.zstd is not installed"):
        zstd.compress(b"{}")
    setups = [
        *(s for s in SETUPS if s.name not in {"zstd-1", "auto"}),
        compression.CompressionSetup(
            "zstd-1", "zstd", Handling.NEGOTIATED, "zstd", "zstd", codecs=(zstd,)
        ),
        compression.CompressionSetup(
            "auto", "all", Handling.NEGOTIATED, "zstd", "zstd", codecs=(zstd, br, GZIP_1)
        ),
    ]
    monkeypatch.setattr(compression, "SETUPS", tuple(setups))
    with pytest.raises(UnknownSetup, match=r"needs backports\.zstd, which this Python does not"):
        compression_middleware("zstd-1")
    with pytest.raises(UnknownSetup, match=r"needs backports\.zstd, brotli,"):
        compression_middleware("auto")
    assert compression_middleware("gzip-1") == ["candleproject.middleware.CompressionMiddleware"]
    assert compression_middleware("django-gzip") == ["django.middleware.gzip.GZipMiddleware"]
    assert compression_middleware("none") == []
