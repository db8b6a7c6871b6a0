"""Drive the project's real WSGI and ASGI applications in-process, as a server would."""

import asyncio
from wsgiref.util import setup_testing_defaults

from candleproject.asgi import application as asgi_application
from candleproject.wsgi import application as wsgi_application


def wsgi_request(
    path: str,
    query: str = "",
    method: str = "GET",
    host: str = "localhost",
    headers: dict[str, str] | None = None,
    application=wsgi_application,
) -> tuple[int, dict[str, str], bytes]:
    environ = {
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "REQUEST_METHOD": method,
        "HTTP_HOST": host,
        **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in (headers or {}).items()},
    }
    setup_testing_defaults(environ)
    started: dict = {}

    def start_response(status, headers, exc_info=None):
        started.update(status=int(status.split()[0]), headers=dict(headers))

    result = application(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        result.close()  # what a server does; fires request_finished
    return started["status"], started["headers"], body


async def asgi_request(
    path: str,
    query: str = "",
    method: str = "GET",
    host: str = "localhost",
    application=asgi_application,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [
            (b"host", host.encode()),
            *((k.lower().encode(), v.encode()) for k, v in (headers or {}).items()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    sent: list[dict] = []
    body_sent = False
    never = asyncio.Event()

    async def receive() -> dict:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await never.wait()  # the client stays connected
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await application(scope, receive, send)
    headers = {k.decode().lower(): v.decode() for k, v in sent[0]["headers"]}
    return sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])
