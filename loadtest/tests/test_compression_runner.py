"""Compression in the runner: the plan's server x setup cells, the servers' environment, the
start-up checks of coding and setup, the load's expectations, results.csv's new columns, the
report's table and goals G12-G14 (no server, no Locust; the live run is at the end)."""

import csv
import gzip
import json
from email.message import Message

import orjson
import pytest

from candles.api.compression import compress_document, compression_setup
from loadtest import bench, session, soak, spike, steps
from loadtest.axes import Deployment, split_label
from loadtest.cli import CheckError
from loadtest.load.wrk import PairedCheck
from loadtest.report import render
from loadtest.report.compression import compression_pick, compression_table
from loadtest.report.goals import evaluate_goals
from loadtest.report.results import Results, Row, load_rows
from loadtest.run_checks import untrustworthy_reasons
from loadtest.serving.axes import check_served, setup_entries
from loadtest.serving.checks import Document, decoded_answer
from loadtest.serving.compression import expected_answer, with_accept_encoding
from loadtest.serving.deployment import RequestOptions, target_registry
from loadtest.serving.modes import registry_entries
from loadtest.stats import summarize
from loadtest.tests.live_servers import run_loadtest

DOCUMENT = orjson.dumps({"data": [{"o": 1.5 + i, "v": i} for i in range(400)]})


def plan_for(argv):
    return bench.make_plan(bench.build_parser().parse_args(argv), registry_entries(), 1440)


# -- names ----------------------------------------------------------------------------------------


def test_a_setup_is_named_beside_its_server_and_none_keeps_the_bare_name():
    assert Deployment(compression="none").label("wsgi") == "wsgi"
    assert Deployment(compression="").label("wsgi") == "wsgi"
    assert Deployment(compression="zstd-1").label("wsgi") == "wsgi+zstd-1"
    assert split_label("wsgi+zstd-1") == ("wsgi", Deployment(compression="zstd-1"))
    assert split_label("wsgi")[1]["compression"] == "none"


# -- the plan -------------------------------------------------------------------------------------


def test_compression_list_starts_each_server_once_per_setup_it_runs():
    plan = plan_for(
        [
            *("--compression", "none,zstd-1,bolt-native"),
            *("--servers", "wsgi,fastapi,bolt"),
            *("--modes", "raw,bolt", "--limits", "1000", "--no-floor"),
        ]
    )
    # fastapi runs none only, bolt none and its own bolt-native, the Django servers the rest.
    assert plan.servers == ["wsgi", "wsgi+zstd-1", "fastapi", "bolt", "bolt+bolt-native"]
    assert plan.axes["compression"] == ["none", "zstd-1", "bolt-native"]
    assert plan.endpoints_on("wsgi+zstd-1", 1000) == plan.endpoints_on("wsgi", 1000) == ["raw"]
    assert (1, 1000, "wsgi+zstd-1", "raw") in plan.runs()
    assert plan.estimate_s() > 5 * 2  # five servers' start-up counted
    assert [c for c in plan.wrk_cells() if c[0] == "wsgi+zstd-1"] == [("wsgi+zstd-1", "raw")]


def test_default_servers_that_run_none_of_the_setups_are_left_out():
    plan = plan_for(["--compression", "zstd-1", "--modes", "raw", "--limits", "1000"])
    assert "fastapi" not in " ".join(plan.servers) and "bolt" not in " ".join(plan.servers)
    assert plan.servers[:2] == ["asgi+zstd-1", "wsgi+zstd-1"]


def test_without_compression_options_cut_the_plan_to_none():
    plan = plan_for(["--modes", "raw", "--servers", "wsgi", "--limits", "1000"])
    assert plan.servers == ["wsgi"] and plan.axes["compression"] == ["none"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--compression", "zstd-9"], r"^unknown compression setup\(s\): zstd-9 \(the project has"),
        (
            ["--compression", "zstd-1", "--servers", "wsgi,fastapi"],
            r"^fastapi runs none of the compression setups asked for \(zstd-1\); it runs none$",
        ),
    ],
)
def test_compression_a_server_cannot_run_is_refused_in_one_line(argv, message):
    with pytest.raises(CheckError, match=message):
        plan_for(argv)


