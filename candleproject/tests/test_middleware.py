"""The admin keeps sessions, auth and CSRF; database failures on the API are JSON 503s
(through the project's real WSGI and ASGI applications, with the API's own chain)."""

import orjson
import pytest
from asgiref.sync import sync_to_async
from django.db import OperationalError, connection, connections
from django.test import Client

from candles.api.errors import DB_RETRY_AFTER_SECONDS
from candles.models import Exchange, Pair
from candles.tests.conftest import ALL_MODES as MODES

from .app_driver import asgi_request, wsgi_request

PATH = "/api/{mode}/candle/upbit/KRW/BTC"
QUERY = "interval=1m"


def test_admin_still_requires_csrf_and_a_session(db):
    client = Client(enforce_csrf_checks=True)
    login = client.get("/admin/login/")
    assert login.status_code == 200 and "csrftoken" in login.cookies
    response = client.post("/admin/login/", {"username": "x", "password": "y"})
    assert response.status_code == 403  # no CSRF token: refused
    assert client.get("/admin/").status_code == 302  # anonymous: sent to login
    assert response["X-Frame-Options"] == "DENY"


def test_admin_login_works_with_csrf_token(django_user_model):
    django_user_model.objects.create_superuser("admin", "a@example.com", "pw-long-enough-1")
    client = Client(enforce_csrf_checks=True)
    token = client.get("/admin/login/").cookies["csrftoken"].value
    response = client.post(
        "/admin/login/",
        {
            "username": "admin",
            "password": "pw-long-enough-1",
            "csrfmiddlewaretoken": token,
            "next": "/admin/",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def _failing_execute(execute, sql, params, many, context):
    raise OperationalError("server closed the connection unexpectedly")


def assert_503(status: int, headers: dict[str, str], body: bytes) -> None:
    headers = {k.lower(): v for k, v in headers.items()}
    assert status == 503, body[:200]
    assert headers["retry-after"] == str(DB_RETRY_AFTER_SECONDS)
    assert headers["content-type"] == "application/json"
    assert orjson.loads(body)["error"] == "service_unavailable"


@pytest.mark.django_db(transaction=True)
def test_database_failure_is_a_json_503_with_retry_after_in_every_mode():
    Pair.objects.create(exchange=Exchange.objects.create(name="upbit"), market="KRW", asset="BTC")
    with connection.execute_wrapper(_failing_execute):
        for mode in MODES:
            assert_503(*wsgi_request(PATH.format(mode=mode), QUERY))
    for mode in MODES:  # and the next request is served again
        assert wsgi_request(PATH.format(mode=mode), QUERY)[0] == 200, mode


@pytest.mark.django_db(transaction=True)
async def test_unreachable_database_is_a_503_and_recovers_when_it_returns(tmp_path):
    await sync_to_async(_create_pair)()
    saved = dict(connection.settings_dict)
    await _reset_connections()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = str(tmp_path / "missing-dir" / "db.sqlite3")
    else:
        connection.settings_dict["PORT"] = "1"  # nothing listens there: connection refused
        if "pool" in connection.settings_dict["OPTIONS"]:
            options = connection.settings_dict["OPTIONS"]
            connection.settings_dict["OPTIONS"] = {"pool": {**options["pool"], "timeout": 0.5}}
    try:
        for mode in MODES:
            assert_503(*await asgi_request(PATH.format(mode=mode), QUERY))
            assert_503(*await sync_to_async(wsgi_request)(PATH.format(mode=mode), QUERY))
    finally:
        await _reset_connections()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    for mode in MODES:
        assert (await asgi_request(PATH.format(mode=mode), QUERY))[0] == 200, mode
        assert (await sync_to_async(wsgi_request)(PATH.format(mode=mode), QUERY))[0] == 200, mode


def _create_pair() -> None:
    Pair.objects.create(exchange=Exchange.objects.create(name="upbit"), market="KRW", asset="BTC")


async def _reset_connections() -> None:
    """Drop the connection of the thread both applications' sync code runs on here (it
    keeps SQLite's open) and PostgreSQL's pool, so the next query connects anew."""

    def close() -> None:
        for conn in connections.all():
            conn.close()
            if conn.vendor == "postgresql" and conn.settings_dict["OPTIONS"].get("pool"):
                conn.close_pool()

    await sync_to_async(close)()
