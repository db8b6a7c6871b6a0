"""Locust's own web UI with the project's locustfile (`make locust`), in headless Chromium: the
class picker offers the modes the server serves, the form takes the limit, and one run puts the
two modes picked side by side in Locust's statistics.

Chromium as candles/tests/browser.py finds it (skipped, saying so, without it)."""

import contextlib
import json
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from candles.tests import browser
from loadtest.load.workers import LOCUSTFILE
from loadtest.serving.servers import SERVERS, free_port
from loadtest.tests.live_servers import answers_ok, running_process, running_server

pytestmark = [pytest.mark.browser, pytest.mark.live]

RUN_TIME_S = 4


@contextlib.contextmanager
def locust_web_ui(host: str, env: dict[str, str], log_dir: Path) -> Iterator[str]:
    """`locust -f loadtest/locustfile.py --class-picker --host HOST`, as `make locust` starts it,
    on a free port; yields the UI's URL once it answers, stops Locust afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--class-picker"]
    argv += ["--host", host, "--web-host", "127.0.0.1", "--web-port", str(port)]
    with running_process(
        argv, log_dir / "locust.log", env, lambda: answers_ok(url + "/"), "Locust", cwd=log_dir
    ):
        yield url


def fill(driver: WebDriver, name: str, value: str) -> None:
    field = driver.find_element(By.NAME, name)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(value)


def open_section(driver: WebDriver, label: str) -> None:
    """Expand one of the form's folded sections ("Advanced options", "Custom parameters")."""
    button = next(b for b in driver.find_elements(By.TAG_NAME, "button") if b.text == label)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    if button.get_attribute("aria-expanded") != "true":
        button.click()


def locust_state(ui: str) -> str:
    with urllib.request.urlopen(ui + "/stats/requests", timeout=5) as response:
        return json.load(response)["state"]


def test_two_modes_picked_in_the_web_ui_run_side_by_side_at_the_limit_chosen(bench_env, tmp_path):
    database = bench_env["DATABASE_URL"]
    with (
        running_server(SERVERS["wsgi"].command, tmp_path, DATABASE_URL=database) as host,
        locust_web_ui(host, bench_env, tmp_path) as ui,
        browser.chromium() as driver,
    ):
        wait = WebDriverWait(driver, browser.WAIT)
        driver.get(ui)
        wait.until(lambda d: d.find_elements(By.NAME, "userCount"))

        picker = {
            row.find_elements(By.TAG_NAME, "td")[1].text: row
            for row in driver.find_elements(By.CSS_SELECTOR, "tbody tr")
        }
        assert {"CandleUser", "drf", "raw", "msgspec", "floor"} <= set(picker)
        # Not served by Django (django-bolt's server, the FastAPI reference): not offered.
        assert not {"bolt", "fastapi-model"} & set(picker)
        modes = driver.find_elements(By.CSS_SELECTOR, "select[name=mode] option")
        assert {"drf", "raw", "bolt"} <= {option.get_attribute("value") for option in modes}

        driver.find_element(By.CSS_SELECTOR, "thead input[type=checkbox]").click()  # none
        for mode in ("drf", "raw"):
            picker[mode].find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
        picked = {
            name
            for name, row in picker.items()
            if row.find_element(By.CSS_SELECTOR, "input[type=checkbox]").is_selected()
        }
        assert picked == {"drf", "raw"}

        open_section(driver, "Advanced options")
        open_section(driver, "Custom parameters")
        wait.until(lambda d: d.find_element(By.NAME, "limit").is_displayed())
        for name, value in (
            ("userCount", "4"),
            ("spawnRate", "4"),
            ("runTime", f"{RUN_TIME_S}s"),
            ("limit", "10"),
        ):
            fill(driver, name, value)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

        # The run stops by itself after its run time.
        WebDriverWait(driver, RUN_TIME_S + 30).until(lambda d: locust_state(ui) == "stopped")
        wait.until(lambda d: "drf limit=10" in d.find_element(By.TAG_NAME, "tbody").text)
        rows = {
            cells[1].text: cells
            for row in driver.find_elements(By.CSS_SELECTOR, "tbody tr")
            if (cells := row.find_elements(By.TAG_NAME, "td"))
        }
        assert set(rows) == {"drf limit=10", "raw limit=10", "Aggregated"}
        for name in ("drf limit=10", "raw limit=10"):
            requests, failures = int(rows[name][2].text), int(rows[name][3].text)
            assert requests > 0 and failures == 0, (name, requests, failures)
