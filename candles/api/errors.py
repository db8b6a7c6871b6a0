"""One error shape for every mode: status, JSON body and headers are built here only."""

from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse
from django.views import defaults

ALLOWED_METHODS = ("GET", "HEAD")
API_PREFIX = "/api/"
DB_RETRY_AFTER_SECONDS = 5


class ApiError(Exception):
    """An error the API answers with a JSON body; raised by shared validation."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None):
        super().__init__(body.get("detail", ""))
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self) -> HttpResponse:
        return json_error(self.status, self.body, self.headers)


def json_error(
    status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> HttpResponse:
    response = HttpResponse(orjson.dumps(body), status=status, content_type="application/json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def invalid_parameter(parameter: str, detail: str, allowed: str) -> ApiError:
    return ApiError(
        400,
        {
            "error": "invalid_parameter",
            "parameter": parameter,
            "detail": detail,
            "allowed": allowed,
        },
    )


def invalid_response(field: str, detail: str) -> ApiError:
    """A row the database returned breaks the response schema: a validated mode sends no
    partial document, only this 500 naming the field."""
    return ApiError(500, {"error": "invalid_response", "field": field, "detail": detail})


def pair_not_found() -> ApiError:
    return ApiError(404, {"error": "not_found", "detail": "unknown exchange or pair"})


def endpoint_not_found() -> ApiError:
    return ApiError(404, {"error": "not_found", "detail": "no such API endpoint"})


def request_rejected() -> ApiError:
    return ApiError(400, {"error": "bad_request", "detail": "the request was rejected"})


def internal_error() -> ApiError:
    return ApiError(500, {"error": "server_error", "detail": "internal error"})


def database_unavailable() -> ApiError:
    return ApiError(
        503,
        {"error": "service_unavailable", "detail": "the database is unavailable; retry later"},
        {"Retry-After": str(DB_RETRY_AFTER_SECONDS)},
    )


def method_not_allowed(method: str) -> ApiError:
    return ApiError(
        405,
        {
            "error": "method_not_allowed",
            "detail": f"method {method} is not allowed; the API is read-only",
            "allowed": list(ALLOWED_METHODS),
        },
        {"Allow": ", ".join(ALLOWED_METHODS)},
    )


def check_method(request: HttpRequest) -> None:
    if request.method not in ALLOWED_METHODS:
        raise method_not_allowed(request.method or "(none)")


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return endpoint_not_found().response()
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    # Reached for SuspiciousOperation, e.g. a Host header not in ALLOWED_HOSTS.
    if is_api(request):
        return request_rejected().response()
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return json_error(403, {"error": "forbidden", "detail": "permission denied"})
    return defaults.permission_denied(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return internal_error().response()
    return defaults.server_error(request)
