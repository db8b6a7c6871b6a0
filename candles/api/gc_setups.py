"""The garbage collector as a deployment setting (settings.CANDLEBENCH_GC): the setups a
deployment chooses from, applying one once the app is loaded, and reading back from `gc` which
one a process runs (GET /api/modes says it, so the runner's check is real).

Where a setup is applied, per server: gunicorn (no preload here) in its `post_worker_init` hook
(gunicorn.conf.py), after the worker loaded the app; uvicorn, granian and every other WSGI/ASGI
server at the app's load (candleproject/wsgi.py, asgi.py, asgi_stock.py); django-bolt's runbolt
when its API module loads (candles/api/modes/bolt.py); the FastAPI reference when its app module
loads. Each after `warm_up()`: the URLconf and every mode's view (DRF, ninja, pydantic, msgspec)
imported, so that what a frozen process keeps out of collections is the loaded app. The setups
that collect between requests need Django's request_finished signal: they run under Django's own
handlers only, and bolt and the FastAPI app run `default` under them (and say so).

No Django import at module level: settings.py checks the name while Django loads.
"""

from __future__ import annotations

import gc
import logging
from dataclasses import dataclass
from typing import Any

from .registry import DJANGO_ONLY, EVERY_KIND, ServerKind

logger = logging.getLogger(__name__)

# The interpreter's own thresholds (3.13: 2000, 10, 10), read before any setup changes them.
PYTHON_THRESHOLD: tuple[int, int, int] = gc.get_threshold()
RAISED_THRESHOLD = (50_000, 50, 100)  # the published recipe's (Close.com's write-up)


@dataclass(frozen=True)
class BetweenRequests:
    """Automatic collection off; after each answer is sent (request_finished) a young collection,
    every `middle_every`-th answer the middle generation, every `full_every`-th a full one: the
    old generation stays bounded, and no collection runs inside a request."""

    middle_every: int = 10
    full_every: int = 100


@dataclass(frozen=True)
class GcSetup:
    name: str
    description: str
    freeze: bool = False  # gc.collect(2); gc.freeze() once the app is loaded and warm
    threshold: tuple[int, int, int] | None = None  # None: the interpreter's own
    between: BetweenRequests | None = None
    kinds: frozenset[ServerKind] = EVERY_KIND  # the kinds of server that run it
    recommended: bool = False

    def expected_state(self) -> dict[str, Any]:
        """What `gc_state()` reads in a process that runs this setup (the keys it decides)."""
        return {
            "threshold": list(self.threshold or PYTHON_THRESHOLD),
            "frozen": self.freeze,
            "automatic": self.between is None,
            "between_requests": self.between is not None,
        }


SETUPS: tuple[GcSetup, ...] = (
    GcSetup("default", "Python's own collector, as the interpreter sets it"),
    GcSetup(
        "freeze",
        "gc.collect(2); gc.freeze() once the app is loaded: the loaded app is never scanned again",
        freeze=True,
    ),
    GcSetup(
        "threshold-50k",
        "gc.set_threshold(50_000, 50, 100): far fewer, larger collections",
        threshold=RAISED_THRESHOLD,
    ),
    GcSetup(
        "freeze-threshold-50k",
        "freeze, then gc.set_threshold(50_000, 50, 100): the published recipe",
        freeze=True,
        threshold=RAISED_THRESHOLD,
    ),
    GcSetup(
        "between-requests",
        "automatic collection off; after each answer is sent a young collection, every 10th the "
        "middle generation, every 100th a full one (Django's request_finished)",
        between=BetweenRequests(),
        kinds=DJANGO_ONLY,
    ),
    GcSetup(
        "freeze-between-requests",
        "freeze, then collection between requests as in between-requests",
        freeze=True,
        between=BetweenRequests(),
        kinds=DJANGO_ONLY,
        recommended=True,
    ),
)
SETUP_NAMES: tuple[str, ...] = tuple(s.name for s in SETUPS)
DEFAULT: GcSetup = SETUPS[0]
# The one setup recommended by measurement on the Python of the run (docs/gc.md: the table it
# was chosen from, its memory cost); the runner's goals (loadtest/report/gc_goals.py) judge it.
RECOMMENDED: GcSetup = next(s for s in SETUPS if s.recommended)


class UnknownGcSetup(ValueError):
    """A name that is not a GC setup of SETUPS."""


