"""report.html in headless Chromium: it opens with its answer (the verdict, then the hero chart,
before any table), and the hero has one bar per row of the frameworks table.

Chromium as candles/tests/browser.py finds it (skipped, saying so, without it)."""

import shutil
from pathlib import Path

import pytest

from candles.tests import browser
from loadtest.report import render

pytestmark = pytest.mark.browser

FIXTURE = Path(__file__).parent / "fixtures" / "frameworks"
WIDTH = 1280  # a laptop's width: the report must read at it


@pytest.fixture
def chromium():
    """A headless Chromium WebDriver, WIDTH pixels wide."""
    with browser.chromium(WIDTH, 1000) as driver:
        yield driver


# Where each part of the page is, in document order and on screen.
LAYOUT_JS = """
const verdict = [...document.querySelectorAll('h2')].find(h => h.textContent === 'What to pick')
  .nextElementSibling;
const hero = document.querySelector('svg.hero');
const firstTable = document.querySelector('table');
const frameworks = [...document.querySelectorAll('table')]
  .find(t => t.caption && t.caption.textContent.startsWith('Frameworks and servers at'));
const before = (a, b) => !!(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
return {
  verdict: verdict.textContent,
  verdictBeforeHero: before(verdict, hero),
  heroBeforeTable: before(hero, firstTable),
  verdictTop: verdict.getBoundingClientRect().top,
  heroTop: hero.getBoundingClientRect().top,
  heroBottom: hero.getBoundingClientRect().bottom,
  heroWidth: hero.getBoundingClientRect().width,
  tableTop: firstTable.getBoundingClientRect().top,
  bars: [...hero.querySelectorAll('rect.bar')].map(r => [
    r.dataset.server, r.dataset.mode, r.getBoundingClientRect().width]),
  rows: [...frameworks.tBodies[0].rows].map(r => [r.cells[0].textContent, r.cells[1].textContent]),
};
"""


def test_the_report_opens_with_the_verdict_and_a_hero_bar_per_frameworks_row(chromium, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    for name in ("results.csv", "meta.json"):
        shutil.copy(FIXTURE / name, run / name)
    render.write_reports(run)
    chromium.get((run / "report.html").as_uri())
    page = chromium.execute_script(LAYOUT_JS)

    assert page["verdict"].startswith("Validated or not (1000 rows): ")
    assert page["verdictBeforeHero"] and page["heroBeforeTable"]
    assert page["verdictTop"] < page["heroTop"] < page["heroBottom"] <= page["tableTop"]
    # The hero fills the page's width at 1,280 px (its text at about its own size).
    assert page["heroWidth"] > 0.8 * 1100
    assert [bar[:2] for bar in page["bars"]] == page["rows"] and len(page["rows"]) == 15
    widths = [bar[2] for bar in page["bars"]]
    assert widths == sorted(widths, reverse=True) and widths[-1] > 0
    screenshot = tmp_path / "report.png"
    assert chromium.save_screenshot(str(screenshot)) and screenshot.stat().st_size > 10_000


# The page's width against the window's, and every table's box against the page's.
WIDTH_JS = """
const page = document.documentElement;
return {
  page: page.scrollWidth,
  window: page.clientWidth,
  boxes: [...document.querySelectorAll('div.table')].map(d => d.getBoundingClientRect().right),
  scrolling: [...document.querySelectorAll('div.table')].filter(d => d.scrollWidth > d.clientWidth)
    .length,
};
"""


def then_and_now_run(folder: Path) -> Path:
    """A results folder of a run on three stacks (test_then_and_now's synthetic rows)."""
    import json

    from loadtest.report.results import ResultsWriter
    from loadtest.tests.test_then_and_now import stack_results

    res = stack_results()
    folder.mkdir()
    with open(folder / "results.csv", "w", newline="") as f:
        ResultsWriter(f).write_all(res.rows)
    (folder / "meta.json").write_text(json.dumps(res.meta))
    return folder


@pytest.mark.parametrize("run", ["frameworks", "then-and-now"])
def test_the_report_never_scrolls_sideways_at_1300_px(run, tmp_path):
    """Wide tables (the frameworks table's long captions and goals, the then-and-now table's ten
    columns) scroll inside their own box or wrap; the page stays the window's width."""
    folder = tmp_path / run
    if run == "frameworks":
        shutil.copytree(FIXTURE, folder)
    else:
        then_and_now_run(folder)
    render.write_reports(folder)
    with browser.chromium(1300, 1000) as driver:
        driver.get((folder / "report.html").as_uri())
        page = driver.execute_script(WIDTH_JS)
    assert page["page"] <= page["window"], page
    assert page["boxes"] and max(page["boxes"]) <= page["window"]