def test_a_target_is_measured_under_the_setup_its_modes_document_names():
    document = {"modes": [{"name": "raw"}], "compression": "zstd-1"}
    args = bench.build_parser().parse_args(["--target", "http://h", "--limits", "1000"])
    zstd = Deployment(compression="zstd-1")
    plan = bench.make_target_plan(args, target_registry(document), zstd)
    assert plan.servers == ["target+zstd-1"] and plan.axes["compression"] == ["zstd-1"]
    assert plan.endpoints_on("target+zstd-1", 1000) == ["raw"]
    args = bench.build_parser().parse_args(["--target", "http://h", "--compression", "none"])
    with pytest.raises(CheckError, match="the target runs the compression setup zstd-1"):
        bench.make_target_plan(args, target_registry(document), zstd)


def test_the_runner_sends_accept_encoding_itself_never_from_a_header_option():
    args = bench.build_parser().parse_args(
        ["--target", "http://h", "--header", "accept-encoding:gzip"]
    )
    with pytest.raises(CheckError, match="the runner sends the Accept-Encoding"):
        bench.check_target_options(args)


def test_the_ladder_counts_raw_under_each_setup_that_compresses_in_django():
    plan = plan_for(["--compression", "none,django-gzip,zstd-1", "--servers", "wsgi,bolt"])
    assert steps.compressed_variants(plan, ["drf", "raw"]) == ["raw+django-gzip", "raw+zstd-1"]
    assert steps.compressed_variants(plan, ["drf"]) == []


def test_spike_and_soak_refuse_a_setup_their_server_does_not_run():
    args = spike.build_parser().parse_args(["--servers", "fastapi", "--compression", "zstd-1"])
    with pytest.raises(CheckError, match="fastapi runs none of the compression setups"):
        spike.check_args(args)
    args = soak.build_parser().parse_args(["--server", "bolt", "--compression", "none,zstd-1"])
    with pytest.raises(CheckError, match="bolt does not run the compression setup"):
        soak.check_args(args)


# -- the servers and the checks ----------------------------------------------------------------


def test_a_value_left_in_the_shell_never_reaches_the_servers(monkeypatch):
    monkeypatch.setenv("CANDLEBENCH_COMPRESSION", "br-1")
    monkeypatch.setenv("CANDLEBENCH_GC", "freeze")
    assert session.server_env()["CANDLEBENCH_COMPRESSION"] == "none"
    assert session.server_env()["CANDLEBENCH_GC"] == "default"


def test_a_server_must_run_the_setup_it_was_started_with():
    zstd = Deployment(compression="zstd-1")
    check_served("wsgi", {"modes": []}, Deployment())  # a server that says nothing runs none
    check_served("wsgi+zstd-1", {"compression": "zstd-1"}, zstd)
    with pytest.raises(CheckError, match="started with CANDLEBENCH_COMPRESSION=zstd-1 but"):
        check_served("wsgi+zstd-1", {"compression": "none"}, zstd)


def test_the_checks_ask_with_the_setups_accept_encoding_and_keep_the_targets_headers():
    options = with_accept_encoding(
        RequestOptions({"X-Probe": "secret"}, True), Deployment(compression="zstd-1")
    )
    assert options.headers == {"X-Probe": "secret", "Accept-Encoding": "zstd"}
    assert options.insecure


def headers(**values: str) -> Message:
    message = Message()
    for name, value in values.items():
        message[name.replace("_", "-")] = value
    return message


def test_an_answer_is_decoded_and_its_coding_checked():
    zstd = compress_document(compression_setup("zstd-1"), DOCUMENT)
    assert decoded_answer("raw", headers(Content_Encoding="zstd"), zstd, "zstd") == (
        DOCUMENT,
        "zstd",
    )
    assert decoded_answer("raw", headers(), b'{"data":[]}', "zstd") == (b'{"data":[]}', "")
    with pytest.raises(CheckError, match=r"^raw: Content-Encoding 'br', expected zstd$"):
        decoded_answer("raw", headers(Content_Encoding="br"), zstd, "zstd")
    with pytest.raises(CheckError, match="the setup sends zstd to this client"):
        decoded_answer("raw", headers(), DOCUMENT, "zstd")
    with pytest.raises(CheckError, match="a gzip body that does not decode"):
        decoded_answer("raw", headers(Content_Encoding="gzip"), b"not gzip", "gzip")
    with pytest.raises(CheckError, match="expected none"):
        decoded_answer("raw", headers(Content_Encoding="gzip"), gzip.compress(DOCUMENT), "")


