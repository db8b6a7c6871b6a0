"""Every write path invalidates: a document served (and cached, or validated) before a write is
never served after it. Under `locmem` and `redis` the next request renders the new document;
under `conditional` the old ETag no longer matches. The write paths: the services (import, both
modes; seeding, executemany on SQLite and COPY on PostgreSQL), both management commands, the
models' single saves and deletes, the querysets' bulk writes, loaddata, and the admin's forms,
delete pages and action; pairs and exchanges renamed or deleted.

Transactional: the versions are bumped when a transaction commits."""

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client

from candles.models import Candle, Exchange, Pair, SeriesVersion
from candles.selectors import CandleQuery, series_state
from candles.services import candles_import, candles_seed

from .cache_support import cache_serving, from_cache, timing_of
from .csv_data import csv_bytes, good_lines
from .test_admin import PAGE, csv_file, generate_data, upload_data

pytestmark = pytest.mark.django_db(transaction=True)
PATH = "/api/raw/candle/upbit/KRW/BTC"
RENAMED = "/api/raw/candle/upbit/KRW/XBT"
QUERY = "?interval=1m&limit=1440"


@pytest.fixture(params=["locmem", "redis", "conditional"])
def setup(request, committed_sample_candles):
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    with cache_serving(request.param, **({"redis_url": redis_url} if redis_url else {})):
        yield request.param


def truth(path: str) -> tuple[int, bytes]:
    """What the API answers now without a cache."""
    with cache_serving("none"):
        response = Client().get(path + QUERY)
    return response.status_code, response.content


def newest() -> Candle:
    return Candle.objects.filter(pair__asset="BTC", pair__market="KRW", interval="1m").latest(
        "basetm"
    )


def next_minutes(count: int) -> list[str]:
    return good_lines(count, start=newest().basetm + timedelta(minutes=1))


def admin() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", None))
    return client


def assert_invalidated(
    setup: str, write: Callable[[], object], after: str = PATH, gone: bool = False
) -> None:
    """Serve PATH (cached, or its ETag known), write, then GET `after`: the current answer."""
    client = Client()
    first = client.get(PATH + QUERY)
    assert first.status_code == 200
    validator = {"If-None-Match": first["ETag"]} if setup == "conditional" else {}
    again = client.get(PATH + QUERY, headers=validator)
    assert again.status_code == (304 if setup == "conditional" else 200)
    assert from_cache(timing_of(again))
    write()
    answer = client.get(after + QUERY, headers=validator)
    status, body = truth(after)
    assert (answer.status_code, answer.content) == (status, body)
    assert status == (404 if gone else 200)
    assert not from_cache(timing_of(answer))
    if after == PATH and not gone:
        assert body != first.content  # the write changed the document
    if after != PATH:
        assert client.get(PATH + QUERY).status_code == 404  # the old names are gone


# --- the services and the commands ---------------------------------------------------------


def test_an_import_invalidates(setup):
    names = {"exchange": "upbit", "market": "KRW", "asset": "BTC", "interval": "1m"}
    assert_invalidated(setup, lambda: candles_import(source=csv_bytes(next_minutes(2)), **names))


def test_an_import_that_replaces_invalidates(setup):
    names = {"exchange": "upbit", "market": "KRW", "asset": "BTC", "interval": "1m"}
    last = newest().basetm.strftime("%Y-%m-%dT%H:%M:%SZ")
    row = f"{last},1,3,0.5,2,99"
    assert_invalidated(
        setup, lambda: candles_import(source=csv_bytes([row]), mode="replace", **names)
    )


def test_seeding_invalidates(setup):
    def seed():
        start = newest().basetm + timedelta(minutes=1)
        names = {"exchange": "upbit", "market": "KRW", "asset": "BTC"}
        candles_seed(**names, count=3, start=start, seed=5, intervals=["1m", "5m"])

    assert_invalidated(setup, seed)


def test_the_import_command_invalidates(setup, tmp_path):
    file = tmp_path / "more.csv"
    file.write_bytes(csv_bytes(next_minutes(2)))
    names = ["--exchange", "upbit", "--market", "KRW", "--asset", "BTC", "--interval", "1m"]
    assert_invalidated(setup, lambda: call_command("import_candles", str(file), *names))


def test_the_seed_command_invalidates(setup):
    def seed():
        start = (newest().basetm + timedelta(minutes=1)).isoformat()
        names = ["--exchange", "upbit", "--market", "KRW", "--asset", "BTC"]
        call_command("seed_candles", *names, "--count", "2", "--start", start, "--intervals", "1m")

    assert_invalidated(setup, seed)


