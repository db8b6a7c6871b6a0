"""What every command does at its edges: options refused before any work, output folders,
Ctrl-C, help texts."""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import pytest

from loadtest import bench, soak, spike
from loadtest.cli import (
    EXIT_INTERRUPTED,
    RESULTS_DIR,
    CheckError,
    create_results_dir,
    update_latest,
)
from loadtest.inprocess import tablesize
from loadtest.load import workers
from loadtest.serving.servers import PROJECT_ROOT as PROJECT
from loadtest.tests.live_servers import run_loadtest

STARTED = datetime(2026, 11, 25, 1, 2, 3, tzinfo=UTC)
PARSERS = {
    "runner": bench.build_parser,
    "spike": spike.build_parser,
    "soak": soak.build_parser,
    "tablesize": tablesize.build_parser,
    "worker": workers.build_parser,
}


def command(
    *argv: str, env: dict | None = None, timeout: float = 60
) -> subprocess.CompletedProcess:
    return run_loadtest(dict(os.environ) if env is None else env, *argv, timeout=timeout)


# -- output folders -----------------------------------------------------------------------------


def test_default_folders_are_unique_even_within_one_second(tmp_path):
    first = create_results_dir(None, STARTED, root=tmp_path)
    second = create_results_dir(None, STARTED, root=tmp_path)
    spiked = create_results_dir(None, STARTED, "spike", root=tmp_path)
    spiked_again = create_results_dir(None, STARTED, "spike", root=tmp_path)
    assert [p.name for p in (first, second, spiked, spiked_again)] == [
        "20261125-010203",
        "20261125-010203-2",
        "20261125-010203-spike",
        "20261125-010203-2-spike",
    ]
    assert all(p.is_dir() for p in (first, second, spiked, spiked_again))


def test_a_non_empty_out_is_refused_unless_forced(tmp_path):
    out = tmp_path / "run1"
    assert create_results_dir(out, STARTED) == out.resolve()  # new: created
    assert create_results_dir(out, STARTED) == out.resolve()  # empty: fine
    (out / "logs").mkdir()
    with pytest.raises(CheckError, match=r"^--out .*run1 is not empty .*--force"):
        create_results_dir(out, STARTED)
    assert create_results_dir(out, STARTED, force=True) == out.resolve()


def test_an_out_that_cannot_be_created_or_is_a_file_is_refused(tmp_path):
    with pytest.raises(CheckError, match=r"^--out /proc/forbidden cannot be created or written: "):
        create_results_dir(tmp_path.parent / "/proc/forbidden", STARTED)
    (tmp_path / "file").write_text("x")
    with pytest.raises(CheckError, match="is a file, not a folder"):
        create_results_dir(tmp_path / "file", STARTED)


def test_latest_lives_only_in_the_results_folder(tmp_path):
    root = tmp_path / "results"
    first, second = (
        create_results_dir(None, STARTED, root=root),
        create_results_dir(None, STARTED, root=root),
    )
    assert update_latest(first, root) and update_latest(second, root)
    assert os.readlink(root / "latest") == second.name
    elsewhere = tmp_path / "x" / "run1"
    elsewhere.mkdir(parents=True)
    assert not update_latest(elsewhere, root)
    assert os.readlink(root / "latest") == second.name
    assert sorted(os.listdir(tmp_path / "x")) == ["run1"]  # no x/latest


@pytest.mark.live
@pytest.mark.parametrize("name", ["runner", "spike", "soak"])
def test_an_unusable_out_is_refused_before_any_work(name, bench_env):
    argv = [] if name == "runner" else [name]
    result = command(*argv, "--out", "/proc/forbidden", env=bench_env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.strip() == (
        "candlebench refuses to run: --out /proc/forbidden cannot be created or "
        "written: No such file or directory"
    )
    assert (
        "migrating" not in result.stdout
        and "plan:" not in result.stdout
        and "results" not in result.stdout
    )
    assert "Traceback" not in result.stderr


@pytest.mark.live
def test_a_refused_run_names_no_folder_and_creates_none(bench_env, tmp_path):
    out = tmp_path / "never"
    result = command("--limits", "0", "--out", str(out), env=bench_env)
    assert result.returncode == 2 and "limits must be within" in result.stderr
    assert "results will be in" not in result.stdout and not out.exists()


# -- Ctrl-C -------------------------------------------------------------------------------------


@pytest.mark.live
def test_ctrl_c_stops_the_servers_says_one_line_and_keeps_a_partial_report(bench_env, tmp_path):
    out = tmp_path / "results" / "run1"
    latest = RESULTS_DIR / "latest"
    latest_before = os.readlink(latest) if latest.is_symlink() else None
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "loadtest",
            "--modes",
            "drf,raw",
            "--limits",
            "100",
            "--servers",
            "asgi",
            "--repeats",
            "3",
            "--duration",
            "1",
            "--warmup",
            "0.3",
            "--no-micro",
            "--out",
            str(out),
        ],
        cwd=PROJECT,
        env=bench_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout: list[str] = []
    second_run = threading.Event()

    def read() -> None:
        for line in proc.stdout:
            stdout.append(line)
            if re.match(r"\[\s*2/", line):
                second_run.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert second_run.wait(120), "".join(stdout)
        time.sleep(0.8)  # into the third run's measurement: Locust's users are mid-request
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        stderr = proc.stderr.read()
        assert proc.wait(60) == EXIT_INTERRUPTED, "".join(stdout) + stderr
    finally:
        proc.kill()
    reader.join(10)
    printed = "".join(stdout) + stderr
    assert "Traceback" not in printed and "geventhttpclient" not in printed, printed
    [line] = [line for line in stderr.splitlines() if line.strip()]
    assert re.fullmatch(
        rf"interrupted; servers stopped; interrupted after [23] of 12 runs; partial report: "
        rf"{re.escape(str(out / 'report.md'))}",
        line,
    ), line
    assert "**Partial run: interrupted after" in (out / "report.md").read_text()
    assert "Partial run" in (out / "report.html").read_text()
    # The server is gone: its port no longer answers.
    port = int(re.search(r"^asgi: .* on 127\.0\.0\.1:(\d+)", "".join(stdout), re.M).group(1))
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    # `latest` still points at the newest complete run, and none was made next to --out.
    assert (os.readlink(latest) if latest.is_symlink() else None) == latest_before
    assert sorted(os.listdir(out.parent)) == ["run1"]


