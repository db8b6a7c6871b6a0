"""What validation buys: a stored row that breaks the response schema (planted with SQL,
as a bug or a bad import would leave it) in every mode. Validated modes answer the same
invalid_response 500 naming the field and send no part of the document; the others serve
the row as stored, each as its encoder writes it."""

import math
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client

from candles.api.registry import django_modes
from candles.models import Candle

from .conftest import ALL_MODES, SAMPLE, SCHEMA_MODES

VALIDATED = [mode.name for mode in django_modes() if mode.validates]
NOT_VALIDATED = [mode.name for mode in django_modes() if not mode.validates]
QUERY = "?interval=1m&limit=10"


def test_the_validated_modes_are_those_with_a_response_schema():
    assert VALIDATED == SCHEMA_MODES


@pytest.fixture
def candles(empty_pair) -> list[Candle]:
    start = datetime(2023, 8, 24, tzinfo=UTC)
    return Candle.objects.bulk_create(
        Candle(
            pair=empty_pair,
            interval="1m",
            basetm=start + timedelta(minutes=i),
            o=1.5,
            h=2.0,
            l=1.0,
            c=1.25,
            v=3.0,
        )
        for i in range(3)
    )


def plant(candle: Candle, field: str, value: float) -> None:
    """Write a value with SQL, past the ORM and any form: what validation is there to catch."""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE candles_candle SET {field} = %s WHERE id = %s", [value, candle.pk])


def answers(modes: list[str]) -> dict[str, object]:
    # A mode that fails outside its own error handling gets the project's 500 page, as in production.
    client = Client(raise_request_exception=False)
    return {mode: client.get(SAMPLE.format(mode=mode) + QUERY) for mode in modes}


def assert_invalid_response(responses: dict[str, object], field: str) -> None:
    for mode, response in responses.items():
        assert response.status_code == 500, (mode, response.content[:300])
        assert response["Content-Type"] == "application/json", mode
        body = orjson.loads(response.content)
        assert body["error"] == "invalid_response" and body["field"] == field, (mode, body)
        assert body["detail"], mode
        assert b'"data"' not in response.content, mode  # no partial document


def test_a_negative_volume_is_a_500_naming_v_in_every_validated_mode(candles):
    plant(candles[1], "v", -1.0)
    assert_invalid_response(answers(VALIDATED), "v")


def test_the_other_modes_serve_a_negative_volume_as_stored(candles):
    plant(candles[1], "v", -1.0)
    responses = answers(NOT_VALIDATED)
    bodies = {response.content for response in responses.values()}
    assert all(response.status_code == 200 for response in responses.values()), responses
    assert len(bodies) == 1, bodies
    assert [row["v"] for row in orjson.loads(bodies.pop())["data"]] == [3.0, -1.0, 3.0]


def test_a_volume_of_zero_is_valid(candles):
    plant(candles[1], "v", 0.0)
    bodies = {response.content for response in answers(ALL_MODES).values()}
    assert len(bodies) == 1 and b'"v":0.0' in bodies.pop()


# What each mode that does not validate sends for a value JSON cannot hold. orjson writes
# null; the stdlib json encoder writes NaN or Infinity, which no JSON parser accepts; DRF's
# JSONRenderer refuses it (ValueError while rendering), so the request ends in the
# project's generic 500.
NOT_FINITE_IN = {
    "drf": (500, None),
    "drf-orjson": (200, b'"o":null'),
    "drf-values": (200, b'"o":null'),
    "json": (200, b'"o":{spelling}'),
    "orjson": (200, b'"o":null'),
    "raw": (200, b'"o":null'),
}


def test_every_mode_that_does_not_validate_is_listed_with_what_it_does():
    assert sorted(NOT_FINITE_IN) == sorted(NOT_VALIDATED)


ONLY_POSTGRESQL = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite cannot store NaN"
)
NOT_FINITE = [
    pytest.param(math.inf, "Infinity", id="infinity"),  # SQLite and PostgreSQL store it
    pytest.param(math.nan, "NaN", id="nan", marks=ONLY_POSTGRESQL),
]


@pytest.mark.parametrize("value,spelling", NOT_FINITE)
def test_a_value_json_cannot_hold_is_a_500_in_every_validated_mode(candles, value, spelling):
    plant(candles[1], "o", value)
    stored = Candle.objects.get(pk=candles[1].pk).o
    assert not math.isfinite(stored) and (math.isnan(stored) == (spelling == "NaN"))
    assert_invalid_response(answers(VALIDATED), "o")


@pytest.mark.parametrize("value,spelling", NOT_FINITE)
def test_what_the_other_modes_do_with_a_value_json_cannot_hold(candles, value, spelling):
    plant(candles[1], "o", value)
    for mode, response in answers(NOT_VALIDATED).items():
        status, fragment = NOT_FINITE_IN[mode]
        assert response.status_code == status, (mode, response.content[:200])
        if fragment is None:
            assert orjson.loads(response.content) == {
                "error": "server_error",
                "detail": "internal error",
            }, mode
        else:
            assert fragment.replace(b"{spelling}", spelling.encode()) in response.content, mode


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite only")
def test_sqlite_cannot_store_nan(candles):
    # SQLite turns a NaN into NULL, which the NOT NULL column refuses: on SQLite only
    # infinity can reach the API.
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE candles_candle SET o = %s WHERE id = %s", [math.nan, candles[1].pk])


def test_a_validated_candle_row_is_not_tracked_by_the_garbage_collector():
    """A response converts a thousand rows into CandleOut: tracked, each would count towards
    the collector's thresholds and be traversed by its full collections under load."""
    import gc

    import msgspec

    from candles.api.modes.msgspec import CandleDocument, CandleOut

    row = {
        "basetm": datetime(2024, 1, 1, tzinfo=UTC),
        "o": 1.0,
        "h": 2.0,
        "l": 0.5,
        "c": 1.5,
        "v": 3.0,
    }
    candles = msgspec.convert([row, row], list[CandleOut])
    assert not any(gc.is_tracked(candle) for candle in candles)
    # The document holds a list, which can take part in a cycle: the collector keeps it.
    assert gc.is_tracked(CandleDocument(data=candles))


def test_the_pydantic_schemas_refuse_a_naive_time_and_name_the_field():
    """No stored row can plant a naive time (Django reads every one aware): the schema
    itself, shared by the pydantic mode and the ninja modes, is checked instead."""
    import pydantic

    from candles.api.modes import ninja
    from candles.api.modes import pydantic as pydantic_mode

    row = {"basetm": datetime(2024, 1, 1), "o": 1.0, "h": 2.0, "l": 0.5, "c": 1.5, "v": 3.0}
    assert issubclass(ninja.CandleOut, pydantic_mode.CandleOut)
    for validate in (pydantic_mode.DOCUMENT.validate_python, ninja.CandleDocument.model_validate):
        with pytest.raises(pydantic.ValidationError) as caught:
            validate({"data": [row]})
        error = pydantic_mode.schema_violation(caught.value)
        assert (error.status, error.body["field"]) == (500, "basetm"), validate
        assert "timezone" in error.body["detail"], error.body
        validate({"data": [dict(row, basetm=datetime(2024, 1, 1, tzinfo=UTC))]})