def test_a_seed_or_import_that_writes_nothing_keeps_the_version():
    """Idempotent re-runs change no document, so they invalidate nothing."""
    call_command("loaddata", "sample_candles", verbosity=0)
    names = {"exchange": "upbit", "market": "KRW", "asset": "BTC", "interval": "1m"}
    rows = csv_bytes(next_minutes(2))
    candles_import(source=rows, **names)
    q = CandleQuery("upbit", "KRW", "BTC", "1m", 100)
    before = series_state(q)
    assert candles_import(source=rows, **names).inserted == 0
    assert series_state(q) == before
    start = newest().basetm - timedelta(minutes=5)
    assert candles_seed(exchange="upbit", market="KRW", asset="BTC", count=3, start=start,
                        seed=1, intervals=["1m"]) == {"1m": 0}  # fmt: skip
    assert series_state(q) == before


# --- the models: single saves and deletes, the querysets' bulk writes, loaddata -------------


def change_close(candle: Candle) -> Candle:
    candle.c = round(candle.c + 1.5, 2)
    candle.h = max(candle.h, candle.c)
    return candle


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda: change_close(newest()).save(), id="save"),
        pytest.param(lambda: newest().delete(), id="delete"),
        pytest.param(lambda: Candle.objects.filter(pk=newest().pk).update(v=123.0), id="update"),
        pytest.param(lambda: Candle.objects.filter(pk=newest().pk).delete(), id="qs-delete"),
        pytest.param(
            lambda: Candle.objects.bulk_update([change_close(newest())], ["c", "h"]),
            id="bulk-update",
        ),
        pytest.param(
            lambda: Candle.objects.bulk_create(
                [
                    Candle(
                        pair=newest().pair,
                        interval="1m",
                        basetm=newest().basetm + timedelta(minutes=1),
                        o=1,
                        h=2,
                        l=0.5,
                        c=1.5,
                        v=3,
                    )
                ]
            ),
            id="bulk-create",
        ),
    ],
)
def test_model_and_queryset_writes_invalidate(setup, write):
    assert_invalidated(setup, write)


def test_moving_a_candle_to_another_series_invalidates_both(setup):
    """Moved into the 1d series, the candle leaves the 1m document too."""
    assert_invalidated(setup, lambda: Candle.objects.filter(pk=newest().pk).update(interval="1d"))
    q = CandleQuery("upbit", "KRW", "BTC", "1d", 100)
    assert series_state(q).version >= 2  # loaded once, then the candle arrived


def test_loaddata_invalidates(setup, tmp_path):
    def load():
        candle = change_close(newest())
        fields = {f: getattr(candle, f) for f in ("interval", "o", "h", "l", "c", "v")}
        fields |= {"pair": candle.pair_id, "basetm": candle.basetm.isoformat()}
        fixture = tmp_path / "changed.json"
        fixture.write_text(
            json.dumps([{"model": "candles.candle", "pk": candle.pk, "fields": fields}])
        )
        call_command("loaddata", str(fixture), verbosity=0)

    assert_invalidated(setup, load)


# --- the admin ---------------------------------------------------------------------------


def test_the_admins_upload_invalidates(setup):
    def upload():
        lines = next_minutes(3)
        data = upload_data(
            csv_file(lines), **{"up-pair": Pair.objects.get(asset="BTC", market="KRW").pk}
        )
        assert admin().post(PAGE, data).status_code == 302

    assert_invalidated(setup, upload)


