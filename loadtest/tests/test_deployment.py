"""`python -m loadtest --target URL`: a deployment the runner did not start, measured over HTTP(S)
with the headers it needs; refused when it is not candlebench or its modes disagree."""

import csv
import functools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler
from types import SimpleNamespace
from urllib.parse import parse_qs

import pytest

from loadtest import bench, steps
from loadtest.cli import CheckError
from loadtest.report import render
from loadtest.report.results import Results, Row, load_rows
from loadtest.report.unknowns import UNKNOWN_REMOTE
from loadtest.serving import deployment
from loadtest.serving.checks import check_documents_agree
from loadtest.serving.deployment import (
    RemoteServer,
    RequestOptions,
    check_target_url,
    parse_header,
    parse_headers,
    redact_header_values,
    target_registry,
)
from loadtest.serving.servers import (
    BYTES,
    PROJECT_ROOT,
    PROJECT_WSGI_APP,
    free_port,
    gunicorn_command,
)
from loadtest.tests.live_servers import (
    run_loadtest,
    run_locustfile_headless,
    running_server,
    serving_in_thread,
)

SECRET = "s3cret-token-value"


def refusal(result: subprocess.CompletedProcess) -> str:
    """The one line of a run refused before any work (exit 2, nothing on stdout)."""
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert result.stdout == "" and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("candlebench refuses to run: ")
    return line


# -- options ------------------------------------------------------------------------------------


def test_a_header_is_name_colon_value():
    assert parse_header("X-Api-Key: abc") == ("X-Api-Key", "abc")
    assert parse_header("Authorization:Bearer a:b ") == ("Authorization", "Bearer a:b")
    assert parse_headers(["A:1", "B: 2"]) == {"A": "1", "B": "2"}
    assert parse_headers(None) == {}


@pytest.mark.parametrize(
    "text, message",
    [
        ("Bearer-" + SECRET, "expected NAME:VALUE, found no ':'"),
        (":" + SECRET, "the name is empty"),
        ("X Token:" + SECRET, "a header name has no spaces or separators"),
        ("X-Token:", "empty value (an unset shell variable?)"),
        ("X-Token: a\r\nInjected: " + SECRET, "the value holds a line break"),
    ],
)
def test_a_malformed_header_is_refused_without_showing_its_value(text, message):
    with pytest.raises(ValueError, match=re.escape(message)) as refused:
        parse_header(text)
    assert SECRET not in str(refused.value)


def test_a_header_given_twice_is_refused():
    with pytest.raises(ValueError, match="--header x-token is given twice"):
        parse_headers(["X-Token:1", "x-token:2"])


def test_a_target_url_is_a_base_url():
    assert check_target_url("https://staging.example.com/") == "https://staging.example.com"
    assert check_target_url("http://10.0.0.5:8000/bench") == "http://10.0.0.5:8000/bench"
    for bad, message in [
        ("staging.example.com", "expected http(s)://HOST"),
        ("ftp://h", "expected http(s)://HOST"),
        (f"https://me:{SECRET}@h", "credentials in the URL would be written to the report"),
        ("https://h/?key=1", "no query or fragment"),
        ("http://h:99999", "not a number in 1..65535"),
    ]:
        with pytest.raises(ValueError, match=re.escape(message)) as refused:
            check_target_url(bad)
        assert SECRET not in str(refused.value)


def test_request_options_show_header_names_not_values():
    options = RequestOptions({"X-Probe": SECRET}, insecure=True)
    assert (
        repr(options) == str(options) == "RequestOptions(header_names=['X-Probe'], insecure=True)"
    )


