"""The instruction ladder as recorded (instructions.json): counts per mode and limit, their
fits, and how the report and the runner show them. Counting lives in loadtest.inprocess.instructions."""

from __future__ import annotations

import math
from dataclasses import dataclass

from loadtest.axes import split_label
from loadtest.fitting import fit_line
from loadtest.report.numbers import fratio, rows_label


@dataclass(frozen=True)
class InstructionFit:
    """instructions per request = fixed + per_row x rows, least squares over the limits."""

    fixed: float
    per_row: float
    worst_residual_pct: float  # largest |measured - fitted| as % of the measured count
    unreliable: str = ""  # why the figures cannot be trusted; empty when they can

    @property
    def reliable(self) -> bool:
        return not self.unreliable


@dataclass
class Ladder:
    """Instructions per request per mode and limit, their fits, and ratios to a base mode."""

    counts: dict[str, dict[int, float]]  # mode -> limit -> instructions per request
    fits: dict[str, InstructionFit | None]  # None: fewer than two limits
    base: str
    database: str  # the Django database vendor the views read from
    seconds: float  # wall time of the valgrind process
    calls: dict[int, int]  # limit -> counted calls per cell

    @property
    def modes(self) -> list[str]:
        return list(self.counts)

    @property
    def limits(self) -> list[int]:
        return sorted({limit for by_limit in self.counts.values() for limit in by_limit})

    def ratio(self, mode: str, limit: int) -> float:
        """The base mode's instructions over this mode's: like a speed-up, above 1 is fewer."""
        mine, base = self.counts[mode].get(limit), self.counts[self.base].get(limit)
        return base / mine if mine and base else math.nan

    def as_json(self) -> dict[str, dict[str, int]]:
        """{"<mode>": {"<limit>": instructions per request}}: what --json writes."""
        return {
            mode: {str(limit): round(n) for limit, n in sorted(by.items())}
            for mode, by in self.counts.items()
        }


def fit_instructions(by_limit: dict[int, float]) -> InstructionFit | None:
    """The fixed and per-row instructions, marked unreliable when a figure cannot be true."""
    limits = sorted(by_limit)
    if len(limits) < 2:
        return None
    counts = [by_limit[x] for x in limits]
    fixed, per_row, _ = fit_line(limits, counts)
    residuals = [n - (fixed + per_row * x) for x, n in zip(limits, counts)]
    worst = max(abs(r) for r in residuals)
    worst_pct = max(abs(r) / n * 100 for r, n in zip(residuals, counts))
    reason = ""
    if fixed < 0:
        reason = "the fitted fixed count came out negative: the count is no straight line in rows"
    elif per_row < 0:
        reason = "the fitted per-row count came out negative: more rows cost fewer instructions"
    elif worst > per_row * (limits[-1] - limits[0]):
        reason = f"residuals ({worst:,.0f}) larger than the rows' whole effect"
    elif worst > fixed:
        reason = f"residuals ({worst:,.0f}) larger than the fixed count ({fixed:,.0f})"
    return InstructionFit(fixed, per_row, worst_pct, reason)


def ladder_to_json(ladder: Ladder) -> dict:
    """The runner's instructions.json: the counts (as --json writes them) and how they were taken."""
    return {
        "counts": ladder.as_json(),
        "base": ladder.base,
        "database": ladder.database,
        "seconds": round(ladder.seconds, 1),
        "calls": {str(k): v for k, v in ladder.calls.items()},
    }


def ladder_from_json(data: dict) -> Ladder:
    """A Ladder back from instructions.json (fits recomputed from the counts)."""
    counts = {
        mode: {int(k): float(v) for k, v in by.items()} for mode, by in data["counts"].items()
    }
    return Ladder(
        counts=counts,
        fits={mode: fit_instructions(by) for mode, by in counts.items()},
        base=data["base"],
        database=data["database"],
        seconds=float(data["seconds"]),
        calls={int(k): int(v) for k, v in data["calls"].items()},
    )


def millions(n: float) -> str:
    """Three significant digits (one more below 1 M), in millions."""
    m = n / 1e6
    return f"{m:.2f} M" if m < 10 else f"{m:.1f} M" if m < 100 else f"{m:,.0f} M"


def database_note(database: str) -> str:
    """What the counts include of the database's work."""
    if database == "postgresql":
        return (
            "PostgreSQL: only the client side is counted (Python, psycopg, libpq); "
            "the database server's own work is not in these figures."
        )
    if database == "sqlite":
        return "SQLite runs inside the process: its work for the query is counted."
    return f"Database {database}: only what runs inside the Python process is counted."


def ladder_rows(ladder: Ladder) -> tuple[list[str], list[list[str]], str, list[str]]:
    """The ladder as a table: headers, rows, caption, and notes to print below it."""
    limits = ladder.limits
    headers = ["mode", *(rows_label(limit) for limit in limits), "fixed", "per row"]
    rows, notes = [], []
    for mode in ladder.modes:
        row = [mode]
        for limit in limits:
            count = ladder.counts[mode].get(limit)
            row.append(
                "-" if count is None else f"{millions(count)} ({fratio(ladder.ratio(mode, limit))})"
            )
        fit = ladder.fits.get(mode)
        if fit is None:
            row += ["-", "-"]
        elif fit.unreliable:
            row += ["fit unreliable", "fit unreliable"]
            notes.append(f"{mode}: fit unreliable: {fit.unreliable}.")
        else:
            row += [millions(fit.fixed), f"{fit.per_row:,.0f}"]
        rows.append(row)
    compressed = [mode for mode in ladder.modes if not split_label(mode)[1].is_default]
    if compressed:
        notes.append(
            f"{', '.join(compressed)}: the view, then what that compression setup's middleware does "
            "to the answer for its clients (the project's compress_response, or Django's "
            "GZipMiddleware as shipped): the codec's share of a request, counted."
        )
    calls = ", ".join(f"{ladder.calls[limit]} at {rows_label(limit)}" for limit in limits)
    caption = (
        f"Instructions per request (valgrind callgrind), each mode's view called in-process: no server, "
        f"middleware or network. (×) is {ladder.base}'s count over the mode's: above 1, fewer "
        f"instructions than {ladder.base}. Fixed and per-row instructions: least squares over the "
        f"limits. Counted calls per cell: {calls}."
    )
    return headers, rows, caption, [database_note(ladder.database), *notes]


def ladder_markdown(ladder: Ladder) -> str:
    """The ladder as a markdown table with its caption above and notes below."""
    headers, rows, caption, notes = ladder_rows(ladder)
    lines = [
        caption,
        "",
        "| " + " | ".join(headers) + " |",
        "|:---|" + "---:|" * (len(headers) - 1),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join([*lines, "", *notes])
