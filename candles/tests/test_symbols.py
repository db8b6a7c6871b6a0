"""One symbol rule for every way a name gets in: a name the API cannot serve is refused by
the models, the admin's forms, the services and both commands, and a name it can serve is
accepted by all of them."""

import io
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client

from candles.models import SYMBOL_MAX_LENGTHS, Candle, Exchange, Pair, clean_symbol
from candles.services import candles_import, candles_seed, pair_get_or_create
from candles.tests.csv_data import csv_bytes, good_lines

ROOT = Path(__file__).resolve().parents[2]
PAGE = "/admin/candles/pair/load-sample-data/"
START = datetime(2023, 8, 23, tzinfo=UTC)
# Each was accepted by at least one way in before (seed_candles took them all).
BAD_NAMES = ["up/bit", "up bit", "BTC?", "50%", "-x", ".x", "é", "a\x00b", "x" * 65]
GOOD_NAME = "BTC-PERP_1.0"


# --- the rule ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["exchange", "market", "asset"])
@pytest.mark.parametrize("name", ["", "   ", "a/b", "BTC?x", "-x", "é"])
def test_names_the_api_cannot_serve_are_refused(kind, name):
    with pytest.raises(ValueError, match=kind):
        clean_symbol(kind, name)


def test_names_are_stripped_and_length_checked():
    assert clean_symbol("asset", " BTC-PERP_1.0 ") == "BTC-PERP_1.0"
    assert clean_symbol("asset", "A" * 32) == "A" * 32
    with pytest.raises(ValueError, match="longer than 32"):
        clean_symbol("asset", "A" * 33)
    assert SYMBOL_MAX_LENGTHS["exchange"] == Exchange._meta.get_field("name").max_length


@pytest.mark.parametrize(
    "name,message",
    [
        ("", "the exchange name is empty"),
        ("up/bit", "exchange 'up/bit' may contain only letters, digits, '.', '_' and '-'"),
        ("-x", "exchange '-x' must start with a letter or a digit"),
    ],
)
def test_the_refusal_says_what_is_wrong(name, message):
    with pytest.raises(ValueError) as info:
        clean_symbol("exchange", name)
    assert str(info.value).startswith(message)


# --- every way in --------------------------------------------------------------------------


@pytest.fixture
def superuser_client(db) -> Client:
    client = Client()
    # No password: hashing one costs more than the test.
    client.force_login(User.objects.create_superuser("admin", password=None))
    return client


def by_model(name: str, client: Client) -> str:
    try:
        Exchange(name=name).full_clean()
    except ValidationError as exc:
        return str(exc)
    Exchange.objects.create(name=name)
    return ""


def by_exchange_admin(name: str, client: Client) -> str:
    response = client.post("/admin/candles/exchange/add/", {"name": name})
    return str(response.context["adminform"].form.errors) if response.status_code == 200 else ""


def by_pair_admin(name: str, client: Client) -> str:
    exchange = Exchange.objects.create(name="upbit")
    data = {"exchange": exchange.pk, "market": "KRW", "asset": name}
    response = client.post("/admin/candles/pair/add/", data)
    return str(response.context["adminform"].form.errors) if response.status_code == 200 else ""


def by_generate_form(name: str, client: Client) -> str:
    data = {
        "action": "generate",
        "gen-exchange": name,
        "gen-market": "KRW",
        "gen-asset": "BTC",
        "gen-intervals": ["1m"],
        "gen-count": "10",
        "gen-start": "2023-08-23 00:00",
        "gen-seed": "1",
    }
    response = client.post(PAGE, data)
    return str(response.context["generate_form"].errors) if response.status_code == 200 else ""


def by_upload_form(name: str, client: Client) -> str:
    file = SimpleUploadedFile("c.csv", csv_bytes(good_lines(3)), "text/csv")
    data = {
        "action": "upload",
        "up-file": file,
        "up-exchange": name,
        "up-market": "KRW",
        "up-asset": "BTC",
        "up-interval": "1m",
        "up-mode": "skip",
    }
    response = client.post(PAGE, data)
    return str(response.context["upload_form"].errors) if response.status_code == 200 else ""