def test_meta_keeps_header_names_not_values():
    assert redact_header_values(
        [
            "--target",
            "https://h",
            "--header",
            f"X-Token:{SECRET}",
            f"--header=B: {SECRET}",
            "--head",
            f"C:{SECRET}",
            "--modes",
            "raw",
        ]
    ) == [
        "--target",
        "https://h",
        "--header",
        "X-Token:<hidden>",
        "--header=B:<hidden>",
        "--head",
        "C:<hidden>",
        "--modes",
        "raw",
    ]


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--target", "https://h", "--servers", "asgi"],
            "--servers and --target exclude each other",
        ),
        (["--header", "X-Token:1"], "--header and --insecure apply to --target only"),
        (["--insecure"], "--header and --insecure apply to --target only"),
        (["--target", "https://h", "--header", "X-Token"], "--header: expected NAME:VALUE"),
        (["--target", "h:8000"], "--target h:8000: expected http(s)://HOST[:PORT][/PATH]"),
        (
            ["--target", "https://h", "--workers", "2"],
            "--workers sets the processes of the servers the runner starts",
        ),
        (
            ["--target", "https://h", "--expect-workers", "2"],
            "--expect-workers needs --master-bind HOST:PORT",
        ),
    ],
)
def test_target_options_are_checked_before_any_work(argv, message):
    with pytest.raises(CheckError, match=re.escape(message)):
        bench.check_target_options(bench.build_parser().parse_args(argv))


def test_load_hosts_may_reach_the_master_of_a_target_on_every_interface():
    """No server starts here, so unlike a local run a wildcard --master-bind is fine."""
    bind = f"0.0.0.0:{free_port()}"
    args = bench.build_parser().parse_args(
        ["--target", "https://h", "--expect-workers", "3", "--master-bind", bind]
    )
    assert bench.check_target_options(args)[0] == "https://h"
    local = bench.build_parser().parse_args(["--expect-workers", "3", "--master-bind", bind])
    with pytest.raises(CheckError, match="not a wildcard"):
        bench.check_load_options(local)


@pytest.mark.live
def test_a_bad_target_option_is_one_line_and_exit_2(tmp_path):
    out = tmp_path / "never"
    line = refusal(
        run_loadtest(
            dict(os.environ),
            "--target",
            "https://h",
            "--header",
            f"Bearer {SECRET}",
            "--out",
            str(out),
            timeout=60,
        )
    )
    assert "--header: expected NAME:VALUE" in line and SECRET not in line
    assert not out.exists()


def test_the_help_shows_the_deployment_options():
    text = bench.build_parser().format_help()
    assert "--target URL" in text and "--header NAME:VALUE" in text and "--insecure" in text


# -- the plan, from the target's own /api/modes ---------------------------------------------------

DJANGO_LIKE = {
    "modes": [
        {"name": n, "validates": n == "drf-validated"} for n in ("drf-validated", "drf", "raw")
    ],
    "diagnostics": [{"name": "floor"}, {"name": "floor-async"}],
}


def target_plan(argv, document=DJANGO_LIKE):
    return bench.make_target_plan(
        bench.build_parser().parse_args(["--target", "http://h", *argv]), target_registry(document)
    )


def test_the_target_plan_is_the_default_plans_shape_from_its_own_modes():
    plan = target_plan([])
    assert plan.servers == ["target"] and plan.limits == [1, 100, 1000]
    assert plan.endpoints_on("target", 1000) == [
        "drf-validated",
        "drf",
        "raw",
        "floor",
        "floor-async",
    ]
    assert (
        plan.endpoints_on("target", 1)
        == plan.endpoints_on("target", 100)
        == ["drf-validated", "raw"]
    )
    assert plan.estimate_s() > 0  # no server start-up to count
    # A target of its own modes (bolt's), without the ladder's: 1000 rows only, no floor when it serves none.
    bolt = target_plan([], {"modes": [{"name": "bolt"}, {"name": "bolt-raw"}]})
    assert bolt.limits_on("target") == [1000] and bolt.endpoints_on("target") == [
        "bolt",
        "bolt-raw",
    ]


