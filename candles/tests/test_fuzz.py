"""Property-based fuzzing of the API: schemathesis against /api/openapi.json, in-process,
plus hypothesis on hostile query strings sent to every mode at once."""

import orjson
import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.http import QueryDict
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from candleproject.wsgi import application
from candles.api.errors import ApiError
from candles.api.params import parse_candle_query

from .conftest import ALL_MODES

# The production WSGI application, with the API's own middleware chain.
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", application)


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """The real WSGI handler closes the connection after each request, as in production;
    in a test that would end the test's transaction, so do what Django's test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)


@schema.parametrize()
@FUZZ
def test_every_operation_conforms_to_the_document(case, sample_candles):
    # No 500s, status codes, headers and bodies as documented; undocumented methods get
    # the documented 405 with a matching Allow header (schemathesis's unsupported-method check).
    case.call_and_validate()


HOSTILE_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "' OR 1=1 --",
            "1; DROP TABLE candles_candle",
            "%00",
            "\x00",
            "９",
            "1e3",
            "0x10",
            "NaN",
            "-0",
            "9" * 400,
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999Z",
            "2023-08-24T00:00:00+23:59",
            "2023-08-24T00:00:00-25:00",
            "１９７０-01-01",
            "a" * 3000,
        ]
    ),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
PARAMS = st.lists(
    st.tuples(st.sampled_from(["interval", "limit", "before", "other"]), HOSTILE_TEXT), max_size=6
)
SEGMENT = st.one_of(
    st.sampled_from(["upbit", "KRW", "BTC", "%E2%82%BF", "%2F", "%25", "..", "%00", "x" * 500]),
    st.text(
        alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="/?#"),
        min_size=1,
        max_size=20,
    ),
)


@given(
    params=PARAMS,
    interval=st.sampled_from(["1m", "5m", "1d", None]),
    segments=st.tuples(SEGMENT, SEGMENT, SEGMENT),
)
@FUZZ
def test_every_mode_gives_the_same_answer_to_hostile_requests(
    sample_candles, params, interval, segments
):
    if interval is not None:
        params = [("interval", interval), *params]
    query = QueryDict(mutable=True)
    for name, value in params:
        query.appendlist(name, value)
    exchange, market, asset = segments
    client = Client()
    answers = {}
    for mode in ALL_MODES:
        url = f"/api/{mode}/candle/{exchange}/{market}/{asset}?{query.urlencode()}"
        response = client.get(url)
        assert response.status_code in (200, 400, 404), (mode, url, response.status_code)
        assert response["Content-Type"] == "application/json", (mode, url)
        body = orjson.loads(response.content)
        assert "Traceback" not in response.content.decode()
        answers[mode] = (response.status_code, body)
    assert len({orjson.dumps(answer) for answer in answers.values()}) == 1, (
        params,
        segments,
        answers,
    )


@given(params=PARAMS)
@settings(max_examples=500, deadline=None, derandomize=True)
def test_the_parameter_parser_either_accepts_or_raises_a_400(params):
    query = QueryDict(mutable=True)
    for name, value in params:
        query.appendlist(name, value)
    try:
        q = parse_candle_query("e", "m", "a", query)
    except ApiError as exc:
        assert exc.status == 400
        assert exc.body["parameter"] in {"interval", "limit", "before"}
    else:
        assert 1 <= q.limit <= 1440
        assert q.before is None or q.before.utcoffset().total_seconds() == 0
