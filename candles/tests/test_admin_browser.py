"""End to end in headless Chromium: from an empty database to data the API serves.

Chromium as candles/tests/browser.py finds it (skipped, saying so, without it).
"""

import json
import shutil
import tempfile
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.ui import WebDriverWait

from candles.models import Candle, Pair
from candles.tests.browser import WAIT, browser_binaries, start_chromium, stop_chromium

pytestmark = pytest.mark.browser


class LoadSampleDataInBrowserTest(StaticLiveServerTestCase):
    driver: webdriver.Chrome

    @classmethod
    def setUpClass(cls) -> None:
        browser_binaries()  # skips (or fails, in CI) before the live server starts
        super().setUpClass()
        try:
            cls.driver, cls.profile = start_chromium()
        except Exception:
            super().tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        stop_chromium(cls.driver, cls.profile)
        super().tearDownClass()

    def setUp(self) -> None:
        User.objects.create_superuser("admin", "admin@example.com", "correct horse battery staple")
        self.files = Path(tempfile.mkdtemp(prefix="candles-upload-"))
        self.addCleanup(shutil.rmtree, self.files, True)

    # --- helpers ----------------------------------------------------------------------

    def open(self, path: str) -> None:
        self.driver.get(self.live_server_url + path)

    def submit(self, button: WebElement) -> None:
        """Click a submit button and wait until the next page has loaded in place of this one.

        A mark on this page's window tells the pages apart: a new page gets a new window
        object. (Waiting for this page's <html> to go stale raced: mid-navigation Chromium
        156 can answer "Node with given id does not belong to the document", an error that
        is not a stale-element one. Errors while the page changes are retried.)
        """
        self.driver.execute_script("window.candlesPageBeforeSubmit = true")
        button.click()
        WebDriverWait(self.driver, WAIT, ignored_exceptions=(WebDriverException,)).until(
            lambda d: d.execute_script(
                "return !window.candlesPageBeforeSubmit && document.readyState === 'complete'"
            )
        )

    def fill(self, name: str, value: str) -> None:
        field = self.driver.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)

    def write_csv(self, name: str, lines: list[str]) -> str:
        path = self.files / name
        path.write_text("basetm,o,h,l,c,v\n" + "\n".join(lines) + "\n", encoding="utf-8")
        return str(path)

    def success_messages(self) -> list[str]:
        return [
            li.text
            for li in self.driver.find_elements(By.CSS_SELECTOR, "ul.messagelist li.success")
        ]

    def get_json(self, path: str) -> dict:
        with urllib.request.urlopen(self.live_server_url + path, timeout=WAIT) as response:
            self.assertEqual(response.status, 200, path)
            self.assertEqual(response.headers["Content-Type"], "application/json", path)
            return json.loads(response.read())

    # --- the flow ---------------------------------------------------------------------

    def test_from_empty_database_to_queryable_data(self) -> None:
        driver = self.driver
        self.assertFalse(Candle.objects.exists())

        # Log in: /admin/ sends an anonymous user to the login form.
        self.open("/admin/")
        self.assertIn("/admin/login/", driver.current_url)
        self.fill("username", "admin")
        self.fill("password", "correct horse battery staple")
        self.submit(driver.find_element(By.CSS_SELECTOR, "input[type=submit]"))

        # The admin index links to the page.
        self.submit(driver.find_element(By.ID, "load-sample-data-link"))
        self.assertTrue(driver.current_url.endswith("/admin/candles/pair/load-sample-data/"))
        self.assertEqual(driver.find_element(By.TAG_NAME, "h1").text, "Load sample data")

        # Generate two hours of 1m candles and their 5m and 1h rollups.
        self.fill("gen-exchange", "upbit")
        self.fill("gen-market", "KRW")
        self.fill("gen-asset", "BTC")
        for box in driver.find_elements(By.CSS_SELECTOR, "input[name='gen-intervals']"):
            if box.is_selected() != (box.get_attribute("value") in {"1m", "5m", "1h"}):
                box.click()
        self.fill("gen-count", "120")
        self.fill("gen-start", "2024-01-01 00:00")
        self.fill("gen-seed", "7")
        self.submit(driver.find_element(By.ID, "generate-submit"))
        [message] = self.success_messages()
        self.assertIn("Generated candles for upbit/KRW/BTC from 2024-01-01 00:00 UTC", message)
        self.assertIn("1m: 120, 5m: 24, 1h: 2", message)
        pair = Pair.objects.get(exchange__name="upbit", market="KRW", asset="BTC")
        counts = {
            i: Candle.objects.filter(pair=pair, interval=i).count()
            for i in ("1m", "5m", "1h", "1d")
        }
        self.assertEqual(counts, {"1m": 120, "5m": 24, "1h": 2, "1d": 0})

        # Upload a good file for the generated pair: two new minutes and one already stored.
        good = self.write_csv(
            "good.csv",
            [
                "2024-01-01T01:59:00Z,1,2,0.5,1.5,3",  # generated already: skipped
                "2024-01-01T02:00:00Z,100.5,101.25,99.75,101,12.5",
                "1704074460000,101,102,100.5,101.5,4",  # 2024-01-01T02:01:00Z
            ],
        )
        Select(driver.find_element(By.NAME, "up-pair")).select_by_visible_text("upbit/KRW/BTC")
        Select(driver.find_element(By.NAME, "up-interval")).select_by_value("1m")
        driver.find_element(By.CSS_SELECTOR, "input[name='up-mode'][value='skip']").click()
        driver.find_element(By.NAME, "up-file").send_keys(good)
        self.submit(driver.find_element(By.ID, "upload-submit"))
        [message] = self.success_messages()
        self.assertIn(
            "Imported 3 rows from good.csv into upbit/KRW/BTC 1m: 2 inserted, 1 skipped, 0 replaced",
            message,
        )
        self.assertEqual(Candle.objects.filter(pair=pair, interval="1m").count(), 122)
        last = Candle.objects.filter(pair=pair, interval="1m").latest("basetm")
        self.assertEqual((last.o, last.h, last.l, last.c, last.v), (101, 102, 100.5, 101.5, 4))

        # The message links to the pair's 1m candles in the admin.
        self.submit(driver.find_element(By.LINK_TEXT, "1m: 2"))
        self.assertIn("122 candles", driver.find_element(By.CSS_SELECTOR, "p.paginator").text)
        self.open("/admin/candles/pair/load-sample-data/")

        # Upload a bad file: every problem is listed by line and column, nothing stored.
        bad = self.write_csv(
            "bad.csv",
            [
                "2024-01-01T03:00:00Z,100,101,99,100.5,1",
                "2024-01-01T03:01:30Z,100,101,99,100.5,1",  # line 3: not on a minute
                "2024-01-01T03:02:00Z,100,99,98,100.5,1",  # line 4: high below close
                "2024-01-01T03:03:00Z,100,101,99,100.5,-2",  # line 5: negative volume
            ],
        )
        Select(driver.find_element(By.NAME, "up-pair")).select_by_visible_text("upbit/KRW/BTC")
        driver.find_element(By.NAME, "up-file").send_keys(bad)
        self.submit(driver.find_element(By.ID, "upload-submit"))
        self.assertEqual(self.success_messages(), [])
        note = driver.find_element(By.CSS_SELECTOR, "#upload-rejected .errornote").text
        self.assertIn("Nothing was imported from bad.csv: 3 problems found", note)
        rows = [
            [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
            for row in driver.find_elements(By.CSS_SELECTOR, "#upload-rejected tr.upload-error")
        ]
        self.assertEqual([row[:2] for row in rows], [["3", "basetm"], ["4", "h"], ["5", "v"]])
        self.assertIn("the candle containing it starts at 2024-01-01T03:01:00Z", rows[0][2])
        self.assertEqual(rows[1][2], "high 99 is below max(open, close) = 100.5")
        self.assertEqual(rows[2][2], "volume -2 is negative; it must be >= 0")
        self.assertEqual(Candle.objects.filter(pair=pair, interval="1m").count(), 122)
        self.assertFalse(Candle.objects.filter(basetm__gte=last.basetm.replace(hour=3)).exists())

        # The page lists the API for every mode; each answers with the uploaded candles.
        self.open("/admin/candles/pair/load-sample-data/")
        links = driver.find_elements(By.CSS_SELECTOR, "#query-pairs td a")
        modes = self.get_json("/api/modes")["modes"]
        self.assertEqual([a.text for a in links], [m["name"] for m in modes])
        documents = {}
        for mode in modes:
            path = (
                mode["path"].format(exchange="upbit", market="KRW", asset="BTC")
                + "?interval=1m&limit=5"
            )
            documents[mode["name"]] = self.get_json(path)
        raw = documents["raw"]["data"]
        self.assertEqual(len(raw), 5)
        self.assertEqual(
            raw[-1],
            {"basetm": "2024-01-01T02:01:00Z", "o": 101, "h": 102, "l": 100.5, "c": 101.5, "v": 4},
        )
        self.assertEqual(raw[-2]["basetm"], "2024-01-01T02:00:00Z")
        for name, document in documents.items():
            self.assertEqual(document, documents["raw"], name)
        # And in the browser itself, through the page's raw-mode link.
        self.submit(driver.find_element(By.LINK_TEXT, "raw"))
        self.assertEqual(json.loads(driver.find_element(By.TAG_NAME, "pre").text)["data"], raw)

        # The front door (/) links to the same candles and to the admin.
        self.open("/")
        self.assertEqual(driver.find_element(By.TAG_NAME, "h1").text, "candlebench")
        self.submit(driver.find_element(By.LINK_TEXT, "raw"))
        self.assertIn("/api/raw/candle/upbit/KRW/BTC", driver.current_url)
        self.assertEqual(json.loads(driver.find_element(By.TAG_NAME, "pre").text)["data"], raw)
        self.open("/")
        self.submit(driver.find_element(By.ID, "admin-link"))
        self.assertTrue(driver.current_url.endswith("/admin/"))
        self.assertTrue(driver.find_element(By.ID, "load-sample-data-link").is_displayed())
