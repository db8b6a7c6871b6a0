"""The CSV file format of candle imports: parsing and validation, no database.

The whole file is checked before anything is written, so a file with one bad row is
refused with every problem listed by line and column.

Format (see README, "Admin and sample data"):
- UTF-8 text (a byte order mark is accepted), comma separated, first line a header that
  names exactly the columns basetm,o,h,l,c,v (any order; other columns are refused so a
  misnamed column cannot be silently dropped).
- basetm: ISO 8601 (a Z or an offset; no offset means UTC) or integer epoch milliseconds,
  on a boundary of the chosen interval (1h candles on whole hours, 1d on UTC midnight).
- o, h, l, c, v: plain decimal numbers, finite; l <= min(o, c), h >= max(o, c) (so also
  l <= h), v >= 0. No time twice in one file. Blank lines are ignored.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from django.template.defaultfilters import filesizeformat

from candles.models import INTERVAL_SECONDS, CandleRow
from candles.selectors import CANDLE_FIELDS

COLUMNS = CANDLE_FIELDS  # the file's columns are the API document's fields
HEADER = ",".join(COLUMNS)
MAX_REPORTED_ERRORS = 50
# A real row is ~80 characters; anything far longer is not a candle row (a binary
# file, a pasted document) and is refused before the csv module buffers it.
MAX_LINE_CHARS = 1000

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_MS = re.compile(r"-?[0-9]{1,18}")
# Plain decimal notation only: float() would also take "1_000", " nan" or "infinity".
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_NAN = {"nan", "+nan", "-nan"}
_INF = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
# Cells a spreadsheet would evaluate (CSV injection); they are never numbers or times.
_FORMULA_START = ("=", "@", "+=", "-=")


@dataclass(frozen=True)
class RowError:
    """One problem: `line` is the 1-based line of the file (None for the whole file)."""

    line: int | None
    column: str
    reason: str

    def __str__(self) -> str:
        where = "file" if self.line is None else f"line {self.line}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.reason}"


class ImportRejected(Exception):
    """The file was refused and nothing was written.

    `errors` holds the first MAX_REPORTED_ERRORS problems; `total` counts all of them.
    """

    def __init__(self, errors: list[RowError], total: int | None = None):
        self.errors = errors[:MAX_REPORTED_ERRORS]
        self.total = len(errors) if total is None else total
        super().__init__(self.summary)

    @classmethod
    def one(cls, reason: str, line: int | None = None) -> ImportRejected:
        """A refusal for one reason about the whole file or, with `line`, one line of it."""
        return cls([RowError(line, "", reason)])

    @property
    def more(self) -> int:
        return self.total - len(self.errors)

    @property
    def summary(self) -> str:
        noun = "problem" if self.total == 1 else "problems"
        return f"{self.total} {noun} found; nothing was imported"

    def lines(self) -> list[str]:
        out = [str(error) for error in self.errors]
        if self.more:
            out.append(f"... and {self.more} more not shown")
        return out


@dataclass
class _Errors:
    """Counts every error but keeps only the first ones: a hostile file may have millions."""

    kept: list[RowError] = field(default_factory=list)
    total: int = 0

    def add(self, line: int | None, column: str, reason: str) -> None:
        self.total += 1
        if len(self.kept) < MAX_REPORTED_ERRORS:
            self.kept.append(RowError(line, column, reason))

    def reject(self) -> ImportRejected:
        return ImportRejected(self.kept, self.total)


def _show(value: str) -> str:
    # repr() makes control characters and stray quotes visible; long cells are cut.
    return repr(value if len(value) <= 40 else value[:40] + "...")


def _formula_reason(value: str) -> str:
    return f"{_show(value)} looks like a spreadsheet formula; export the values, not formulas"


def _utc_text(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def read_limited(source: BinaryIO | bytes, max_bytes: int) -> bytes:
    """The whole upload, or ImportRejected if it is larger than `max_bytes`."""
    data = source if isinstance(source, bytes) else source.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImportRejected.one(
            f"the file is larger than the {filesizeformat(max_bytes)} limit; "
            "split it into smaller files"
        )
    return data


def _decode(data: bytes) -> str:
    if not data.strip():
        raise ImportRejected.one(f"the file is empty; the first line must be {HEADER}")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ImportRejected.one(
            'the file is UTF-16 text; save it as UTF-8 CSV ("CSV UTF-8" in Excel)'
        )
    if data.startswith(b"PK\x03\x04"):
        raise ImportRejected.one(
            "the file is a zip archive or an Excel workbook; export the sheet as CSV"
        )
    try:
        # utf-8-sig drops the byte order mark Excel writes in front of "CSV UTF-8".
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ImportRejected.one(
            f"byte 0x{data[exc.start]:02x} is not valid UTF-8; save the file as UTF-8 CSV", line
        ) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ImportRejected.one(
            "the file contains NUL bytes; it is a binary file, not CSV text", line
        )
    return text


def _lines(text: str, long_lines: set[int]) -> Iterator[str]:
    """The file's lines for csv.reader, with over-long lines blanked out and recorded."""
    # newline="" splits on \n, \r\n and \r but keeps the endings, as csv.reader expects.
    for number, line in enumerate(io.StringIO(text, newline=""), start=1):
        if len(line.rstrip("\r\n")) > MAX_LINE_CHARS:
            long_lines.add(number)
            yield "\n"
        else:
            yield line


