"""The cache mix's report (cachemix.md) and its goals C1-C5, from the run's cachemix.json: per
cache setup and mode req/s, hit ratio, p99 at offered loads, capacity, stale answers; what a
cache does for each serializer's throughput and p99."""

from __future__ import annotations

import math

from loadtest.report.goals import GoalResult, share, times
from loadtest.report.numbers import fnum

HIT_FLOOR = 0.8  # C1: a hit serves at least this share of the floor's req/s
NOT_MODIFIED_FLOOR = 1.0  # C2: a 304 at least the floor's
NEVER_STALE = ("locmem", "redis")  # C3: the setups held to 0 stale answers


def _runs(meta: dict, cache: str | None = None, mode: str | None = None) -> list[dict]:
    return [
        r
        for r in meta.get("runs", [])
        if (cache is None or r["cache"] == cache) and (mode is None or r["mode"] == mode)
    ]


def _run(meta: dict, cache: str, mode: str) -> dict | None:
    found = _runs(meta, cache, mode)
    return found[0] if found else None


def _ms(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{fnum(value)} ms"


def _capacity(run: dict, fractions: list[float]) -> str:
    if run.get("capacity_at_least") is not None:
        return f">= {fnum(run['capacity_at_least'])}"
    lowest = min((p["rate"] for p in run["open"]), default=math.nan)
    return f"< {fnum(lowest)}" if math.isfinite(lowest) else "–"


def goals(meta: dict) -> list[GoalResult]:
    out = []
    floors = meta.get("floor", {})
    hits = {c: f for c, f in floors.items() if f["what"] == "hit"}
    out.append(
        GoalResult(
            "C1",
            f"a hit serves >= {times(HIT_FLOOR)} the floor's req/s on the same server",
            "not measured"
            if not hits
            else ("met" if all(f["ratio"] >= HIT_FLOOR for f in hits.values()) else "not met"),
            "; ".join(
                f"{c}: {fnum(f['cached_rps'])} against the floor's {fnum(f['floor_rps'])} req/s "
                f"({f['ratio']:.2f}x)"
                for c, f in hits.items()
            )
            or "no cache setup that keeps documents ran (or wrk is missing)",
        )
    )
    nm = {c: f for c, f in floors.items() if f["what"] == "304"}
    out.append(
        GoalResult(
            "C2",
            f"a 304 serves >= {times(NOT_MODIFIED_FLOOR)} the floor's req/s",
            "not measured"
            if not nm
            else (
                "met" if all(f["ratio"] >= NOT_MODIFIED_FLOOR for f in nm.values()) else "not met"
            ),
            "; ".join(
                f"{c}: {fnum(f['cached_rps'])} against {fnum(f['floor_rps'])} req/s "
                f"({f['ratio']:.2f}x)"
                for c, f in nm.items()
            )
            or "conditional did not run (or wrk is missing)",
        )
    )
    held = [r for r in meta.get("runs", []) if r["cache"] in NEVER_STALE]
    out.append(
        GoalResult(
            "C3",
            f"0 stale answers under the writer with {' and '.join(NEVER_STALE)}",
            "not measured"
            if not held
            else ("met" if all(r["stale"] == 0 for r in held) else "not met"),
            "; ".join(
                f"{r['cache']} {r['mode']}: {r['stale']} of {r['judged']} ({r['writes']} writes)"
                for r in held
            )
            or "neither ran",
        )
    )
    restart = meta.get("redis_restart")
    out.append(
        GoalResult(
            "C4",
            "0 failures (and 0 stale answers) across a Redis restart under the mix",
            "not measured"
            if restart is None
            else ("met" if restart["failures"] == 0 and restart["stale"] == 0 else "not met"),
            "redis did not run"
            if restart is None
            else (
                f"{restart['answers']} answers over {fnum(restart['seconds'])} s, Redis stopped "
                f"for the middle third: {restart['failures']} failed, {restart['stale']} stale, "
                f"hit ratio {share(restart['hit_ratio'])}"
            ),
        )
    )
    lines = []
    for mode in meta.get("modes", []):
        base = _run(meta, "none", mode)
        for r in _runs(meta, mode=mode):
            if r["cache"] == "none" or base is None or not base["rps"]:
                continue
            lines.append(
                f"{mode} {r['cache']}: {fnum(r['rps'])} against {fnum(base['rps'])} req/s "
                f"({r['rps'] / base['rps']:.2f}x at hit ratio {share(r['hit_ratio'])}), capacity "
                f"{_capacity(r, meta['open_fractions'])} against {_capacity(base, meta['open_fractions'])}"
            )
    out.append(
        GoalResult(
            "C5",
            "throughput and capacity at p99 <= "
            f"{fnum(meta.get('p99_target_ms', 100))} ms per serializer with and without the cache",
            "reported" if lines else "not measured",
            "; ".join(lines) or "no cached setup beside none",
        )
    )
    return out


def verdicts(meta: dict) -> list[str]:
    """The sentence a user needs per serializer: what each cache does for its throughput and
    p99, and saying so when a cache leaves its p99 above the target."""
    target = meta.get("p99_target_ms", 100)
    out = []
    for mode in meta.get("modes", []):
        base = _run(meta, "none", mode)
        if base is None or not base["rps"]:
            continue
        parts = []
        for r in _runs(meta, mode=mode):
            if r["cache"] == "none":
                continue
            top = r["open"][-1] if r["open"] else None
            base_top = base["open"][-1] if base["open"] else None
            p99 = (
                f"p99 {_ms(top['p99_ms'])} at {fnum(top['rate'])} req/s offered"
                if top
                else f"p99 {_ms(r['p99_ms'])} closed-loop"
            )
            parts.append(
                f"{r['cache']} {r['rps'] / base['rps']:.1f}x the req/s (hit ratio "
                f"{share(r['hit_ratio'])}), {p99}"
                + ("" if top is None or top["p99_ms"] <= target else f" (above {fnum(target)} ms)")
            )
        if not parts:
            continue
        base_top = base["open"][-1] if base["open"] else None
        base_text = (
            f"uncached {fnum(base['rps'])} req/s, p99 {_ms(base_top['p99_ms'])} at "
            f"{fnum(base_top['rate'])} req/s offered"
            if base_top
            else f"uncached {fnum(base['rps'])} req/s"
        )
        out.append(f"- **{mode}**: {base_text}; " + "; ".join(parts) + ".")
    return out


def markdown(meta: dict) -> str:
    fractions = meta.get("open_fractions", [])
    head_open = " | ".join(f"p99 at {f:.0%} of max" for f in fractions)
    lines = [
        f"# Cache mix ({meta.get('server', '?')}, {meta.get('database', '?')})",
        "",
        f"{meta.get('requests', '?')} requests (every pair x interval x limit 1, 100, 1000, "
        "1440) drawn with Zipf-like popularity; a writer updating the newest candle of "
        f"{', '.join(meta.get('writer_series', []))} every second and appending one when its "
        "interval closes (its clock 4x the wall's); clients keep each URL's ETag and revalidate. "
        f"Per setup and mode: {fnum(meta.get('warmup', 0))} s of warm-up, "
        f"{fnum(meta.get('seconds', 0))} s closed loop ({meta.get('connections', '?')} "
        f"connections), then {fnum(meta.get('open_seconds', 0))} s open loop at each fraction "
        "of the closed loop's req/s. Capacity: the highest of those offered rates whose p99 "
        f"stayed <= {fnum(meta.get('p99_target_ms', 100))} ms (a lower bound; no sweep). Short "
        "windows: figures within ~10%. Hit ratio: answers served without a render (hits, 304s, "
        "and waits for another request's render of the same key). Stale: answers missing a write "
        "committed before the request started, over every answer (those of series the writer "
        "never touches count too and cannot be stale, so the share understates how often a "
        "written series was answered stale). The closed loop gives req/s only: its latencies "
        "are queueing.",
        "",
        f"| cache | mode | req/s | hit ratio | 304s | {head_open} | capacity "
        "(req/s) | stale / answers | failed |",
        "|---|---|---:|---:|---:|" + "---:|" * len(fractions) + "---:|---:|---:|",
    ]
    for r in meta.get("runs", []):
        opened = " | ".join(f"{_ms(p['p99_ms'])} ({fnum(p['rate'])}/s)" for p in r["open"])
        lines.append(
            f"| {r['cache']} | {r['mode']} | {fnum(r['rps'])} | {share(r['hit_ratio'])} | "
            f"{r['not_modified']} | {opened} | "
            f"{_capacity(r, fractions)} | {r['stale']} / {r['judged']} | {r['failures']} |"
        )
    lines += ["", "## What a cache does per serializer", "", *verdicts(meta), "", "## Goals", ""]
    lines += [f"- {g.line}" for g in goals(meta)]
    cpu = max((r["loadgen_cpu"] for r in meta.get("runs", [])), default=0)
    lines += [
        "",
        f"CPUs: {meta.get('layout', '?')}; the client's CPU over the "
        f"closed loops at most {cpu:.0%} of a core"
        + (" (near a core: the highest req/s may be the generator's)" if cpu > 0.9 else "")
        + ".",
        "",
    ]
    return "\n".join(lines)