def by_refusal(write: Callable[[], object], *refusals: type[Exception]) -> str:
    try:
        write()
    except refusals as exc:
        return str(exc)
    return ""


def by_pair_get_or_create(name: str, client: Client) -> str:
    return by_refusal(
        lambda: pair_get_or_create(exchange=name, market="KRW", asset="BTC"), ValueError
    )


def by_candles_import(name: str, client: Client) -> str:
    return by_refusal(
        lambda: candles_import(
            source=csv_bytes(good_lines(3)), exchange=name, market="KRW", asset="BTC", interval="1m"
        ),
        ValueError,
    )


def by_candles_seed(name: str, client: Client) -> str:
    return by_refusal(
        lambda: candles_seed(
            exchange=name, market="KRW", asset="BTC", count=10, start=START, seed=1
        ),
        ValueError,
    )


def by_seed_command(name: str, client: Client) -> str:
    args = [f"--exchange={name}", "--market=KRW", "--asset=BTC", "--count=10", "--intervals=1m"]
    return by_refusal(
        lambda: call_command("seed_candles", *args, stdout=io.StringIO()), CommandError
    )


def by_import_command(name: str, client: Client) -> str:
    def run() -> None:
        stdin = io.TextIOWrapper(io.BytesIO(csv_bytes(good_lines(3))))
        args = ["-", f"--exchange={name}", "--market=KRW", "--asset=BTC", "--interval=1m"]
        saved, sys.stdin = sys.stdin, stdin
        try:
            call_command("import_candles", *args, stdout=io.StringIO(), stderr=io.StringIO())
        finally:
            sys.stdin = saved

    return by_refusal(run, CommandError)


WAYS_IN = [
    by_model,
    by_exchange_admin,
    by_pair_admin,
    by_generate_form,
    by_upload_form,
    by_pair_get_or_create,
    by_candles_import,
    by_candles_seed,
    by_seed_command,
    by_import_command,
]


@pytest.mark.parametrize("name", BAD_NAMES)
@pytest.mark.parametrize("way_in", WAYS_IN, ids=lambda way: way.__name__)
def test_every_way_in_refuses_a_name_the_api_cannot_serve(superuser_client, way_in, name):
    refusal = way_in(name, superuser_client)
    assert refusal, f"{way_in.__name__} accepted {name!r}"
    assert not Pair.objects.exists() and not Candle.objects.exists()
    if way_in is not by_pair_admin:  # which names the asset of a pair on upbit
        assert not Exchange.objects.exists()


@pytest.mark.parametrize("way_in", WAYS_IN, ids=lambda way: way.__name__)
def test_every_way_in_accepts_a_name_the_api_can_serve(superuser_client, way_in):
    assert way_in(GOOD_NAME, superuser_client) == ""
    if way_in is by_pair_admin:
        assert Pair.objects.filter(asset=GOOD_NAME).exists()
    else:
        assert Exchange.objects.filter(name=GOOD_NAME).exists()


def test_a_seeded_pair_with_every_allowed_character_is_served(client, db):
    candles_seed(
        exchange="up.bit-2", market="KRW_1", asset=GOOD_NAME, count=5, start=START, seed=1,
        intervals=["1m"],
    )  # fmt: skip
    response = client.get(f"/api/json/candle/up.bit-2/KRW_1/{GOOD_NAME}?interval=1m&limit=5")
    assert response.status_code == 200
    assert len(response.json()["data"]) == 5


def test_seed_candles_refuses_a_bad_name_in_one_line_on_the_command_line(tmp_path):
    # Refused before the database is opened; a database of its own all the same.
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}"}
    args = ["--exchange", "up/bit", "--market", "KRW", "--asset", "BTC"]
    result = subprocess.run(
        [sys.executable, "manage.py", "seed_candles", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "CommandError: exchange 'up/bit' may contain only letters, digits, '.', '_' and '-' "
        "(it becomes part of the API's URL)"
    ]
    assert result.stdout == ""
