"""The one list of modes: what each is, which view serves it, whether it validates, which
kinds of server serve it. URLs, OpenAPI, /api/modes, the admin's links and the runner read it.

A mode served by Django names its view by dotted path; modes that only another kind of
server serves (django-bolt's runbolt, the FastAPI reference app) have no Django view. More
modes come from the setting CANDLEBENCH_EXTRA_MODES (a list of Mode), so a project can add
its own serializer as one view and one entry.

Each mode also names the software stacks it runs on (`stacks`: docs/stacks.md): a process
serves the modes of its own stack (candles.api.stack) whose view imports there; the others
are simply not served, so one module that cannot import on an older stack takes no route down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from .stack import TODAY, stack_name, stack_versions

logger = logging.getLogger(__name__)


class ServerKind(StrEnum):
    """What a server runs, which decides the modes it serves; the load harness names its
    servers and says which kind each one runs (loadtest/servers.py)."""

    DJANGO = "django"  # Django's URLconf under a WSGI or ASGI server: every mode with a view
    BOLT = "bolt"  # django-bolt's runbolt serving candles/api/modes/bolt.py
    FASTAPI = "fastapi"  # the case study's FastAPI app, loadtest/reference/fastapi_app.py


DJANGO_ONLY: frozenset[ServerKind] = frozenset({ServerKind.DJANGO})
BOLT_ONLY: frozenset[ServerKind] = frozenset({ServerKind.BOLT})
FASTAPI_ONLY: frozenset[ServerKind] = frozenset({ServerKind.FASTAPI})
EVERY_KIND: frozenset[ServerKind] = frozenset(ServerKind)

# The stacks a mode runs on, by name: `today` and the folders of stacks/ (docs/stacks.md).
# None: every stack.
EVERY_STACK = None
TODAY_ONLY: frozenset[str] = frozenset({TODAY})
# django-ninja 0.22 (Pydantic v1, ninja's schema from pydantic_v1.py) on 2023-08; 2023-08-fresh
# has Pydantic 2.3, which no ninja release of its day took.
NINJA_STACKS: frozenset[str] = frozenset({"2023-08", TODAY})
# Pydantic v2's own API (TypeAdapter, AwareDatetime): 2.3 on 2023-08-fresh, today's.
PYDANTIC_V2_STACKS: frozenset[str] = frozenset({"2023-08-fresh", TODAY})


@dataclass(frozen=True)
class Mode:
    name: str
    description: str
    view: str | None = None  # dotted path of the Django view; None: no Django view
    validates: bool = False  # checks every row against the response schema (500 otherwise)
    diagnostic: bool = False  # not a mode: a measurement aid such as the floor ceiling
    kinds: frozenset[ServerKind] = DJANGO_ONLY  # the kinds of server that serve it
    stacks: frozenset[str] | None = EVERY_STACK  # the stacks it runs on; None: every one

    def runs_on(self, stack: str) -> bool:
        """Whether the stack called `stack` serves it."""
        return self.stacks is None or stack in self.stacks


# In the order the report lists them: slowest expected first.
BUILTIN_MODES: tuple[Mode, ...] = (
    Mode(
        "drf-validated",
        "DRF ModelSerializer, then the output validated again by a response serializer "
        "(FastAPI response_model analogue)",
        "candles.api.modes.drf.drf_validated",
        validates=True,
    ),
    Mode(
        "drf",
        "DRF ModelSerializer(many=True) rendered by DRF's JSONRenderer",
        "candles.api.modes.drf.drf",
    ),
    Mode(
        "drf-orjson",
        "the same DRF serializer rendered with orjson",
        "candles.api.modes.drf.drf_orjson",
    ),
    Mode(
        "drf-values",
        "drf-orjson fed .values() dicts instead of model instances, written by a plain "
        "Serializer of the same fields (no validation)",
        "candles.api.modes.drf.drf_values",
    ),
    Mode(
        "ninja",
        "django-ninja with a Pydantic response schema",
        "candles.api.modes.ninja.ninja",
        validates=True,
        stacks=NINJA_STACKS,
    ),
    Mode(
        "ninja-orjson",
        "the ninja mode with the orjson renderer of ninja's documentation",
        "candles.api.modes.ninja.ninja_orjson",
        validates=True,
        stacks=NINJA_STACKS,
    ),
    Mode(
        "ninja-values",
        "ninja-orjson fed .values() dicts instead of model instances",
        "candles.api.modes.ninja.ninja_values",
        validates=True,
        stacks=NINJA_STACKS,
    ),
    Mode(
        "ninja-basemodel",
        "ninja-values with the pydantic mode's plain Pydantic model as response schema instead "
        "of a ninja Schema (no ninja getter per field)",
        "candles.api.modes.ninja.ninja_basemodel",
        validates=True,
        stacks=NINJA_STACKS,
    ),
    Mode(
        "json",
        ".values() into Django's JsonResponse (stdlib json)",
        "candles.api.modes.plain.json_mode",
    ),
    Mode(
        "pydantic",
        "no framework: .values() validated by a Pydantic TypeAdapter of the response schema, "
        "its dump_json() into HttpResponse",
        "candles.api.modes.pydantic.pydantic_mode",
        validates=True,
        stacks=PYDANTIC_V2_STACKS,
    ),
    Mode(
        "orjson",
        "async view, async ORM iteration over .values(), orjson into HttpResponse",
        "candles.api.modes.plain.orjson_mode",
    ),
    Mode(
        "msgspec",
        ".values() converted into msgspec Structs (validation), msgspec.json.encode into HttpResponse",
        "candles.api.modes.msgspec.msgspec_mode",
        validates=True,
    ),
    Mode(
        "raw",
        "the selector's SQL on the DB cursor, tuples to orjson: no ORM hydration "
        "(on SQLite the time is read as its stored text, already the document's spelling)",
        "candles.api.modes.plain.raw_mode",
    ),
    Mode(
        "raw-msgspec",
        "the selector's SQL on the DB cursor, rows validated into msgspec Structs, msgspec.json.encode",
        "candles.api.modes.msgspec.raw_msgspec_mode",
        validates=True,
    ),
    Mode(
        "bolt",
        "django-bolt's own server: ORM .values() into msgspec Structs, bolt's typed handler",
        validates=True,
        kinds=BOLT_ONLY,
        stacks=TODAY_ONLY,  # django-bolt (2025) needs Python 3.12
    ),
    Mode(
        "bolt-raw",
        "django-bolt's own server: the selector's SQL on the DB cursor into msgspec Structs",
        validates=True,
        kinds=BOLT_ONLY,
        stacks=TODAY_ONLY,  # django-bolt (2025) needs Python 3.12
    ),
    Mode(
        "fastapi-model",
        "the case study's FastAPI app: Pydantic response_model (the study's types: float and "
        "datetime, no range or finiteness checks)",
        kinds=FASTAPI_ONLY,
    ),
    Mode("fastapi-dict", "the case study's FastAPI app without response_model", kinds=FASTAPI_ONLY),
    Mode(
        "fastapi-orjson",
        "the case study's FastAPI app: orjson.dumps in a plain Response",
        kinds=FASTAPI_ONLY,
    ),
    Mode(
        "floor",
        "the same answer's bytes from memory after the first request: the server's ceiling",
        "candles.api.modes.floor.floor",
        diagnostic=True,
        kinds=EVERY_KIND,
    ),
    Mode(
        "floor-async",
        "floor as an async view: the ceiling for async modes",
        "candles.api.modes.floor.floor_async",
        diagnostic=True,
    ),
)


def registered_modes() -> tuple[Mode, ...]:
    """The built-in modes, then those of settings.CANDLEBENCH_EXTRA_MODES."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    modes = BUILTIN_MODES + tuple(getattr(settings, "CANDLEBENCH_EXTRA_MODES", ()))
    names = [m.name for m in modes]
    if len(set(names)) != len(names):
        twice = sorted({name for name in names if names.count(name) > 1})
        raise ImproperlyConfigured(
            f"CANDLEBENCH_EXTRA_MODES repeats mode name(s): {', '.join(twice)}"
        )
    return modes


