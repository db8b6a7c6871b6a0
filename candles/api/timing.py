"""Server-Timing: a few perf_counter laps that split a request into db, serialize, render (and
compress, added by the compression after the view)."""

from time import perf_counter
from typing import TypeVar

from django.http import HttpResponseBase

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
