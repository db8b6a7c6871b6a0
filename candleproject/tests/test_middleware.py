"""The admin keeps sessions, auth and CSRF; database failures on the API are JSON 503s."""
import orjson
import pytest
from django.db import OperationalError, connection
from django.test import Client

from candleproject.middleware import DB_RETRY_AFTER_SECONDS
from candles.api.modes import MODES

URL = "/api/{mode}/candle/upbit/KRW/BTC?interval=1m"


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
        {"username": "admin", "password": "pw-long-enough-1", "csrfmiddlewaretoken": token, "next": "/admin/"},
    )
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def _failing_execute(execute, sql, params, many, context):
    raise OperationalError("server closed the connection unexpectedly")


def test_database_failure_is_a_json_503_with_retry_after_in_every_mode(empty_pair, client):
    with connection.execute_wrapper(_failing_execute):
        for mode in MODES:
            response = client.get(URL.format(mode=mode))
            assert response.status_code == 503, mode
            assert response["Retry-After"] == str(DB_RETRY_AFTER_SECONDS)
            assert response["Content-Type"] == "application/json"
            assert orjson.loads(response.content)["error"] == "service_unavailable"
    for mode in MODES:  # and the next request is served again
        assert client.get(URL.format(mode=mode)).status_code == 200, mode


@pytest.mark.django_db(transaction=True)
def test_unreachable_database_is_a_503_and_recovers_when_it_returns(client, tmp_path):
    from candles.models import Exchange, Pair

    Pair.objects.create(exchange=Exchange.objects.create(name="upbit"), market="KRW", asset="BTC")
    saved = dict(connection.settings_dict)
    _reset_connection()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = str(tmp_path / "missing-dir" / "db.sqlite3")
    else:
        connection.settings_dict["PORT"] = "1"  # nothing listens there: connection refused
        if "pool" in connection.settings_dict["OPTIONS"]:
            connection.settings_dict["OPTIONS"] = {"pool": {**connection.settings_dict["OPTIONS"]["pool"], "timeout": 0.5}}
    try:
        for mode in MODES:
            response = client.get(URL.format(mode=mode))
            assert response.status_code == 503, (mode, response.content[:200])
            assert response["Retry-After"]
    finally:
        _reset_connection()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    for mode in MODES:
        assert client.get(URL.format(mode=mode)).status_code == 200, mode


def _reset_connection() -> None:
    connection.close()
    if connection.vendor == "postgresql" and connection.settings_dict["OPTIONS"].get("pool"):
        connection.close_pool()
