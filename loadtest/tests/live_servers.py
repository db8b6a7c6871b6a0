"""Start a server for real, as its own process, on the pytest-django test database.

Servers are separate processes: they see only committed rows (use transactional fixtures)
and reach the test database through DATABASE_URL, never the developer's database.
"""

import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

from django.db import connection

from loadtest.load.workers import LOCUSTFILE
from loadtest.serving.servers import PROJECT_ROOT, free_port


def server_database_url() -> str:
    """DATABASE_URL for the test database pytest-django set up (after django_db_setup)."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    if connection.vendor == "postgresql":
        user = quote(s["USER"] or "") + (":" + quote(s["PASSWORD"]) if s["PASSWORD"] else "")
        address = f"{s['HOST'] or '127.0.0.1'}" + (f":{s['PORT']}" if s["PORT"] else "")
        return f"postgres://{user}@{address}/{quote(s['NAME'])}"
    raise ValueError(f"no DATABASE_URL for a {connection.vendor} test database")


def server_env(**overrides: str) -> dict[str, str]:
    """A server's (or other child process's) environment: this one's, DEBUG left to the
    settings' default, DATABASE_URL the test database; `overrides` last."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_DEBUG"}
    return env | {"DATABASE_URL": server_database_url(), **overrides}


def http_get(url: str) -> tuple[int, dict[str, str], bytes]:
    """Status, lower-cased headers and body, for error statuses too (an https server's
    certificate is not checked: the tests' servers have self-signed ones)."""
    context = ssl._create_unverified_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(url, timeout=30, context=context) as response:
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                response.read(),
            )
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


@contextlib.contextmanager
def running_process(
    argv: list[str],
    log_path: Path,
    env: dict[str, str],
    ready: Callable[[], bool],
    what: str = "the server",
    timeout: float = 60.0,
    cwd: Path = PROJECT_ROOT,
) -> Iterator[None]:
    """Start `argv` in a process group of its own (output to `log_path`), return once `ready()`
    (AssertionError with the log's tail if it exits or is not ready within `timeout` seconds),
    and stop the whole group afterwards."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None:
                raise AssertionError(
                    f"{what} exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{what} did not answer in {timeout:.0f}s:\n{log_path.read_text()[-3000:]}"
                )
            time.sleep(0.1)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def answers_ok(url: str) -> bool:
    """GET `url` answers 200 (False while nothing listens there)."""
    try:
        return http_get(url)[0] == 200
    except OSError:
        return False


def lists_its_modes(base_url: str) -> bool:
    """GET /api/modes answers 200 with modes: a candlebench server is up."""
    try:
        status, _headers, body = http_get(base_url + "/api/modes")
    except OSError:
        return False
    return status == 200 and bool(json.loads(body)["modes"])


def run_locustfile_headless(
    env: dict[str, str], host: str, cwd: Path, *options: str, timeout: float = 60
) -> subprocess.CompletedProcess:
    """`locust -f loadtest/locustfile.py --host HOST --headless OPTIONS --only-summary`, as a
    user runs it by hand; its output captured."""
    by_hand = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--host", host, "--headless"]
    return subprocess.run(
        [*by_hand, *options, "--only-summary"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def plain_uvicorn(host: str, port: int) -> list[str]:
    """uvicorn with its defaults on the project's ASGI application (not the runner's asgi set-up)."""
    app = "candleproject.asgi:application"
    options = ["--host", host, "--port", str(port), "--log-level", "warning"]
    return [sys.executable, "-m", "uvicorn", app, *options]


@contextlib.contextmanager
def running_server(
    command: Callable[[str, int], list[str]],
    log_dir: Path,
    timeout: float = 60.0,
    scheme: str = "http",
    **env_overrides: str,
) -> Iterator[str]:
    """Start `command(host, port)` on a free port (environment: server_env(**env_overrides))
    and yield its base URL (`scheme`: https for a server with a certificate) once /api/modes
    answers; stop the whole process group afterwards."""
    port = free_port()
    base_url = f"{scheme}://127.0.0.1:{port}"
    with running_process(
        command("127.0.0.1", port),
        log_dir / "server.log",
        server_env(**env_overrides),
        lambda: lists_its_modes(base_url),
        timeout=timeout,
    ):
        yield base_url


@contextlib.contextmanager
def serving_in_thread(handler: Callable[..., BaseHTTPRequestHandler]) -> Iterator[str]:
    """A test's own little HTTP server (`handler` answers) on a free port in a thread of this
    process; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


# One short run of the runner: one server, one mode, one limit, no extras (about 15 s).
SHORT_RUN = (
    "--servers",
    "wsgi",
    "--modes",
    "raw",
    "--limits",
    "100",
    "--repeats",
    "1",
    "--duration",
    "1",
    "--warmup",
    "0.3",
    "--no-micro",
    "--no-instructions",
    "--no-floor",
)


def run_loadtest(
    env: dict[str, str], *args: str, timeout: float = 240
) -> subprocess.CompletedProcess:
    """`python -m loadtest ARGS` from the project's root, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "loadtest", *args],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
