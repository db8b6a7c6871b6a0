"""Issue 29's goals for the recommended GC setup (candles/api/gc_setups.py RECOMMENDED, as the
run recorded it) against Python's default, each id, owner and thresholds in one place, judged by
the command that measures it: the in-process micro (`micro --gc`), the soak (`soak --gc`), the
capacity sweep (`--gc`)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from loadtest.axes import GC, relabel, split_label
from loadtest.report.capacity import Capacity, CapacityRow, capacities
from loadtest.report.goals import GoalResult, times
from loadtest.report.numbers import fnum, fratio

GOAL_MODE = "drf"
GOAL_ROWS = 1000


@dataclass(frozen=True)
class GcGoal:
    id: str
    owner: str
    thresholds: dict[str, float]


TAIL_IN_PROCESS = GcGoal("GC1", "issue 29", {"p99/p50 at most": 1.5, "req/s over default": 0.95})
MEMORY = GcGoal("GC2", "issue 29", {"RSS over default at most": 1.25})
CAPACITY = GcGoal("GC3", "issue 29", {"capacity over default": 2.0})
GC_GOALS: tuple[GcGoal, ...] = (TAIL_IN_PROCESS, MEMORY, CAPACITY)


def recommended_in(setups: Mapping[str, Sequence[Mapping]]) -> str:
    """The GC setup that `setups` (every axis's setups as meta.json records them:
    serving/axes.py's setup_entries()) marks recommended ('' when none is: a run before it)."""
    return next((e["name"] for e in setups.get(GC.name) or [] if e.get("recommended")), "")


def _median(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return statistics.median(finite) if finite else math.nan


def micro_goal(rows: Sequence[Mapping], recommended: str) -> GoalResult:
    """GC1 from `micro --gc` rows (dicts of MicroRow): drf at 1000 rows under the recommended
    setup, p99/p50 (median over rounds) and req/s over the default's (within each round, then
    the median)."""
    goal, rec = TAIL_IN_PROCESS, recommended
    most, least = goal.thresholds["p99/p50 at most"], goal.thresholds["req/s over default"]
    wants = (
        f"in-process, {GOAL_MODE} at {GOAL_ROWS} rows under {rec}: p99 <= {times(most)} its p50, "
        f"req/s >= {times(least)} the default's"
    )
    mine = [r for r in rows if r["mode"] == GOAL_MODE and r["limit"] == GOAL_ROWS]
    by = {(r["gc"], r["repeat"]): r for r in mine}
    pairs = [
        (by[(rec, n)], by[(GC.default, n)]) for (g, n) in by if g == rec and (GC.default, n) in by
    ]
    if rec in ("", GC.default) or not pairs:
        return GoalResult(
            goal.id,
            wants,
            "not measured",
            f"Not run: {GOAL_MODE} @{GOAL_ROWS} under both {GC.default} and {rec} "
            f"(python -m loadtest micro --modes {GOAL_MODE} --limits {GOAL_ROWS} --calls 1000 "
            f"--gc {GC.default},{rec} --repeats 3).",
        )
    ratio = _median([r["p99_ms"] / r["p50_ms"] for r, _ in pairs])
    base = _median([d["p99_ms"] / d["p50_ms"] for _, d in pairs])
    rps = _median([r["rps"] / d["rps"] for r, d in pairs])
    cpu_rps = _median([r["cpu_rps"] / d["cpu_rps"] for r, d in pairs])
    met = ratio <= most and rps >= least
    return GoalResult(
        goal.id,
        wants,
        "met" if met else "not met",
        f"p99/p50 {ratio:.2f} ({GC.default}: {base:.2f}); req/s {fratio(rps)} the default's "
        f"(per CPU second {fratio(cpu_rps)}); median of {len(pairs)} interleaved round(s), "
        f"{_median([r['calls'] for r, _ in pairs]):.0f} calls each.",
    )


def soak_goal(results: Mapping[str, Mapping], server: str, recommended: str) -> GoalResult:
    """GC2 from a soak's results per deployment label: RSS at the end of the soak under the
    recommended setup over the default's."""
    goal, rec = MEMORY, recommended
    most = goal.thresholds["RSS over default at most"]
    wants = f"RSS after the soak under {rec} <= {times(most)} the default's ({server})"
    mine, base = results.get(relabel(server, gc=rec)), results.get(server)
    if rec in ("", GC.default) or mine is None or base is None:
        return GoalResult(
            goal.id,
            wants,
            "not measured",
            f"Not run: soak --gc {GC.default},{rec} (python -m loadtest soak --server {server} "
            f"--gc {GC.default},{rec}).",
        )
    ratio = mine["rss_end_mb"] / base["rss_end_mb"] if base["rss_end_mb"] > 0 else math.nan
    return GoalResult(
        goal.id,
        wants,
        "met" if ratio <= most else "not met",
        f"{fnum(mine['rss_end_mb'])} MiB against {fnum(base['rss_end_mb'])} MiB: {fratio(ratio)} "
        f"(peaks {fnum(mine['rss_peak_mb'])} and {fnum(base['rss_peak_mb'])} MiB).",
    )


def capacity_goal(rows: Sequence[CapacityRow], recommended: str) -> list[GoalResult]:
    """GC3 from a capacity sweep, per server that swept drf at 1000 rows under both: the
    recommended setup's capacity at the latency target over the default's, or found where the
    default's lies below every rate tried."""
    goal, rec = CAPACITY, recommended
    need = goal.thresholds["capacity over default"]
    caps = capacities(rows)
    servers = (
        []
        if rec in ("", GC.default)
        else [
            s
            for (s, m, lim) in caps
            if (m, lim) == (GOAL_MODE, GOAL_ROWS)
            and split_label(s)[1][GC.name] == GC.default
            and (relabel(s, gc=rec), m, lim) in caps
        ]
    )
    wants = (
        f"{GOAL_MODE} at {GOAL_ROWS} rows under {rec}: capacity at the latency target >= "
        f"{times(need)} the default's (or found where the default's is below every rate tried)"
    )
    if not servers:
        return [
            GoalResult(
                goal.id,
                wants,
                "not measured",
                f"Not swept: {GOAL_MODE} @{GOAL_ROWS} under {GC.default} and {rec}.",
            )
        ]
    out = []
    for s in servers:
        base, mine = (
            caps[(s, GOAL_MODE, GOAL_ROWS)],
            caps[(relabel(s, gc=rec), GOAL_MODE, GOAL_ROWS)],
        )
        low, high = ratio_bounds(mine, base)
        if not math.isfinite(base.rps):
            status = "met" if math.isfinite(mine.rps) else "not met"
            ratio_text = "the default's below every rate tried"
        else:
            status = "met" if low >= need else "not met" if high < need else "undecided"
            ratio_text = bounds_text(low, high)
            if status == "undecided":
                ratio_text += (
                    f": the sweep's rates are too far apart to say whether it is {times(need)}"
                )
        out.append(
            GoalResult(
                f"{goal.id} {s}",
                wants,
                status,
                f"{rec}: {mine.text}; {GC.default}: {base.text}: {ratio_text}.",
            )
        )
    return out


def capacity_bounds(c: Capacity) -> tuple[float, float]:
    """Where a capacity lies, from the rates tried: at least the highest that met the target (0
    when none did), below the next that did not (the lowest tried when none did; infinite when
    every rate met it)."""
    if not math.isfinite(c.rps):
        return 0.0, c.lowest_tried
    return c.rps, c.not_met_above if math.isfinite(c.not_met_above) else math.inf


def ratio_bounds(mine: Capacity, base: Capacity) -> tuple[float, float]:
    """The least and the most `mine` over `base` can be, given where each capacity lies: a sweep
    brackets a capacity, so the ratio of two is a range, never the ratio of the two rates met."""
    mine_low, mine_high = capacity_bounds(mine)
    base_low, base_high = capacity_bounds(base)
    low = mine_low / base_high if base_high > 0 else math.nan
    high = mine_high / base_low if base_low > 0 else math.inf
    return low, high


def bounds_text(low: float, high: float) -> str:
    """A ratio known as a range: '×1.04 to ×4.36', '≥ ×1.04' when unbounded above."""
    if not math.isfinite(high):
        return f"≥ {fratio(low)}"
    return f"{fratio(low)} to {fratio(high)}"


def goal_lines(results: Sequence[GoalResult]) -> str:
    """The goals as the commands print them, under one heading."""
    return "\n".join(
        [
            "Goals of issue 29 (the recommended GC setup against the default):",
            *(f"- {r.line}" for r in results),
        ]
    )