def test_the_target_plan_takes_modes_and_limits_and_refuses_a_mode_it_does_not_serve():
    plan = target_plan(["--modes", "raw", "--limits", "10,20", "--no-floor"])
    assert {lim: plan.endpoints_on("target", lim) for lim in plan.limits_on("target")} == {
        10: ["raw"],
        20: ["raw"],
    }
    with pytest.raises(
        CheckError,
        match=r"^the target does not serve bolt \(its /api/modes lists drf-validated, "
        r"drf, raw\)$",
    ):
        target_plan(["--modes", "raw,bolt"])


# -- the report of a target: what cannot be seen from outside is said to be unknown ----------------


def target_results(document: dict, limits: tuple[int, ...] = (1000,)) -> Results:
    """One repeat at each of `limits` of every endpoint `document` (a target's /api/modes) lists."""
    registry = target_registry(document)
    rows = [
        Row(
            "target",
            e["name"],
            lim,
            1,
            rps=100.0 + 10 * i + 20 * j,
            p50_ms=10.0,
            p95_ms=12.0,
            p99_ms=13.0,
            timing_ms={"db": 1.0, "serialize": 1.0, "render": 1.0},
            requests=60,
            duration_s=0.5,
            loadgen_cpu_pct=40.0,
            workers=None,
        )
        for i, e in enumerate(registry)
        for j, lim in enumerate(limits)
    ]
    meta = {
        "plan": {
            "registry": registry,
            "diagnostics": ["floor", "floor-async"],
            "servers": ["target"],
        },
        "servers": {
            "target": "the deployment at https://staging.example.com, not started by the runner"
        },
        "target": {
            "name": "target",
            "url": "https://staging.example.com",
            "header_names": ["Authorization"],
            "insecure": False,
            "on_this_machine": False,
        },
    }
    return Results(rows, meta)


def test_the_report_of_a_target_without_floor_says_its_ceiling_cpu_and_memory_are_unknown():
    res = target_results({"modes": [{"name": "raw"}, {"name": "msgspec", "validates": True}]})
    md = render.render_markdown(res)
    summary = render.summary_text(res)
    assert not re.search(r"\bnan\b", md + summary, re.I)
    assert "**Target: `https://staging.example.com`**" in md and "TLS certificate checked" in md
    assert (
        f"The ceiling of target is {UNKNOWN_REMOTE}: the target does not serve the floor diagnostics."
        in md
    )
    assert (
        f"| target | msgspec | yes | 110 | {UNKNOWN_REMOTE} | {UNKNOWN_REMOTE} |" in md
    )  # frameworks table
    assert (
        f"target ceiling @1000: {UNKNOWN_REMOTE}: the target does not serve the floor diagnostics"
        in summary
    )
    assert f"the target's CPU: {UNKNOWN_REMOTE}" in md
    latency = md[md.index("## Latency") : md.index("## Instructions")]
    assert (
        f"| raw | 10.0 | 12.0 | 13.0 | 1.00 | 1.00 | 1.00 | {UNKNOWN_REMOTE} | {UNKNOWN_REMOTE} |"
        in latency
    )
    assert f"| raw | {UNKNOWN_REMOTE} |" in md[md.index("## Memory") :]
    assert (
        f"G4 target NOT MEASURED: on target at 1000 rows, the best mode >= 60% of the database-bound "
        f"estimate. Ceiling {UNKNOWN_REMOTE}: the target does not serve the floor diagnostics."
        in summary
    )


