"""The garbage collector measured per request (Server-Timing's `gc` entry) and run as a
deployment setting (CANDLEBENCH_GC): each setup applied where the app loads and read back from
`gc`, in a process of its own (a setup changes the whole process); the live servers:
test_gc_live.py."""

import gc
import json
import subprocess
import sys

import pytest
from django.test import AsyncClient, Client

from candles.api import gc_time
from candles.api.gc_setups import (
    DEFAULT,
    SETUP_NAMES,
    SETUPS,
    UnknownGcSetup,
    gc_setup,
    served_gc_setup,
)
from candles.api.gc_time import GcSpent
from candles.api.registry import ServerKind
from candles.api.timing import ServerTiming, gc_entry
from loadtest.cli import PROJECT_ROOT
from loadtest.stats import PHASES, parse_gc_generations, parse_server_timing

from .conftest import SAMPLE

QUERY = "?interval=1m&limit=100"


def in_fresh_process(setup: str, code: str) -> dict:
    """Run `code` (Python that prints one JSON line last) in a new interpreter with the project's
    settings and CANDLEBENCH_GC=`setup`, and nothing else of this shell's environment."""
    env = {
        "DJANGO_SETTINGS_MODULE": "candleproject.settings",
        "PATH": "/usr/bin:/bin",
        "CANDLEBENCH_GC": setup,
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


READ_BACK = (
    "import json; from candles.api.gc_setups import gc_document; print(json.dumps(gc_document()))"
)


# -- the setups ----------------------------------------------------------------------------------


def test_an_unknown_setup_is_refused_naming_the_setups():
    with pytest.raises(UnknownGcSetup, match="choose from default, freeze, threshold-50k"):
        gc_setup("frozen")
    assert gc_setup("freeze").freeze and DEFAULT.name == "default"


def test_the_settings_refuse_an_unknown_setup_at_start_up():
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={
            "DJANGO_SETTINGS_MODULE": "candleproject.settings",
            "PATH": "/usr/bin:/bin",
            "CANDLEBENCH_GC": "frozen",
        },
        timeout=60,
    )
    assert out.returncode != 0
    assert "ImproperlyConfigured: CANDLEBENCH_GC='frozen' is not a GC setup" in out.stderr


def test_a_server_kind_that_cannot_run_a_setup_runs_default():
    """Collecting between requests needs Django's request_finished: bolt and FastAPI run
    `default` under it; the other setups run everywhere."""
    for kind in (ServerKind.BOLT, ServerKind.FASTAPI):
        assert served_gc_setup("between-requests", kind) is DEFAULT
        assert served_gc_setup("freeze", kind).name == "freeze"
    assert served_gc_setup("between-requests", ServerKind.DJANGO).name == "between-requests"


def test_every_setup_reads_back_as_itself_where_it_differs():
    """The read-back tells every setup apart: no two expect the same state of `gc`."""
    states = [json.dumps(s.expected_state(), sort_keys=True) for s in SETUPS]
    assert len(set(states)) == len(SETUPS)


@pytest.mark.parametrize("setup", SETUP_NAMES)
def test_loading_the_wsgi_app_applies_the_setup_and_modes_reads_it_back(setup):
    document = in_fresh_process(
        setup,
        "import json; import candleproject.wsgi; from django.test import Client; "
        "print(Client(HTTP_HOST='localhost').get('/api/modes').content.decode())",
    )
    assert document["gc"] == setup
    state = document["gc_state"]
    expected = gc_setup(setup)
    assert (
        state["frozen"] is expected.freeze and (state["frozen_objects"] > 10_000) is expected.freeze
    )
    assert state["automatic"] is (expected.between is None)
    if expected.threshold:
        assert state["threshold"] == list(expected.threshold)


@pytest.mark.parametrize("module", ["candleproject.asgi", "candleproject.asgi_stock"])
def test_loading_an_asgi_app_applies_the_setup(module):
    assert in_fresh_process("freeze", f"import {module}; {READ_BACK}")["gc"] == "freeze"


def test_under_gunicorns_hook_the_app_leaves_the_setup_to_post_worker_init():
    """gunicorn.conf.py says its post_worker_init applies the setup: loading the app does not,
    the hook does (once: a second application changes nothing)."""
    state = in_fresh_process(
        "freeze-threshold-50k",
        "import json, runpy; conf = runpy.run_path('gunicorn.conf.py'); "
        "import candleproject.wsgi; from candles.api.gc_setups import gc_document; "
        "before = gc_document()['gc']; conf['post_worker_init'](None); conf['post_worker_init'](None); "
        "print(json.dumps({'before': before, 'after': gc_document()['gc']}))",
    )
    assert state == {"before": "default", "after": "freeze-threshold-50k"}


