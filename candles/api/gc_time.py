"""Time spent in CPython's cyclic garbage collector, per generation, from gc.callbacks.

One callback on "start" and "stop" adds each collection's duration to running totals; a request
(or the micro benchmark's call) takes a `mark()` when it starts and `since(mark)` when it ends.
The difference is the collection time while it was in flight, whoever allocated: a collection
holds the GIL, so under ASGI it stalls every request in flight, and each of them counts it.

The callback takes no lock and allocates nothing beyond a float (prometheus_client dropped its
GC histogram after its locking callback deadlocked): collections never overlap, so one start
time is enough. No Django import: the FastAPI reference and bolt's handlers use it too.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass
from time import perf_counter

GENERATIONS = 3

# Running totals since install(), index = generation. Written by the callback only.
_counts = [0] * GENERATIONS
_seconds = [0.0] * GENERATIONS
_longest = [0.0] * GENERATIONS
_started = 0.0

# A point in the running totals: the counts, then the seconds, per generation.
Mark = tuple[int, int, int, float, float, float]


def _on_collection(phase: str, info: dict) -> None:
    global _started
    if phase == "start":
        _started = perf_counter()
        return
    elapsed = perf_counter() - _started
    generation = info["generation"]
    _counts[generation] += 1
    _seconds[generation] += elapsed
    if elapsed > _longest[generation]:
        _longest[generation] = elapsed


def install() -> None:
    """Start timing collections in this process (once; later calls do nothing)."""
    if _on_collection not in gc.callbacks:
        gc.callbacks.append(_on_collection)


def mark() -> Mark:
    """The running totals now."""
    c, s = _counts, _seconds
    return (c[0], c[1], c[2], s[0], s[1], s[2])


@dataclass(frozen=True)
class GcSpent:
    """Collections between two marks: how many and how long, per generation."""

    counts: tuple[int, ...]
    seconds: tuple[float, ...]

    @property
    def total_s(self) -> float:
        return sum(self.seconds)

    @property
    def collections(self) -> int:
        return sum(self.counts)


def since(start: Mark) -> GcSpent:
    """The collections since `start`."""
    now = mark()
    return GcSpent(
        counts=tuple(int(now[g] - start[g]) for g in range(GENERATIONS)),
        seconds=tuple(now[GENERATIONS + g] - start[GENERATIONS + g] for g in range(GENERATIONS)),
    )


def longest() -> tuple[float, ...]:
    """The longest single collection of each generation since the last reset_longest()."""
    return tuple(_longest)


def reset_longest() -> None:
    for g in range(GENERATIONS):
        _longest[g] = 0.0