def test_the_admins_generate_invalidates(setup):
    def generate():
        start = (newest().basetm + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")
        data = generate_data(**{"gen-start": start, "gen-count": "3", "gen-intervals": ["1m"]})
        assert admin().post(PAGE, data).status_code == 302

    assert_invalidated(setup, generate)


def test_the_admins_candle_delete_invalidates(setup):
    def delete():
        url = f"/admin/candles/candle/{newest().pk}/delete/"
        assert admin().post(url, {"post": "yes"}).status_code == 302

    assert_invalidated(setup, delete)


def btc() -> Pair:
    return Pair.objects.get(exchange__name="upbit", market="KRW", asset="BTC")


def rename_in_admin():
    pair = btc()
    data = {"exchange": pair.exchange_id, "market": "KRW", "asset": "XBT"}
    assert admin().post(f"/admin/candles/pair/{pair.pk}/change/", data).status_code == 302


def rename_by_save():
    pair = btc()
    pair.asset = "XBT"
    pair.save()


@pytest.mark.parametrize(
    "rename",
    [
        pytest.param(rename_in_admin, id="admin-form"),
        pytest.param(rename_by_save, id="save"),
        pytest.param(
            lambda: Pair.objects.filter(asset="BTC", market="KRW").update(asset="XBT"), id="update"
        ),
    ],
)
def test_a_renamed_pair_answers_under_its_new_names_only(setup, rename):
    assert_invalidated(setup, rename, after=RENAMED)


def delete_in_admin():
    assert (
        admin().post(f"/admin/candles/pair/{btc().pk}/delete/", {"post": "yes"}).status_code == 302
    )


def delete_by_admin_action():
    data = {"action": "delete_selected", "_selected_action": [btc().pk], "post": "yes"}
    assert admin().post("/admin/candles/pair/", data).status_code == 302


@pytest.mark.parametrize(
    "delete",
    [
        pytest.param(delete_in_admin, id="admin-page"),
        pytest.param(delete_by_admin_action, id="admin-action"),
        pytest.param(lambda: btc().delete(), id="delete"),
        pytest.param(lambda: Pair.objects.filter(pk=btc().pk).delete(), id="qs-delete"),
        pytest.param(lambda: Exchange.objects.filter(name="upbit").delete(), id="exchange"),
    ],
)
def test_a_deleted_pair_is_a_404(setup, delete):
    assert_invalidated(setup, delete, gone=True)
    assert not SeriesVersion.objects.filter(pair__asset="BTC", pair__market="KRW").exists()


def test_a_renamed_exchange_answers_under_its_new_name_only(setup):
    def rename():
        exchange = Exchange.objects.get(name="upbit")
        data = {"name": "upbit2"}
        assert (
            admin().post(f"/admin/candles/exchange/{exchange.pk}/change/", data).status_code == 302
        )

    assert_invalidated(setup, rename, after="/api/raw/candle/upbit2/KRW/BTC")


# --- the version itself ----------------------------------------------------------------------


def test_a_write_bumps_its_series_once_per_transaction_on_commit_only():
    from django.db import transaction

    call_command("loaddata", "sample_candles", verbosity=0)
    q1m, q5m = (CandleQuery("upbit", "KRW", "BTC", i, 100) for i in ("1m", "5m"))
    v1m, v5m = series_state(q1m), series_state(q5m)
    with transaction.atomic():
        for _ in range(3):
            Candle.objects.filter(pk=newest().pk).update(v=7.0)
        assert series_state(q1m) == v1m  # not before the commit
    after = series_state(q1m)
    assert after.version == v1m.version + 1 and after.previous_changed_at == v1m.changed_at
    assert series_state(q5m) == v5m  # another series of the same pair: untouched
    with pytest.raises(RuntimeError), transaction.atomic():
        Candle.objects.filter(pk=newest().pk).update(v=8.0)
        raise RuntimeError("rolled back")
    assert series_state(q1m) == after  # a rolled-back write bumps nothing


def test_a_rolled_back_savepoint_keeps_the_outer_transactions_bumps():
    from django.db import transaction

    call_command("loaddata", "sample_candles", verbosity=0)
    q1m, q5m = (CandleQuery("upbit", "KRW", "BTC", i, 100) for i in ("1m", "5m"))
    v1m, v5m = series_state(q1m), series_state(q5m)
    with transaction.atomic():
        try:
            with transaction.atomic():
                Candle.objects.filter(pair__asset="BTC", interval="5m")[:1].get().delete()
                raise RuntimeError("savepoint rolled back")
        except RuntimeError:
            pass
        Candle.objects.filter(pk=newest().pk).update(v=9.0)
    assert series_state(q1m).version == v1m.version + 1
    assert series_state(q5m) == v5m


def test_the_migration_versions_the_series_stored_before_it(django_db_blocker):
    """Series already stored get a version row, so no key of theirs is version 0."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    call_command("loaddata", "sample_candles", verbosity=0)
    executor = MigrationExecutor(connection)
    executor.migrate([("candles", "0002_symbol_validators")])
    try:
        executor.loader.build_graph()
        executor.migrate([("candles", "0003_series_version")])
        stored = set(Candle.objects.values_list("pair_id", "interval").distinct())
        versioned = set(SeriesVersion.objects.values_list("pair_id", "interval"))
        assert stored == versioned and len(stored) == 8
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
