"""WSGI and ASGI applications that route /api/ to a handler with the API's middleware chain.

Django builds one middleware chain per handler from settings.MIDDLEWARE. Two handlers, one
per chain, share everything else (URLconf, views, database); the path picks the handler.
"""

from typing import TypeVar

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.base import BaseHandler
from django.core.handlers.wsgi import WSGIHandler

from candles.api.errors import API_PREFIX

# A TypeVar, not PEP 695's syntax: the app runs on Python 3.11 too (stacks/, docs/stacks.md).
H = TypeVar("H", bound=BaseHandler)


def handler_with_middleware(handler_class: type[H], middleware: list[str]) -> H:
    """A handler whose chain is `middleware`: Django reads the setting only while loading."""
    saved = settings.MIDDLEWARE
    settings.MIDDLEWARE = middleware
    try:
        return handler_class()
    finally:
        settings.MIDDLEWARE = saved


class SharedThreadASGIHandler(ASGIHandler):
    """Django's ASGI handler, minus a thread started and joined for every request.

    Django wraps each request in asgiref's ThreadSensitiveContext, so its sync code (sync
    views, signals, the ORM behind async views) runs in a new thread that is started and
    joined per request, and that opens a new database connection each time. Measured with
    py-spy under load, that was the largest cost of the raw mode under uvicorn. Without the
    context, sync code runs on asgiref's one long-lived thread, as in a single sync WSGI
    worker: requests still interleave on the event loop, their sync parts run one at a
    time (on one core they could not run at once anyway), and the connection persists.
    """

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await super().__call__(scope, receive, send)  # raises, as Django does
        await self.handle(scope, receive, send)


class SplitASGIApplication:
    def __init__(self) -> None:
        # The admin keeps Django's handler, a thread per request: a slow admin request
        # (a large Generate) must not hold the thread the API's sync code runs on.
        self.site = ASGIHandler()
        self.api = handler_with_middleware(SharedThreadASGIHandler, settings.API_MIDDLEWARE)

    async def __call__(self, scope, receive, send):
        is_api = scope["type"] == "http" and scope["path"].startswith(API_PREFIX)
        await (self.api if is_api else self.site)(scope, receive, send)


class SplitWSGIApplication:
    def __init__(self) -> None:
        self.site = WSGIHandler()
        self.api = handler_with_middleware(WSGIHandler, settings.API_MIDDLEWARE)

    def __call__(self, environ, start_response):
        is_api = environ.get("PATH_INFO", "").startswith(API_PREFIX)
        return (self.api if is_api else self.site)(environ, start_response)
