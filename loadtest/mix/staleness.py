"""The staleness judgement: an answer's newest candle (the document's last object, the only one
read) against the writer's log. An answer is stale when it misses a write committed before the
request started: its newest candle is none of the states from that write on."""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

# A candle's identity in the judgement: its open time (epoch seconds) and volume, which the
# writer makes unique per write.
Identity = tuple[float, float]
EXAMPLES = 3


@dataclass(frozen=True)
class WriteRecord:
    """One write of the writer's log (seq 0: the state it found before its first write); times
    on the machine's monotonic clock, `committed` once the service returned (rows committed and
    the series' version bumped)."""

    series: str
    seq: int
    started: float
    committed: float
    basetm: float
    v: float

    @property
    def identity(self) -> Identity:
        return (self.basetm, self.v)

    def as_json(self) -> str:
        return json.dumps(self.__dict__)


def read_log(path: Path) -> dict[str, list[WriteRecord]]:
    """The writer's log by series, each in commit order."""
    by_series: dict[str, list[WriteRecord]] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            record = WriteRecord(**json.loads(line))
            by_series.setdefault(record.series, []).append(record)
    for records in by_series.values():
        records.sort(key=lambda r: r.seq)
    return by_series


def epoch_seconds(value: object) -> float:
    """A document's basetm (an ISO 8601 string, or epoch seconds or milliseconds) in seconds."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).timestamp()
    if isinstance(value, int | float):
        return float(value) / 1000 if value > 1e11 else float(value)
    raise ValueError(f"not a candle time: {value!r}")


def newest_candle(body: bytes) -> Identity | None:
    """The identity of a document's last object (`{"data": [..., {...}]}`), parsed alone; None
    for a document without candles."""
    end = body.rfind(b"}", 0, body.rfind(b"]"))
    start = body.rfind(b"{", 0, end)
    if start <= 0 or end < 0:
        return None
    candle = json.loads(body[start : end + 1])
    if "basetm" not in candle:
        return None
    return (epoch_seconds(candle["basetm"]), float(candle["v"]))


def is_stale(started: float, newest: Identity | None, writes: list[WriteRecord]) -> bool:
    """Whether an answer to a request started at `started` (monotonic) whose newest candle is
    `newest` misses a write of `writes` (its series' log, in commit order) committed before."""
    commits = [w.committed for w in writes]
    last = bisect.bisect_left(commits, started) - 1  # the last write committed before the start
    if last < 0:
        return False
    return newest not in {w.identity for w in writes[last:]}


@dataclass(frozen=True)
class Judged:
    answers: int
    stale: int
    unknown_series: int  # answers of series the writer never touched (not judged)
    examples: tuple[dict, ...] = ()  # the first stale answers, with the write they missed


def judge(
    answers: Iterable[tuple[str, float, Identity | None]], log: dict[str, list[WriteRecord]]
) -> Judged:
    """Count the stale answers of (series, started, newest) against the writer's log; answers of
    series the writer did not write are counted apart (nothing to miss)."""
    total = stale = unknown = 0
    examples: list[dict] = []
    for series, started, newest in answers:
        total += 1
        writes = log.get(series)
        if not writes:
            unknown += 1
        elif is_stale(started, newest, writes):
            stale += 1
            if len(examples) < EXAMPLES:
                missed = writes[bisect.bisect_left([w.committed for w in writes], started) - 1]
                examples.append(
                    {
                        "series": series,
                        "started": started,
                        "newest": newest,
                        "missed": missed.__dict__,
                    }
                )
    return Judged(total, stale, unknown, tuple(examples))
