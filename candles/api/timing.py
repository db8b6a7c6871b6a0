"""Server-Timing: a few perf_counter laps that split a request into db, serialize, render (and
compress, added by the compression after the view), and `gc`, the garbage collector's time
while the request was in flight.

`gc` is time inside the other phases (and inside the framework's work around them), never a phase
of its own: nothing adds it to db + serialize + render. One entry on every candle answer,
`gc;dur=<ms>`, with a `desc` when a collection ran: `gc;dur=1.234;desc="gen0 2x 0.100ms gen2 1x
1.134ms"` (per generation that collected: how many collections and their total milliseconds).
Devtools show the total and the description; loadtest.stats.parse_gc_desc reads the generations.
"""

from time import perf_counter
from typing import TypeVar

from django.http import HttpResponseBase

from .gc_time import GcSpent, Mark, since

# A TypeVar, not PEP 695's syntax: the app runs on Python 3.11 too (stacks/, docs/stacks.md).
R = TypeVar("R", bound=HttpResponseBase)


class ServerTiming:
    __slots__ = ("_last", "parts")

    def __init__(self) -> None:
        self._last = perf_counter()
        self.parts: dict[str, float] = {}

    def lap(self, name: str) -> None:
        """Charge the time since the previous lap (or creation) to `name`."""
        now = perf_counter()
        self.parts[name] = self.parts.get(name, 0.0) + (now - self._last)
        self._last = now

    def restart(self) -> None:
        """Skip the time since the previous lap (framework work that is no phase of ours)."""
        self._last = perf_counter()

    def header(self) -> str:
        return ", ".join(f"{name};dur={seconds * 1000:.3f}" for name, seconds in self.parts.items())

    def apply(self, response: R) -> R:
        response["Server-Timing"] = self.header()
        return response


def add_phase(response: HttpResponseBase, name: str, seconds: float) -> None:
    """Append one phase to the answer's Server-Timing (a step after the view's own laps)."""
    entry = f"{name};dur={seconds * 1000:.3f}"
    existing = response.get("Server-Timing")
    response["Server-Timing"] = f"{existing}, {entry}" if existing else entry


def gc_entry(spent: GcSpent) -> str:
    """The `gc` entry of Server-Timing for `spent` (format: this module's docstring)."""
    entry = f"gc;dur={spent.total_s * 1000:.3f}"
    generations = " ".join(
        f"gen{g} {count}x {seconds * 1000:.3f}ms"
        for g, (count, seconds) in enumerate(zip(spent.counts, spent.seconds, strict=True))
        if count
    )
    return f'{entry};desc="{generations}"' if generations else entry


def add_gc_entry(response: HttpResponseBase, start: Mark) -> None:
    """Append the collections since `start` as the `gc` entry of an answer that carries
    Server-Timing (candle answers; error answers carry none)."""
    existing = response.get("Server-Timing")
    if existing:
        response["Server-Timing"] = f"{existing}, {gc_entry(since(start))}"
