"""Headless Chromium for the browser tests (the admin, the report, Locust's web UI).

Needs Debian's chromium and chromium-driver (`apt-get install chromium chromium-driver`;
.ci/run installs them). A test is skipped, saying so, only when a binary cannot be found; with
CANDLEBENCH_REQUIRE_TOOLS=1 that is an error instead. CHROMIUM_BIN and CHROMEDRIVER_BIN point
at other binaries.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import unittest
import warnings
from collections.abc import Iterator

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

INSTALL_TIP = "install them with: sudo apt-get install chromium chromium-driver"
CHROME_ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,1600",
)
WAIT = 15  # seconds; a page here loads in well under one


def find_binary(env: str, *names: str) -> str | None:
    """The executable named by $env if set, else /usr/bin/<name>, else <name> on PATH."""
    if os.environ.get(env):
        candidates = [os.environ[env]]
    else:
        candidates = [path for name in names for path in (f"/usr/bin/{name}", shutil.which(name))]
    return next((path for path in candidates if path and os.access(path, os.X_OK)), None)


def browser_binaries() -> tuple[str, str]:
    """Chromium's and chromedriver's paths; unittest.SkipTest (pytest skips it too) with the
    install tip when one is missing, or RuntimeError under CANDLEBENCH_REQUIRE_TOOLS=1."""
    chromium = find_binary("CHROMIUM_BIN", "chromium", "chromium-browser")
    chromedriver = find_binary("CHROMEDRIVER_BIN", "chromedriver")
    if chromium and chromedriver:
        return chromium, chromedriver
    missing = " and ".join(
        name for name, path in (("chromium", chromium), ("chromedriver", chromedriver)) if not path
    )
    reason = (
        f"no {missing} binary found (looked at $CHROMIUM_BIN/$CHROMEDRIVER_BIN, in /usr/bin and "
        f"on PATH); {INSTALL_TIP}"
    )
    if os.environ.get("CANDLEBENCH_REQUIRE_TOOLS") == "1":
        # CI sets this after installing the browser: a skip there would hide a broken install
        # step behind a green run.
        raise RuntimeError(f"CANDLEBENCH_REQUIRE_TOOLS=1 but {reason}")
    # A warning lands in pytest's summary even without -rs, so the tip is seen.
    warnings.warn(f"browser test skipped: {reason}", stacklevel=2)
    raise unittest.SkipTest(reason)


def start_chromium() -> tuple[webdriver.Chrome, str]:
    """A headless Chromium WebDriver with a profile of its own; the driver and the profile's
    folder, for the caller to quit and remove (stop_chromium)."""
    chromium, chromedriver = browser_binaries()
    profile = tempfile.mkdtemp(prefix="candlebench-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in CHROME_ARGS:
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={profile}")
    try:
        driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    except Exception:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    driver.implicitly_wait(0)
    return driver, profile


def stop_chromium(driver: webdriver.Chrome, profile: str) -> None:
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 1000) -> Iterator[webdriver.Chrome]:
    """A headless Chromium WebDriver, `width` x `height` pixels, quit afterwards."""
    driver, profile = start_chromium()
    try:
        driver.set_window_size(width, height)
        yield driver
    finally:
        stop_chromium(driver, profile)
