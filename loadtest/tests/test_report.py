"""Report generation on recorded data (fixtures/recorded: a subset of a real run)."""

import base64
import csv
import math
import re
import shutil
from pathlib import Path

import pytest

from loadtest.fitting import fit_row_cost
from loadtest.report import render, results
from loadtest.report.results import Results, load_rows

RECORDED = Path(__file__).parent / "fixtures" / "recorded"


@pytest.fixture(scope="module")
def res() -> Results:
    return Results.load(RECORDED)


@pytest.fixture(scope="module")
def raw_csv() -> list[dict]:
    return list(csv.DictReader((RECORDED / "results.csv").read_text().splitlines()))


def median_rps(raw_csv, server, mode, limit):
    values = sorted(
        float(r["rps"])
        for r in raw_csv
        if (r["server"], r["mode"], r["limit"]) == (server, mode, str(limit))
    )
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def test_rows_are_parsed(raw_csv):
    rows = load_rows(RECORDED / "results.csv")
    assert len(rows) == len(raw_csv) == 48
    first = rows[0]
    assert (first.server, first.mode, first.limit, first.repeat) == ("asgi", "drf-validated", 1, 1)
    assert first.rps == float(raw_csv[0]["rps"])
    assert set(first.timing_ms) == {"db", "serialize", "render"}
    assert first.trustworthy == (raw_csv[0]["trustworthy"] == "yes")
    assert first.server_cpu_pct == float(raw_csv[0]["server_cpu_pct"])
    assert first.locust_report == raw_csv[0]["locust_report"]
    # Empty cells (a run without any request has no latency) read as NaN, not as errors.
    assert math.isnan(results._float("")) and results._int("") == 0


def test_results_are_grouped_in_report_order(res):
    assert res.modes == ["drf-validated", "orjson", "raw"]
    assert res.servers == ["asgi", "wsgi"]
    assert res.limits == [1, 100, 1000, 1440]
    assert all(c.rps.n == 2 for c in res.cells.values())
    assert res.chart_limit == 1000


def rps_of(raw_csv, server, mode, limit, repeat):
    (row,) = [
        r
        for r in raw_csv
        if (r["server"], r["mode"], r["limit"], r["repeat"])
        == (server, mode, str(limit), str(repeat))
    ]
    return float(row["rps"])


def test_medians_speedups_and_fits_come_from_the_csv(res, raw_csv):
    for server in res.servers:
        for lim in res.limits:
            for mode in res.modes:
                assert res.rps(server, mode, lim) == pytest.approx(
                    median_rps(raw_csv, server, mode, lim)
                )
                # Within each repeat, then the median (of two: their mean).
                per_repeat = [
                    rps_of(raw_csv, server, mode, lim, k)
                    / rps_of(raw_csv, server, "drf-validated", lim, k)
                    for k in (1, 2)
                ]
                assert res.speedup(server, mode, lim) == pytest.approx(sum(per_repeat) / 2)
        fit = res.fit(server, "raw")
        expected = fit_row_cost(
            {lim: median_rps(raw_csv, server, "raw", lim) for lim in res.limits}
        )
        assert (fit.fixed_ms, fit.per_row_us) == pytest.approx(
            (expected.fixed_ms, expected.per_row_us)
        )
    drift = res.drift()
    assert list(drift) == [2] and 0.5 < drift[2] < 2


def test_markdown_report(res, raw_csv):
    md = render.render_markdown(res)
    for heading in (
        "## At a glance",
        "## Requests/s",
        "## Speed-up over drf-validated",
        "## Server against server",
        "## Latency and time split at 1000 rows",
        "## Without the server",
        "## Measurement checks",
        "## Machine",
    ):
        assert heading in md
    # One table row per mode and server, with a cell per limit plus the fit.
    rps_rows = [line for line in md.splitlines() if line.startswith("| raw |")]
    assert len(rps_rows) >= 2
    assert len(rps_rows[0].strip("|").split("|")) == 1 + 4 + 2
    # drf-validated is the baseline: ×1.00 everywhere in the speed-up table.
    speed = next(line for line in md.splitlines() if line.startswith("| drf-validated | ×"))
    assert set(speed.strip("| ").split(" | ")[1:]) == {"×1.00"}
    # Every untrustworthy run is listed with its reason, and its cells carry the mark.
    bad = [r for r in raw_csv if r["trustworthy"] == "no"]
    assert bad and all(r["note"] in md for r in bad)
    assert "⚠" in md
    assert "AMD EPYC" in md and "sqlite" in md and "| locust | 2.47.0 |" in md


def test_html_report_embeds_three_charts_and_links_every_locust_report(res, raw_csv):
    page = render.render_html(res)
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 3
    assert all(base64.b64decode(img)[:8] == b"\x89PNG\r\n\x1a\n" for img in images)
    for r in raw_csv:
        assert f'href="{r["locust_report"]}"' in page
    assert "<table>" in page and "drf-validated" in page


