"""The API's own description: the modes this server serves, its compression and cache setups and
the GC setup it runs (read back from `gc`; the load test reads them all) and the OpenAPI document,
from the registries."""

from collections.abc import Callable
from functools import cache, wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from .caching import served_setup as served_cache
from .compression import served_setup
from .encoding import orjson_dumps
from .errors import ApiError, check_method
from .gc_setups import gc_document
from .openapi import openapi_document
from .registry import Mode, ServerKind, django_modes, modes_document


def read_only(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """The shared 405 for the API's non-candle endpoints."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        try:
            check_method(request)
        except ApiError as exc:
            return exc.response()
        return view(request)

    return wrapper


@cache
def _openapi_body(modes: tuple[Mode, ...]) -> bytes:
    """Built on first request (it reverses the URLconf), once per set of modes."""
    return orjson_dumps(openapi_document(modes))


@read_only
def list_modes(request: HttpRequest) -> HttpResponse:
    compression = served_setup(settings.CANDLEBENCH_COMPRESSION, ServerKind.DJANGO).name
    cache = served_cache(settings.CANDLEBENCH_CACHE, ServerKind.DJANGO).name
    body = orjson_dumps(
        {
            **modes_document(django_modes(diagnostics=True)),
            "compression": compression,
            "cache": cache,
            **gc_document(),
        }
    )
    return HttpResponse(body, content_type="application/json")


@read_only
def openapi_json(request: HttpRequest) -> HttpResponse:
    return HttpResponse(_openapi_body(django_modes()), content_type="application/json")
