"""Production gunicorn settings; `python -m loadtest` starts gunicorn with this file too.

Values can be overridden per run on the command line (the runner sets -b and -w).
"""

import os

from candles.api import gc_setups
from candles.api.registry import ServerKind

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "1"))
# A worker silent for this long is killed and replaced: a stuck request cannot hold the
# worker forever.
timeout = 30
# On SIGTERM, finish in-flight requests for up to this long before exiting.
graceful_timeout = 10
# Recycle workers now and then (jittered so they don't all restart at once), which caps
# the damage of any slow leak.
max_requests = 10_000
max_requests_jitter = 1_000
# The sync worker serves one request at a time; what waits beyond it waits in the kernel's
# accept queue. Bounding that queue bounds how many wait there; past it, new connections
# wait in the kernel's SYN retries (measured by `python -m loadtest spike`: a long latency
# tail, no errors). A sync worker cannot answer 503; uvicorn sheds with --limit-concurrency.
backlog = int(os.environ.get("GUNICORN_BACKLOG", "64"))
keepalive = 5
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")


# The GC setup (settings.CANDLEBENCH_GC) is applied here, in each worker once it loaded the app
# (no preload_app: the app loads in the worker), not by the app's module (wsgi.py, asgi.py).
gc_setups.leave_to_server_hook()


def post_worker_init(worker) -> None:
    gc_setups.apply_configured(ServerKind.DJANGO)
