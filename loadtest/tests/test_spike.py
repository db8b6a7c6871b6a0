"""The spike test: its shape, its verdict on recorded inputs, and one short real run."""

import csv
import math
import subprocess
import sys

import pytest

from loadtest.overload import classify
from loadtest.serving.servers import PROJECT_ROOT as PROJECT
from loadtest.serving.servers import SERVERS
from loadtest.spike import SpikePlan, spike_verdict, timeline
from loadtest.tests.live_servers import run_loadtest

PLAN = SpikePlan(users=200, baseline_users=16, baseline_s=5, spawn_s=1, hold_s=10, recovery_s=10)


def test_shape_user_counts_over_time():
    assert PLAN.users_at(0) == (16, 16.0)
    assert PLAN.users_at(4.9) == (16, 16.0)
    # 0 -> 200 users within one second: a spawn rate of 200/s
    assert PLAN.users_at(5) == (200, 200.0)
    assert PLAN.users_at(15.9) == (200, 200.0)
    # back to the baseline at once, for the recovery window
    assert PLAN.users_at(16) == (16, 200.0)
    assert PLAN.users_at(25.9)[0] == 16
    assert PLAN.users_at(26) is None
    assert PLAN.total == 26 and PLAN.drop == 16
    assert SpikePlan(users=100, spawn_s=0.5).users_at(6) == (100, 200.0)
    with pytest.raises(ValueError):
        PLAN.users_at(-1)


def test_shape_is_a_locust_load_test_shape():
    # In a subprocess: Locust must be imported first (gevent), which pytest's process is not.
    code = (
        "import locust; from locust import LoadTestShape; from loadtest.spike import SpikePlan, spike_shape; "
        "s = spike_shape(SpikePlan()); assert isinstance(s, LoadTestShape); "
        "assert s.tick() == (16, 16.0) and 'baseline' in s.phase_started; print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "ok", result.stderr[-2000:]


def rec(end, ms, status=200, error=""):
    return (end - ms / 1000, end, ms, status, error)


PHASES = {"baseline": 1000.0, "spike": 1005.0, "recovery": 1016.0}
END = 1026.0


def steady(a, b, ms, step=0.1):
    t, out = a, []
    while t < b:
        t += step
        out.append(rec(t, ms))
    return out


def test_classify():
    assert classify(rec(1, 5)) == "ok"
    assert classify(rec(1, 5, 503, "HTTP 503")) == "shed"
    assert classify(rec(1, 5, 500, "HTTP 500")) == "failed"
    assert classify(rec(1, 5, 0, "ConnectionRefusedError")) == "failed"
    assert classify(rec(1, 5, 200, "body of 3 bytes, expected 9")) == "failed"


def test_verdict_pass_with_shedding():
    records = (
        steady(1000, 1005, 20)
        + steady(1005, 1016, 150, 0.02)
        + [rec(1005 + (i + 1) * 0.01, 1, 503, "HTTP 503") for i in range(500)]
        + steady(1016, 1018, 80)
        + steady(1018, 1026, 22)
    )
    r = spike_verdict(records, PHASES, END, factor=1.5, settle_s=2)
    assert r.passed, r.reasons
    assert r.baseline_p50_ms == 20 and r.recovery_p50_ms == 22
    assert r.spike_p50_ms == 150 and r.spike_shed == 500
    assert 0 < r.shed_pct < 100 and r.failures == 0
    assert math.isclose(r.recovery_ratio, 1.1)
    assert r.recovered_after_s == 2  # the first second back within 1.5x starts 2 s after the drop


def test_verdict_fails_on_other_errors_slow_recovery_and_dead_server():
    records = (
        steady(1000, 1005, 20)
        + steady(1005, 1016, 150)
        + [rec(1010, 30000, 0, "ConnectionResetError"), rec(1011, 5, 500, "HTTP 500")]
        + steady(1016, 1026, 40)
    )
    r = spike_verdict(
        records, PHASES, END, factor=1.5, settle_s=2, server_ok_after=False, worker_replaced=True
    )
    assert not r.passed
    text = " | ".join(r.reasons)
    assert (
        "2 request(s) neither 200 nor 503" in text
        and "ConnectionResetError" in text
        and "HTTP 500" in text
    )
    assert "recovery p50 40.0 ms > 1.5 x baseline p50 20.0 ms" in text
    assert "did not answer" in text and "died or was replaced" in text
    assert math.isnan(r.recovered_after_s)


def test_verdict_needs_requests_in_every_window():
    r = spike_verdict(steady(1005, 1016, 100), PHASES, END)
    assert "no baseline request completed" in r.reasons
    assert "no request completed in the recovery window" in r.reasons


def test_timeline_buckets():
    records = [*steady(1000, 1003, 10, 0.5), rec(1001.5, 1, 503, "HTTP 503")]
    rows = timeline(records, 1000, 1003, PLAN)
    assert [r["ok"] for r in rows] == [2, 2, 2]
    assert rows[1]["shed"] == 1 and rows[0]["planned_users"] == 16


def test_uvicorn_command_sheds_overload():
    cmd = SERVERS["asgi"].command("127.0.0.1", 1)
    # Twice the seed profile's 60 users: a keep-alive connection can hold two request tasks.
    assert cmd[cmd.index("--limit-concurrency") + 1] == "200"
    assert "--timeout-graceful-shutdown" in cmd
    assert "--limit-concurrency" not in SERVERS["asgi"].with_options(limit_concurrency=0).command(
        "h", 1
    )


@pytest.mark.live
def test_spike_end_to_end(bench_env, tmp_path):
    """A short real spike: uvicorn with a low concurrency limit must shed with 503 and recover."""
    out = tmp_path / "spike"
    result = run_loadtest(
        bench_env,
        "spike",
        "--servers",
        "asgi",
        "--modes",
        "raw",
        "--users",
        "30",
        "--limit-concurrency",
        "20",
        "--baseline-users",
        "4",
        "--baseline-seconds",
        "2",
        "--hold",
        "1",
        "--recovery-seconds",
        "3",
        "--settle",
        "1",
        "--recovery-factor",
        "3",
        "--limit",
        "100",
        "--out",
        str(out),
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "server mode    base p50" in result.stdout
    (row,) = list(csv.DictReader((out / "spike.csv").open()))
    assert (row["server"], row["mode"], row["verdict"]) == ("asgi", "raw", "pass")
    assert row["failures"] == "0" and row["server_ok_after"] == "yes"
    assert int(row["spike_503"]) > 0 and int(row["spike_ok"]) > 0  # shed, yet still serving
    assert float(row["baseline_p50_ms"]) > 0 and float(row["recovery_p50_ms"]) > 0
    md = (out / "spike.md").read_text()
    assert "| asgi | raw |" in md and "LoadTestShape" in md
    assert (out / "spike-timeline.csv").read_text().count("\n") >= 6
