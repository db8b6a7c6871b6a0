"""The report's answer first: the hero chart (SVG, one bar per server x mode), the detail charts
left out when a run has no data for them, and `report --charts DIR`."""

import csv
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from loadtest.axes import Deployment
from loadtest.report import charts, hero, render
from loadtest.report.capacity import capacity_from_folder
from loadtest.report.results import Results, Row, columns, to_csv

FIXTURES = Path(__file__).parent / "fixtures"
SVG = "{http://www.w3.org/2000/svg}"
REGISTRY = {
    "plan": {
        "registry": [
            {"name": "drf-validated", "validates": True},
            {"name": "orjson", "validates": False},
            {"name": "raw", "validates": False},
            {"name": "fastapi-orjson", "validates": False},
        ]
    }
}


def run(server: str, mode: str, *rps: float, limit: int = 1000, **extra) -> list[Row]:
    """One cell's repeats."""
    return [
        Row(server=server, mode=mode, limit=limit, repeat=k, rps=v, **extra)
        for k, v in enumerate(rps, 1)
    ]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def bars_of(svg: str) -> list[dict[str, str]]:
    return [
        dict(rect.attrib) for rect in parse(svg).iter(f"{SVG}rect") if rect.get("class") == "bar"
    ]


@pytest.fixture
def res() -> Results:
    rows = (
        run("asgi", "drf-validated", 12.0, 14.0, 13.0)
        + run("asgi", "raw", 300.0, 320.0, 310.0)
        + run("wsgi", "orjson", 150.0, 170.0, 160.0)
        + run("fastapi", "fastapi-orjson", 380.0, 390.0, 400.0)
        + run("asgi", "raw", 900.0, limit=100)  # another limit: not in the hero
    )
    return Results(rows, REGISTRY)


def test_the_hero_has_one_bar_per_server_and_mode_fastest_first(res):
    bars = bars_of(hero.hero_svg(res))
    assert [(b["data-server"], b["data-mode"]) for b in bars] == [
        ("fastapi", "fastapi-orjson"),
        ("asgi", "raw"),
        ("wsgi", "orjson"),
        ("asgi", "drf-validated"),
    ]
    assert [float(b["data-rps"]) for b in bars] == [390.0, 310.0, 160.0, 13.0]
    # Bar lengths follow the figures on one linear scale from 0.
    widths = [float(b["width"]) for b in bars]
    assert widths == sorted(widths, reverse=True)
    assert widths[0] / widths[1] == pytest.approx(390 / 310, rel=0.01)


def test_the_hero_tells_validated_from_unvalidated_and_marks_the_case_study(res):
    svg = hero.hero_svg(res)
    by_mode = {b["data-mode"]: b for b in bars_of(svg)}
    assert by_mode["drf-validated"]["data-validated"] == "yes"
    assert by_mode["drf-validated"]["fill"] == hero.VALIDATED_FILL
    assert {by_mode[m]["data-validated"] for m in ("raw", "orjson", "fastapi-orjson")} == {"no"}
    assert {by_mode[m]["fill"] for m in ("raw", "orjson")} == {hero.UNVALIDATED_FILL}
    assert by_mode["fastapi-orjson"]["data-reference"] == "yes"
    assert {by_mode[m]["data-reference"] for m in ("raw", "orjson", "drf-validated")} == {"no"}
    # A legend of two entries; the case study's mark explained beneath.
    legend = [r for r in parse(svg).iter(f"{SVG}rect") if r.get("class") == "legend"]
    assert len(legend) == 2
    assert "the case study's FastAPI app (server fastapi)" in svg


def test_a_run_that_did_not_record_which_modes_validate_claims_neither(res):
    svg = hero.hero_svg(Results(res.rows))  # no meta.json: no registry
    assert {b["data-validated"] for b in bars_of(svg)} == {"unknown"}
    assert {b["fill"] for b in bars_of(svg)} == {hero.UNKNOWN_FILL}
    assert "not validated" not in svg and "is not recorded in this run's meta.json" in svg


def test_the_hero_draws_the_spread_of_repeats_as_whiskers(res):
    root = parse(hero.hero_svg(res))
    whiskers = {
        g.get("data-low"): g.get("data-high")
        for g in root.iter(f"{SVG}g")
        if g.get("class") == "whisker"
    }
    assert whiskers == {
        "380.00": "400.00",
        "300.00": "320.00",
        "150.00": "170.00",
        "12.00": "14.00",
    }
    assert "median of 3 repeats, whiskers from the slowest to the fastest repeat" in ET.tostring(
        root, encoding="unicode"
    )
    # One run each: no whisker, and the axis says so.
    single = hero.hero_svg(Results(run("asgi", "raw", 300.0), REGISTRY))
    assert "whisker" not in single and "one run each, no spread" in single


