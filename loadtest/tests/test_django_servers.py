"""The Django servers beside asgi and wsgi (loadtest.serving.servers), started for real: the project's documents
and error bodies, byte for byte, whatever server runs the project's code."""

import orjson
import pytest

from loadtest.serving.servers import SERVERS
from loadtest.tests.live_servers import http_get, running_server

pytestmark = [pytest.mark.live, pytest.mark.database]

RAW = "/api/raw/candle/{pair}"


@pytest.mark.parametrize("server", ["asgi-stock", "granian-wsgi", "granian-asgi"])
def test_server_answers_as_the_project_does(server, committed_sample_candles, client, tmp_path):
    known, unknown = RAW.format(pair="upbit/KRW/BTC"), RAW.format(pair="upbit/KRW/NOPE")
    with running_server(SERVERS[server].command, tmp_path) as base_url:
        status, headers, body = http_get(f"{base_url}{known}?interval=1m&limit=1000")
        expected = client.get(known, {"interval": "1m", "limit": "1000"})
        assert status == 200 and expected.status_code == 200
        assert body == expected.content and len(orjson.loads(body)["data"]) == 1000
        assert (
            headers["content-type"] == "application/json" and "db;dur=" in headers["server-timing"]
        )

        status, _headers, body = http_get(f"{base_url}{known}?interval=1m&limit=1441")
        expected = client.get(known, {"interval": "1m", "limit": "1441"})
        assert (status, body) == (400, expected.content)
        assert orjson.loads(body)["parameter"] == "limit"

        status, _headers, body = http_get(f"{base_url}{unknown}?interval=1m")
        assert (status, body) == (404, client.get(unknown, {"interval": "1m"}).content)
