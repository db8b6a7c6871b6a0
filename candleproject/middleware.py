"""The API's own middleware chain (settings.API_MIDDLEWARE), served by candleproject.handlers.

Under ASGI Django runs each hook of a sync middleware through sync_to_async, a thread hop
per hook per request. The admin keeps Django's stock chain (settings.MIDDLEWARE); /api/
requests get a short chain of hooks that never block (header checks and header writes),
run inline on the event loop. Sessions, CSRF, auth and messages serve the admin only: the
API is public and read-only, and every API view is CSRF-exempt anyway.
"""

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponseBase
from django.middleware import clickjacking, common, security
from django.utils.deprecation import MiddlewareMixin

from candles.api.compression import compress_response, compression_setup
from candles.api.errors import database_unavailable, is_api
from candles.api.gc_time import install, mark
from candles.api.timing import add_gc_entry


class InlineAsyncMixin:
    """For middleware whose hooks never block (no DB, no I/O): no thread hop under ASGI."""

    get_response: Callable[..., Any]  # the middleware's (MiddlewareMixin's): async under ASGI

    async def __acall__(self, request):
        response = self.process_request(request) if hasattr(self, "process_request") else None
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = self.process_response(request, response)
        return response


class SecurityMiddleware(InlineAsyncMixin, security.SecurityMiddleware):
    pass


class CommonMiddleware(InlineAsyncMixin, common.CommonMiddleware):
    """Kept on the API for its ALLOWED_HOSTS check."""


class XFrameOptionsMiddleware(InlineAsyncMixin, clickjacking.XFrameOptionsMiddleware):
    pass


class ApiDatabaseErrorMiddleware(InlineAsyncMixin, MiddlewareMixin):
    """A database that is down or unreachable is a 503 with Retry-After, not a 500 page.

    Every mode lets database errors propagate, so this one hook covers them all; Django
    drops the broken connection at the end of the request and the next one reconnects.
    """

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponseBase | None:
        if not is_api(request) or not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        return database_unavailable().response()


class CompressionMiddleware(InlineAsyncMixin, MiddlewareMixin):
    """The project's negotiated compression of API answers (settings.CANDLEBENCH_COMPRESSION),
    first in the chain so that it sees the finished answer; the shared compress_response, inline
    under ASGI. Outside /api/ (the stock chain) it leaves answers alone."""

    def __init__(self, get_response) -> None:
        super().__init__(get_response)
        self.codecs = compression_setup(settings.CANDLEBENCH_COMPRESSION).codecs
        if not self.codecs:
            raise MiddlewareNotUsed("the compression setup offers no codec")

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if not is_api(request):
            return response
        return compress_response(response, request.META.get("HTTP_ACCEPT_ENCODING"), self.codecs)


class GcTimingMiddleware:
    """The `gc` entry of Server-Timing (candles/api/timing.py): the garbage collector's time while
    the request ran through the chain, added to every answer that carries Server-Timing (the
    candle answers). First in the chain, so that it covers the others, compression included."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.async_mode = iscoroutinefunction(get_response)
        if self.async_mode:
            markcoroutinefunction(self)
        install()

    def __call__(self, request: HttpRequest):
        if self.async_mode:
            return self.__acall__(request)
        start = mark()
        response = self.get_response(request)
        add_gc_entry(response, start)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        start = mark()
        response = await self.get_response(request)
        add_gc_entry(response, start)
        return response
