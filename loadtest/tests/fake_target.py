"""A stand-in candlebench much faster than the load generator (asyncio on uvloop, answers built
once): what the generator's own top rate is measured against. It answers /api/modes (one mode,
`raw`), the API's JSON 404 and every `/api/raw/candle/...?...&limit=N` with a document of N
rows and a Server-Timing header, over keep-alive connections.

python -m loadtest.tests.fake_target PORT [NAME:VALUE]   (then every request must carry that header,
else 401: as behind an auth proxy)
"""

import asyncio
import json
import sys
from urllib.parse import parse_qs, urlsplit

import uvloop

ROW = {"basetm": "2024-01-01T00:00:00Z", "o": 1.5, "h": 2.5, "l": 0.5, "c": 1.25, "v": 100.0}
MODES = json.dumps({"modes": [{"name": "raw", "validates": False}], "diagnostics": []}).encode()
_documents: dict[int, bytes] = {}
REQUIRED = sys.argv[2].encode().lower().replace(b":", b": ", 1) if len(sys.argv) > 2 else b""


def answer(status: str, body: bytes) -> bytes:
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Server-Timing: db;dur=0, serialize;dur=0, render;dur=0\r\n\r\n"
    )
    return head.encode() + body


def respond(target: str) -> bytes:
    url = urlsplit(target)
    if url.path == "/api/modes":
        return answer("200 OK", MODES)
    if url.path.startswith("/api/raw/candle/"):
        limit = int(parse_qs(url.query).get("limit", ["1"])[0])
        if limit not in _documents:
            _documents[limit] = answer(
                "200 OK", json.dumps({"data": [ROW] * limit}, separators=(",", ":")).encode()
            )
        return _documents[limit]
    return answer("404 Not Found", b'{"detail":"not found"}')


class Http(asyncio.Protocol):
    def connection_made(self, transport) -> None:
        self.transport, self.buffer = transport, b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            if REQUIRED and REQUIRED not in head.lower().split(b"\r\n"):
                self.transport.write(answer("401 Unauthorized", b'{"detail":"no key"}'))
                continue
            self.transport.write(respond(head.split(b" ", 2)[1].decode()))


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Http, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(serve(int(sys.argv[1])))
