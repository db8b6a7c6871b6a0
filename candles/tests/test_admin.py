"""The admin with Django's test client: Load sample data page, permissions, changelists."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission, User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from candles.admin import CappedCountPaginator
from candles.models import Candle, Exchange, Pair

PAGE = "/admin/candles/pair/load-sample-data/"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
ALL_PERMS = (
    "add_candle",
    "change_candle",
    "delete_candle",
    "add_pair",
    "add_exchange",
    "view_candle",
    "view_pair",
)


def make_user(username: str, *codenames: str, staff: bool = True) -> User:
    # No password (the client logs in with force_login): hashing one costs more than a test.
    user = User.objects.create_user(username, password=None, is_staff=staff)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="candles", codename__in=codenames)
    )
    return user


def logged_in(user: User, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


@pytest.fixture
def admin_client_full(db) -> Client:
    return logged_in(make_user("loader", *ALL_PERMS))


@pytest.fixture
def pair(db) -> Pair:
    return Pair.objects.create(
        exchange=Exchange.objects.create(name="upbit"), market="KRW", asset="BTC"
    )


def csv_file(lines: list[str], name: str = "candles.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(
        name, ("basetm,o,h,l,c,v\n" + "\n".join(lines) + "\n").encode(), "text/csv"
    )


def minutes(start: int, count: int) -> list[str]:
    return [
        f"{(T0 + timedelta(minutes=i)).isoformat().replace('+00:00', 'Z')},100,102,99,101,{i}"
        for i in range(start, start + count)
    ]


def generate_data(**overrides) -> dict:
    data = {
        "action": "generate",
        "gen-exchange": "upbit",
        "gen-market": "KRW",
        "gen-asset": "BTC",
        "gen-intervals": ["1m", "5m"],
        "gen-count": "60",
        "gen-start": "2024-01-01 00:00",
        "gen-seed": "7",
    }
    data.update(overrides)
    return data


def upload_data(file: SimpleUploadedFile, **overrides) -> dict:
    data = {"action": "upload", "up-file": file, "up-interval": "1m", "up-mode": "skip"}
    data.update(overrides)
    return data


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


# --- who may see the page -----------------------------------------------------------


def test_anonymous_users_are_sent_to_the_login_page(client, db):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={PAGE}"
    response = client.post(PAGE, generate_data())
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    assert not Candle.objects.exists()


def test_non_staff_users_are_sent_to_the_login_page(db):
    client = logged_in(make_user("outsider", *ALL_PERMS, staff=False))
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_staff_without_add_candle_get_403(db):
    client = logged_in(make_user("viewer", "view_candle", "view_pair", "add_pair", "add_exchange"))
    assert client.get(PAGE).status_code == 403
    assert client.post(PAGE, generate_data()).status_code == 403
    assert not Candle.objects.exists()


def test_staff_with_add_candle_only_may_upload_into_existing_pairs(pair):
    client = logged_in(make_user("uploader", "add_candle", "view_pair"))
    page = client.get(PAGE)
    assert page.status_code == 200
    assert b'id="upload-submit"' in page.content
    assert b'id="generate-submit"' not in page.content
    assert b"You need permission to add exchanges, pairs and candles" in page.content

    assert client.post(PAGE, generate_data()).status_code == 403

    response = client.post(
        PAGE, upload_data(csv_file(minutes(0, 3)), **{"up-pair": pair.pk}), follow=True
    )
    assert "3 inserted, 0 skipped, 0 replaced" in messages_of(response)[0]

    response = client.post(
        PAGE, upload_data(csv_file(minutes(0, 3)), **{"up-pair": pair.pk, "up-mode": "replace"})
    )
    assert response.status_code == 200
    assert "Replacing needs permission to change and delete candles" in str(
        response.context["upload_form"].errors
    )

    new_pair = {"up-exchange": "bithumb", "up-market": "KRW", "up-asset": "ETH"}
    response = client.post(PAGE, upload_data(csv_file(minutes(0, 3)), **new_pair))
    assert "bithumb/KRW/ETH does not exist yet and you may not create" in str(
        response.context["upload_form"].errors
    )
    assert Candle.objects.count() == 3
    assert not Exchange.objects.filter(name="bithumb").exists()


def test_creating_a_pair_on_an_existing_exchange_needs_only_add_pair(pair):
    client = logged_in(make_user("pairmaker", "add_candle", "add_pair"))
    ok = {"up-exchange": "upbit", "up-market": "KRW", "up-asset": "ETH"}
    response = client.post(PAGE, upload_data(csv_file(minutes(0, 2)), **ok), follow=True)
    assert "created pair upbit/KRW/ETH" in messages_of(response)[0]
    new_exchange = {"up-exchange": "bithumb", "up-market": "KRW", "up-asset": "ETH"}
    response = client.post(PAGE, upload_data(csv_file(minutes(0, 2)), **new_exchange))
    assert "may not create exchanges or pairs" in str(response.context["upload_form"].errors)


def test_forms_are_csrf_protected(db):
    user = make_user("loader", *ALL_PERMS)
    client = logged_in(user, enforce_csrf_checks=True)
    response = client.post(PAGE, generate_data())
    assert response.status_code == 403
    assert b"CSRF" in response.content
    assert not Candle.objects.exists()
    # The page's own token works (the view checks CSRF itself, after installing the
    # upload size limit).
    client.get(PAGE)
    token = client.cookies["csrftoken"].value
    response = client.post(PAGE, generate_data(csrfmiddlewaretoken=token))
    assert response.status_code == 302
    assert Candle.objects.filter(interval="1m").count() == 60
    response = client.post(
        PAGE,
        upload_data(
            csv_file(minutes(100, 2)),
            csrfmiddlewaretoken=token,
            **{"up-pair": Pair.objects.get().pk},
        ),
    )
    assert response.status_code == 302


def test_unknown_action_is_a_bad_request(admin_client_full):
    assert admin_client_full.post(PAGE, {"action": "drop-tables"}).status_code == 400


# --- links ----------------------------------------------------------------------------


def test_the_admin_index_links_to_the_page_for_users_who_can_use_it(db):
    index = logged_in(make_user("loader", "add_candle")).get("/admin/")
    assert f'href="{PAGE}" id="load-sample-data-link"'.encode() in index.content
    index = logged_in(make_user("viewer", "view_candle")).get("/admin/")
    assert index.status_code == 200
    assert PAGE.encode() not in index.content


def test_pair_and_candle_changelists_link_to_the_page(admin_client_full, pair):
    for url in ("/admin/candles/pair/", "/admin/candles/candle/"):
        response = admin_client_full.get(url)
        assert response.status_code == 200
        assert (
            f'<a href="{PAGE}" class="addlink">Load sample data</a>'.encode() in response.content
        ), url


def test_the_page_lists_api_links_for_every_mode(admin_client_full, pair):
    from candles.tests.conftest import ALL_MODES as MODES

    content = admin_client_full.get(PAGE).content.decode()
    for mode in MODES:
        assert f'href="/api/{mode}/candle/upbit/KRW/BTC?interval=1m&amp;limit=5"' in content
    assert 'href="/api/modes"' in content


# --- generate -------------------------------------------------------------------------


def test_generate_creates_candles_and_reports_them(admin_client_full):
    response = admin_client_full.post(PAGE, generate_data(), follow=True)
    assert response.redirect_chain == [(PAGE, 302)]
    pair = Pair.objects.get(exchange__name="upbit", market="KRW", asset="BTC")
    assert Candle.objects.filter(pair=pair, interval="1m").count() == 60
    assert Candle.objects.filter(pair=pair, interval="5m").count() == 12
    assert not Candle.objects.exclude(interval__in=["1m", "5m"]).exists()
    first = Candle.objects.filter(pair=pair, interval="1m").order_by("basetm").first()
    assert first.basetm == T0

    [message] = messages_of(response)
    assert message.startswith("Generated candles for upbit/KRW/BTC from 2024-01-01 00:00 UTC")
    changelist = reverse("admin:candles_candle_changelist")
    assert (
        f'<a href="{changelist}?pair__id__exact={pair.pk}&amp;interval__exact=1m">1m: 60</a>'
        in message
    )
    assert (
        f'<a href="{changelist}?pair__id__exact={pair.pk}&amp;interval__exact=5m">5m: 12</a>'
        in message
    )
    assert (
        '<a href="/api/raw/candle/upbit/KRW/BTC?interval=1m&amp;limit=5">API (raw mode)</a>'
        in message
    )
    # The message is rendered as HTML, not escaped.
    assert (
        f'<a href="{changelist}?pair__id__exact={pair.pk}&amp;interval__exact=1m">1m: 60</a>'.encode()
        in response.content
    )
    assert LogEntry.objects.get().change_message == "Generated candles (seed 7): 1m: 60, 5m: 12"

    # Same seed again: nothing new, and the message says so.
    again = admin_client_full.post(PAGE, generate_data(), follow=True)
    assert ">1m: 0</a>" in messages_of(again)[0]
    assert Candle.objects.count() == 72


def test_generate_is_deterministic(admin_client_full):
    admin_client_full.post(PAGE, generate_data())
    first = list(Candle.objects.order_by("interval", "basetm").values_list("o", "h", "l", "c", "v"))
    Candle.objects.all().delete()
    admin_client_full.post(PAGE, generate_data())
    assert (
        list(Candle.objects.order_by("interval", "basetm").values_list("o", "h", "l", "c", "v"))
        == first
    )


@pytest.mark.parametrize(
    "overrides,field,expected",
    [
        ({"gen-count": "0"}, "count", "greater than or equal to 1"),
        (
            {"gen-count": "101"},
            "count",
            "At most 100 candles per request (setting CANDLES_GENERATE_MAX_COUNT)",
        ),
        ({"gen-start": "2024-01-01 00:00:30"}, "start", "must be on a whole minute"),
        ({"gen-start": "soon"}, "start", "Enter a valid date/time."),
        ({"gen-intervals": []}, "intervals", "This field is required."),
        ({"gen-intervals": ["2m"]}, "intervals", "Select a valid choice."),
        ({"gen-asset": "BTC/KRW"}, "asset", "may contain only letters, digits"),
        ({"gen-exchange": ""}, "exchange", "This field is required."),
        ({"gen-seed": "-1"}, "seed", "greater than or equal to 0"),
    ],
)
@override_settings(CANDLES_GENERATE_MAX_COUNT=100)
def test_generate_form_errors(admin_client_full, overrides, field, expected):
    response = admin_client_full.post(PAGE, generate_data(**overrides))
    assert response.status_code == 200
    errors = response.context["generate_form"].errors
    assert expected in " ".join(errors[field]), errors
    assert expected.encode() in response.content.replace(b"&#x27;", b"'")
    assert not Candle.objects.exists() and not Pair.objects.exists()


def test_generate_accepts_iso_start_with_offset(admin_client_full):
    admin_client_full.post(
        PAGE, generate_data(**{"gen-start": "2024-01-01T09:00:00+09:00", "gen-intervals": ["1m"]})
    )
    assert Candle.objects.order_by("basetm").first().basetm == T0


# --- upload ---------------------------------------------------------------------------


def test_upload_into_a_new_pair(admin_client_full):
    data = upload_data(
        csv_file(minutes(0, 5)),
        **{"up-exchange": "binance", "up-market": "USDT", "up-asset": "BTC"},
    )
    response = admin_client_full.post(PAGE, data, follow=True)
    [message] = messages_of(response)
    assert message.startswith(
        "Imported 5 rows from candles.csv into binance/USDT/BTC 1m: 5 inserted, 0 skipped, 0 replaced "
        "(created exchange binance, created pair binance/USDT/BTC)."
    )
    pair = Pair.objects.get()
    assert Candle.objects.filter(pair=pair, interval="1m").count() == 5
    assert "Imported candles.csv (1m): 5 inserted" in LogEntry.objects.get().change_message


def test_upload_skip_then_replace(admin_client_full, pair):
    admin_client_full.post(PAGE, upload_data(csv_file(minutes(0, 5)), **{"up-pair": pair.pk}))
    changed = [line.replace(",100,102,99,101,", ",200,202,199,201,") for line in minutes(3, 4)]
    response = admin_client_full.post(
        PAGE, upload_data(csv_file(changed), **{"up-pair": pair.pk}), follow=True
    )
    assert "2 inserted, 2 skipped, 0 replaced" in messages_of(response)[-1]
    assert Candle.objects.get(basetm=T0 + timedelta(minutes=3)).o == 100
    response = admin_client_full.post(
        PAGE,
        upload_data(csv_file(changed), **{"up-pair": pair.pk, "up-mode": "replace"}),
        follow=True,
    )
    assert "0 inserted, 0 skipped, 4 replaced" in messages_of(response)[-1]
    assert Candle.objects.get(basetm=T0 + timedelta(minutes=3)).o == 200
    assert Candle.objects.count() == 7


def test_a_bad_file_lists_its_rows_and_writes_nothing(admin_client_full, pair):
    lines = minutes(0, 4)
    lines[1] = lines[1].replace(",100,102,99,101,", ",100,99,99,101,")  # h < max(o, c)
    lines[2] = "2024-01-01T00:02:30Z,100,102,99,101,1"
    lines[3] = lines[3].replace(",100,102,", ",=1+1,102,")
    response = admin_client_full.post(
        PAGE, upload_data(csv_file(lines, "prices.csv"), **{"up-pair": pair.pk})
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert (
        "Nothing was imported from prices.csv: 3 problems found; nothing was imported." in content
    )
    assert (
        "<td>3</td>\n          <td>h</td>\n          <td>high 99 is below max(open, close) = 101</td>"
        in content
    )
    assert "<td>4</td>\n          <td>basetm</td>" in content
    assert "the candle containing it starts at 2024-01-01T00:02:00Z" in content
    assert "<td>5</td>\n          <td>o</td>" in content
    assert "looks like a spreadsheet formula" in content
    assert not Candle.objects.exists()
    assert not LogEntry.objects.exists()
    # The form keeps the user's choices so only the file needs choosing again.
    assert response.context["upload_form"]["pair"].value() == str(pair.pk)


def test_a_file_with_many_bad_rows_shows_the_first_50(admin_client_full, pair):
    lines = [line[:-2] + ",-1" for line in minutes(0, 80)]
    response = admin_client_full.post(PAGE, upload_data(csv_file(lines), **{"up-pair": pair.pk}))
    assert response.content.count(b'class="upload-error"') == 50
    assert b"... and 30 more problems not shown." in response.content


def test_hostile_files_get_a_clear_message(admin_client_full, pair):
    cases = {
        b"": "The file is empty; the first line must be the header basetm,o,h,l,c,v.",
        b"basetm,o,h,l,c,v\n": "the file has a header but no candle rows",
        "basetm,o,h,l,c,v\n2024-01-01T00:00:00Z,1,2,0.5,1,é\n".encode(
            "latin-1"
        ): "byte 0xe9 is not valid UTF-8",
        b"PK\x03\x04rest-of-a-workbook": "export the sheet as CSV",
    }
    for data, expected in cases.items():
        file = SimpleUploadedFile("x.csv", data, "text/csv")
        response = admin_client_full.post(PAGE, upload_data(file, **{"up-pair": pair.pk}))
        assert response.status_code == 200
        form_errors = str(response.context["upload_form"].errors)
        shown = response.content.decode() + form_errors
        assert expected in shown, (data, shown[-500:])
    assert not Candle.objects.exists()


@override_settings(CANDLES_UPLOAD_MAX_BYTES=1000)
def test_an_oversized_upload_is_refused_before_it_is_stored(admin_client_full, pair):
    response = admin_client_full.post(
        PAGE, upload_data(csv_file(minutes(0, 40)), **{"up-pair": pair.pk})
    )
    assert response.status_code == 200
    message = (
        "The file is larger than the 1000\xa0bytes limit (setting CANDLES_UPLOAD_MAX_BYTES). "
        "Split it into smaller files."
    )
    assert response.context["upload_form"].errors["file"] == [message]
    # What the user sees: the message next to the file field, and no other complaint.
    page = response.content.decode()
    assert f'<ul class="errorlist" id="id_up-file_error"><li>{message}</li></ul>' in page
    assert "This field is required." not in page
    assert not Candle.objects.exists()
    # Just under the limit is fine.
    response = admin_client_full.post(
        PAGE, upload_data(csv_file(minutes(0, 5)), **{"up-pair": pair.pk}), follow=True
    )
    assert "5 inserted" in messages_of(response)[0]


@pytest.mark.parametrize(
    "overrides,expected",
    [
        ({}, "Choose a pair, or fill in exchange, market and asset for a new one."),
        ({"up-exchange": "upbit", "up-market": "KRW"}, "Choose a pair, or fill in exchange"),
        (
            {"up-pair": "PAIR", "up-asset": "ETH"},
            "Choose an existing pair or name a new one, not both.",
        ),
        (
            {"up-exchange": "up bit", "up-market": "KRW", "up-asset": "BTC"},
            "may contain only letters",
        ),
        ({"up-pair": "PAIR", "up-interval": "2m"}, "Select a valid choice"),
        ({"up-pair": "PAIR", "up-mode": "merge"}, "Select a valid choice"),
    ],
)
def test_upload_form_errors(admin_client_full, pair, overrides, expected):
    overrides = {k: (pair.pk if v == "PAIR" else v) for k, v in overrides.items()}
    response = admin_client_full.post(PAGE, upload_data(csv_file(minutes(0, 2)), **overrides))
    assert response.status_code == 200
    assert expected in str(response.context["upload_form"].errors)
    assert not Candle.objects.exists()


def test_upload_without_a_file(admin_client_full, pair):
    response = admin_client_full.post(
        PAGE, {"action": "upload", "up-pair": pair.pk, "up-interval": "1m", "up-mode": "skip"}
    )
    assert response.context["upload_form"].errors["file"] == ["This field is required."]


# --- changelists and change forms on a big table --------------------------------------


@pytest.fixture
def candles(admin_client_full) -> Pair:
    admin_client_full.post(
        PAGE, generate_data(**{"gen-count": "300", "gen-intervals": ["1m", "5m", "1h"]})
    )
    admin_client_full.post(
        PAGE, generate_data(**{"gen-asset": "ETH", "gen-count": "300", "gen-intervals": ["1m"]})
    )
    return Pair.objects.get(asset="BTC")


def test_candle_changelist_never_counts_the_whole_table(admin_client_full, candles, monkeypatch):
    monkeypatch.setattr(CappedCountPaginator, "cap", 250)
    with CaptureQueriesContext(connection) as queries:
        response = admin_client_full.get("/admin/candles/candle/")
    assert response.status_code == 200
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
    assert counts, "the paginator counts (capped)"
    assert all("LIMIT 251" in sql for sql in counts), counts
    assert b"more than 250 candles (narrow them with the filters)" in response.content
    candle_selects = [
        q["sql"]
        for q in queries
        if 'FROM "candles_candle"' in q["sql"] and "COUNT(" not in q["sql"].upper()
    ]
    # One page of rows, joined to pair and exchange, in index order.
    assert len(candle_selects) == 1, candle_selects
    assert 'INNER JOIN "candles_exchange"' in candle_selects[0]
    assert (
        'ORDER BY "candles_candle"."pair_id" DESC, "candles_candle"."interval" DESC, "candles_candle"."basetm" DESC'
        in candle_selects[0]
    )


def test_candle_changelist_under_the_cap_shows_the_exact_count(admin_client_full, candles):
    url = f"/admin/candles/candle/?pair__id__exact={candles.pk}&interval__exact=5m"
    response = admin_client_full.get(url)
    assert b"60 candles" in response.content
    assert len(response.context["cl"].result_list) == 60


def test_candle_changelist_queries_do_not_grow_with_pairs(admin_client_full, candles):
    def query_count() -> int:
        with CaptureQueriesContext(connection) as queries:
            admin_client_full.get("/admin/candles/candle/")
        return len(queries)

    before = query_count()
    exchange = Exchange.objects.create(name="many")
    Pair.objects.bulk_create(
        Pair(exchange=exchange, market="KRW", asset=f"A{i}") for i in range(10)
    )
    assert query_count() == before


def test_candle_filters_search_and_date_hierarchy(admin_client_full, candles):
    base = "/admin/candles/candle/"
    unfiltered = admin_client_full.get(base)
    assert b'id="date-hierarchy-hint"' in unfiltered.content
    assert b'class="xfull"' not in unfiltered.content  # no date hierarchy nav

    narrowed = admin_client_full.get(f"{base}?pair__id__exact={candles.pk}&interval__exact=1h")
    assert b'id="date-hierarchy-hint"' not in narrowed.content
    assert b"basetm__day=1" in narrowed.content  # the date hierarchy's links (one day of data)
    assert b"5 candles" in narrowed.content

    by_exchange = admin_client_full.get(
        f"{base}?pair__exchange__id__exact={candles.exchange_id}&interval__exact=1m"
    )
    assert b"600 candles" in by_exchange.content
    searched = admin_client_full.get(f"{base}?q=ETH")
    assert b"300 candles" in searched.content
    assert {candle.pair.asset for candle in searched.context["cl"].result_list} == {"ETH"}
    day = admin_client_full.get(
        f"{base}?pair__id__exact={candles.pk}&interval__exact=1m&basetm__year=2024&basetm__month=1&basetm__day=1"
    )
    assert b"300 candles" in day.content
    # Facet counts would COUNT per filter option: never offered.
    assert b"Show counts" not in unfiltered.content


def test_candles_are_read_only_and_cannot_be_added_by_hand(admin_client_full, candles):
    candle = Candle.objects.filter(pair=candles, interval="1m").first()
    response = admin_client_full.get(f"/admin/candles/candle/{candle.pk}/change/")
    assert response.status_code == 200
    for name in ("o", "h", "l", "c", "v", "basetm", "pair", "interval"):
        assert f'name="{name}"'.encode() not in response.content, name
    assert f"{candle.o}".encode() in response.content
    # A hand-made candle would bypass the importer's rules (alignment, l <= o, c <= h).
    assert admin_client_full.get("/admin/candles/candle/add/").status_code == 403
    assert (
        b"/admin/candles/candle/add/" not in admin_client_full.get("/admin/candles/candle/").content
    )


def test_candle_bulk_delete_action_is_not_offered(admin_client_full, candles):
    response = admin_client_full.get("/admin/candles/candle/")
    assert b"delete_selected" not in response.content


def test_candle_bulk_delete_action_is_refused_when_posted(admin_client_full, candles):
    selected = list(Candle.objects.values_list("pk", flat=True)[:2])
    form = {"action": "delete_selected", "_selected_action": selected, "post": "yes"}
    admin_client_full.post("/admin/candles/candle/", form)
    assert Candle.objects.filter(pk__in=selected).count() == 2


def test_pair_delete_page_counts_candles_instead_of_listing_them(admin_client_full, candles):
    User.objects.get(username="loader").user_permissions.add(
        Permission.objects.get(codename="delete_pair")
    )
    url = f"/admin/candles/pair/{candles.pk}/delete/"
    with CaptureQueriesContext(connection) as queries:
        response = admin_client_full.get(url)
    assert response.status_code == 200
    content = response.content.decode()
    assert "<li>Candles: 365</li>" in content
    assert "<li>365 candles</li>" in content
    candle_rows_loaded = [
        q["sql"]
        for q in queries
        if 'FROM "candles_candle"' in q["sql"] and "COUNT(" not in q["sql"].upper()
    ]
    assert candle_rows_loaded == []
    response = admin_client_full.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert not Candle.objects.filter(pair_id=candles.pk).exists()
    assert Candle.objects.count() == 300  # the ETH pair's


def test_deleting_a_pair_needs_delete_candle(candles):
    client = logged_in(make_user("pairdeleter", "delete_pair", "view_pair"))
    url = f"/admin/candles/pair/{candles.pk}/delete/"
    response = client.get(url)
    assert (
        b"your account doesn't have permission to delete the following types of objects"
        in response.content.replace(b"&#x27;", b"'")
    )
    assert client.post(url, {"post": "yes"}).status_code == 403
    assert Candle.objects.filter(pair=candles).count() == 365


def test_exchange_delete_page_counts_pairs_and_candles(admin_client_full, candles):
    User.objects.get(username="loader").user_permissions.add(
        *Permission.objects.filter(codename__in=["delete_exchange", "delete_pair"])
    )
    response = admin_client_full.get(f"/admin/candles/exchange/{candles.exchange_id}/delete/")
    content = response.content.decode()
    assert "<li>Pairs: 2</li>" in content and "<li>Candles: 665</li>" in content
    assert (
        admin_client_full.post(
            f"/admin/candles/exchange/{candles.exchange_id}/delete/", {"post": "yes"}
        ).status_code
        == 302
    )
    assert not Candle.objects.exists() and not Pair.objects.exists()


def test_pair_changelist(admin_client_full, candles):
    response = admin_client_full.get("/admin/candles/pair/?q=ETH")
    assert response.status_code == 200
    eth = Pair.objects.get(asset="ETH")
    assert list(response.context["cl"].result_list) == [eth]
    assert (
        f'?pair__id__exact={eth.pk}&amp;interval__exact=1m">view candles</a>'.encode()
        in response.content
    )
