"""Responses read as they came over the wire: Locust's FastResponse decodes a gzip or brotli body
when its content is read (and raises on zstd); a load test must not, since decoding is the
client's cost, not the server's. The body's length is then the bytes on the wire."""

from __future__ import annotations

from locust.contrib.fasthttp import FastResponse


class WireBodyResponse(FastResponse):
    """A FastResponse whose content is the body as received, whatever its Content-Encoding."""

    def _content(self) -> bytes:
        if self.headers is None or self._response is None:
            return b""  # no HTTP answer: Locust records the error, not a length
        body = self._response.read()
        self.release()
        return body


def read_bodies_undecoded(user_agent) -> None:
    """Make `user_agent` (a FastHttpUser's client.client) answer with WireBodyResponse."""
    user_agent.response_type = WireBodyResponse
