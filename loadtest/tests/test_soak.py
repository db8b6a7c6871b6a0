"""The soak test: its verdict on recorded inputs, and one short real run."""

import csv
import json
import math

import pytest

from candles.api.gc_setups import RECOMMENDED
from loadtest.soak import gc_memory_text, soak_verdict
from loadtest.tests.live_servers import run_loadtest


def series(rss, step=5.0, failures=0):
    return [
        {"t_s": step * (i + 1), "rss_mb": v, "requests": 100, "failures": failures if i == 0 else 0}
        for i, v in enumerate(rss)
    ]


def test_flat_memory_passes_and_warmup_growth_is_ignored():
    # Grows during the first minute (imports, caches, the connection pool), then flat.
    rss = [60, 80, 95, 99, 100, 100, 100, 100, 100, 100, 100, 100] + [101, 100, 102] * 20
    r = soak_verdict(series(rss), {}, warmup_s=60)
    assert r.passed, r.reasons
    assert math.isclose(r.rss_start_mb, 301 / 3) and math.isclose(
        r.rss_end_mb, 101
    )  # means of 3 samples
    assert 0 < r.growth_pct < 1
    assert r.rss_peak_mb == 102 and r.requests == 100 * len(rss)


def test_growth_of_ten_percent_fails():
    rss = [100] * 12 + [100 + i * 0.25 for i in range(48)]  # 100 -> ~111.75 MiB
    r = soak_verdict(series(rss), {}, warmup_s=60)
    assert not r.passed
    assert r.growth_pct > 10 and "RSS grew" in r.reasons[0]


def test_failures_fail():
    r = soak_verdict(
        series([100] * 20, failures=3), {"HTTP 500": 2, "ConnectionResetError": 1}, warmup_s=10
    )
    assert not r.passed
    assert r.reasons == ["3 failed request(s): HTTP 500 x2, ConnectionResetError x1"]


def test_too_short_to_soak_verdict():
    r = soak_verdict(series([100]), {}, warmup_s=60)
    assert not r.passed and "too few RSS samples" in r.reasons[0]


def soaked(rss_end):
    return {"rss_end_mb": rss_end, "rss_peak_mb": rss_end + 5, "growth_pct": 1.0}


def test_each_gc_setups_rss_is_shown_over_the_defaults_with_issue_29s_goal():
    text = gc_memory_text(
        {
            "wsgi": soaked(100.0),
            "wsgi+gc=freeze": soaked(140.0),
            "wsgi+gc=between-requests": soaked(110.0),
            f"wsgi+gc={RECOMMENDED.name}": soaked(120.0),
        },
        "wsgi",
    )
    assert "| freeze | 140.0 | 1.40 |" in text and "| between-requests | 110.0 | 1.10 |" in text
    # The goal judges the recommended setup: 120 MiB over 100 is within 1.25x.
    assert f"GC2 MET: RSS after the soak under {RECOMMENDED.name}" in text and "×1.20" in text
    over = gc_memory_text(
        {"wsgi": soaked(100.0), f"wsgi+gc={RECOMMENDED.name}": soaked(130.0)}, "wsgi"
    )
    assert "GC2 NOT MET" in over and "×1.30" in over
    assert gc_memory_text({"wsgi": soaked(100.0)}, "wsgi") == ""


@pytest.mark.live
def test_soak_end_to_end(bench_env, tmp_path):
    """The soak runs, writes its files and applies its verdict to what it wrote. A 12-second soak
    cannot judge memory growth (RSS moves by ~10% with what else the machine does): the growth
    limit is lifted here, and the growth verdict is tested on synthetic samples above."""
    out = tmp_path / "soak"
    result = run_loadtest(
        bench_env,
        "soak",
        "--minutes",
        "0.2",
        "--sample-seconds",
        "1",
        "--limit",
        "100",
        "--max-growth",
        "1000",
        "--out",
        str(out),
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    rows = list(csv.DictReader((out / "soak.csv").open()))
    assert {r["mode"] for r in rows} == {"drf", "raw"} and len(rows) >= 10
    assert all(
        r["failures"] == "0" and float(r["rss_mb"]) > 10 and int(r["requests"]) > 0 for r in rows
    )
    md = (out / "soak.md").read_text()
    assert "verdict: PASS" in md and "| drf |" in md and "| raw |" in md
    # The verdict in meta.json is the verdict over the series soak.csv holds.
    meta = json.loads((out / "meta.json").read_text())
    series = [
        {
            "t_s": float(r["t_s"]),
            "rss_mb": float(r["rss_mb"]),
            "requests": int(r["requests"]),
            "failures": int(r["failures"]),
        }
        for r in rows
    ]
    again = soak_verdict(series, {}, meta["warmup_s"], max_growth_pct=1000)
    assert meta["result"]["passed"] is True and meta["result"]["requests"] == again.requests
    assert math.isclose(meta["result"]["growth_pct"], again.growth_pct)


def test_the_verdict_fails_a_run_whose_growth_reaches_the_limit():
    flat_then_up = [100] * 6 + [100, 100, 100, 104, 105, 106]
    r = soak_verdict(series(flat_then_up), {}, warmup_s=30, max_growth_pct=5)
    assert r.growth_pct == 5.0 and not r.passed
    assert soak_verdict(series(flat_then_up), {}, warmup_s=30, max_growth_pct=5.01).passed