def test_the_report_of_a_target_with_floor_measures_its_ceiling_of_unknown_saturation():
    res = target_results({"modes": [{"name": "raw"}], "diagnostics": [{"name": "floor"}]})
    md = render.render_markdown(res)
    ceiling = md[md.index("## % of ceiling") : md.index("## Speed-up")]
    assert "| ceiling = the higher one | floor ? |" in ceiling and "| raw | 91% |" in ceiling
    assert "? = a remote target: its CPU is unknown" in ceiling
    summary = render.summary_text(res).splitlines()
    assert "target ceiling @1000: 110 req/s (floor) ?; % of ceiling: raw 91%" in summary
    assert (
        "? = a remote target: whether it was saturated at that ceiling is unknown (its CPU is not visible)"
        in summary
    )
    machine = md[md.index("## Machine") :]
    assert f"| database | the target's: {UNKNOWN_REMOTE} |" in machine
    t4 = next(line for line in render.goals_text(res).splitlines() if "G4 target" in line)
    assert (
        "best mode raw 100 req/s, ceiling 110 req/s (floor): 91% of the ceiling. Caution, ceiling of unknown "
        "saturation (remote target: its CPU is not visible from here), so possibly a lower bound."
        in t4
    )
    assert t4.endswith(
        "No database-bound estimate: the database-alone timing is measured in-process on this "
        "checkout, not on the remote deployment."
    )


def test_the_report_of_a_target_fits_no_cost_per_row_to_its_requests_per_second():
    """1/rps of a deployment is not one request's server time on one core: the fit is unknown."""
    res = target_results({"modes": [{"name": "raw"}, {"name": "drf"}]}, limits=(1, 100, 1000))
    md = render.render_markdown(res)
    assert f"| raw | 100 | 120 | 140 | {UNKNOWN_REMOTE} | {UNKNOWN_REMOTE} |" in md  # the rps table
    assert (
        f"**target, cost per row**: {UNKNOWN_REMOTE} (1/requests/s is not one request's server time)."
        in md
    )
    assert "µs, least squares" not in md and "fit unreliable" not in md


# -- refusals over HTTP: a server that is not candlebench, modes that disagree ---------------------


class DisagreeingDeployment(BaseHTTPRequestHandler):
    """Answers like candlebench behind an auth proxy (401 without X-Probe), except that drf's
    document has other prices than raw's."""

    def do_GET(self) -> None:
        if self.headers.get("X-Probe") != SECRET:
            return self.answer(401, {"error": "no credentials"})
        path, _, query = self.path.partition("?")
        if path == "/api/modes":
            return self.answer(
                200, {"modes": [{"name": "raw"}, {"name": "drf"}], "diagnostics": []}
            )
        mode = re.match(r"^/api/([\w-]+)/candle/", path)
        if mode is None:
            return self.answer(404, {"error": "not found"})
        limit = int(parse_qs(query)["limit"][0])
        price = 1.0 if mode[1] == "raw" else 2.0
        self.answer(
            200,
            {
                "data": [
                    {"basetm": f"2026-01-01T00:{i:02d}:00Z", "close": price} for i in range(limit)
                ]
            },
        )

    def answer(self, status: int, document: dict) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Server-Timing", "db;dur=0.1")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.mark.live
