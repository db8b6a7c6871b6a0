"""The API's own description: the mode list (the load test reads it) and the OpenAPI document."""
from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from .encoding import orjson_dumps
from .errors import ApiError, check_method
from .modes import MODES
from .openapi import openapi_document

OPENAPI_BODY = orjson_dumps(openapi_document())


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


@read_only
def list_modes(request: HttpRequest) -> HttpResponse:
    modes = [
        {
            "name": name,
            "description": description,
            "path": f"/api/{name}/candle/{{exchange}}/{{market}}/{{asset}}",
        }
        for name, description in MODES.items()
    ]
    return HttpResponse(orjson_dumps({"modes": modes}), content_type="application/json")


@read_only
def openapi_json(request: HttpRequest) -> HttpResponse:
    return HttpResponse(OPENAPI_BODY, content_type="application/json")