def test_summary_table(res):
    text = render.summary_text(res)
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("mode "))
    assert header.split()[:9] == ["mode", "1", "row", "100", "rows", "1000", "rows", "1440", "rows"]
    raw_line = next(line for line in lines if line.startswith("raw "))
    assert f"×{res.speedup('asgi', 'raw', 1000):.1f}" in raw_line
    assert any("runs failed their own checks" in line for line in lines)
    # The goals come last; this recording has no floor runs, so they cannot all be judged.
    assert "Goals at 1000 rows:" in text and lines[-1].startswith(
        "  (Evaluated from trustworthy runs only"
    )


def test_write_reports_into_a_results_directory(tmp_path):
    for name in ("results.csv", "meta.json"):
        shutil.copy(RECORDED / name, tmp_path / name)
    summary = render.write_reports(tmp_path)
    assert (tmp_path / "report.md").read_text().startswith("# candlebench")
    assert (tmp_path / "report.html").stat().st_size > 30_000
    assert "asgi" in summary and "wsgi" in summary


def test_report_without_meta_or_baseline(tmp_path):
    recorded = csv.DictReader((RECORDED / "results.csv").read_text().splitlines())
    rows = [r for r in recorded if r["mode"] != "drf-validated" and r["server"] == "asgi"]
    with open(tmp_path / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    res = Results.load(tmp_path)
    md = render.render_markdown(res)
    assert "drf-validated was not run: no speed-up." in md
    assert "Without the server" not in md  # no micro benchmark recorded
    assert "Server against server" not in md


def test_the_method_states_the_thresholds_the_runner_applies(res):
    from loadtest.run_checks import (
        LOADGEN_CPU_LIMIT,
        MAX_WINDOW_FACTOR,
        MIN_REQUESTS,
        OTHER_CPU_LIMIT,
    )

    text = " ".join(render.method_notes(res))
    assert f"up to {MAX_WINDOW_FACTOR}x, until {MIN_REQUESTS} requests completed" in text
    assert f"used {LOADGEN_CPU_LIMIT:.0f}% or more of its core" in text
    assert (
        f"more than {OTHER_CPU_LIMIT:.0f}% of a CPU" in text
        and f"fewer than {MIN_REQUESTS} requests" in text
    )


def test_the_results_schema_round_trips_and_old_files_load(tmp_path):
    rows = load_rows(RECORDED / "results.csv")
    assert "workers" not in (RECORDED / "results.csv").read_text().splitlines()[0]
    # Columns added later: older files take their defaults.
    assert {(r.workers, r.serving_processes, len(r.worker_requests)) for r in rows} == {(1, 0, 0)}
    with open(tmp_path / "results.csv", "w", newline="") as f:
        results.ResultsWriter(f).write_all(rows)
    header = (tmp_path / "results.csv").read_text().splitlines()[0]
    assert header.split(",") == results.columns() == [*results.COLUMNS, "stack", "gc", "cache"]
    assert header.endswith(
        ",workers,serving_processes,worker_requests,worker_cpu_pct,compression,wire_bytes,stack,gc,cache"
    )
    # Before the deployment axes: every run `none` on `today` under Python's own collector, the
    # wire carried the document's own bytes.
    assert {
        (
            r.compression,
            r.deployment["stack"],
            r.deployment["gc"],
            r.deployment["cache"],
            r.served_by == r.server,
        )
        for r in rows
    } == {("none", "today", "default", "none", True)}
    assert all(r.wire_bytes == r.bytes for r in rows)
    again = load_rows(tmp_path / "results.csv")
    assert [
        (r.server, r.mode, r.rps, r.timing_ms, r.trustworthy, r.note, r.workers) for r in again
    ] == [(r.server, r.mode, r.rps, r.timing_ms, r.trustworthy, r.note, r.workers) for r in rows]


def test_python_m_loadtest_report_regenerates_the_reports(tmp_path):
    import subprocess
    import sys

    from loadtest.serving.servers import PROJECT_ROOT

    for name in ("results.csv", "meta.json"):
        shutil.copy(RECORDED / name, tmp_path / name)
    done = subprocess.run(
        [sys.executable, "-m", "loadtest.report", str(tmp_path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Goals at 1000 rows:" in done.stdout and (tmp_path / "report.html").exists()


def _cells(server, mode, rps_by_limit, **extra):
    return [
        results.Row(
            server=server,
            mode=mode,
            limit=lim,
            repeat=1,
            rps=rps,
            requests=int(rps * 2),
            duration_s=2.0,
            **extra,
        )
        for lim, rps in rps_by_limit.items()
    ]


def test_an_impossible_fit_is_shown_as_fit_unreliable_everywhere():
    from loadtest.tests.test_fitting import NOISY

    rows = _cells("asgi", "drf-validated", NOISY) + _cells(
        "asgi", "raw", {1: 700.0, 100: 560.0, 1000: 225.0, 1440: 162.0}
    )
    res = Results(rows)
    reason = "negative fixed cost (-6.53 ms)"
    for text in (
        render.render_markdown(res),
        render.render_html(res, charts={}),
        render.summary_text(res),
    ):
        assert "fit unreliable" in text and reason in text
        assert "-6.53 |" not in text and "-6.53 " not in text.replace(reason, "")
    # The clean fit next to it is still shown as figures.
    assert not res.fit("asgi", "raw").unreliable


def test_failed_requests_are_not_counted_as_served(tmp_path):
    # An older results.csv counted 503s in rps: 600 requests in 2 s of which 200 failed.
    rows = [
        results.Row(
            server="asgi",
            mode="raw",
            limit=1,
            repeat=1,
            rps=300.0,
            failures=200,
            requests=600,
            duration_s=2.0,
            trustworthy=False,
            note="200 failed request(s)",
        )
    ]
    with open(tmp_path / "results.csv", "w", newline="") as f:
        results.ResultsWriter(f).write_all(rows)
    res = Results.load(tmp_path)
    assert res.rps("asgi", "raw", 1) == pytest.approx(200.0)
    assert "300" not in render.summary_text(res).split("×")[0]


def _ladder_json(counts):
    return {
        "counts": {m: {str(k): v for k, v in by.items()} for m, by in counts.items()},
        "base": next(iter(counts)),
        "database": "sqlite",
        "seconds": 61.0,
        "calls": {"1": 6, "100": 2, "1000": 1},
    }


def _repeats(server, mode, limit, values):
    return [
        results.Row(server=server, mode=mode, limit=limit, repeat=i, rps=v)
        for i, v in enumerate(values, 1)
    ]


def test_the_instruction_ladder_is_shown_beside_requests_per_second_and_tells_real_from_noise(
    tmp_path,
):
    from loadtest.report import tables

    rows = (
        _repeats("asgi", "drf", 1000, [30.0, 36.0, 33.0])  # ±9%
        + _repeats("asgi", "ninja", 1000, [32.0, 35.0, 34.0])  # ×1.03 over drf: inside the noise
        + _repeats("asgi", "orjson", 1000, [140.0, 150.0, 145.0])
    )
    counts = {
        "drf": {1: 2.0e6, 100: 9.0e6, 1000: 72.0e6},
        "ninja": {1: 1.9e6, 100: 8.0e6, 1000: 63.0e6},
        "orjson": {1: 1.0e6, 100: 2.0e6, 1000: 11.0e6},
    }
    res = Results(rows, {"instructions": _ladder_json(counts)})
    diff = tables.differences_table(res)
    by_pair = {(r[1], r[2]): r for r in diff.rows}
    assert (
        by_pair[("ninja", "drf")][-1]
        == "inside the noise, but real: backed by the instruction counts"
    )
    assert by_pair[("ninja", "drf")][5] == "×1.14"
    assert by_pair[("orjson", "ninja")][-1] == "real (outside the spread), instructions agree"
    # The same requests/s with equal counts: noise.
    same = {**counts, "ninja": counts["drf"]}
    res_same = Results(rows, {"instructions": _ladder_json(same)})
    assert {(r[1], r[2]): r[-1] for r in tables.differences_table(res_same).rows}[
        ("ninja", "drf")
    ] == "noise"
    md = render.render_markdown(res)
    assert (
        "## Instructions per request" in md
        and "72.0 M" in md
        and "(chart in report.html: instructions)" in md
    )
    assert "SQLite runs inside the process" in md
    html_text = render.render_html(res)
    assert 'alt="instructions per request against rows per response' in html_text


def test_instructions_json_is_loaded_with_the_results(tmp_path):
    shutil.copy(RECORDED / "results.csv", tmp_path / "results.csv")
    (tmp_path / "instructions.json").write_text(
        __import__("json").dumps(_ladder_json({"raw": {1: 1.0e6, 100: 1.5e6, 1000: 6.0e6}}))
    )
    res = Results.load(tmp_path)
    assert res.meta["instructions"]["counts"]["raw"]["1000"] == 6.0e6
    assert "## Instructions per request" in render.render_markdown(res)


def test_without_instruction_counts_the_report_says_so(res):
    assert "Not counted in this run" in render.render_markdown(res)


@pytest.mark.parametrize(
    ("rps_ratio", "noise", "instr", "verdict"),
    [
        (1.30, 10.0, 1.25, "real (outside the spread), instructions agree"),
        (
            1.30,
            10.0,
            1.00,
            "real (outside the spread), not in the instructions: the server or the load around the view",
        ),
        (1.05, 10.0, 1.10, "inside the noise, but real: backed by the instruction counts"),
        (1.05, 10.0, 1.01, "noise"),
        (1.05, 10.0, 0.90, "noise"),
        (1.05, 10.0, math.nan, "inside the noise (no instruction count to tell)"),
        (math.nan, 10.0, 1.2, "not measured"),
    ],
)
def test_difference_verdicts(rps_ratio, noise, instr, verdict):
    from loadtest.report.tables import difference_verdict

    assert difference_verdict(rps_ratio, noise, instr) == verdict
