"""Aggregation over repeats (median and spread), and the per-row cost fit."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LineFit:
    """time per request = fixed_ms + per_row_us * rows / 1000, by least squares."""

    fixed_ms: float
    per_row_us: float
    r2: float
    points: int
    # Why the fitted figures cannot be shown as results ("" when they can): see fit_problem.
    unreliable: str = ""

    def predict_ms(self, rows: float) -> float:
        return self.fixed_ms + self.per_row_us * rows / 1000


def fit_problem(
    xs: Sequence[float], ys_ms: Sequence[float], fixed_ms: float, per_row_us: float
) -> str:
    """Why a fitted line `ms = fixed + per_row x rows` cannot be shown as a result, or "".

    A fixed cost below zero or a per-row cost at or below zero cannot be true; a line through
    two limits cannot show its own error; and when the points stray from the line by more
    than the rows' whole effect over the limits, the per-row figure is noise."""
    if fixed_ms < -0.005:  # below what rounds to 0.00 ms
        return f"negative fixed cost ({fixed_ms:.2f} ms): noise at the large limits moved the line"
    if per_row_us <= 0:
        return (
            f"per-row cost {per_row_us:.2f} µs is not positive: noise is larger than the rows' cost"
        )
    if len(set(xs)) < 3:
        return "only two limits: a line through two points cannot show its error"
    residual = max(abs(y - (fixed_ms + per_row_us * x / 1000)) for x, y in zip(xs, ys_ms))
    effect = per_row_us * (max(xs) - min(xs)) / 1000
    if residual > effect:
        return (
            f"the points stray up to {residual:.2f} ms from the line, more than the rows' effect "
            f"({effect:.2f} ms from {min(xs):g} to {max(xs):g} rows)"
        )
    return ""


def fit_line(xs: Sequence[float], ys: Sequence[float]) -> tuple[float, float, float]:
    """Ordinary least squares y = a + b x. Returns (a, b, r^2).

    Needs at least two distinct x; r^2 is 1.0 when y does not vary.
    """
    if len(xs) != len(ys):
        raise ValueError("xs and ys differ in length")
    n = len(xs)
    if n < 2:
        raise ValueError("at least two points are needed")
    mx = sum(xs) / n
    my = sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        raise ValueError("at least two distinct x values are needed")
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    b = sxy / sxx
    a = my - b * mx
    ss_tot = sum((y - my) ** 2 for y in ys)
    ss_res = sum((y - (a + b * x)) ** 2 for x, y in zip(xs, ys))
    r2 = 1.0 if ss_tot == 0 else 1 - ss_res / ss_tot
    return a, b, r2


def fit_row_cost(rps_by_rows: dict[int, float]) -> LineFit | None:
    """Fit the service time per request (1/rps: one worker, one core, saturated) against
    the number of rows. None when fewer than two row counts have a positive rps."""
    points = {
        rows: rps for rows, rps in rps_by_rows.items() if rps and rps > 0 and math.isfinite(rps)
    }
    if len(points) < 2:
        return None
    xs = sorted(points)
    ys = [1000.0 / points[x] for x in xs]  # ms per request
    a, b, r2 = fit_line(xs, ys)
    if -0.005 <= a < 0:  # rounding error of a fixed cost of zero, not a negative one
        a = 0.0
    return LineFit(
        fixed_ms=a,
        per_row_us=b * 1000,
        r2=r2,
        points=len(xs),
        unreliable=fit_problem(xs, ys, a, b * 1000),
    )


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float
    n: int

    @property
    def half_range_pct(self) -> float:
        """Half the min..max range as a percentage of the median (0 for one value)."""
        if self.n < 2 or not self.median:
            return 0.0
        return (self.high - self.low) / 2 / self.median * 100


def spread(values: Sequence[float]) -> Spread:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return Spread(math.nan, math.nan, math.nan, 0)
    return Spread(statistics.median(finite), min(finite), max(finite), len(finite))


def ratio(numerator: float, denominator: float) -> float:
    if not denominator or not math.isfinite(denominator) or not math.isfinite(numerator):
        return math.nan
    return numerator / denominator


def paired_median(numerators: dict[int, float], denominators: dict[int, float]) -> float:
    """The median over repeats of numerator/denominator taken within each repeat both have
    (two runs measured close together, so the machine's slow drift cancels out); NaN if none."""
    return spread(
        [ratio(v, denominators[k]) for k, v in numerators.items() if k in denominators]
    ).median
