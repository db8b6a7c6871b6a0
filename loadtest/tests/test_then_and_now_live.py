"""The runner across stacks for real: `bench --stacks 2023-08,today --servers fastapi,wsgi
--limits 1` (short runs) on a throwaway database serves the case study's app and the Django
modes from the stack of 2023's venv and today's in one session, checks every document (the 2023
FastAPI modes as instants), and writes the stack column, the labels and the then-and-now table.
Skipped, saying what to install, without the stack (CI: failed)."""

import csv
import json

import pytest

from loadtest.cli import CheckError
from loadtest.serving.stacks import stack_python
from loadtest.tests.live_servers import run_loadtest

pytestmark = [pytest.mark.live, pytest.mark.database]


@pytest.fixture
def study_stack(require_tool) -> None:
    try:
        stack_python("2023-08")
    except CheckError as exc:
        require_tool(False, str(exc))


def test_one_session_serves_the_study_and_djangos_modes_from_each_stack(
    bench_env, study_stack, tmp_path
):
    out = tmp_path / "then-and-now"
    result = run_loadtest(
        bench_env,
        "bench",
        "--stacks",
        "2023-08,today",
        "--servers",
        "fastapi,wsgi",
        "--limits",
        "1",
        "--modes",
        "fastapi-model,fastapi-dict,fastapi-orjson,drf,ninja,raw",
        "--repeats",
        "1",
        "--duration",
        "0.5",
        "--warmup",
        "0.1",
        "--no-micro",
        "--no-instructions",
        "--out",
        str(out),
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    labels = ["fastapi", "fastapi+stack=2023-08", "wsgi", "wsgi+stack=2023-08"]
    for label in labels:  # each started, its documents checked
        assert f"\n{label}: " in result.stdout
    rows = list(csv.DictReader((out / "results.csv").read_text().splitlines()))
    served = {(r["server"], r["stack"]) for r in rows}
    assert served == {(s, stack) for s in ("fastapi", "wsgi") for stack in ("today", "2023-08")}
    on_stack: dict[tuple[str, str], list[str]] = {}
    for r in rows:
        on_stack.setdefault((r["server"], r["stack"]), []).append(r["mode"])
    for stack in ("today", "2023-08"):
        assert on_stack[("fastapi", stack)] == [
            "fastapi-model",
            "fastapi-dict",
            "fastapi-orjson",
            "floor",
        ]
        assert on_stack[("wsgi", stack)] == ["drf", "ninja", "raw", "floor"]
    assert all(float(r["rps"]) > 0 and r["failures"] == "0" for r in rows)

    meta = json.loads((out / "meta.json").read_text())
    assert meta["stacks"]["2023-08"]["python"] == "3.11.7"
    assert meta["stacks"]["2023-08"]["fastapi"] == "0.99.1"
    assert meta["stacks"]["today"]["name"] == "today"
    assert "the micro benchmark" in meta["on_todays_stack"]
    # On 2023-08 every FastAPI variant writes UTC as +00:00; today only its orjson variant.
    assert meta["spelled_differently"]["fastapi+stack=2023-08"] == dict.fromkeys(
        ("fastapi-model", "fastapi-dict", "fastapi-orjson"), "UTC as +00:00"
    )
    assert meta["spelled_differently"]["fastapi"] == {"fastapi-orjson": "UTC as +00:00"}
    assert "wsgi+stack=2023-08" not in meta["spelled_differently"]  # byte-identical

    report = (out / "report.md").read_text()
    section = report[report.index("## Then and now") :]
    assert "| variant | server | 2023-08: 1 row | today: 1 row | today ÷ 2023-08 @1 |" in section
    for mode in ("fastapi-model", "drf", "ninja", "raw"):
        assert f"| {mode} |" in section
    assert "| 2023-08 | 3.11.7 | 0.99.1 | 1.10.12 (compiled) |" in section
    assert "Then and now: requests/s" in result.stdout  # the printed summary
    assert "G15 NOT MEASURED" in result.stdout  # no run at 1000 rows