def modes_on_stack(stack: str) -> tuple[Mode, ...]:
    """The modes and diagnostics the registry says the stack called `stack` runs."""
    return tuple(m for m in registered_modes() if m.runs_on(stack))


def modes_for_kind(kind: ServerKind, *, diagnostics: bool = False) -> tuple[Mode, ...]:
    """What a server of `kind` serves on this process's stack, in report order; diagnostics only
    when asked for."""
    return tuple(
        m
        for m in modes_on_stack(stack_name())
        if kind in m.kinds and (diagnostics or not m.diagnostic)
    )


def django_modes(*, diagnostics: bool = False) -> tuple[Mode, ...]:
    """The modes Django's URLconf serves: those of this process's stack with a view, whose view
    imports here."""
    return tuple(
        m
        for m in modes_on_stack(stack_name())
        if m.view and (diagnostics or not m.diagnostic) and mode_view(m.view) is not None
    )


@cache
def mode_view(view: str) -> Callable | None:
    """The view at dotted path `view`, or None (logged) when its module does not import here: a
    mode this stack cannot serve is not served, and takes no other route down."""
    from django.utils.module_loading import import_string

    try:
        return import_string(view)
    except Exception as exc:
        logger.warning(
            "%s is not served on stack %s: %s: %s", view, stack_name(), type(exc).__name__, exc
        )
        return None


def modes_document(modes: tuple[Mode, ...]) -> dict:
    """The body of GET /api/modes for a server that serves `modes` (every server answers it),
    with the stack it runs (candles.api.stack)."""

    def entry(m: Mode) -> dict:
        path = f"/api/{m.name}/candle/{{exchange}}/{{market}}/{{asset}}"
        return {
            "name": m.name,
            "description": m.description,
            "validates": m.validates,
            "path": path,
        }

    return {
        "modes": [entry(m) for m in modes if not m.diagnostic],
        "diagnostics": [entry(m) for m in modes if m.diagnostic],
        "stack": stack_versions(),
    }
