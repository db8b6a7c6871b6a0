"""Each deployment axis's setups (loadtest/axes.py names the axes), which servers run each, and
how a server is started under a deployment: an environment variable the app reads (compression),
or the interpreter that runs the server (stack); then the start-up check that it runs what it
was started with (GET /api/modes echoes the setup under the axis's key). A server is started once
per combination of the setups asked for that it runs (deployments_on)."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from candles.api.caching import SETUPS as CACHE_SETUPS
from candles.api.compression import SETUPS as COMPRESSION_SETUPS
from candles.api.gc_setups import SETUPS as GC_SETUPS
from candles.api.registry import EVERY_KIND, ServerKind
from loadtest.axes import CACHE, COMPRESSION, GC, STACK, Axis, Deployment, axes
from loadtest.cli import CheckError
from loadtest.serving import stacks
from loadtest.serving.compression import setup_details
from loadtest.serving.servers import SERVERS


@dataclass(frozen=True)
class Setup:
    """One setup of an axis: the servers of `kinds` run it (only those of `servers` when given);
    `details` are what meta.json records of it besides its name, description and servers."""

    name: str
    description: str
    kinds: frozenset[ServerKind] = EVERY_KIND
    servers: frozenset[str] | None = None
    details: Mapping[str, object] = field(default_factory=dict)

    def runs_on(self, server: str) -> bool:
        return SERVERS[server].app_kind in self.kinds and (
            self.servers is None or server in self.servers
        )


class AppSetup(Protocol):
    """A setup as the app's registries declare them (candles/api/compression.py's)."""

    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def kinds(self) -> frozenset[ServerKind]: ...


def app_setups[S: AppSetup](
    registry: Iterable[S], details: Callable[[S], dict] = lambda s: {}
) -> Callable[[], tuple[Setup, ...]]:
    """An axis's setups from the app's own registry of them (its kinds of server say which
    servers run each; `details`: what meta.json records of one besides)."""
    return lambda: tuple(Setup(s.name, s.description, s.kinds, None, details(s)) for s in registry)


@dataclass(frozen=True)
class ServerAxis:
    """How servers run an axis: its setups; `env`, the variable the server reads its setup from,
    or `python`, the interpreter of a setup (a CheckError saying what to build when it is
    missing); `echo`, the key of GET /api/modes under which a server says which setup it runs (a
    server that does not say runs the default), or `served`, reading it some other way (None:
    not known, not checked)."""

    axis: Axis
    setups: Callable[[], tuple[Setup, ...]]
    env: str = ""
    echo: str = ""
    python: Callable[[str], str] | None = None
    served: Callable[[dict], str | None] | None = None
    # Which of the setups asked for can run on this machine, and a line for each left out
    # (saying what to install); None: every setup can.
    usable: Callable[[Sequence[str]], tuple[list[str], list[str]]] | None = None

    @property
    def name(self) -> str:
        return self.axis.name

    def names(self) -> list[str]:
        return [s.name for s in self.setups()]

    def served_setup(self, modes_document: dict) -> str | None:
        """The setup a server says it runs (None: it cannot say)."""
        if self.echo:
            return str(modes_document.get(self.echo) or self.axis.default)
        return self.served(modes_document) if self.served else None

    def started_with(self, setup: str) -> str:
        return f"{self.env}={setup}" if self.env else f"the {self.axis.noun} {setup}"


def _stack_python(name: str) -> str:
    return next(s for s in stacks.registered_stacks() if s.name == name).python()


def _served_stack(modes_document: dict) -> str | None:
    """The stack a server says it runs (GET /api/modes' "stack": its name and versions); None
    when it does not say (a server of before the stacks)."""
    stack = modes_document.get("stack")
    return str(stack["name"]) if isinstance(stack, dict) and stack.get("name") else None


def _usable_stacks(names: Sequence[str]) -> tuple[list[str], list[str]]:
    ready, left_out = stacks.usable_stacks(list(names), root=stacks.PROJECT_ROOT)
    return list(ready), left_out


# In loadtest/axes.py's order; every axis there has its entry here (a test checks it).
SERVER_AXES: tuple[ServerAxis, ...] = (
    ServerAxis(
        COMPRESSION,
        app_setups(COMPRESSION_SETUPS, setup_details),
        env="CANDLEBENCH_COMPRESSION",
        echo="compression",
    ),
    ServerAxis(
        STACK,
        lambda: tuple(
            Setup(s.name, s.description, s.kinds, s.servers) for s in stacks.registered_stacks()
        ),
        python=_stack_python,
        served=_served_stack,
        usable=_usable_stacks,
    ),
    ServerAxis(
        GC,
        app_setups(GC_SETUPS, lambda s: {"recommended": s.recommended}),
        env="CANDLEBENCH_GC",
        echo="gc",
    ),
    # Django's servers run every setup, bolt and the FastAPI reference `none` only (the kinds of
    # candles/api/caching.py); a Redis setup's server gets the runner's own redis-server
    # (loadtest/serving/redis_server.py).
    ServerAxis(CACHE, app_setups(CACHE_SETUPS), env="CANDLEBENCH_CACHE", echo="cache"),
)


def server_axes() -> tuple[ServerAxis, ...]:
    """The axes in loadtest/axes.py's order (read at each call, so a test may register one)."""
    by_name = {a.name: a for a in SERVER_AXES}
    return tuple(by_name[a.name] for a in axes())


def server_axis(name: str) -> ServerAxis:
    return next(a for a in server_axes() if a.name == name)


def setup_entries() -> dict[str, list[dict]]:
    """Every axis's setups as a plan records them in meta.json (the report reads these)."""
    return {
        a.name: [
            {
                "name": s.name,
                "description": s.description,
                **s.details,
                "servers": [name for name in SERVERS if s.runs_on(name)],
            }
            for s in a.setups()
        ]
        for a in server_axes()
    }


Asked = Mapping[str, Sequence[str] | None]


def usable_setups(asked: Asked) -> tuple[dict[str, Sequence[str] | None], list[str]]:
    """`asked` without the setups this machine cannot run (a stack whose Python or venv is
    missing), and a line for each left out saying what to install; CheckError when an axis is
    left with none of those asked (or from the axis's hook: an unknown name, a missing setup
    with CANDLEBENCH_REQUIRE_TOOLS=1)."""
    out: dict[str, Sequence[str] | None] = dict(asked)
    lines: list[str] = []
    for a in server_axes():
        names = asked.get(a.name)
        if not names or a.usable is None:
            continue
        ready, left_out = a.usable(names)
        if not ready:
            raise CheckError("; ".join(left_out))
        out[a.name], lines = ready, [*lines, *left_out]
    return out, lines


def refuse_unknown(asked: Asked) -> None:
    """Every axis's option names only setups of its registry, and a setup's interpreter is there
    (one line each, before anything starts). `asked`: axis -> LIST (None: not asked)."""
    for a in server_axes():
        names = asked.get(a.name) or []
        unknown = [n for n in names if n not in a.names()]
        if unknown:
            raise CheckError(
                f"unknown {a.axis.noun}(s): {', '.join(unknown)} "
                f"(the project has {', '.join(a.names())})"
            )
        if a.python is not None:
            for name in names:
                a.python(name)


def chosen(asked: Asked) -> dict[str, list[str]]:
    """The setups of every axis a command runs: those asked for, else the axis's default."""
    return {a.name: list(asked.get(a.name) or [a.default]) for a in axes()}


def setups_on(axis: str, server: str, requested: Sequence[str]) -> list[str]:
    """The setups of `requested` that `server` runs, in the registry's order (compression:
    fastapi none only, bolt none and bolt-native, the Django servers every other)."""
    return [s.name for s in server_axis(axis).setups() if s.name in requested and s.runs_on(server)]


def deployments_on(server: str, asked: Asked) -> list[Deployment]:
    """Every combination of the setups asked for (an axis not asked: its default) that `server`
    runs, each axis's setups in its registry's order; [] when it runs none of an axis's."""
    choices = chosen(asked)
    names = [a.name for a in axes()]
    per_axis = [setups_on(name, server, choices[name]) for name in names]
    return [Deployment(dict(zip(names, combo))) for combo in itertools.product(*per_axis)]


def runs_none_of(server: str, asked: Asked) -> str:
    """Why `server` runs no deployment of `asked` ('' when it runs one)."""
    choices = chosen(asked)
    for a in server_axes():
        if not setups_on(a.name, server, choices[a.name]):
            runs = setups_on(a.name, server, a.names())
            return (
                f"{server} runs none of the {a.axis.noun}s asked for "
                f"({', '.join(choices[a.name])}); it runs {', '.join(runs)}"
            )
    return ""


def none_runs(servers: Iterable[str], asked: Asked) -> str:
    """Why none of `servers` runs a deployment of `asked`: the first axis none of them runs."""
    choices = chosen(asked)
    for a in server_axes():
        if not any(setups_on(a.name, s, choices[a.name]) for s in servers):
            return f"no server runs the {a.axis.noun}s asked for ({', '.join(choices[a.name])})"
    return "no server runs every axis's setups asked for together"


def refuse_for_target(asked: Asked, deployment: Deployment) -> None:
    """Against a running deployment (--target) an axis's option may name only the setup its
    /api/modes says it runs; an axis it cannot say is not the runner's to choose."""
    for a in server_axes():
        names = asked.get(a.name)
        if names is None:
            continue
        if a.echo or a.served:
            if names != [deployment[a.name]]:
                raise CheckError(
                    f"the target runs the {a.axis.noun} {deployment[a.name]} (its /api/modes says "
                    f"so); {a.axis.option} can only name that one, not {', '.join(names)}"
                )
        else:
            raise CheckError(
                f"{a.axis.option} applies to the servers the runner starts: a --target runs its own "
                f"{a.axis.noun} (its /api/modes does not say which)"
            )


def default_env(env: Mapping[str, str]) -> dict[str, str]:
    """`env` with every axis's variable at its default: a value left in the shell never
    reaches a server (the runner sets each per server)."""
    return {**env, **{a.env: a.axis.default for a in server_axes() if a.env}}


def launch(env: Mapping[str, str], deployment: Deployment) -> tuple[dict[str, str], str]:
    """The environment and the interpreter a server under `deployment` is started with."""
    python = sys.executable
    out = dict(env)
    for a in server_axes():
        setup = deployment[a.name]
        if a.env:
            out[a.env] = setup
        if a.python is not None:
            python = a.python(setup)
    return out, python


def check_served(who: str, modes_document: dict, deployment: Deployment) -> None:
    """The server runs the deployment it was started with, on every axis it can say
    (CheckError otherwise)."""
    for a in server_axes():
        served, expected = a.served_setup(modes_document), deployment[a.name]
        if served is not None and served != expected:
            raise CheckError(
                f"{who} was started with {a.started_with(expected)} but its /api/modes says it "
                f"runs {served}"
            )


def served_deployment(modes_document: dict) -> Deployment:
    """What a running deployment (--target) says it runs; an axis it cannot say: the default."""
    return Deployment(
        {a.name: s for a in server_axes() if (s := a.served_setup(modes_document)) is not None}
    )
