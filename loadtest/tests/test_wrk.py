"""wrk as the second load generator: its output read, the headline cells, the report's Locust/wrk table."""

import math
import shutil

import pytest

from loadtest.load import wrk
from loadtest.report import render, results
from loadtest.report.results import Results
from loadtest.report.tables import loadgen_table, locust_over_wrk

OUTPUT = """Running 2s test @ http://127.0.0.1:8000/api/candles/raw?limit=1000
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    70.12ms   10.05ms 120.00ms   80.00%
    Req/Sec   228.00     20.00   250.00     70.00%
  456 requests in 2.00s, 60.12MB read
  Socket errors: connect 0, read 3, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec:    227.80
Transfer/sec:     30.00MB
"""


def test_wrk_output_counts_successful_requests_only():
    run = wrk.parse_wrk(OUTPUT)
    # 456 completed, 5 non-2xx and 1 timeout failed; read errors are closed connections.
    assert (run.requests, run.errors) == (456, 6) and run.rps == pytest.approx(225.0)
    clean = wrk.parse_wrk("  100 requests in 500.00ms, 1MB read\nRequests/sec: 200\n")
    assert (clean.rps, clean.errors) == (200.0, 0)
    with pytest.raises(ValueError):
        wrk.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


def test_headline_cells_are_raw_and_drf_at_1000_rows_on_each_server():
    served = {"asgi": ["drf", "raw", "orjson"], "bolt": ["raw"]}
    assert wrk.headline_cells(["asgi", "bolt"], served.get, [1, 1000]) == [
        ("asgi", "raw"),
        ("asgi", "drf"),
        ("bolt", "raw"),
    ]
    assert wrk.headline_cells(["asgi"], served.get, [1, 100]) == []


def test_the_report_prints_locust_over_wrk_and_flags_a_gap_over_ten_percent():
    rows = [
        results.Row(server="asgi", mode=m, limit=1000, repeat=1, rps=v)
        for m, v in (("raw", 180.0), ("drf", 33.0))
    ]
    meta = {
        "wrk": [
            {"server": "asgi", "mode": "raw", "limit": 1000, "wrk_rps": 225.0, "runs": []},
            {"server": "asgi", "mode": "drf", "limit": 1000, "wrk_rps": 34.0, "runs": []},
        ]
    }
    res = Results(rows, meta)
    table = loadgen_table(res)
    assert [r[5:] for r in table.rows] == [["0.80", "⚠ differ by 20%"], ["0.97", "ok"]]
    assert "Locust/wrk" in render.summary_text(
        res
    ) and "## Locust and wrk" in render.render_markdown(res)
    assert loadgen_table(Results(rows)) is None
    # Every wrk request failed (e.g. timed out): said so, no ratio.
    meta["wrk"][1]["wrk_rps"] = 0.0
    assert loadgen_table(Results(rows, meta)).rows[1][5:] == [
        "-",
        "⚠ wrk got no successful response (see wrk.json)",
    ]


def test_the_check_estimates_a_warm_up_a_window_and_a_second_per_cell_and_repeat():
    assert wrk.estimate_s(7, 3, 1.5) == 7 * 3 * (1 + 2 + 1)  # wrk's -d takes whole seconds
    assert wrk.estimate_s(1, 1, 0.2) == 3