def test_a_server_that_is_not_candlebench_is_refused(tmp_path):
    plain = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    with serving_in_thread(plain) as url:
        line = refusal(
            run_loadtest(
                dict(os.environ), "--target", url, "--out", str(tmp_path / "out"), timeout=60
            )
        )
    assert line == (
        f"candlebench refuses to run: {url} is not a candlebench server: GET /api/modes answered 404 "
        "text/html;charset=utf-8, not the JSON list of its modes"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.live
def test_an_unreachable_target_is_refused(tmp_path):
    with serving_in_thread(DisagreeingDeployment) as url:
        pass  # closed: nothing listens there any more
    line = refusal(run_loadtest(dict(os.environ), "--target", url, timeout=60))
    assert (
        line.startswith(f"candlebench refuses to run: {url} cannot be reached: ")
        and "refused" in line
    )


@pytest.mark.live
def test_the_checks_send_the_headers_and_refuse_modes_that_disagree(tmp_path):
    env = dict(os.environ)
    with serving_in_thread(DisagreeingDeployment) as url:
        without = refusal(
            run_loadtest(env, "--target", url, "--modes", "raw,drf", "--limits", "3", timeout=60)
        )
        # The header reaches the server (it answers 401 without), then the documents are compared.
        other = refusal(
            run_loadtest(
                env,
                "--target",
                url,
                "--header",
                f"X-Probe: {SECRET}",
                "--modes",
                "raw,drf",
                "--limits",
                "3",
                "--out",
                str(tmp_path / "out"),
                timeout=60,
            )
        )
        unserved = refusal(
            run_loadtest(
                env,
                "--target",
                url,
                "--header",
                f"X-Probe:{SECRET}",
                "--modes",
                "raw,msgspec",
                timeout=60,
            )
        )
    assert without.endswith(
        "GET /api/modes answered 401 application/json, not the JSON list of its modes "
        "(an auth proxy? send its credentials with --header NAME:VALUE)"
    )
    assert other == (
        f"candlebench refuses to run: {url} limit=3: drf (160 B) answered a different document than "
        "raw (160 B); the comparison would not be fair"
    )
    assert (
        unserved
        == "candlebench refuses to run: the target does not serve msgspec (its /api/modes lists raw, drf)"
    )
    assert not (tmp_path / "out").exists()


class Recorder(BaseHTTPRequestHandler):
    """Records the X-Probe header of every request (None: the request came without it)."""

    seen: list = []

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("X-Probe"))
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def redirecting_to(location: str) -> type[BaseHTTPRequestHandler]:
    """A handler answering every request with a 302 to `location` + its path."""

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", location + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    return Redirect


@pytest.mark.live
def test_a_redirecting_target_is_refused_and_the_headers_never_reach_where_it_points(tmp_path):
    Recorder.seen = []
    with (
        serving_in_thread(Recorder) as elsewhere,
        serving_in_thread(redirecting_to(elsewhere)) as url,
    ):
        line = refusal(
            run_loadtest(
                dict(os.environ),
                "--target",
                url,
                "--header",
                f"X-Probe: {SECRET}",
                "--out",
                str(tmp_path / "out"),
                timeout=60,
            )
        )
        # Locust's user follows no redirect either: a 302 is a failed request, never a request elsewhere.
        by_hand = run_locustfile_headless(
            dict(os.environ),
            url,
            tmp_path,
            "-u",
            "1",
            "-r",
            "1",
            "--load-profile",
            "seed",
            "--requests-per-user",
            "1",
            "--header",
            f"X-Probe: {SECRET}",
            "--mode",
            "raw",
            "--limit",
            "10",
        )
    assert line == (
        f"candlebench refuses to run: {url}/api/modes redirects to {elsewhere}/api/modes; "
        "pass the final URL as --target"
    )
    assert "HTTP 302" in by_hand.stdout + by_hand.stderr
    assert Recorder.seen == []
    assert not (tmp_path / "out").exists()


class NotHttp(BaseHTTPRequestHandler):
    """A port that answers something other than HTTP."""

    def do_GET(self) -> None:
        self.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")

    def log_message(self, *args) -> None:
        pass


class ListForDocuments(DisagreeingDeployment):
    """A JSON list where candlebench answers a document: at /api/modes, or (X-List: candles) at every candle path."""

    def answer(self, status: int, document: dict) -> None:
        if (
            self.path.startswith("/api/modes") == (self.headers.get("X-List") != "candles")
            or status != 200
        ):
            document = [] if status == 200 else document
        super().answer(status, document)


