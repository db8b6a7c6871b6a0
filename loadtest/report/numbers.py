"""How the report writes numbers: requests/s and ms, ratios, sizes, row counts."""

from __future__ import annotations

import math


def fnum(value: float, digits: int | None = None) -> str:
    """Requests/s and ms: 3 significant digits, thousands separated."""
    if value is None or not math.isfinite(value):
        return "-"
    if digits is not None:
        return f"{value:,.{digits}f}"
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def fratio(value: float) -> str:
    return "-" if not math.isfinite(value) else f"×{value:.2f}" if value < 10 else f"×{value:.1f}"


def fbytes(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KiB"


def rows_label(limit: int) -> str:
    return f"{limit} row" if limit == 1 else f"{limit} rows"