def test_between_requests_collects_after_each_answer_and_never_on_its_own():
    """Automatic collection off; after every answer a young collection, every 10th the middle
    generation, every 100th a full one: 100 answers, 100 collections, 10 of them not young."""
    counts = in_fresh_process(
        "between-requests",
        "import json, gc; import candleproject.wsgi; from django.test import Client; "
        "from candles.api import gc_time; gc_time.install(); c = Client(HTTP_HOST='localhost'); "
        "c.get('/api/modes'); start = gc_time.mark(); "
        "[c.get('/api/modes') for _ in range(100)]; spent = gc_time.since(start); "
        "print(json.dumps({'counts': spent.counts, 'enabled': gc.isenabled()}))",
    )
    assert counts == {"counts": [90, 9, 1], "enabled": False}


# -- Server-Timing's gc entry -----------------------------------------------------------------


def test_the_gc_entry_says_the_total_and_each_generation_that_collected():
    spent = GcSpent(counts=(2, 0, 1), seconds=(0.0001, 0.0, 0.0011))
    entry = gc_entry(spent)
    assert entry == 'gc;dur=1.200;desc="gen0 2x 0.100ms gen2 1x 1.100ms"'
    header = f"db;dur=1.000, serialize;dur=2.000, render;dur=0.500, {entry}"
    assert parse_server_timing(header) == {"db": 1.0, "serialize": 2.0, "render": 0.5, "gc": 1.2}
    assert parse_gc_generations(header) == {0: (2, 0.1), 2: (1, 1.1)}
    assert gc_entry(GcSpent(counts=(0, 0, 0), seconds=(0.0, 0.0, 0.0))) == "gc;dur=0.000"
    assert parse_gc_generations("db;dur=1, gc;dur=0.000") == {}
    assert "gc" not in PHASES  # inside the phases: never summed with them


@pytest.fixture
def collecting_in_every_lap(monkeypatch):
    """Every Server-Timing lap of a view runs a full collection first: collections inside the
    request, which the `gc` entry must count."""
    lap = ServerTiming.lap

    def collecting_lap(self, name: str) -> None:
        gc.collect()
        lap(self, name)

    monkeypatch.setattr(ServerTiming, "lap", collecting_lap)


def assert_collections_counted(header: str, mode: str) -> None:
    timing = parse_server_timing(header)
    generations = parse_gc_generations(header)
    assert timing["gc"] > 0, (mode, header)
    assert generations[2][0] >= 3, (mode, header)  # db, serialize, render: one each
    assert timing["gc"] == pytest.approx(sum(ms for _, ms in generations.values()), abs=0.01)


@pytest.mark.parametrize("mode", ["drf", "ninja", "raw", "msgspec"])
def test_a_collection_inside_a_request_is_in_its_gc_entry(
    sample_candles, collecting_in_every_lap, mode
):
    response = Client().get(SAMPLE.format(mode=mode) + QUERY)
    assert response.status_code == 200
    assert_collections_counted(response["Server-Timing"], mode)


@pytest.mark.django_db(transaction=True)
async def test_an_async_view_under_asgi_counts_its_collections_too(
    committed_sample_candles, collecting_in_every_lap
):
    response = await AsyncClient().get(SAMPLE.format(mode="orjson") + QUERY)
    assert response.status_code == 200
    assert_collections_counted(response["Server-Timing"], "orjson")


def test_without_a_collection_the_entry_is_zero(sample_candles):
    gc.disable()
    try:
        gc.collect()
        response = Client().get(SAMPLE.format(mode="raw") + "?interval=1m&limit=1")
    finally:
        gc.enable()
    assert response["Server-Timing"].endswith(", gc;dur=0.000")


def test_error_answers_carry_no_server_timing(empty_pair):
    response = Client().get(SAMPLE.format(mode="raw") + "?interval=2m")
    assert response.status_code == 400 and "Server-Timing" not in response


def test_the_clock_keeps_the_longest_collection_per_generation():
    gc_time.install()
    gc_time.reset_longest()
    start = gc_time.mark()
    gc.collect(2)
    spent = gc_time.since(start)
    assert spent.counts[2] == 1 and spent.total_s > 0
    assert gc_time.longest()[2] == pytest.approx(spent.seconds[2])
