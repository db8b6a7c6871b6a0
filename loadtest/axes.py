"""The deployment axes (compression, stack, ...): settings a server runs under that are never a
mode. Each axis has a name (its results.csv column), a default setup and its runner option; a
server under setups other than the defaults is labelled `<server>+<setup>...` in plans, logs,
results and reports. Which setups exist and how a server is started under one:
loadtest/serving/axes.py.

Label grammar: the server (or, in-process, the mode), then each axis whose setup is not its
default, in AXES' order, after a `+`: compression's setup alone (`wsgi+zstd-1`, as before the
other axes), every other axis as `<axis>=<setup>` (`wsgi+zstd-1+stack=2023-08`). Names contain
neither `+` nor `=`, so every label splits back into one server and one setup per axis."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

SEPARATOR = "+"
NAMED = "="


@dataclass(frozen=True)
class Axis:
    """One deployment axis as results know it; `option` is the runner's option naming a LIST of
    its setups, `noun` what messages call one setup, `bare` that labels name its setup alone."""

    name: str
    default: str
    option: str
    noun: str
    help: str
    bare: bool = False


COMPRESSION = Axis(
    "compression",
    "none",
    "--compression",
    "compression setup",
    "compression setups (candles/api/compression.py: none, django-gzip, zstd-1, br-1, gzip-1, "
    "auto, bolt-native), each request sending its setup's Accept-Encoding",
    bare=True,
)
STACK = Axis(
    "stack",
    "today",
    "--stacks",
    "stack",
    "software stacks, each a pinned dependency set whose interpreter runs the server "
    "(loadtest/serving/stacks.py; today: this checkout's own .venv)",
)
GC = Axis(
    "gc",
    "default",
    "--gc",
    "GC setup",
    "garbage-collector setups (candles/api/gc_setups.py: default, freeze, threshold-50k, "
    "freeze-threshold-50k, between-requests, ...), applied once the app is loaded",
)
CACHE = Axis(
    "cache",
    "none",
    "--cache",
    "cache setup",
    "cache setups (candles/api/caching.py: none, cache-page, cache-page-redis, conditional, "
    "locmem, redis), Django's servers only; the Redis ones on a redis-server the runner starts",
)
# In label and column order: an axis added later goes at the end.
AXES: tuple[Axis, ...] = (COMPRESSION, STACK, GC, CACHE)


def axes() -> tuple[Axis, ...]:
    """The registered axes, in order (read at each call, so a test may register one)."""
    return AXES


def axis_named(name: str) -> Axis:
    for axis in axes():
        if axis.name == name:
            return axis
    raise ValueError(f"no deployment axis {name!r} (there are {', '.join(a.name for a in axes())})")


class Deployment(Mapping[str, str]):
    """The setup of every axis a server runs under: a mapping of every axis name to its setup,
    the default for each axis not given. Immutable and hashable."""

    __slots__ = ("_chosen",)

    def __init__(self, setups: Mapping[str, str] | None = None, /, **named: str) -> None:
        given = {**(setups or {}), **named}
        for name, setup in given.items():
            if SEPARATOR in setup or NAMED in setup:
                raise ValueError(f"a setup name has neither {SEPARATOR!r} nor {NAMED!r}: {setup!r}")
            axis_named(name)
        self._chosen = {
            name: setup
            for name, setup in given.items()
            if setup and setup != axis_named(name).default
        }

    def __getitem__(self, name: str) -> str:
        if name in self._chosen:
            return self._chosen[name]
        try:
            return axis_named(name).default
        except ValueError:
            raise KeyError(name) from None

    def __iter__(self) -> Iterator[str]:
        return (a.name for a in axes())

    def __len__(self) -> int:
        return len(axes())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Deployment):
            return self._chosen == other._chosen
        if isinstance(other, Mapping):
            return dict(self) == dict(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(frozenset(self._chosen.items()))

    def __repr__(self) -> str:
        return f"Deployment({self._chosen!r})"

    @property
    def chosen(self) -> dict[str, str]:
        """The axes not at their default, in axis order."""
        return {a.name: self._chosen[a.name] for a in axes() if a.name in self._chosen}

    @property
    def is_default(self) -> bool:
        return not self._chosen

    def replace(self, **setups: str) -> Deployment:
        """This deployment with some axes' setups replaced (a default: the axis reset)."""
        return Deployment({**self._chosen, **setups})

    def label(self, name: str) -> str:
        """`name` followed by each setup not at its default: `wsgi`, `wsgi+zstd-1+stack=2023-08`."""
        parts = [name]
        for axis in axes():
            if axis.name in self._chosen:
                setup = self._chosen[axis.name]
                parts.append(setup if axis.bare else f"{axis.name}{NAMED}{setup}")
        return SEPARATOR.join(parts)

    def as_notes(self) -> str:
        """The setups not at their default, after a description: `; compression zstd-1`."""
        return "".join(f"; {name} {setup}" for name, setup in self.chosen.items())

    def describe(self) -> str:
        """The setups not at their default, for a sentence: `zstd-1, stack 2023-08` ('' if none)."""
        return ", ".join(
            setup if axis_named(name).bare else f"{name} {setup}"
            for name, setup in self.chosen.items()
        )


def split_label(label: str) -> tuple[str, Deployment]:
    """`wsgi+zstd-1+stack=2023-08` -> ("wsgi", that deployment); `wsgi` -> ("wsgi", defaults).
    ValueError for a label no deployment makes (an unknown axis, two setups of one axis)."""
    name, *parts = label.split(SEPARATOR)
    bare = [a.name for a in axes() if a.bare]
    setups: dict[str, str] = {}
    for part in parts:
        axis, named, setup = part.partition(NAMED)
        if not named:
            axis, setup = (bare[0] if bare else ""), part
        if not axis or not setup or axis in setups:
            raise ValueError(f"{label!r} is not <server>[+<setup>][+<axis>=<setup>]...")
        setups[axis] = setup
    try:
        return name, Deployment(setups)
    except ValueError as exc:
        raise ValueError(f"{label!r}: {exc}") from None


def relabel(label: str, **setups: str) -> str:
    """`label` with some axes' setups replaced: relabel("wsgi+zstd-1", compression="none") is
    "wsgi"."""
    name, deployment = split_label(label)
    return deployment.replace(**setups).label(name)
