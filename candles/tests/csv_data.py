"""CSV files for the import tests: good candle rows, written as a file would be."""

from datetime import UTC, datetime, timedelta

from candles.csv_format import HEADER

T0 = datetime(2023, 8, 23, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def millis(moment: datetime) -> str:
    return str(int(moment.timestamp()) * 1000)


def good_lines(
    count: int, start: datetime = T0, step: timedelta = timedelta(minutes=1), fmt=iso
) -> list[str]:
    lines = []
    for i in range(count):
        o = 100.0 + i % 7
        lines.append(f"{fmt(start + i * step)},{o},{o + 2},{o - 1},{o + 0.5},{1 + i % 3}")
    return lines


def csv_bytes(lines: list[str], header: str = HEADER, newline: str = "\n") -> bytes:
    return newline.join([header, *lines]).encode() + newline.encode()