# -- options refused before any work ------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--users", "0"],
            r"--users must be more than --baseline-users, and that more than 0 \(got 0 and 16\)",
        ),
        (["--users", "16"], r"--users must be more than --baseline-users"),
        (
            ["--baseline-users", "0"],
            r"--users must be more than --baseline-users, and that more than 0",
        ),
        (["--hold", "-1"], r"--spawn-seconds and --hold must be > 0"),
        (["--spawn-seconds", "0"], r"--spawn-seconds and --hold must be > 0"),
        (["--baseline-seconds", "1"], r"--baseline-seconds must be > 1"),
        (
            ["--recovery-seconds", "2"],
            r"--settle must be >= 0 and --recovery-seconds more than --settle",
        ),
        (["--settle", "-1"], r"--settle must be >= 0"),
        (["--recovery-factor", "0.5"], r"--recovery-factor must be >= 1"),
        (["--limit-concurrency", "0"], r"--limit-concurrency must be >= 1"),
        (["--servers", "asgi,nope"], r"unknown server\(s\): nope \(choose from "),
    ],
)
def test_every_spike_option_is_checked(argv, message):
    with pytest.raises(CheckError, match="^" + message):
        spike.check_args(spike.build_parser().parse_args(argv))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--minutes", "0"], r"--minutes and --sample-seconds must be > 0"),
        (["--sample-seconds", "-5"], r"--minutes and --sample-seconds must be > 0"),
        (["--users", "0"], r"--minutes and --sample-seconds must be > 0 and --users >= 1"),
        (["--warmup-minutes", "-1"], r"--warmup-minutes must be >= 0"),
        (["--max-growth", "0"], r"--warmup-minutes must be >= 0 and --max-growth > 0"),
        # Too short for the verdict's 3-sample means before and after.
        (
            ["--minutes", "0.1"],
            r"--minutes 0.1 gives 0 RSS sample\(s\) after warm-up, the verdict needs 6 .* "
            r"use --minutes >= 0.63",
        ),
        (["--minutes", "0.5", "--sample-seconds", "5"], r"--minutes 0.5 gives 4 RSS sample\(s\)"),
    ],
)
def test_every_soak_option_is_checked(argv, message):
    with pytest.raises(CheckError, match="^" + message):
        soak.check_args(soak.build_parser().parse_args(argv))


def test_a_soak_long_enough_for_its_verdict_is_accepted():
    for argv in ([], ["--minutes", "0.63"], ["--minutes", "0.2", "--sample-seconds", "1"]):
        soak.check_args(soak.build_parser().parse_args(argv))


def test_a_soak_with_too_few_samples_after_warm_up_fails_its_verdict():
    """Two samples after warm-up once passed against the README's 3-sample means."""
    rows = [{"t_s": t, "rss_mb": 100.0, "requests": 10, "failures": 0} for t in (5.0, 10.0, 15.0)]
    result = soak.soak_verdict(rows, {}, warmup_s=9)
    assert not result.passed
    assert result.reasons == [
        "too few RSS samples after warm-up to judge memory growth (the verdict compares "
        "the means of the first and the last 3)"
    ]


@pytest.mark.parametrize(
    "argv", [["spike", "--users", "0"], ["spike", "--hold", "-1"], ["soak", "--minutes", "0.1"]]
)
def test_spike_and_soak_refuse_in_one_line_before_any_work(argv, tmp_path):
    out = tmp_path / "out"
    result = command(*argv, "--out", str(out), timeout=30)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.strip().startswith("candlebench refuses to run: ")
    assert not out.exists()


# -- help -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_option_has_a_help_text_and_no_empty_default(name):
    parser = PARSERS[name]()
    for action in parser._actions:
        assert action.help, f"{name} {action.option_strings} has no help text"
    text = parser.format_help()
    assert "(default: None)" not in text and "(default: False)" not in text