@pytest.mark.live
def test_a_port_not_speaking_http_or_json_lists_for_documents_are_refused_in_one_line():
    env = dict(os.environ)
    with serving_in_thread(NotHttp) as garbage, serving_in_thread(ListForDocuments) as lists:
        not_http = refusal(run_loadtest(env, "--target", garbage, timeout=60))
        modes = refusal(
            run_loadtest(env, "--target", lists, "--header", f"X-Probe: {SECRET}", timeout=60)
        )
        candles = refusal(
            run_loadtest(
                env,
                "--target",
                lists,
                "--header",
                f"X-Probe: {SECRET}",
                "--header",
                "X-List: candles",
                "--modes",
                "raw",
                "--limits",
                "3",
                timeout=60,
            )
        )
    assert not_http == (
        f"candlebench refuses to run: {garbage} does not answer as an HTTP server "
        "(BadStatusLine: 'SSH-2.0-OpenSSH_9.6\\r\\n')"
    )
    assert modes.endswith(
        f"{lists} is not a candlebench server: GET /api/modes answered 200 application/json, not "
        "the JSON list of its modes"
    )
    assert candles.startswith(
        f"candlebench refuses to run: {lists} answered a candle request with something else "
        "than candlebench's JSON document (TypeError: "
    )


def test_a_target_is_on_this_machine_at_loopback_an_interface_address_or_the_unspecified_address(
    monkeypatch,
):
    resolved = {
        "me": ["192.0.2.7"],
        "me6": ["fe80::1%eth0"],
        "any": ["0.0.0.0"],
        "any6": ["::"],
        "local": ["127.0.0.1", "::1"],
        "other": ["198.51.100.1"],
        "mixed": ["192.0.2.7", "198.51.100.1"],
    }
    monkeypatch.setattr(
        socket,
        "getaddrinfo",
        lambda host, port: [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0))
            for a in resolved[host]
        ],
    )
    monkeypatch.setattr(
        deployment.psutil,
        "net_if_addrs",
        lambda: {
            "eth0": [
                SimpleNamespace(family=socket.AF_INET, address="192.0.2.7"),
                SimpleNamespace(family=socket.AF_INET6, address="fe80::1%eth0"),
                SimpleNamespace(family=deployment.psutil.AF_LINK, address="52:54:00:12:34:56"),
            ]
        },
    )
    here = {host: deployment.on_this_machine(f"http://{host}:8000") for host in resolved}
    assert here == {
        "me": True,
        "me6": True,
        "any": True,
        "any6": True,
        "local": True,
        "other": False,
        "mixed": False,
    }


def test_the_wrk_check_is_skipped_for_an_https_target_unless_insecure(tmp_path, capsys):
    plan = target_plan(["--modes", "raw", "--limits", "1000"])
    servers = {"target": RemoteServer("https://staging.example.com", False)}
    assert steps.wrk_check(plan, servers, None, RequestOptions({"X-Probe": SECRET})) is None
    out = capsys.readouterr()
    assert "wrk check skipped: wrk checks no TLS certificate" in out.out + out.err
    assert not (tmp_path / "wrk.json").exists()


def test_servers_sharing_a_reference_document_are_refused_naming_the_one_they_differ_from():
    def path_for(mode: str, limit: int) -> str:
        return f"/api/{mode}/candle/?limit={limit}"

    reference: dict = {}
    options = RequestOptions({"X-Probe": SECRET})
    with serving_in_thread(DisagreeingDeployment) as url:
        first = check_documents_agree(
            url, {3: ["raw"]}, path_for, BYTES, options, who="wsgi", reference=reference
        )
        with pytest.raises(CheckError) as refused:
            check_documents_agree(
                url, {3: ["drf"]}, path_for, BYTES, options, who="asgi", reference=reference
            )
    assert reference == {3: ("wsgi raw", first[("raw", 3)].body)}
    assert str(refused.value) == (
        "asgi limit=3: drf (160 B) answered a different document than wsgi raw (160 B); "
        "the comparison would not be fair"
    )


# -- measured for real: a gunicorn the test started -------------------------------------------------


def gunicorn_target(*options: str):
    """The project's WSGI app under gunicorn (the runner's wsgi server) with extra `options`."""

    def command(host: str, port: int) -> list[str]:
        base = gunicorn_command(host, port, app=PROJECT_WSGI_APP, worker_class="sync")
        return [*base[:-1], *options, base[-1]]

    return command


