"""The stack a process runs (candles.api.stack) and the modes it serves there: the registry's
`stacks` per mode, a mode whose view does not import left out without taking the others down,
and /api/modes saying which stack answers (docs/stacks.md). The stacks of 2023 themselves are
run by loadtest/tests/test_stacks_live.py."""

import logging
import platform

import django
import orjson
import pytest
from django.test import override_settings

from candles.api.registry import (
    BUILTIN_MODES,
    Mode,
    ServerKind,
    django_modes,
    modes_for_kind,
    modes_on_stack,
)
from candles.api.stack import TODAY, stack_name, stack_versions

from .conftest import ALL_MODES, SAMPLE, reload_urlconf


def test_the_stack_is_named_by_its_venv():
    assert stack_name("/work/candlebench/.venv-stack-2023-08") == "2023-08"
    assert stack_name("/work/candlebench/.venv-stack-2023-08-fresh") == "2023-08-fresh"
    assert stack_name("/work/candlebench/.venv") == TODAY
    assert stack_name("/work/candlebench/.venv-django-6.1.3") == TODAY
    assert stack_name("/usr") == TODAY


def test_modes_says_which_stack_answers(db, client):
    document = orjson.loads(client.get("/api/modes").content)
    stack = document["stack"]
    assert stack == stack_versions()
    assert stack["name"] == TODAY  # the suite runs on today's stack
    assert stack["python"] == platform.python_version()
    assert stack["django"] == django.get_version()
    assert stack["pydantic"].startswith("2.") and stack["pydantic_compiled"] is None
    assert set(stack) >= {"fastapi", "starlette", "uvicorn", "djangorestframework", "orjson"}


def test_today_serves_every_mode_the_registry_gives_it():
    """Served is declared: on its own stack no module of a mode fails to import (a mode left
    out for that would show here)."""
    declared = modes_on_stack(TODAY)
    assert declared == BUILTIN_MODES  # every built-in mode runs today
    assert django_modes(diagnostics=True) == tuple(m for m in declared if m.view)
    assert [m.name for m in modes_for_kind(ServerKind.BOLT)] == ["bolt", "bolt-raw"]


def test_each_stack_runs_the_modes_of_its_packages():
    def names(stack: str) -> set[str]:
        return {m.name for m in modes_on_stack(stack) if not m.diagnostic}

    then = {"drf", "drf-validated", "drf-orjson", "drf-values", "json", "orjson", "raw"}
    study = {"fastapi-model", "fastapi-dict", "fastapi-orjson"}
    ninja = {"ninja", "ninja-orjson", "ninja-values", "ninja-basemodel"}
    msgspec = {"msgspec", "raw-msgspec"}
    assert names("2023-08") == then | study | ninja | msgspec
    assert names("2023-08-fresh") == then | study | msgspec | {"pydantic"}
    assert names(TODAY) == {m.name for m in BUILTIN_MODES if not m.diagnostic}


@pytest.fixture
def extra_modes(request):
    with override_settings(CANDLEBENCH_EXTRA_MODES=request.param):
        reload_urlconf()
        yield [mode.name for mode in request.param]
    reload_urlconf()


ELSEWHERE = Mode(
    "elsewhere",
    "a mode of another stack only",
    "candles.tests.own_mode.orm_tuples",
    stacks=frozenset({"2023-08"}),
)
BROKEN = Mode("broken", "a mode whose view does not import", "candles.tests.no_such_module.view")


@pytest.mark.parametrize("extra_modes", [[ELSEWHERE]], indirect=True)
def test_a_mode_of_another_stack_is_not_served(sample_candles, client, extra_modes):
    assert [m.name for m in django_modes()] == ALL_MODES
    assert client.get(SAMPLE.format(mode="elsewhere") + "?interval=1m").status_code == 404
    assert "elsewhere" not in client.get("/api/modes").content.decode()


@pytest.mark.parametrize("extra_modes", [[BROKEN]], indirect=True)
def test_a_mode_whose_view_does_not_import_is_left_out_alone(
    sample_candles, client, extra_modes, caplog
):
    assert [m.name for m in django_modes()] == ALL_MODES  # every other mode still served
    assert client.get(SAMPLE.format(mode="raw") + "?interval=1m").status_code == 200
    assert client.get(SAMPLE.format(mode="broken") + "?interval=1m").status_code == 404
    modes = [m["name"] for m in orjson.loads(client.get("/api/modes").content)["modes"]]
    assert modes == ALL_MODES
    # Said once, when the URLconf was loaded (the fixture's setup).
    warnings = [r.getMessage() for r in caplog.get_records("setup") if r.levelno == logging.WARNING]
    assert warnings == [
        "candles.tests.no_such_module.view is not served on stack today: ModuleNotFoundError: "
        "No module named 'candles.tests.no_such_module'"
    ]
