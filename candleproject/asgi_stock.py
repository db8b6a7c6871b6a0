"""Stock Django under ASGI: what `uvicorn candleproject.asgi_stock:application` gives a user
who changes nothing (the file `startproject` writes).

Django's own ASGIHandler with settings.MIDDLEWARE for every path, /api/ included: no API
chain and no shared thread (candleproject.handlers), so each request's sync code runs on a
thread started for it. The runner serves it as `asgi-stock` to show what the project's
handler buys. The documents and error bodies are the project's (same URLconf and views);
only a database outage differs: without ApiDatabaseErrorMiddleware it is the API's 500.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "candleproject.settings")

application = get_asgi_application()

from candles.api.gc_setups import apply_at_app_load  # noqa: E402 - needs the apps loaded
from candles.api.registry import ServerKind  # noqa: E402

# settings.CANDLEBENCH_GC, once the app is loaded (under gunicorn: its post_worker_init).
apply_at_app_load(ServerKind.DJANGO)