def test_the_load_expects_the_wire_size_and_only_djangos_gzip_may_vary():
    zstd = Document(DOCUMENT, 900, "zstd")
    gzip6 = Deployment(compression="django-gzip")
    assert expected_answer(zstd, Deployment(compression="zstd-1")) == {
        "expect_bytes": 900,
        "accept_encoding": "zstd",
        "size_slack": 0,
    }
    assert expected_answer(Document(DOCUMENT, 900, "gzip"), gzip6)["size_slack"] == 101
    # A 1-row answer Django did not compress is one size.
    assert expected_answer(Document(b"{}", 2, ""), gzip6)["size_slack"] == 0


def sample(nbytes: int) -> tuple:
    return (0.0, 1.0, 5.0, True, nbytes, "", "raw limit=1000")


def test_body_sizes_may_vary_within_the_setups_slack_only():
    stats = summarize([sample(28400), sample(28480)] * 20, 1.0)
    window = type(
        "W",
        (),
        {
            "locust_cpu_warning": False,
            "loadgen_cpu_pct": 10.0,
            "other_cpu_pct": 0.0,
            "warmup_complete": True,
            "warmup_s": 1.0,
            "notes": [],
            "busiest": "",
        },
    )()
    assert untrustworthy_reasons(stats, window, size_slack=101) == []
    assert untrustworthy_reasons(stats, window) == ["body sizes varied: 28400, 28480"]


def test_wrk_sends_the_setups_accept_encoding(monkeypatch):
    sent = []

    def measure_once(url, connections, seconds, cpus, headers):
        sent.append(list(headers))
        from loadtest.load.wrk import WrkRun

        return WrkRun(100.0, 100, 0)

    monkeypatch.setattr("loadtest.load.wrk.measure_once", measure_once)
    check = PairedCheck([("wsgi+zstd-1", "raw")], 16, 1.0, None, ["X-Probe: 1"])
    check.measure("wsgi+zstd-1", "raw", 1, "http://h/api/raw", "zstd")
    check.measure("wsgi+zstd-1", "raw", 2, "http://h/api/raw")
    assert sent == [["X-Probe: 1", "Accept-Encoding: zstd"], ["X-Probe: 1"]]


# -- results, report, goals -------------------------------------------------------------------------

PLAN_META = {
    "plan": {
        "servers": ["wsgi", "wsgi+django-gzip", "wsgi+zstd-1"],
        "setups": setup_entries(),
        "axes": {"compression": ["none", "django-gzip", "zstd-1"], "stack": ["today"]},
    },
    "micro": {
        "rows": [],
        "codecs": [
            {"setup": "django-gzip", "coding": "gzip", "limit": 1000, "document_bytes": 108524,
             "wire_bytes": 28450, "ms": 3.1},
            {"setup": "zstd-1", "coding": "zstd", "limit": 1000, "document_bytes": 108524,
             "wire_bytes": 26206, "ms": 0.18},
        ]
    },
}  # fmt: skip


def compressed_results(rps: dict[str, float], wire_zstd: int = 26206, trusted=True) -> Results:
    rows = []
    for repeat in (1, 2):
        for setup, value in rps.items():
            wire = {"none": 108524, "django-gzip": 28440 + repeat, "zstd-1": wire_zstd}[setup]
            for mode in ("raw", "msgspec"):
                rows.append(
                    Row(
                        "wsgi",
                        mode,
                        1000,
                        repeat,
                        value if mode == "raw" else value / 2,
                        bytes=108524,
                        wire_bytes=wire,
                        deployment=Deployment(compression=setup),
                        timing_ms={"compress": 0.2} if setup == "zstd-1" else {},
                        trustworthy=trusted,
                    )
                )
    return Results(rows, PLAN_META)


def by_key(res):
    return {r.key: r for r in evaluate_goals(res)[0]}