@pytest.mark.live
def test_target_measures_a_server_it_did_not_start_with_the_headers_and_unknowns(
    bench_env, tmp_path
):
    # A pair of 1000 candles: raw at 1000 rows is a headline cell, measured with wrk too.
    seeded = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "seed_candles",
            "--exchange",
            "upbit",
            "--market",
            "KRW",
            "--asset",
            "ETH",
            "--count",
            "1000",
            "--intervals",
            "1m",
        ],
        cwd=PROJECT_ROOT,
        env=bench_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    access_log = tmp_path / "access.log"
    command = gunicorn_target(
        "--access-logfile",
        str(access_log),
        "--access-logformat",
        "%(r)s ua=%(a)s probe=%({x-probe}i)s",
    )
    out = tmp_path / "run"
    with running_server(command, tmp_path, DATABASE_URL=bench_env["DATABASE_URL"]) as url:
        result = run_loadtest(
            bench_env,
            "--target",
            url,
            "--header",
            f"X-Probe: {SECRET}",
            "--modes",
            "raw,orjson",
            "--limits",
            "1000",
            "--pair",
            "upbit/KRW/ETH",
            "--repeats",
            "1",
            "--duration",
            "0.5",
            "--warmup",
            "0.2",
            "--locust-html",
            "--out",
            str(out),
        )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"target: {url} answers GET /api/modes as candlebench" in result.stdout
    assert (
        "micro benchmark (views" not in result.stdout and "instruction ladder:" not in result.stdout
    )

    rows = load_rows(out / "results.csv")
    assert [(r.server, r.mode, r.limit, r.failures) for r in rows] == [
        ("target", m, 1000, 0) for m in ("orjson", "raw", "floor", "floor-async")
    ]  # the target's /api/modes order
    assert all(r.rps > 0 and r.requests > 0 for r in rows)
    assert len({r.bytes for r in rows}) == 1
    # What is read on the server's machine stays empty in the CSV ...
    for cells in csv.DictReader((out / "results.csv").read_text().splitlines()):
        assert [cells[c] for c in ("server_rss_mb", "server_cpu_pct", "db_cpu_pct", "workers")] == [
            "",
            "",
            "",
            "",
        ]
        assert (
            cells["other_cpu_pct"] == ""
        )  # a target on this machine: its CPU is among the others'
    # ... and the report says it is unknown.
    md = (out / "report.md").read_text()
    assert (
        f"**Target: `{url}`**" in md
        and "headers sent with every request: `X-Probe` (values not recorded)" in md
    )
    memory = md[md.index("## Memory") : md.index("## How it was measured")]
    assert memory.count(f"| {UNKNOWN_REMOTE} |") == 4
    assert f"the target's CPU: {UNKNOWN_REMOTE}" in md
    ceiling = md[md.index("## % of ceiling") : md.index("## Speed-up")]
    assert (
        "| ceiling = the higher one |" in ceiling and " ?" in ceiling
    )  # measured; its saturation unknown
    assert "Not counted: the instruction ladder counts this checkout's views in-process" in md
    assert f"{url}: its machine, CPUs, memory and versions {UNKNOWN_REMOTE}" in md
    meta = json.loads((out / "meta.json").read_text())
    assert (
        meta["target"]["header_names"] == ["X-Probe"] and meta["target"]["on_this_machine"] is True
    )
    # The header's value is nowhere in the results folder.
    for path in out.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(errors="replace"), path

    # The server saw the header on every request, the checks' and every one of Locust's (before
    # them: the test's own wait for the server to answer).
    lines = access_log.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if line.endswith(f"probe={SECRET}"))
    assert lines[first].startswith("GET /api/modes ") and all(
        x.startswith("GET /api/modes ") for x in lines[:first]
    )
    runner_lines = lines[first:]
    assert all(line.endswith(f"probe={SECRET}") for line in runner_lines), [
        x for x in runner_lines if SECRET not in x
    ][:3]
    assert len([line for line in runner_lines if "/candle/" in line]) >= sum(
        r.requests for r in rows
    )
    # wrk (it sends no User-Agent) measured the headline cell with the header too.
    if shutil.which("wrk"):
        [cell] = json.loads((out / "wrk.json").read_text())
        assert (cell["mode"], cell["limit"]) == ("raw", 1000) and cell["wrk_rps"] > 0
        # Measured right after Locust's run of the cell, repeat by repeat.
        assert [run["repeat"] for run in cell["runs"]] == [
            r.repeat for r in rows if (r.mode, r.limit) == ("raw", 1000)
        ]
        by_wrk = [line for line in runner_lines if " ua=- " in line]
        assert len(by_wrk) >= sum(run["requests"] for run in cell["runs"]) > 0
        assert all(line.startswith("GET /api/raw/") for line in by_wrk)


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory):
    """A certificate for 127.0.0.1 that no CA signed, and its key."""
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl")  # a module-scoped fixture: require_tool is per test
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    made = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    return cert, key


