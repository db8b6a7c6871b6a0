"""The candle endpoint on django-bolt's own server (`manage.py runbolt`, settings.BOLT_API).

Three candle routes, with the same document bytes and errors as the Django modes:
`bolt` (ORM `.values()` into the msgspec Structs of msgspec.py), `bolt-raw` (the
selector's SQL on the cursor into the same Structs), `floor` (this server's ceiling), and
`/api/modes`. Bolt's typed handlers get the path parameters; the query string is parsed by
params.py from the raw string, because bolt's `request.query` keeps one value per name.
The handlers declare `-> CandleDocument` but validate and encode themselves (bolt passes
the encoded bytes through, unvalidated): that is what bolt does after such a handler
returns, done here so that Server-Timing can report both phases.

The declaration also decides where bolt runs them. Bolt reads a handler's source to tell
whether it touches the database (`Model.objects`, `connection.cursor`); these call the
selector instead, so bolt runs them inline. With a Struct return type that is its sync path,
on the worker thread; with `-> Response` it calls the sync handler on its event loop, where
Django refuses any query (SynchronousOnlyOperation). So `floor`, which sends the bytes as
stored, declares the schema too.
"""

import logging
import re
from collections.abc import Callable

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections
from django.http import HttpResponse, QueryDict
from django_bolt import BoltAPI, Request
from django_bolt.error_handlers import BoltError
from django_bolt.openapi import OpenAPIConfig
from django_bolt.responses import Response

from ...selectors import CandleQuery
from ..caching import served_setup as served_cache
from ..compression import served_setup
from ..encoding import orjson_dumps
from ..errors import (
    API_PREFIX,
    ApiError,
    database_unavailable,
    endpoint_not_found,
    internal_error,
    method_not_allowed,
    request_rejected,
)
from ..gc_setups import apply_configured, gc_document
from ..gc_time import install, mark, since
from ..params import parse_candle_query
from ..registry import ServerKind, modes_document, modes_for_kind
from ..timing import ServerTiming, gc_entry
from .floor import floor_body
from .msgspec import CandleDocument, msgspec_body, raw_msgspec_body

CANDLE_PATH = "/candle/{exchange}/{market}/{asset}"


def as_bolt_response(response: HttpResponse) -> Response:
    """A Django response of errors.py (status, headers, JSON body) as bolt's own Response."""
    return Response(
        response.content, status_code=response.status_code, headers=dict(response.items())
    )


def format_error(error: BoltError, request: Request) -> Response:
    """Bolt's own error responses (unknown route or method, its 422, uncaught exceptions)
    in the project's error bodies: the same status and JSON as Django's API answers."""
    if error.status == 404 and any(pattern.fullmatch(request.path) for pattern in SERVED_PATHS):
        # A path served for GET and HEAD: bolt's router has no handler for this method.
        return as_bolt_response(method_not_allowed(request.method).response())
    if error.status == 404:
        api_error = endpoint_not_found()
    elif error.status >= 500:
        api_error = internal_error()
    else:  # bolt's 422 (no handler here declares a parameter it could refuse) and the rest
        api_error = request_rejected()
    return as_bolt_response(api_error.response())


# runbolt logs every request to "django.server", which Django's default logging prints at
# INFO; no server in the comparison keeps an access log (enable_logging below does not stop it).
logging.getLogger("django.server").setLevel(logging.WARNING)

api = BoltAPI(
    enable_logging=False,  # bolt's request-logging middleware
    # Off unless CANDLEBENCH_COMPRESSION=bolt-native (bolt_settings.BOLT_COMPRESSION decides).
    compression=False,
    openapi_config=OpenAPIConfig(title="candlebench (django-bolt)", version="1", enabled=False),
    error_formatter=format_error,
)


def query_params(request: Request) -> QueryDict:
    """Every value of every query parameter, as Django's request.GET has them."""
    return QueryDict(request.META.get("QUERY_STRING", ""))


def floor_answer(q: CandleQuery, timing: ServerTiming) -> bytes:
    """This server's ceiling: the real answer's bytes from memory (see floor.py)."""
    body = floor_body(q, timing)
    timing.lap("render")
    return body


def candle_answer(
    request: Request,
    exchange: str,
    market: str,
    asset: str,
    body: Callable[[CandleQuery, ServerTiming], bytes],
) -> Response:
    """The shared parameters and errors around a mode's body, Server-Timing on the answer (its
    `gc` entry from the handler's start: bolt's Rust side allocates no Python objects)."""
    start = mark()
    try:
        q = parse_candle_query(exchange, market, asset, query_params(request))
        timing = ServerTiming()
        content = body(q, timing)
    except ApiError as exc:
        return as_bolt_response(exc.response())
    except (OperationalError, InterfaceError):  # as candleproject.middleware does for Django
        return as_bolt_response(database_unavailable().response())
    finally:
        # What Django runs at the end of every request (request_finished), which bolt
        # does not send: a broken connection is dropped, a pooled one goes back.
        close_old_connections()
    return Response(
        content, headers={"Server-Timing": f"{timing.header()}, {gc_entry(since(start))}"}
    )


@api.get(f"{API_PREFIX}bolt{CANDLE_PATH}")
@api.head(f"{API_PREFIX}bolt{CANDLE_PATH}")
def bolt(request: Request, exchange: str, market: str, asset: str) -> CandleDocument:
    return candle_answer(request, exchange, market, asset, msgspec_body)


@api.get(f"{API_PREFIX}bolt-raw{CANDLE_PATH}")
@api.head(f"{API_PREFIX}bolt-raw{CANDLE_PATH}")
def bolt_raw(request: Request, exchange: str, market: str, asset: str) -> CandleDocument:
    return candle_answer(request, exchange, market, asset, raw_msgspec_body)


@api.get(f"{API_PREFIX}floor{CANDLE_PATH}")
@api.head(f"{API_PREFIX}floor{CANDLE_PATH}")
def floor(request: Request, exchange: str, market: str, asset: str) -> CandleDocument:
    return candle_answer(request, exchange, market, asset, floor_answer)


MODES = {
    **modes_document(modes_for_kind(ServerKind.BOLT, diagnostics=True)),
    "compression": served_setup(settings.CANDLEBENCH_COMPRESSION, ServerKind.BOLT).name,
    "cache": served_cache(settings.CANDLEBENCH_CACHE, ServerKind.BOLT).name,
}


@api.get(f"{API_PREFIX}modes")
@api.head(f"{API_PREFIX}modes")
def modes(request: Request) -> Response:
    """The modes, the compression setup, and the GC setup this process runs (read back)."""
    return Response(orjson_dumps({**MODES, **gc_document()}))


def refuse_options(request: Request) -> Response:
    """Bolt answers OPTIONS by itself (204 with Allow); Django's API refuses it like every
    method but GET and HEAD (other methods reach format_error as a 404 of bolt's router)."""
    return as_bolt_response(method_not_allowed(request.method).response())


_paths = tuple(dict.fromkeys(path for _, path, _, _ in api._routes))
for _path in _paths:
    api.options(_path)(refuse_options)
# The routes' paths as patterns, for format_error's 405.
SERVED_PATHS = tuple(
    re.compile(re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(path))) for path in _paths
)

install()
# settings.CANDLEBENCH_GC as bolt runs it (the between-requests setups, which need Django's
# request signals, run `default` here), once the API is loaded: runbolt imports this module in
# each worker, or once before forking them.
apply_configured(ServerKind.BOLT)
