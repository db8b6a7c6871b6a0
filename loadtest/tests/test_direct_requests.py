"""The runner's own requests (its checks, its wait for a server) go straight to the server, as
Locust's and wrk's do: a proxy exported in the shell is not in their way."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from loadtest.serving.checks import fetch


class Modes(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b'{"modes":[]}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def local_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Modes)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("variable", ["http_proxy", "HTTP_PROXY"])
def test_a_proxy_in_the_shell_is_not_used(local_server, monkeypatch, variable):
    # A proxy nobody listens on: a request sent through it fails.
    monkeypatch.setenv(variable, "http://127.0.0.1:9")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    status, _, body = fetch(local_server + "/api/modes", timeout=5)
    assert (status, body) == (200, b'{"modes":[]}')
