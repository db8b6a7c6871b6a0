import os

import django
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "candleproject.settings")


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


django.setup(set_prefix=False)
application = SharedThreadASGIHandler()