@pytest.mark.live
def test_a_tls_target_with_an_untrusted_certificate_is_refused_unless_insecure(
    bench_env, tmp_path, self_signed
):
    cert, key = self_signed
    out = tmp_path / "run"
    command = gunicorn_target("--certfile", str(cert), "--keyfile", str(key))
    with running_server(
        command, tmp_path, scheme="https", DATABASE_URL=bench_env["DATABASE_URL"]
    ) as url:
        refused = run_loadtest(
            bench_env,
            "--target",
            url,
            "--modes",
            "raw",
            "--limits",
            "10",
            "--out",
            str(tmp_path / "refused"),
            timeout=60,
        )
        # Locust's user (the runner's) checks the certificate too: by hand, without --insecure.
        by_hand = run_locustfile_headless(
            bench_env,
            url,
            tmp_path,
            "-u",
            "1",
            "-r",
            "1",
            "--load-profile",
            "seed",
            "--requests-per-user",
            "1",
            "--mode",
            "raw",
            "--limit",
            "10",
        )
        short = (
            "--modes",
            "raw",
            "--limits",
            "10",
            "--repeats",
            "1",
            "--duration",
            "0.5",
            "--warmup",
            "0.2",
            "--no-floor",
            "--no-micro",
        )
        measured = run_loadtest(bench_env, "--target", url, "--insecure", *short, "--out", str(out))
        # Trusted (the certificate is the CA bundle here): checked by urllib and by Locust, and measured.
        trusted = run_loadtest(
            dict(bench_env, SSL_CERT_FILE=str(cert)),
            "--target",
            url,
            *short,
            "--out",
            str(tmp_path / "trusted"),
        )
    line = refusal(refused)
    assert line.startswith(
        f"candlebench refuses to run: {url}: its TLS certificate is not trusted ("
    )
    assert "self-signed certificate" in line and line.endswith(
        "or pass --insecure to skip certificate checks"
    )
    assert not (tmp_path / "refused").exists()
    assert "CERTIFICATE_VERIFY_FAILED" in by_hand.stdout + by_hand.stderr

    assert measured.returncode == 0, measured.stdout[-3000:] + measured.stderr[-3000:]
    rows = load_rows(out / "results.csv")
    assert [(r.server, r.mode, r.failures) for r in rows] == [("target", "raw", 0)] and rows[
        0
    ].rps > 0
    md = (out / "report.md").read_text()
    assert "TLS certificate not checked (--insecure)" in md
    assert "The ceiling of target" not in md and "(--no-floor): no ceiling" in md

    assert trusted.returncode == 0, trusted.stdout[-3000:] + trusted.stderr[-3000:]
    rows = load_rows(tmp_path / "trusted" / "results.csv")
    assert [(r.server, r.mode, r.failures) for r in rows] == [("target", "raw", 0)] and rows[
        0
    ].rps > 0
    assert "TLS certificate checked" in (tmp_path / "trusted" / "report.md").read_text()