def test_goals_g12_to_g14_met_with_their_figures():
    got = by_key(compressed_results({"none": 380, "django-gzip": 190, "zstd-1": 350}))
    assert got["G12 wsgi"].status == "met" and "×0.92 (needs ×0.85)" in got["G12 wsgi"].figures
    assert got["G13 wsgi"].status == "met"
    assert (
        "26,206 bytes on the wire for the 108,524-byte document: 24.1%" in got["G13 wsgi"].figures
    )
    assert got["G14 wsgi"].status == "met" and "×1.84 (needs ×1.6)" in got["G14 wsgi"].figures


def test_goals_g12_to_g14_not_met():
    got = by_key(
        compressed_results({"none": 380, "django-gzip": 300, "zstd-1": 300}, wire_zstd=40000)
    )
    assert [got[k].status for k in ("G12 wsgi", "G13 wsgi", "G14 wsgi")] == ["not met"] * 3


def test_goals_g12_to_g14_not_measured_without_their_cells():
    got = by_key(compressed_results({"none": 380, "zstd-1": 350}))
    assert got["G12 wsgi"].status == "met"
    assert got["G14 wsgi"].status == "not measured"
    assert "Not run: wsgi+django-gzip raw @1000" in got["G14 wsgi"].figures
    got = by_key(compressed_results({"none": 380}))
    assert got["G12"].figures == "Not run: raw under zstd-1 @1000 on any server."
    untrusted = by_key(compressed_results({"none": 380, "zstd-1": 350}, trusted=False))
    assert untrusted["G12 wsgi"].status == "not measured"


def test_the_goals_before_compression_judge_uncompressed_runs_only():
    res = compressed_results({"none": 100, "django-gzip": 190, "zstd-1": 900})
    got = by_key(res)
    # G4 and G6 are judged on wsgi only, never on wsgi+zstd-1 (a server under compression).
    assert "G6 wsgi" in got and "G4 wsgi" in got
    assert not [k for k in got if "+" in k]


def test_the_compression_table_and_what_to_pick():
    res = compressed_results({"none": 380, "django-gzip": 190, "zstd-1": 350})
    table = compression_table(res)
    assert table.headers[:5] == ["server", "mode", "compression", "req/s", "× none"]
    rows = {(r[1], r[2]): r for r in table.rows}
    assert rows[("raw", "zstd-1")][3:8] == ["350", "×0.92", "26,206 (24%)", "0.200", "0.180"]
    assert rows[("raw", "none")][4] == "×1.00" and rows[("raw", "django-gzip")][7] == "3.10"
    pick = compression_pick(res)
    assert pick.startswith("**zstd-1** (CANDLEBENCH_COMPRESSION=zstd-1)")
    assert "×0.92 of none and ×1.84 of django-gzip, sending 24% of the document's bytes" in pick
    assert "codec alone takes 0.180 ms on the 108,524-byte document, Django's gzip 3.10 ms." in pick
    md = render.render_markdown(res)
    assert "## What compression costs" in md and "What to pick: **zstd-1**" in md
    # The frameworks table stays the uncompressed comparison.
    frameworks = md[md.index("## Frameworks") : md.index("## What compression costs")]
    assert "zstd-1" not in frameworks
    assert "What compression costs" in render.summary_text(res)


def test_no_compression_table_for_a_run_without_compression():
    res = Results([Row("wsgi", "raw", 1000, 1, 300.0, bytes=10, wire_bytes=10)], {})
    assert compression_table(res) is None
    assert "What compression costs" not in render.render_markdown(res)


def test_results_csv_round_trips_compression_and_wire_bytes(tmp_path):
    res = compressed_results({"none": 380, "zstd-1": 350})
    from loadtest.report.results import ResultsWriter

    with open(tmp_path / "results.csv", "w", newline="") as f:
        ResultsWriter(f).write_all(res.rows)
    rows = load_rows(tmp_path / "results.csv")
    assert {(r.compression, r.wire_bytes) for r in rows} == {("none", 108524), ("zstd-1", 26206)}
    lines = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert lines[-1]["compression"] == "zstd-1" and lines[-1]["wire_bytes"] == "26206"
    assert Results(rows, PLAN_META).servers == ["wsgi", "wsgi+zstd-1"]


# -- the real runner -----------------------------------------------------------------------------


