"""HTTP checks on a started server before it is measured (and after an overload): DEBUG off, same
document from every mode (and every server, decoded from whatever Content-Encoding it was sent
in), still answering."""

from __future__ import annotations

import http.client
import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from email.message import Message

from candles.api.compression import MIN_COMPRESS_BYTES, decoded
from loadtest.cli import CheckError
from loadtest.serving.deployment import RequestOptions
from loadtest.serving.servers import BYTES, INSTANTS, direct_opener

# Every candlebench server lists its modes here: the first question to a target.
MODES_PATH = "/api/modes"


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Follows no redirect: urllib's would send every header (the target's secrets too) to
    wherever a 30x points, another host or plain http included."""

    def redirect_request(self, req, fp, code, msg, headers, newurl) -> None:
        return None


def fetch(
    url: str, timeout: float = 60, options: RequestOptions | None = None
) -> tuple[int, Message, bytes]:
    """(status, headers (case-insensitive), body), for error statuses and redirects too (never
    followed); `options`: the target's headers and TLS checking (checked without it too)."""
    options = options or RequestOptions()
    request = urllib.request.Request(url, headers=options.headers)
    handlers: list[urllib.request.BaseHandler] = [_NoRedirects()]
    if url.startswith("https:"):
        handlers.append(urllib.request.HTTPSHandler(context=options.ssl_context()))
    try:
        with direct_opener(*handlers).open(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def refuse_redirect(url: str, status: int, headers: Message) -> None:
    """A 3xx answer as one CheckError line: the runner follows no redirect (it would carry the
    headers elsewhere), the final URL is the one to measure."""
    if 300 <= status < 400:
        raise CheckError(
            f"{url} redirects to {headers.get('Location') or '(no Location)'}; "
            "pass the final URL as --target"
        )


def check_server_debug_off(base_url: str, options: RequestOptions | None = None) -> None:
    """A live check on the running server: an unknown API path must answer the API's JSON
    404. With DEBUG on, Django answers its HTML technical 404 page instead."""
    url = base_url + "/api/__candlebench_no_such_endpoint__"
    status, headers, _ = fetch(url, options=options)
    refuse_redirect(url, status, headers)
    content_type = headers.get("Content-Type", "")
    if status != 404 or not content_type.startswith("application/json"):
        raise CheckError(
            f"{base_url}: an unknown API path answered {status} {content_type!r}, not the API's JSON 404 "
            "(is DEBUG on?)"
        )


def as_instants(body: bytes) -> object:
    """A document parsed, each row's time as an instant (so `Z` and `+00:00` compare equal)."""
    document = json.loads(body)
    return {
        **document,
        "data": [
            {**row, "basetm": datetime.fromisoformat(row["basetm"])} for row in document["data"]
        ],
    }


def spelling(body: bytes, reference: bytes) -> str:
    """How `body` writes the same document as `reference` when its bytes differ: "UTC as +00:00"
    when that is the only difference (the project writes Z), else "another JSON spelling"; ''
    for the same bytes."""
    if body == reference:
        return ""
    if body.replace(b'+00:00"', b'Z"') == reference:
        return "UTC as +00:00"
    return "another JSON spelling"


def spelled_differently(
    documents: dict[tuple[str, int], Document], reference: dict[int, tuple[str, bytes]]
) -> dict[str, str]:
    """The endpoints whose documents equal the reference's only as instants, each with how it
    writes them (spelling), at any limit."""
    out: dict[str, str] = {}
    for (name, limit), document in documents.items():
        if limit in reference and (how := spelling(document.body, reference[limit][1])):
            out.setdefault(name, how)
    return out


def same_document(a: bytes, b: bytes, compare: str) -> bool:
    """`a` and `b` are one document: byte for byte, or (INSTANTS) as parsed JSON with times as instants."""
    return a == b if compare == BYTES else as_instants(a) == as_instants(b)


@dataclass(frozen=True)
class Document:
    """One endpoint's answer: the document (decoded), its bytes on the wire and their coding."""

    body: bytes
    wire_bytes: int
    content_encoding: str = ""


def decoded_answer(
    who: str, headers: Message, body: bytes, content_encoding: str
) -> tuple[bytes, str]:
    """The document inside an answer and the coding it came in. A server sent `content_encoding`
    ("" for none) must use it for a document worth compressing, no other ever (CheckError)."""
    coding = (headers.get("Content-Encoding") or "").strip().lower()
    if coding not in ("", content_encoding):
        raise CheckError(
            f"{who}: Content-Encoding {coding!r}, expected {content_encoding or 'none'}"
        )
    try:
        document = decoded(body, coding)
    except Exception as exc:  # a body its coding does not decode (zlib, brotli, zstd errors)
        raise CheckError(f"{who}: a {coding} body that does not decode ({exc})") from None
    if content_encoding and not coding and len(document) >= 2 * MIN_COMPRESS_BYTES:
        raise CheckError(
            f"{who}: answered {len(document)} bytes uncompressed; the setup sends "
            f"{content_encoding} to this client"
        )
    return document, coding


def fetch_documents(
    base_url: str,
    modes: list[str],
    limits: list[int],
    path_for: Callable[[str, int], str],
    options: RequestOptions | None = None,
    content_encoding: str = "",
) -> dict[tuple[str, int], Document]:
    """Every mode's document at every limit: each must answer 200, JSON, with a Server-Timing
    header and `limit` rows, in `content_encoding` when it is worth compressing (none: "").
    `path_for(mode, limit)` builds the request path; `options` may carry an Accept-Encoding."""
    bodies: dict[tuple[str, int], Document] = {}
    for limit in limits:
        for mode in modes:
            url = base_url + path_for(mode, limit)
            status, headers, wire = fetch(url, options=options)
            refuse_redirect(url, status, headers)
            if status != 200:
                raise CheckError(f"{mode} limit={limit}: HTTP {status}: {wire[:300]!r}")
            body, coding = decoded_answer(f"{mode} limit={limit}", headers, wire, content_encoding)
            if not headers.get("Content-Type", "").startswith("application/json"):
                raise CheckError(
                    f"{mode} limit={limit}: Content-Type {headers.get('Content-Type')!r}"
                )
            if "Server-Timing" not in headers:
                raise CheckError(f"{mode} limit={limit}: no Server-Timing header")
            rows = len(json.loads(body)["data"])
            if rows != limit:
                raise CheckError(
                    f"limit={limit}: the document holds only {rows} rows; seed more data "
                    "(python manage.py seed_candles) or lower --limits"
                )
            bodies[(mode, limit)] = Document(body, len(wire), coding)
    return bodies


def check_documents_agree(
    base_url: str,
    endpoints_at: dict[int, list[str]],
    path_for: Callable[[str, int], str],
    compare: str,
    options: RequestOptions | None = None,
    who: str = "",
    reference: dict[int, tuple[str, bytes]] | None = None,
    content_encoding: str = "",
) -> dict[tuple[str, int], Document]:
    """Every endpoint's document at each limit (see fetch_documents), each the same document as
    the first endpoint's once decoded, byte for byte or as instants (`compare`); CheckError
    (starting with `who`) naming those that differ. `reference` (limit -> (name, body)), shared by
    several servers: compared with its body instead, filled with this server's first where missing."""
    documents: dict[tuple[str, int], Document] = {}
    for limit, endpoints in endpoints_at.items():
        documents |= fetch_documents(
            base_url, endpoints, [limit], path_for, options, content_encoding
        )
        bodies = {key: document.body for key, document in documents.items()}
        first = bodies[(endpoints[0], limit)]
        if reference is None:
            name, expected = endpoints[0], first
        else:
            name, expected = reference.setdefault(limit, (f"{who} {endpoints[0]}", first))
        differing = [
            m for m in endpoints if not same_document(bodies[(m, limit)], expected, compare)
        ]
        if differing:
            detail = ", ".join(f"{m} ({len(bodies[(m, limit)])} B)" for m in differing)
            raise CheckError(
                f"{who + ' ' if who else ''}limit={limit}: {detail} answered a different document than "
                f"{name} ({len(expected)} B); the comparison would not be fair"
            )
    return documents


def check_same_document(
    base_url: str,
    modes: list[str],
    limits: list[int],
    path_for: Callable[[str, int], str],
    compare: str = BYTES,
    options: RequestOptions | None = None,
    content_encoding: str = "",
) -> dict[tuple[str, int], Document]:
    """Every mode must answer the first mode's document at each limit (see check_documents_agree).
    Returns each answer (the load generator checks every response's wire size against it)."""
    return check_documents_agree(
        base_url,
        dict.fromkeys(limits, modes),
        path_for,
        compare,
        options,
        content_encoding=content_encoding,
    )


def answers_modes(base_url: str, timeout: float = 5.0) -> bool:
    """GET /api/modes answers 200 within `timeout` seconds."""
    try:
        status, _, _ = fetch(base_url + MODES_PATH, timeout=timeout)
    except OSError:
        return False
    return status == 200


# -- a target the runner did not start (--target) ---------------------------------------------


@contextmanager
def explained_http_errors(base_url: str) -> Iterator[None]:
    """A failed connection to the target as one CheckError line: an untrusted certificate
    (and how to skip the check), a TLS failure, or an unreachable address."""
    try:
        yield
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise CheckError(
                f"{base_url}: its TLS certificate is not trusted ({reason.verify_message}); fix the "
                "certificate or the CA bundle (SSL_CERT_FILE), or pass --insecure to skip "
                "certificate checks"
            ) from None
        if isinstance(reason, ssl.SSLError):
            raise CheckError(
                f"{base_url}: TLS failed ({reason.reason or reason}); is it an https server?"
            ) from None
        raise CheckError(f"{base_url} cannot be reached: {reason}") from None
    except OSError as exc:  # a dropped connection, a timeout
        raise CheckError(f"{base_url}: {type(exc).__name__}: {exc}") from None
    except http.client.HTTPException as exc:  # a port that does not speak HTTP
        raise CheckError(
            f"{base_url} does not answer as an HTTP server ({type(exc).__name__}: "
            f"{str(exc)[:200]!r})"
        ) from None
    except (ValueError, LookupError, TypeError) as exc:  # a body that is not candlebench's document
        raise CheckError(
            f"{base_url} answered a candle request with something else than candlebench's JSON "
            f"document ({type(exc).__name__}: {exc})"
        ) from None


def target_modes_document(base_url: str, options: RequestOptions) -> dict:
    """The target's GET /api/modes document; refuses (CheckError) a server that does not
    answer it as candlebench does: 200, JSON, a list of modes by name."""
    status, headers, body = fetch(base_url + MODES_PATH, timeout=30, options=options)
    refuse_redirect(base_url + MODES_PATH, status, headers)
    content_type = headers.get("Content-Type", "")
    hint = (
        " (an auth proxy? send its credentials with --header NAME:VALUE)"
        if status in (401, 403, 407)
        else ""
    )
    document, names = None, None
    try:
        if status == 200 and content_type.startswith("application/json"):
            document = json.loads(body)
        if isinstance(document, dict):
            names = [e["name"] for e in document["modes"]]
            names = names and [*names, *(e["name"] for e in document.get("diagnostics") or [])]
    except (ValueError, TypeError, KeyError):
        names = None
    if not isinstance(document, dict) or not names or not all(isinstance(n, str) for n in names):
        raise CheckError(
            f"{base_url} is not a candlebench server: GET {MODES_PATH} answered {status} "
            f"{content_type or 'without a Content-Type'}, not the JSON list of its modes{hint}"
        )
    return document


def check_target_documents(
    base_url: str,
    endpoints_at: dict[int, list[str]],
    path_for: Callable[[str, int], str],
    options: RequestOptions,
    content_encoding: str = "",
) -> tuple[dict[tuple[str, int], Document], str]:
    """Every endpoint of the target at each limit must answer the first one's document: byte
    for byte, or else (the FastAPI reference's orjson mode writes +00:00 for Z) as parsed JSON
    with times as instants. Returns each answer and how they compared (BYTES, INSTANTS)."""
    documents = check_documents_agree(
        base_url,
        endpoints_at,
        path_for,
        INSTANTS,
        options,
        who=base_url,
        content_encoding=content_encoding,
    )
    identical = all(
        documents[(m, limit)].body == documents[(endpoints[0], limit)].body
        for limit, endpoints in endpoints_at.items()
        for m in endpoints
    )
    return documents, BYTES if identical else INSTANTS