def test_locust_over_wrk_is_taken_within_each_repeat():
    """A machine that slows down between repeats slows both generators: not a difference."""
    runs = [{"repeat": 1, "rps": 100.0}, {"repeat": 2, "rps": 60.0}, {"repeat": 3, "rps": 100.0}]
    locust = {1: 100.0, 2: 60.0, 3: 90.0}
    assert locust_over_wrk(locust, {"wrk_rps": 100.0, "runs": runs}) == 1.0  # 1.0, 1.0, 0.9
    # The ratio of the medians would read 90/100.
    rows = [
        results.Row(server="wsgi", mode="raw", limit=1000, repeat=r, rps=v)
        for r, v in locust.items()
    ]
    cell = {"server": "wsgi", "mode": "raw", "limit": 1000, "wrk_rps": 100.0, "runs": runs}
    assert loadgen_table(Results(rows, {"wrk": [cell]})).rows[0][5:] == ["1.00", "ok"]
    # A wrk.json from before the pairing (runs without repeats): the ratio of the medians.
    old = {**cell, "runs": [{"rps": 100.0}]}
    assert loadgen_table(Results(rows, {"wrk": [old]})).rows[0][5:] == ["0.90", "ok"]
    assert math.isnan(locust_over_wrk({}, old))


@pytest.mark.live
def test_wrk_measures_a_running_server(bench_env, require_tool, tmp_path):
    require_tool(shutil.which("wrk") is not None, "wrk is not installed (.ci/run installs it)")
    from loadtest.tests.live_servers import plain_uvicorn, running_server

    database = bench_env["DATABASE_URL"]
    with running_server(plain_uvicorn, tmp_path, DATABASE_URL=database) as host:
        url = f"{host}/api/modes"
        check = wrk.PairedCheck([("asgi", "raw")], 4, 0.5, None)  # rounded up to 1 s
        assert check.wants("asgi", "raw", wrk.HEADLINE_ROWS) and not check.wants("asgi", "raw", 100)
        for repeat in (1, 2):
            check.measure("asgi", "raw", repeat, url)
        [cell] = check.results()
        assert [r["repeat"] for r in cell["runs"]] == [1, 2] and all(
            r["errors"] == 0 for r in cell["runs"]
        )
        assert cell["wrk_rps"] > 0 and math.isclose(
            cell["wrk_rps"], sum(r["rps"] for r in cell["runs"]) / 2
        )


def test_wrk_sends_the_headers_it_is_given(require_tool):
    """A target behind an auth proxy gets the --header lines from wrk too."""
    require_tool(shutil.which("wrk") is not None, "wrk is not installed (.ci/run installs it)")
    from http.server import BaseHTTPRequestHandler

    from loadtest.tests.live_servers import serving_in_thread

    seen: list[str | None] = []

    class Recorder(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            seen.append(self.headers.get("X-Probe"))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args) -> None:
            pass

    with serving_in_thread(Recorder) as url:
        run = wrk.run_wrk(url + "/", 1, 1, None, ["X-Probe: yes"])
    assert run.requests > 0 and run.errors == 0
    assert seen and set(seen) == {"yes"}


def test_a_hung_wrk_is_reported_without_its_command_line(monkeypatch):
    """subprocess's TimeoutExpired quotes the command, -H values included: never shown."""
    import subprocess

    def hang(command, **kwargs):
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    monkeypatch.setattr(subprocess, "run", hang)
    with pytest.raises(RuntimeError) as raised:
        wrk.run_wrk("https://example.com/api/raw", 4, 1, None, ["Authorization: Bearer s3cret"])
    assert str(raised.value) == f"wrk timed out after {1 + wrk.WAIT_EXTRA_S} s"
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


def test_the_report_of_an_https_target_without_insecure_says_why_wrk_did_not_run():
    rows = [results.Row(server="target", mode="raw", limit=1000, repeat=1, rps=180.0)]
    target = {
        "name": "target",
        "url": "https://staging.example.com",
        "header_names": ["Authorization"],
        "insecure": False,
    }
    md = render.render_markdown(Results(rows, {"target": target}))
    section = md[md.index("## Locust and wrk") :]
    assert (
        section.split("\n\n")[1].startswith("Not run: wrk checks no TLS certificate")
        and "--insecure" in section
    )
    # With --insecure it may run (here it did not: no section), and over plain HTTP nothing is said.
    for other in ({**target, "insecure": True}, {**target, "url": "http://staging.example.com"}):
        assert "## Locust and wrk" not in render.render_markdown(Results(rows, {"target": other}))