def _header(row: list[str], line: int) -> list[int]:
    """Index of each of COLUMNS in the file's header."""
    names = [name.strip().lower() for name in row]
    found = ",".join(row)
    if len(row) == 1 and any(sep in row[0] for sep in ";\t|"):
        raise ImportRejected.one(
            f"the header {_show(found)} is not comma separated; use commas: {HEADER}", line
        )
    problems: list[str] = []
    missing = [c for c in COLUMNS if c not in names]
    extra = [n for n in names if n not in COLUMNS]
    doubled = sorted({n for n in names if n in COLUMNS and names.count(n) > 1})
    if missing:
        problems.append("missing " + ", ".join(missing))
    if extra:
        problems.append("unknown column(s) " + ", ".join(_show(n) for n in extra))
    if doubled:
        problems.append("repeated column(s) " + ", ".join(doubled))
    if problems:
        raise ImportRejected.one(
            f"the first line must be the header {HEADER}; found {_show(found)} "
            f"({'; '.join(problems)})",
            line,
        )
    return [names.index(c) for c in COLUMNS]


def _parse_time(cell: str, interval_seconds: int, interval: str) -> tuple[datetime | None, str]:
    """(UTC time, "") or (None, reason)."""
    value = cell.strip()
    if not value:
        return None, "the time is missing"
    if _EPOCH_MS.fullmatch(value):
        millis = int(value)
        try:
            moment = _EPOCH + timedelta(milliseconds=millis)
        except OverflowError:
            return None, f"epoch milliseconds {_show(value)} are out of range"
        if millis % (interval_seconds * 1000):
            reason = f"{_utc_text(moment)} ({value} ms) is not on a {interval} boundary"
            if abs(millis) < 100_000_000_000 and not millis * 1000 % (interval_seconds * 1000):
                reason += "; epoch times must be in milliseconds and this looks like seconds"
            return None, reason
        return moment, ""
    if value.startswith(_FORMULA_START):
        return None, _formula_reason(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None, (
            f"{_show(value)} is not an ISO 8601 time (e.g. 2023-08-23T00:00:00Z) "
            "or integer epoch milliseconds"
        )
    try:
        # No offset means UTC, as in the API's `before` parameter.
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        offset = moment - _EPOCH
    except OverflowError:
        return None, f"{_show(value)} is out of range"
    whole = offset // timedelta(seconds=1)
    if offset.microseconds or whole % interval_seconds:
        floor = _EPOCH + timedelta(seconds=whole - whole % interval_seconds)
        return None, (
            f"{_show(value)} is not on a {interval} boundary (the candle containing it starts at "
            f"{_utc_text(floor)})"
        )
    return moment, ""


def _parse_number(cell: str) -> tuple[float | None, str]:
    value = cell.strip()
    if _NUMBER.fullmatch(value):
        number = float(value)
        if math.isinf(number):
            return None, f"{_show(value)} is too large to be a finite number"
        # + 0.0 turns -0.0 into 0.0, which would otherwise be stored and served as "-0.0".
        return number + 0.0, ""
    lowered = value.lower()
    if not value:
        return None, "the value is missing"
    if lowered in _NAN:
        return None, "NaN is not allowed; every value must be a finite number"
    if lowered in _INF:
        return None, "infinity is not allowed; every value must be a finite number"
    if value.startswith(_FORMULA_START):
        return None, _formula_reason(value)
    if "," in value:
        return (
            None,
            f"{_show(value)} is not a number: use '.' as the decimal point and no thousands separators",
        )
    return None, f"{_show(value)} is not a number"


def _num(value: float) -> str:
    # 15 significant digits: a KRW price like 35000000.12 stays readable (":g" would
    # print 3.5e+07) and the float's noise digits are cut.
    return format(value, ".15g")


def _check_row(
    cells: list[str],
    index: list[int],
    line: int,
    interval: str,
    seen: dict[datetime, int],
    errors: _Errors,
) -> CandleRow | None:
    """One data row, or None after recording each of its problems."""
    if len(cells) != len(COLUMNS):
        reason = f"expected {len(COLUMNS)} values ({HEADER}), found {len(cells)}"
        if len(cells) > len(COLUMNS) and not any(c.strip() for c in cells[len(COLUMNS) :]):
            reason += "; remove the trailing comma(s)"
        errors.add(line, "", reason)
        return None
    before = errors.total
    moment, reason = _parse_time(cells[index[0]], INTERVAL_SECONDS[interval], interval)
    if moment is None:
        errors.add(line, "basetm", reason)
    elif moment in seen:
        again = f"{_utc_text(moment)} is also on line {seen[moment]}; each time may appear once"
        errors.add(line, "basetm", again)
    else:
        seen[moment] = line
    numbers: list[float] = []
    for column, position in zip(COLUMNS[1:], index[1:], strict=True):
        number, reason = _parse_number(cells[position])
        if number is None:
            errors.add(line, column, reason)
        else:
            numbers.append(number)
    if len(numbers) != len(COLUMNS) - 1:
        return None  # the relations below need every number
    o, h, l, c, v = numbers
    # With these two rules l <= h follows, so it needs no rule of its own.
    if l > min(o, c):
        errors.add(line, "l", f"low {_num(l)} is above min(open, close) = {_num(min(o, c))}")
    if h < max(o, c):
        errors.add(line, "h", f"high {_num(h)} is below max(open, close) = {_num(max(o, c))}")
    if v < 0:
        errors.add(line, "v", f"volume {_num(v)} is negative; it must be >= 0")
    if errors.total != before or moment is None:
        return None
    return (moment, o, h, l, c, v)


def parse_candles(data: bytes, interval: str) -> list[CandleRow]:
    """Validate a whole CSV file; every row, or ImportRejected listing every problem."""
    if interval not in INTERVAL_SECONDS:
        raise ValueError(f"unknown interval {interval!r}")
    text = _decode(data)
    long_lines: set[int] = set()
    # skipinitialspace: "a", "b" (a space after the comma) still reads b as quoted.
    reader = csv.reader(_lines(text, long_lines), strict=True, skipinitialspace=True)
    errors = _Errors()
    rows: list[CandleRow] = []
    seen: dict[datetime, int] = {}
    index: list[int] | None = None
    try:
        for cells in reader:
            line = reader.line_num
            if line in long_lines:
                too_long = (
                    f"the line is longer than {MAX_LINE_CHARS} characters; this is not a candle row"
                )
                errors.add(line, "", too_long)
            elif not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # blank line
            elif index is None:
                index = _header(cells, line)
            elif row := _check_row(cells, index, line, interval, seen, errors):
                rows.append(row)
    except csv.Error as exc:
        # strict=True: an unterminated quote or a stray quote inside a field.
        errors.add(reader.line_num, "", f"malformed CSV ({exc}); check the quotes on this line")
    if index is None and not errors.total:
        errors.add(None, "", f"the file has no header; the first line must be {HEADER}")
    elif not rows and not errors.total:
        errors.add(None, "", "the file has a header but no candle rows")
    if errors.total:
        raise errors.reject()
    return rows