def test_the_hero_leaves_compressed_runs_out(res):
    rows = res.rows + run("asgi", "raw", 2000.0, 2100.0, deployment=Deployment(compression="gzip"))
    bars = hero.hero_bars(Results(rows, REGISTRY))
    assert [(b.server, b.mode, b.rps) for b in bars][:2] == [
        ("fastapi", "fastapi-orjson", 390.0),
        ("asgi", "raw", 310.0),
    ]
    assert "compressed responses left out" in hero.hero_svg(Results(rows, REGISTRY))
    # Only compressed runs: nothing to draw.
    assert (
        hero.hero_svg(Results(run("asgi", "raw", 1.0, deployment=Deployment(compression="br"))))
        == ""
    )


def write_csv(path: Path, rows: list[Row], extra: dict[str, str] | None = None) -> None:
    """results.csv, with an extra column per row when `extra` maps a column to values."""
    names = [*columns(), *(extra or {})]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=names)
        writer.writeheader()
        for i, row in enumerate(rows):
            writer.writerow({**to_csv(row), **{k: v[i] for k, v in (extra or {}).items()}})


def test_the_compression_column_of_results_csv_is_read_when_present(tmp_path):
    rows = run("asgi", "raw", 300.0) + run("asgi", "orjson", 900.0) + run("wsgi", "raw", 250.0)
    write_csv(tmp_path / "results.csv", rows, {"compression": ["none", "gzip", ""]})
    loaded = Results.load(tmp_path)
    assert [r.compression for r in loaded.rows] == ["none", "gzip", "none"]
    assert [(b.server, b.mode) for b in hero.hero_bars(loaded)] == [
        ("asgi", "raw"),
        ("wsgi", "raw"),
    ]
    # An older file without the column: every run counts as uncompressed.
    write_csv(tmp_path / "results.csv", rows)
    assert len(hero.hero_bars(Results.load(tmp_path))) == 3


def test_capacity_is_shown_beside_its_bar_when_given(res):
    svg = hero.hero_svg(res, {("asgi", "raw"): "240 req/s"})
    root = parse(svg)
    texts = {
        t.get("class"): t.text for t in root.iter(f"{SVG}text") if t.get("class") == "capacity"
    }
    assert texts == {"capacity": "240 req/s"}
    row = next(g for g in root.iter(f"{SVG}g") if g.get("data-rank") == "2")
    assert [t.text for t in row.iter(f"{SVG}text") if t.get("class") == "capacity"] == ["240 req/s"]
    assert "capacity at p99 ≤ 100 ms" in svg
    # The bars of cells not swept say so.
    assert [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "no-capacity"] == ["–"] * 3
    assert "capacity" not in hero.hero_svg(res)


def test_the_hero_decides_capacity_by_the_tables_rule(tmp_path):
    """One rule for "capacity" (loadtest/report/capacity.py): the chart's words name the rate the
    capacity tables name, with their mark for a rate that failed its checks."""
    assert hero.read_capacity(tmp_path, 1000) == {}
    (tmp_path / "capacity.csv").write_text(
        "server,mode,limit,arrivals,offered_rps,achieved_rps,dropped,requests,p99_ms,trustworthy,"
        "slo_ms,served_pct,unfinished\n"
        "asgi,raw,1000,poisson,100,100,0,3000,20,yes,100,100,0\n"
        "asgi,raw,1000,poisson,200,199,0,6000,60,yes,100,99.5,0\n"
        "asgi,raw,1000,poisson,280,279,0,8000,95,no,100,99.6,0\n"  # met, but failed its checks
        "asgi,raw,1000,poisson,300,250,0,8000,90,yes,100,83.3,0\n"  # under 97% served
        "asgi,raw,1000,poisson,320,320,4,8000,99,yes,100,100,0\n"  # dropped arrivals
        "asgi,raw,1000,poisson,330,330,0,8000,99,yes,100,100,3\n"  # left unanswered
        "asgi,raw,1000,poisson,340,340,0,9000,450,yes,100,100,0\n"  # p99 over the target
        "asgi,raw,100,poisson,900,900,0,9000,10,yes,100,100,0\n"  # another row count
        "asgi,drf,1000,poisson,20,20,0,600,180,yes,100,100,0\n"  # even the lowest rate missed
        "wsgi,raw,1000,poisson,50,50,0,1500,30,yes,100,100,0\n"  # every rate tried met it
        "wsgi,drf,1000,poisson,10,10,0,300,30,yes,250,100,0\n"  # swept against another target
    )
    assert hero.read_capacity(tmp_path, 1000) == {
        ("asgi", "raw"): "280 req/s ⚠ (300 not met)",  # the next rate tried above
        ("asgi", "drf"): "below 20.0 req/s",
        ("wsgi", "raw"): "≥ 50.0 req/s",
    }
    tables = capacity_from_folder(tmp_path)
    assert tables[("asgi", "raw", 1000)].text == "280 req/s ⚠ (300 not met)"
    assert tables[("asgi", "drf", 1000)].text == "below the lowest rate tried (20.0 req/s)"


