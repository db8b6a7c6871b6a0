"""An import running while the API is read: readers see the data before or after it, never half."""

import threading
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.db import connection
from django.test import Client

from candles.models import Candle
from candles.services import candles_import

START = datetime(2023, 8, 1, tzinfo=UTC)
URL = "/api/raw/candle/upbit/KRW/BTC?interval=1m&limit=1440"


def csv_rows(first: int, count: int) -> bytes:
    lines = ["basetm,o,h,l,c,v"]
    for i in range(first, first + count):
        t = (START + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"{t},{100 + i % 7},{110 + i % 7},{90 + i % 7},{101 + i % 7},{i % 5}.5")
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["skip", "replace"])
def test_readers_see_all_or_nothing_of_an_import(mode):
    target = {"exchange": "upbit", "market": "KRW", "asset": "BTC", "interval": "1m"}
    candles_import(source=csv_rows(0, 2000), **target)
    client = Client()
    before = orjson.loads(client.get(URL).content)["data"][-1]["basetm"]
    # 20,000 new minutes plus 500 already stored (skipped or replaced), in one transaction.
    upload = csv_rows(1500, 20_500)
    errors: list[BaseException] = []

    def run_import() -> None:
        try:
            candles_import(source=upload, mode=mode, **target)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    writer = threading.Thread(target=run_import)
    seen_last, seen_counts, during = set(), set(), 0
    writer.start()
    while writer.is_alive() or during == 0:
        response = client.get(URL)
        assert response.status_code == 200
        seen_last.add(orjson.loads(response.content)["data"][-1]["basetm"])
        seen_counts.add(Candle.objects.filter(interval="1m").count())
        during += writer.is_alive()
        if not writer.is_alive():
            break
    writer.join()
    assert not errors, errors
    after = (START + timedelta(minutes=21_999)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert seen_last <= {before, after}, seen_last
    assert seen_counts <= {2000, 22_000}, seen_counts
    assert Candle.objects.filter(interval="1m").count() == 22_000
    assert during > 0, "the readers never overlapped the import"
