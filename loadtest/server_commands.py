"""Command lines for the servers issue 12 adds, one function each, for the runner's list.

Each takes the address (and the options the runner may vary) and returns the argv to start
from the project's root with the runner's environment (DATABASE_URL etc.); none needs an
extra variable. The uvicorn ones are the runner's `asgi` command (uvicorn's production
options, --limit-concurrency shedding included) serving another application.
"""
from __future__ import annotations

import sys

from .servers import SERVERS

PROJECT_ASGI_APP = "candleproject.asgi:application"
STOCK_ASGI_APP = "candleproject.asgi_stock:application"
FASTAPI_APP = "loadtest.reference.fastapi_app:app"


def _uvicorn(app: str, host: str, port: int) -> list[str]:
    """The runner's `asgi` command line with `app` in place of the project's application."""
    command = SERVERS["asgi"].command(host, port)
    if PROJECT_ASGI_APP not in command:
        raise ValueError(f"the asgi command no longer names {PROJECT_ASGI_APP}: {command}")
    return [app if arg == PROJECT_ASGI_APP else arg for arg in command]


def asgi_stock_command(host: str, port: int) -> list[str]:
    """uvicorn serving stock Django (candleproject.asgi_stock): Django's own ASGIHandler."""
    return _uvicorn(STOCK_ASGI_APP, host, port)


def fastapi_command(host: str, port: int) -> list[str]:
    """uvicorn serving the case study's FastAPI app (loadtest.reference.fastapi_app)."""
    return _uvicorn(FASTAPI_APP, host, port)


def granian_command(host: str, port: int, *, interface: str, app: str, workers: int = 1,
                    backpressure: int | None = None) -> list[str]:
    """granian (Rust HTTP server) with `workers` processes of one single-threaded runtime each.

    --interface is always given (granian's default is RSGI); --blocking-threads 1 runs the
    application on one Python thread per worker, like one gunicorn sync worker and like the
    project's ASGI handler; no websockets, warnings only (the access log is off by default).
    granian never sheds load with a 503: past `backpressure` requests at once per worker
    (default: the backlog, 1024) a connection waits to be accepted, so overload is a queue.
    """
    command = [
        sys.executable, "-m", "granian", "--interface", interface, app,
        "--host", host, "--port", str(port), "--workers", str(workers),
        "--blocking-threads", "1", "--runtime-mode", "st", "--no-ws", "--log-level", "warning",
    ]
    if interface.startswith("asgi"):
        command += ["--loop", "uvloop"]
    if backpressure:
        command += ["--backpressure", str(backpressure)]
    return command


def granian_wsgi_command(host: str, port: int, *, workers: int = 1, backpressure: int | None = None) -> list[str]:
    """granian serving the project's WSGI application (candleproject.wsgi)."""
    return granian_command(host, port, interface="wsgi", app="candleproject.wsgi:application",
                           workers=workers, backpressure=backpressure)


def granian_asgi_command(host: str, port: int, *, workers: int = 1, backpressure: int | None = None) -> list[str]:
    """granian serving the project's ASGI application (candleproject.asgi) on uvloop.

    `asginl` is granian's ASGI without the lifespan protocol, which Django does not speak
    (with `asgi` granian logs a lifespan error at every start): uvicorn's --lifespan off.
    """
    return granian_command(host, port, interface="asginl", app=PROJECT_ASGI_APP,
                           workers=workers, backpressure=backpressure)
