"""Middleware arranged so the API pays for no more than it uses, above all under ASGI.

Django runs a sync middleware's hooks under ASGI through sync_to_async: a thread hop per
hook per request. Two fixes, neither changing what any page or API answer contains:

- Hooks that are pure CPU (header checks and header writes) run inline on the event loop.
- Session, CSRF, auth and messages serve the admin only; for /api/ paths they are skipped,
  since the API is public, read-only and every API view is CSRF-exempt anyway.
"""
from django.contrib.auth import middleware as auth
from django.contrib.messages import middleware as messages
from django.contrib.sessions import middleware as sessions
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponseBase
from django.middleware import clickjacking, common, csrf, security
from django.utils.deprecation import MiddlewareMixin

API_PREFIX = "/api/"
DB_RETRY_AFTER_SECONDS = 5


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


class InlineAsyncMixin:
    """For middleware whose hooks never block (no DB, no I/O): no thread hop under ASGI."""

    async def __acall__(self, request):
        response = self.process_request(request) if hasattr(self, "process_request") else None
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response


class SiteOnlyMixin:
    """Skips the wrapped middleware for API paths; the admin keeps it unchanged."""

    def __call__(self, request):
        if is_api(request):
            return self.get_response(request)
        return super().__call__(request)


class SecurityMiddleware(InlineAsyncMixin, security.SecurityMiddleware):
    pass


class CommonMiddleware(InlineAsyncMixin, common.CommonMiddleware):
    pass


class XFrameOptionsMiddleware(InlineAsyncMixin, clickjacking.XFrameOptionsMiddleware):
    pass


class SessionMiddleware(SiteOnlyMixin, sessions.SessionMiddleware):
    pass


class CsrfViewMiddleware(SiteOnlyMixin, csrf.CsrfViewMiddleware):
    def process_view(self, request, callback, callback_args, callback_kwargs):
        if is_api(request):
            return None
        return super().process_view(request, callback, callback_args, callback_kwargs)


class AuthenticationMiddleware(SiteOnlyMixin, auth.AuthenticationMiddleware):
    pass


class MessageMiddleware(SiteOnlyMixin, messages.MessageMiddleware):
    pass


class ApiDatabaseErrorMiddleware(InlineAsyncMixin, MiddlewareMixin):
    """A database that is down or unreachable is a 503 with Retry-After, not a 500 page.

    Every mode lets database errors propagate, so this one hook covers them all; Django
    drops the broken connection at the end of the request and the next one reconnects.
    """

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponseBase | None:
        if not is_api(request) or not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        from candles.api.errors import json_error

        return json_error(
            503,
            {"error": "service_unavailable", "detail": "the database is unavailable; retry later"},
            {"Retry-After": str(DB_RETRY_AFTER_SECONDS)},
        )