def test_the_report_opens_with_the_verdict_and_the_hero(res):
    page = render.render_html(res)
    verdict = page.index("<li><strong>Validated or not</strong>")
    assert page.index("<h2>What to pick</h2>") < verdict < page.index('<svg class="hero"')
    assert page.index('<svg class="hero"') < page.index("<table>")
    md = render.render_markdown(res)
    assert md.index("## What to pick") < md.index("- **Validated or not**") < md.index("|")
    assert "(chart in report.html: hero)" in md


def capture_figures(monkeypatch) -> list:
    """The charts' figures instead of their PNGs."""
    figures: list = []

    def keep(fig) -> str:
        figures.append(fig)
        return "png"

    monkeypatch.setattr(charts, "_png", keep)
    return figures


def test_a_chart_with_no_data_in_the_run_is_left_out():
    # One limit only, no Server-Timing phase, no latency, no instruction count.
    one_limit = Results(run("asgi", "raw", 300.0) + run("wsgi", "raw", 250.0), REGISTRY)
    assert charts.chart_rps(one_limit) == ""
    assert charts.chart_breakdown(one_limit) == ""
    assert charts.chart_latency(one_limit) == ""
    assert charts.chart_instructions(one_limit) == ""
    page = render.render_html(one_limit)
    assert "<img" not in page and '<svg class="hero"' in page
    assert [name for name, chart in render.draw_charts(one_limit).items() if chart] == ["hero"]


def test_a_server_without_data_gets_no_panel_and_a_figure_one_legend(monkeypatch):
    figures = capture_figures(monkeypatch)
    rows = (
        run("asgi", "raw", 300.0, limit=1, p50_ms=5.0)
        + run("asgi", "raw", 200.0, limit=1000, p50_ms=50.0)
        + run("asgi", "orjson", 250.0, limit=1)
        + run("asgi", "orjson", 150.0, limit=1000)
        + run("bolt", "raw", 400.0, limit=1000)  # one limit: no line to draw
    )
    res = Results(rows, REGISTRY)
    assert charts.chart_rps(res) == "png"
    assert charts.chart_latency(res) == "png"
    rps_fig, latency_fig = figures
    assert [ax.get_title() for ax in rps_fig.axes] == ["asgi"]
    assert [ax.get_title() for ax in latency_fig.axes] == ["asgi"]  # bolt has no latency
    for fig in figures:
        assert len(fig.legends) == 1 and not any(ax.get_legend() for ax in fig.axes)
    assert (
        "log scale" in rps_fig.axes[0].get_xlabel() and "log scale" in rps_fig.axes[0].get_ylabel()
    )
    assert "time in the queue behind" in latency_fig._suptitle.get_text()


def test_report_charts_option_writes_the_charts_from_results_csv_and_meta_json_alone(tmp_path):
    run_dir = tmp_path / "2026-12-05"
    run_dir.mkdir()
    for name in ("results.csv", "meta.json"):
        shutil.copy(FIXTURES / "frameworks" / name, run_dir / name)
    assert render.main([str(run_dir)]) == 0
    assert not (run_dir / "charts").exists()  # not written unless asked
    out = tmp_path / "images"
    assert render.main([str(run_dir), "--charts", str(out)]) == 0
    written = sorted(p.name for p in out.iterdir())
    # One limit in this run: requests/s against rows has nothing to draw.
    assert written == ["breakdown.png", "hero.svg", "latency.png"]
    assert all(
        (out / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in written if n.endswith(".png")
    )
    svg = (out / "hero.svg").read_text()
    bars = bars_of(svg)
    table = render.frameworks_table(Results.load(run_dir))
    assert table is not None
    assert [(b["data-server"], b["data-mode"]) for b in bars] == [(r[0], r[1]) for r in table.rows]
    assert "AMD EPYC" in svg and "sqlite" in svg  # the machine and database beneath it
    md = (run_dir / "report.md").read_text()
    assert "](../images/hero.svg)" in md and "](../images/latency.png)" in md
    assert md.index("../images/hero.svg") < md.index("|")
