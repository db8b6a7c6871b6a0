"""The closed loop's own check: Little's law on every steady run (its users = requests/s x mean
latency), and what its latency percentiles are: time in the queue behind its users."""

from __future__ import annotations

import math

from loadtest.report.numbers import fnum
from loadtest.report.results import Results
from loadtest.report.tables import Table
from loadtest.run_checks import LITTLES_LAW_TOLERANCE, littles_law


def closed_loop_users(res: Results) -> int | None:
    """The users of the run's closed loop (None: not a steady run, or not recorded)."""
    plan = res.meta.get("plan") or {}
    return plan.get("users") if plan.get("profile", "steady") == "steady" else None


def littles_law_items(res: Results) -> list:
    """A sentence on how many runs hold Little's law, and a table of those that do not."""
    users = closed_loop_users(res)
    if not users:
        return ["Not checked: no closed-loop (steady) run, or its users were not recorded."]
    checked, off = 0, []
    for r in res.rows:
        if not (r.requests and math.isfinite(r.mean_ms) and r.rps > 0):
            continue
        checked += 1
        ratio, tolerance = littles_law(users, r.rps, r.mean_ms, r.requests)
        if abs(ratio - 1) > tolerance:
            off.append(
                [
                    r.server,
                    r.mode,
                    str(r.limit),
                    str(r.repeat),
                    fnum(r.rps),
                    fnum(r.mean_ms),
                    f"{ratio * users:.1f}",
                    f"{(ratio - 1) * 100:+.0f}%",
                    f"±{tolerance * 100:.0f}%",
                ]
            )
    sentence = (
        f"Every closed-loop run keeps {users} requests at the server: requests/s x mean latency "
        f"should equal {users} (Little's law), within {LITTLES_LAW_TOLERANCE:.0%} plus "
        f"{users} / the run's requests for the window's edges. {checked - len(off)} of {checked} "
        "runs hold it"
        + (
            "; where one does not, its users spent time outside a request (the load generator "
            "short of CPU), and its requests/s may be the generator's, not the server's (⚠):"
            if off
            else "."
        )
    )
    if not off:
        return [sentence]
    table = Table(
        [
            "server",
            "mode",
            "rows",
            "repeat",
            "req/s",
            "mean ms",
            "req/s x mean",
            "off by",
            "tolerance",
        ],
        off,
        "Closed-loop runs that do not hold Little's law.",
        align_left=2,
    )
    return [sentence, table]


def queue_note(res: Results) -> str:
    """What the closed loop's percentiles measure."""
    users = closed_loop_users(res)
    if not users:
        return ""
    return (
        f"These are closed-loop percentiles: {users} users without wait keep the server saturated, "
        f"so a request mostly waits in the queue behind the other {users - 1} (p50 ≈ {users} / "
        "requests/s). They say how long the queue is at saturation, not what a user sees at a given "
        "load: that is the open loop's latency against offered load (capacity.md)."
    )


def capacity_pointer(res: Results) -> str:
    """Where the open-loop sweep of some cells is (the frameworks table gives their capacity)."""
    cells = ", ".join(f"{s} {m} @{lim}" for s, m, lim in res.capacity)
    return (
        f"Swept open-loop in this run: {cells}. Their capacity at the latency target is in the "
        "frameworks table; every offered rate and the latency-against-load curves (the hockey "
        "sticks) are in capacity.md and capacity.html."
    )