def gc_setup(name: str) -> GcSetup:
    """The setup called `name`; UnknownGcSetup (naming the setups there are) otherwise."""
    for setup in SETUPS:
        if setup.name == name:
            return setup
    raise UnknownGcSetup(
        f"CANDLEBENCH_GC={name!r} is not a GC setup (choose from {', '.join(SETUP_NAMES)})"
    )


def served_gc_setup(name: str, kind: ServerKind) -> GcSetup:
    """What a server of `kind` runs when CANDLEBENCH_GC is `name`: the setup, or `default` when
    that kind of server does not run it."""
    setup = gc_setup(name)
    return setup if kind in setup.kinds else DEFAULT


# -- applying one -------------------------------------------------------------------------------

_applied: GcSetup | None = None
_between: BetweenRequestsCollector | None = None
_left_to_server_hook = False


class BetweenRequestsCollector:
    """The request_finished receiver of a between-requests setup."""

    def __init__(self, policy: BetweenRequests) -> None:
        self.policy = policy
        self.answers = 0

    def __call__(self, **kwargs: object) -> None:
        self.answers += 1  # a lost increment under threads only moves the next collection
        if self.answers % self.policy.full_every == 0:
            gc.collect(2)
        elif self.answers % self.policy.middle_every == 0:
            gc.collect(1)
        else:
            gc.collect(0)


def warm_up() -> None:
    """Load what every request needs before freezing it: the URLconf with every mode's view (its
    framework imported), each route resolved once, the OpenAPI document built. No request and
    no query: a server starts while its database is down too."""
    from django.urls import get_resolver

    from .openapi import openapi_document
    from .registry import django_modes

    resolver = get_resolver()
    for mode in django_modes(diagnostics=True):
        resolver.resolve(f"/api/{mode.name}/candle/upbit/KRW/BTC")
    openapi_document(django_modes())


def apply_gc_setup(setup: GcSetup) -> None:
    """Run `setup` in this process from now on (once per process: a second call does nothing, so
    a server's hook and its app's load cannot apply it twice)."""
    global _applied, _between
    if _applied is not None:
        if _applied != setup:
            logger.warning("GC setup %s already applied; %s ignored", _applied.name, setup.name)
        return
    _applied = setup
    if setup.freeze:
        gc.collect(2)
        gc.freeze()
    if setup.threshold:
        gc.set_threshold(*setup.threshold)
    if setup.between:
        from django.core.signals import request_finished

        gc.disable()
        _between = BetweenRequestsCollector(setup.between)
        request_finished.connect(_between, weak=False, dispatch_uid="candlebench-gc-between")


def apply_configured(kind: ServerKind, *, warm: bool = True) -> GcSetup:
    """Apply settings.CANDLEBENCH_GC as a server of `kind` runs it, after `warm_up()` when the
    setup changes anything and `warm` (the caller may have loaded its app itself)."""
    from django.conf import settings

    setup = served_gc_setup(settings.CANDLEBENCH_GC, kind)
    if setup != DEFAULT and warm and kind is ServerKind.DJANGO:
        warm_up()
    apply_gc_setup(setup)
    return setup


def leave_to_server_hook() -> None:
    """Called by a server's configuration (gunicorn.conf.py) whose hook applies the setup after
    the app loads: apply_at_app_load() then leaves it alone."""
    global _left_to_server_hook
    _left_to_server_hook = True


def apply_at_app_load(kind: ServerKind) -> None:
    """The app's module (wsgi.py, asgi.py, ...) applies the configured setup, unless the server's
    own hook does."""
    if not _left_to_server_hook:
        apply_configured(kind)


# -- reading it back ----------------------------------------------------------------------------


def gc_state() -> dict[str, Any]:
    """This process's collector as `gc` reports it (and whether a between-requests receiver
    runs): the thresholds, whether objects are frozen, whether collection is automatic."""
    return {
        "threshold": list(gc.get_threshold()),
        "frozen": gc.get_freeze_count() > 0,
        "frozen_objects": gc.get_freeze_count(),
        "automatic": gc.isenabled(),
        "between_requests": _between is not None,
    }


def running_setup_name() -> str:
    """The setup whose state this process is in, read back from `gc`; "unknown" when none is."""
    state = gc_state()
    for setup in SETUPS:
        if all(state[key] == value for key, value in setup.expected_state().items()):
            return setup.name
    return "unknown"


def gc_document() -> dict[str, Any]:
    """The `gc` and `gc_state` keys of GET /api/modes."""
    return {"gc": running_setup_name(), "gc_state": gc_state()}
