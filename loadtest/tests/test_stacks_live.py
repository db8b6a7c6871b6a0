"""The stacks of 2023 for real (docs/stacks.md): each built by `make stack` from its pinned set
(from the package registry, or reused when up to date) and pinned whole; the project's Django
app under gunicorn and uvicorn and the case study's FastAPI app run from each stack's venv on a
throwaway seeded database, each serving exactly the modes the registry gives that stack, every
document equal to today's `raw` (byte for byte; the FastAPI modes as instants); and the database
settings degraded to Django 4.2's without a connection per request."""

import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from candles.api.registry import modes_on_stack
from loadtest.cli import PROJECT_ROOT, CheckError
from loadtest.serving.checks import as_instants
from loadtest.serving.servers import SERVERS, free_port
from loadtest.serving.stacks import on_stack, stack_description, stack_python
from loadtest.tests.live_servers import http_get, lists_its_modes, running_process
from loadtest.tests.test_stacks import OLD_STACKS, pins

pytestmark = [pytest.mark.live, pytest.mark.database]

PAIR = "candle/upbit/KRW/BTC"
LIMITS = (1, 300)  # bench_env seeds 300 1m candles
FASTAPI_MODES = ["fastapi-model", "fastapi-dict", "fastapi-orjson"]


@pytest.fixture(scope="module")
def built() -> dict[str, Path | str]:
    """Each stack of 2023's interpreter once `make stack` has built (or kept) its venv; where the
    Python it needs is missing, the message saying what to install."""
    found: dict[str, Path | str] = {}
    for name in OLD_STACKS:
        try:
            stack_python(name)
        except CheckError as exc:
            if "pyenv install" in str(exc):
                found[name] = str(exc)
                continue
        build = subprocess.run(
            ["make", "--no-print-directory", "stack", f"STACK={name}"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert build.returncode == 0, f"make stack STACK={name}:\n{build.stdout}{build.stderr}"
        found[name] = stack_python(name)
    return found


@pytest.fixture(params=OLD_STACKS)
def stack(request, built, require_tool) -> tuple[str, Path]:
    """(name, interpreter) of a stack of 2023, built; skipped (CI: failed) without its Python."""
    python = built[request.param]
    require_tool(isinstance(python, Path), str(python))
    assert isinstance(python, Path)
    return request.param, python


@contextlib.contextmanager
def serving(server: str, python: Path, env: dict[str, str], log_dir: Path) -> Iterator[str]:
    """The runner's `server` (its command line) run by `python`; its base URL once it answers."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with running_process(
        on_stack(SERVERS[server].command("127.0.0.1", port), python),
        log_dir / f"{server}.log",
        env,
        lambda: lists_its_modes(base_url),
        what=f"{server} run by {python}",
    ):
        yield base_url


def candle_url(base_url: str, mode: str, query: str) -> str:
    return f"{base_url}/api/{mode}/{PAIR}{query}"


@pytest.fixture(scope="module")
def today(bench_env, tmp_path_factory) -> dict[str, bytes]:
    """Today's answers on the same rows, from today's gunicorn: raw's documents by limit, and
    its 400 and 404 bodies."""
    log_dir = tmp_path_factory.mktemp("today")
    with serving("wsgi", stack_python("today"), bench_env, log_dir) as base_url:
        answers = {
            str(limit): http_get(candle_url(base_url, "raw", f"?interval=1m&limit={limit}"))[2]
            for limit in LIMITS
        }
        answers["400"] = http_get(candle_url(base_url, "raw", "?interval=2m"))[2]
        answers["404"] = http_get(f"{base_url}/api/raw/candle/upbit/KRW/NOPE?interval=1m")[2]
    assert all(len(orjson.loads(answers[str(limit)])["data"]) == limit for limit in LIMITS)
    return answers


def test_a_stack_is_built_pinned_whole(stack):
    name, python = stack
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    installed = {
        line.split("==")[0].lower().replace("_", "-"): line.split("==")[1] for line in listed
    }
    # pip and setuptools: what Python 3.11.7's venv comes with; nothing else but the pins.
    assert {k: v for k, v in installed.items() if k not in {"pip", "setuptools"}} == pins(name)
    description = stack_description(name)
    expected = pins(name)
    assert description["name"] == name and description["python"] == "3.11.7"
    for key in ("django", "djangorestframework", "fastapi", "pydantic", "starlette", "uvicorn"):
        assert description[key] == expected[key], key
    if name == "2023-08":
        assert description["pydantic_compiled"] is True  # Cython-built, as the study ran it
        assert description["django_ninja"] == expected["django-ninja"]
    else:
        assert description["pydantic_compiled"] is None  # v2: pydantic-core
        assert description["pydantic_core"] == expected["pydantic-core"]


@pytest.mark.parametrize("server", ["wsgi", "asgi"])
def test_the_app_serves_its_stacks_modes_with_todays_documents(
    stack, server, today, bench_env, tmp_path
):
    name, python = stack
    declared = modes_on_stack(name)
    with serving(server, python, bench_env, tmp_path) as base_url:
        document = orjson.loads(http_get(f"{base_url}/api/modes")[2])
        assert document["stack"]["name"] == name
        assert document["stack"]["django"] == pins(name)["django"]
        modes = [m["name"] for m in document["modes"]]
        diagnostics = [m["name"] for m in document["diagnostics"]]
        assert modes == [m.name for m in declared if m.view and not m.diagnostic]
        assert diagnostics == ["floor", "floor-async"]
        assert {"drf", "drf-validated", "json", "orjson", "raw"} <= set(modes)
        assert ("ninja" in modes) == (name == "2023-08")
        for limit in LIMITS:
            for mode in modes + diagnostics:
                status, headers, body = http_get(
                    candle_url(base_url, mode, f"?interval=1m&limit={limit}")
                )
                assert (status, body) == (200, today[str(limit)]), (mode, limit, body[:200])
                assert headers["server-timing"].startswith(("db;", "render;")), mode
        for mode in modes:
            assert http_get(candle_url(base_url, mode, "?interval=2m"))[2] == today["400"], mode
            unknown = f"{base_url}/api/{mode}/candle/upbit/KRW/NOPE?interval=1m"
            assert http_get(unknown)[2] == today["404"], mode


def test_the_case_studys_app_runs_on_its_stack_as_written(stack, today, bench_env, tmp_path):
    name, python = stack
    with serving("fastapi", python, bench_env, tmp_path) as base_url:
        document = orjson.loads(http_get(f"{base_url}/api/modes")[2])
        assert document["stack"]["name"] == name
        assert document["stack"]["fastapi"] == pins(name)["fastapi"]
        assert [m["name"] for m in document["modes"]] == FASTAPI_MODES
        assert [m["name"] for m in document["diagnostics"]] == ["floor"]
        spellings = {}
        for limit in LIMITS:
            for mode in FASTAPI_MODES:
                status, _, body = http_get(
                    candle_url(base_url, mode, f"?interval=1m&limit={limit}")
                )
                assert status == 200, (mode, body[:300])
                assert as_instants(body) == as_instants(today[str(limit)]), (mode, limit)
                spellings[mode] = orjson.loads(body)["data"][0]["basetm"][19:]
            floor = http_get(candle_url(base_url, "floor", f"?interval=1m&limit={limit}"))
            assert floor[:3:2] == (200, today[str(limit)])
        status, _, body = http_get(candle_url(base_url, "fastapi-model", "?interval=2m"))
        assert status == 422
        assert [error["loc"] for error in orjson.loads(body)["detail"]] == [["query", "interval"]]
    # FastAPI 0.99's jsonable_encoder (Pydantic v1) writes isoformat()'s +00:00; v2 writes Z.
    model = "+00:00" if name == "2023-08" else "Z"
    assert spellings == {"fastapi-model": model, "fastapi-dict": model, "fastapi-orjson": "+00:00"}


# Run by a stack's interpreter: the database settings it sees, and whether a second "request"
# (Django's request_finished closes old connections) reuses the first one's connection.
CONNECTION_PROBE = """
import json
import django
django.setup()
from django.conf import settings
from django.db import close_old_connections, connection

def query():
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA synchronous")
        else:
            cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]

first = query()
opened = connection.connection
close_old_connections()
second = query()
db = settings.DATABASES["default"]
print(json.dumps({
    "vendor": connection.vendor,
    "options": sorted(db["OPTIONS"]),
    "conn_max_age": db["CONN_MAX_AGE"],
    "health_checks": db["CONN_HEALTH_CHECKS"],
    "answers": [first, second],
    "same_connection": connection.connection is opened,
}))
"""


def test_the_database_settings_degrade_to_django_4_2(stack, bench_env):
    """No pool and no init_command before Django 5.1: persistent connections instead (never one
    per request), SQLite's PRAGMAs on each new connection (synchronous=NORMAL is per connection:
    1, where SQLite's default is 2)."""
    _name, python = stack
    result = subprocess.run(
        [str(python), "-c", CONNECTION_PROBE],
        cwd=PROJECT_ROOT,
        env=bench_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["same_connection"] is True
    assert (seen["conn_max_age"], seen["health_checks"]) == (600, True)
    if seen["vendor"] == "sqlite":
        assert seen["options"] == ["timeout"]
        assert seen["answers"] == [1, 1]  # synchronous=NORMAL
    else:
        assert "pool" not in seen["options"]
        assert seen["answers"][0] == seen["answers"][1]  # one backend process


# Run by a stack's interpreter: raw's answer to a client that accepts gzip, through the API's
# own chain (the compression middleware first), decoded.
GZIP_PROBE = """
import gzip
import sys
import django
django.setup()
from django.test import Client
response = Client(HTTP_HOST="localhost").get(
    "/api/raw/candle/upbit/KRW/BTC?interval=1m&limit=300", HTTP_ACCEPT_ENCODING="gzip"
)
sys.stdout.buffer.write(response["Content-Encoding"].encode() + b" " + gzip.decompress(response.content))
"""


def test_compression_the_stack_lacks_is_refused_by_name(stack, today, bench_env):
    """No brotli or backports.zstd on the stacks of 2023: their setups fail at start-up saying
    which package is missing; gzip (the stdlib's) compresses the same document."""
    _name, python = stack

    def run(setup: str, code: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(python), "-c", code],
            cwd=PROJECT_ROOT,
            env={**bench_env, "CANDLEBENCH_COMPRESSION": setup},
            capture_output=True,
            timeout=60,
        )

    for setup, missing in (("zstd-1", "backports.zstd"), ("br-1", "brotli")):
        refused = run(setup, "import django; django.setup()")
        assert refused.returncode != 0
        assert f"CANDLEBENCH_COMPRESSION='{setup}' needs {missing}".encode() in refused.stderr
    answered = run("gzip-1", GZIP_PROBE)
    assert answered.returncode == 0, answered.stderr.decode()[-2000:]
    assert answered.stdout == b"gzip " + today["300"]