@pytest.mark.live
@pytest.mark.database
def test_the_runner_measures_each_setup_with_its_own_server_and_header(bench_env, tmp_path):
    out = tmp_path / "run"
    env = {**bench_env, "CANDLEBENCH_COMPRESSION": "br-1"}  # left in the shell: never used
    result = run_loadtest(
        env,
        *("--servers", "wsgi", "--modes", "raw", "--limits", "300"),
        *("--compression", "none,django-gzip,zstd-1"),
        *("--repeats", "1", "--duration", "1", "--warmup", "0.3"),
        *("--no-instructions", "--no-floor", "--out", str(out)),
        timeout=240,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = {r["compression"]: r for r in csv.DictReader((out / "results.csv").open())}
    assert list(rows) == ["none", "django-gzip", "zstd-1"]
    for setup, row in rows.items():
        assert row["server"] == "wsgi" and row["failures"] == "0", (setup, row["note"])
        assert float(row["rps"]) > 0
    document = int(rows["none"]["bytes"])
    assert int(rows["none"]["wire_bytes"]) == document
    assert int(rows["zstd-1"]["bytes"]) == document  # the same document, decoded
    assert int(rows["zstd-1"]["wire_bytes"]) < 0.35 * document
    assert int(rows["django-gzip"]["wire_bytes"]) < 0.4 * document
    assert float(rows["zstd-1"]["compress_ms"]) > 0 and rows["none"]["compress_ms"] == ""
    logs = sorted(p.name for p in (out / "logs").iterdir() if p.name.startswith("server-"))
    assert logs == ["server-wsgi+django-gzip.log", "server-wsgi+zstd-1.log", "server-wsgi.log"]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["plan"]["axes"]["compression"] == ["none", "django-gzip", "zstd-1"]
    assert {c["setup"] for c in meta["micro"]["codecs"]} == {"django-gzip", "zstd-1"}
    report = (out / "report.md").read_text()
    assert "## What compression costs" in report


# -- in-process: the micro benchmark's codec alone, the ladder's compressed variants ---------------


@pytest.mark.django_db
@pytest.mark.parametrize("setup, coding", [("zstd-1", "zstd"), ("django-gzip", "gzip")])
def test_a_compressed_variant_is_the_view_then_its_setups_own_compression(
    sample_candles, setup, coding
):
    from loadtest.inprocess.views import checked_body, compressing_caller, view_caller
    from loadtest.request import candle_path

    path = candle_path("raw", 1000)
    call, is_async = view_caller(path)
    plain = checked_body(call(), path)
    response = compressing_caller(call, is_async, path, setup)()
    assert response["Content-Encoding"] == coding and len(response.content) < len(plain) / 3
    assert checked_body(response, path) == plain  # decoded before any comparison
    with pytest.raises(SystemExit, match="bolt-native compresses nothing in a Django process"):
        compressing_caller(call, is_async, path, "bolt-native")


@pytest.mark.django_db
def test_the_micro_benchmark_times_each_codec_alone_on_the_document(sample_candles):
    from loadtest.inprocess.codecs import format_codecs, time_codecs

    timings = time_codecs(["none", "django-gzip", "zstd-1", "bolt-native"], 1000, *PAIR, 0.05)
    assert [(t.setup, t.coding) for t in timings] == [("django-gzip", "gzip"), ("zstd-1", "zstd")]
    for t in timings:
        assert t.ms > 0 and t.wire_bytes < t.document_bytes / 3 and t.limit == 1000
    assert "The codec alone on the 1000-row document" in format_codecs(timings)


PAIR = ("upbit/KRW/BTC", "1m")


@pytest.mark.valgrind
def test_the_ladder_counts_the_codecs_share_of_a_request(require_tool, committed_sample_candles):
    from loadtest.inprocess.instructions import instruction_ladder, unavailable_reason
    from loadtest.tests.live_servers import server_env

    reason = unavailable_reason()
    require_tool(reason is None, f"instruction counts not checked: {reason}")
    env = server_env(DJANGO_SETTINGS_MODULE="candleproject.settings")
    ladder = instruction_ladder(["raw", "raw+zstd-1", "raw+django-gzip"], [1000], env=env)
    raw, zstd, gzip6 = (ladder.counts[m][1000] for m in ("raw", "raw+zstd-1", "raw+django-gzip"))
    assert raw < zstd < gzip6  # Django's gzip-6 costs more than zstd-1
