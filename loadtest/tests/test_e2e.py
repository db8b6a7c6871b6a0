"""End to end: the real runner (servers, Locust, checks, report) on a throwaway database (conftest.bench_env)."""

import csv
import json
import os
import shutil

import pytest

from loadtest.report.results import columns, load_rows
from loadtest.tests.live_servers import (
    plain_uvicorn,
    run_loadtest,
    run_locustfile_headless,
    running_server,
)

pytestmark = pytest.mark.live


@pytest.mark.database
def test_the_servers_database_is_a_throwaway_one(bench_env):
    """Never the developer's own DATABASE_URL database (nor pytest-django's)."""
    own = os.environ.get("DATABASE_URL", "")
    assert bench_env["DATABASE_URL"] != own
    assert bench_env["DATABASE_URL"].endswith("_loadtest_servers") or bench_env[
        "DATABASE_URL"
    ].startswith("sqlite:")


@pytest.mark.database
def test_runner_end_to_end(bench_env, tmp_path):
    out = tmp_path / "results" / "run1"
    result = run_loadtest(
        bench_env,
        "--modes",
        "drf,raw",
        "--limits",
        "100",
        "--servers",
        "asgi",
        "--repeats",
        "1",
        "--duration",
        "1",
        "--warmup",
        "0.3",
        "--locust-html",
        "--no-instructions",
        "--out",
        str(out),
        timeout=180,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    stdout = result.stdout

    # Progress (the two modes, then the floor diagnostics), then the summary table.
    assert "[1/4] asgi" in stdout and "[4/4] asgi" in stdout and "floor-async" in stdout
    table = stdout[stdout.index("requests/s, median of repeats") :]
    header = table.splitlines()[1]
    assert header.split()[:3] == ["mode", "100", "rows"]
    for mode in ("drf", "raw"):
        line = next(line for line in table.splitlines() if line.startswith(mode + " "))
        assert float(line.split()[1].replace(",", "")) > 0

    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    assert [r["mode"] for r in rows] == ["drf", "raw", "floor", "floor-async"]
    assert list(rows[0]) == columns()
    assert {r["workers"] for r in rows} == {"1"}
    assert {(r["compression"], r["stack"]) for r in rows} == {("none", "today")}
    for r in rows:
        assert (r["server"], r["limit"], r["repeat"]) == ("asgi", "100", "1")
        assert float(r["rps"]) > 0 and int(r["requests"]) > 0
        assert r["failures"] == "0"
        assert 0 < float(r["p50_ms"]) <= float(r["p95_ms"]) <= float(r["p99_ms"])
        assert float(r["render_ms"]) >= 0
        if not r["mode"].startswith("floor"):
            assert float(r["db_ms"]) > 0  # the floor diagnostics make no query
        assert float(r["server_rss_mb"]) > 10
        # A busy machine may make a run untrustworthy; then it must say why.
        assert r["trustworthy"] in ("yes", "no") and (r["trustworthy"] == "yes") == (
            r["note"] == ""
        )
        assert (out / r["locust_report"]).stat().st_size > 10_000
    assert len({r["bytes"] for r in rows}) == 1  # the same document from both modes and the floors
    # The floors are diagnostics: a ceiling line, never a row of the mode tables.
    assert "asgi ceiling @100:" in stdout and not any(
        line.startswith("floor") for line in table.splitlines()
    )
    # The goals are printed; they need wsgi and 1000 rows, which this run did not measure.
    assert "Goals at 1000 rows:" in stdout and "G1 NOT MEASURED" in stdout

    md = (out / "report.md").read_text()
    assert "## Requests/s" in md and "| drf |" in md and "| raw |" in md
    assert md.index("## Goals") < md.index("## At a glance")
    assert (
        "## % of ceiling" in md and "| floor-async req/s (diagnostic) |" in md and "## Memory" in md
    )
    assert "In-process micro benchmark" in md and "Machine" in md
    html = (out / "report.html").read_text()
    # One limit measured: no requests/s-against-rows chart; latency and time split; the hero is SVG.
    assert html.count("data:image/png;base64,") == 2 and html.count('class="bar"') == 2
    assert 'href="locust/asgi-drf-100-r1.html"' in html
    micro = json.loads((out / "micro.json").read_text())
    assert [a["limit"] for a in micro["database_alone"]] == sorted(
        {r["limit"] for r in micro["rows"]}
    )
    assert "| database alone: fetch the rows |" in md
    assert os.listdir(out.parent) == [
        "run1"
    ]  # no latest next to --out: it lives in loadtest/results/ only
    # Asked not to count instructions, and no 1000-row cell for wrk: neither file, and the report says so.
    assert not (out / "instructions.json").exists() and not (out / "wrk.json").exists()
    assert "Not counted in this run" in md


def test_runner_with_servers_of_their_own_modes(bench_env, tmp_path):
    """fastapi and bolt run their own modes whatever --modes says; fastapi's documents are the
    same as parsed JSON with times as instants (its orjson mode writes +00:00)."""
    out = tmp_path / "own-servers"
    result = run_loadtest(
        bench_env,
        "--servers",
        "fastapi,bolt",
        "--modes",
        "raw,bolt",
        "--limits",
        "1",
        "--repeats",
        "1",
        "--duration",
        "1",
        "--warmup",
        "0.2",
        "--out",
        str(out),
    )
    # --modes raw: no server here serves it, but a server of its own modes still runs: bolt the
    # one asked for, fastapi (none of its modes asked for) all three.
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "estimate: ~0:" in result.stdout
    assert "fastapi @1: fastapi-model, fastapi-dict, fastapi-orjson, floor" in result.stdout
    assert "bolt @1: bolt, floor" in result.stdout
    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    got = {(r["server"], r["mode"]): r for r in rows}
    assert sorted(got) == sorted(
        [
            ("fastapi", "fastapi-model"),
            ("fastapi", "fastapi-dict"),
            ("fastapi", "fastapi-orjson"),
            ("fastapi", "floor"),
            ("bolt", "bolt"),
            ("bolt", "floor"),
        ]
    )
    for r in rows:
        assert float(r["rps"]) > 0 and r["failures"] == "0", r
    # Every response's length was checked against its own document: +00:00 is 5 bytes longer than Z.
    assert (
        int(got[("fastapi", "fastapi-orjson")]["bytes"]) == int(got[("bolt", "bolt")]["bytes"]) + 5
    )
    assert {got[k]["bytes"] for k in got if k[1] != "fastapi-orjson"} == {
        got[("bolt", "bolt")]["bytes"]
    }
    meta = json.loads((out / "meta.json").read_text())
    assert meta["document_equality"] == {"fastapi": "instants", "bolt": "bytes"}
    md = (out / "report.md").read_text()
    frameworks = md[md.index("## Frameworks and servers at 1 row") : md.index("## At a glance")]
    # The study's figure beside its app, at this limit (its 1-row figure), said to be its stack's.
    row = next(
        r for r in frameworks.splitlines() if r.startswith("| fastapi | fastapi-model | no |")
    )
    assert row.endswith("| 74 |") and "| the case study, on its 2023-08 stack |" in frameworks
    assert "fastapi's fastapi-orjson (UTC as +00:00) wrote the same document another way" in (
        frameworks
    )
    # What to pick opens the report, before the frameworks table it sums up.
    assert md.index("- **Validated or not**") < md.index("## Frameworks and servers")
    assert "G7 " in result.stdout and "G9 NOT MEASURED" in result.stdout


def test_a_projects_own_mode_is_benchmarked(bench_env, tmp_path):
    """The benchmarked half of candles/tests/test_own_mode.py: with the settings that add
    orm-tuples, the runner plans, checks and measures it like a built-in mode."""
    env = dict(bench_env, DJANGO_SETTINGS_MODULE="candles.tests.own_mode_settings")
    out = tmp_path / "own-mode"
    result = run_loadtest(
        env,
        "--servers",
        "wsgi",
        "--modes",
        "orm-tuples,raw",
        "--limits",
        "10",
        "--repeats",
        "1",
        "--duration",
        "1",
        "--warmup",
        "0.2",
        "--no-floor",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    assert [(r["mode"], r["failures"]) for r in rows] == [("raw", "0"), ("orm-tuples", "0")]
    assert all(float(r["rps"]) > 0 for r in rows)
    assert rows[0]["bytes"] == rows[1]["bytes"]
    micro = json.loads((out / "micro.json").read_text())
    assert {r["mode"] for r in micro["rows"]} == {"orm-tuples", "raw"}
    # An unknown name is refused in one line before anything starts, from the same registry.
    refused = run_loadtest(env, "--modes", "orm-tuples,nope", "--out", str(tmp_path / "x"))
    assert refused.returncode == 2 and "unknown mode(s): nope" in refused.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.valgrind
@pytest.mark.database
def test_runner_counts_the_instruction_ladder(bench_env, tmp_path, require_tool):
    require_tool(shutil.which("valgrind") is not None, "needs valgrind (.ci/run installs it)")
    # The throwaway database holds 300 rows: no 1000-row headline cell, so no wrk check
    # (wrk itself: tests/test_wrk.py).
    out = tmp_path / "run"
    result = run_loadtest(
        bench_env,
        "--modes",
        "raw",
        "--limits",
        "100",
        "--servers",
        "asgi",
        "--repeats",
        "1",
        "--duration",
        "1",
        "--warmup",
        "0.3",
        "--no-floor",
        "--no-micro",
        "--out",
        str(out),
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "the instruction ladder (~" in result.stdout
    ladder = json.loads((out / "instructions.json").read_text())
    assert list(ladder["counts"]) == ["raw"] and list(ladder["counts"]["raw"]) == [
        "1",
        "100",
        "1000",
        "1440",
    ]
    assert ladder["database"] == (
        "postgresql" if "postgres" in bench_env.get("DATABASE_URL", "") else "sqlite"
    )
    counts = [ladder["counts"]["raw"][k] for k in ("1", "100")]
    assert counts[0] > 100_000 and counts[1] > counts[0]
    assert (
        "wrk check skipped: no headline cell" in result.stdout
        or "wrk check skipped: wrk is not installed" in result.stdout
    )
    md = (out / "report.md").read_text()
    assert (
        "## Instructions per request" in md
        and "| raw | " in md[md.index("## Instructions per request") :]
    )
    # With the ladder: its chart beside latency and time split (one limit: no requests/s-against-rows).
    assert (out / "report.html").read_text().count("data:image/png;base64,") == 3


def test_runner_refuses_debug(bench_env, tmp_path):
    env = dict(bench_env, DJANGO_DEBUG="1")
    result = run_loadtest(
        env, "--modes", "raw", "--limits", "1", "--out", str(tmp_path / "x"), timeout=120
    )
    assert result.returncode == 2
    assert "refuses" in result.stderr and "DEBUG is on" in result.stderr
    assert not (tmp_path / "x").exists()  # refused before writing anything


def test_locustfile_seed_profile_by_hand_stops_by_itself(bench_env, tmp_path):
    """`locust -f loadtest/locustfile.py --load-profile seed` against a running server."""
    database = bench_env["DATABASE_URL"]
    with running_server(plain_uvicorn, tmp_path, DATABASE_URL=database) as host:
        result = run_locustfile_headless(
            bench_env,
            host,
            tmp_path,
            "-u",
            "6",
            "-r",
            "6",
            "--load-profile",
            "seed",
            "--requests-per-user",
            "2",
            "--mode",
            "raw",
            "--limit",
            "10",
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "every user made its requests" in output
    line = next(line for line in output.splitlines() if line.startswith("raw limit=10 "))
    assert line.split()[2:4] == ["12", "0"]  # 6 users x 2 requests, no failure
    # No class named: CandleUser alone, loading --mode (not one user class per mode).
    loaded = {l.split(" limit=")[0].split()[-1] for l in output.splitlines() if " limit=" in l}
    assert loaded == {"raw"}


@pytest.mark.database
def test_seed_profile_has_no_failure_under_uvicorn_with_production_settings(bench_env, tmp_path):
    """The case study's 60 users x 5 requests, run after run, against uvicorn with its production
    options (--limit-concurrency): no request is shed, and no run starts while an earlier run's
    connections are open."""
    out = tmp_path / "seed"
    result = run_loadtest(
        bench_env,
        "--profile",
        "seed",
        "--modes",
        "raw,orjson",
        "--limits",
        "1",
        "--servers",
        "asgi",
        "--repeats",
        "2",
        "--no-micro",
        "--no-floor",
        "--out",
        str(out),
        timeout=300,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    rows = load_rows(out / "results.csv")
    assert len(rows) == 4
    assert [(r.mode, r.failures, r.requests) for r in rows] == [(r.mode, 0, 300) for r in rows]
    assert not any("still open" in r.note for r in rows)
    assert "Exceeded concurrency limit" not in (out / "logs" / "server-asgi.log").read_text()
