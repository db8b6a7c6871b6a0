"""The CSV format of imports (candles/csv_format.py): parsing and every rejection, no database."""

from datetime import UTC, timedelta

import pytest

from candles.csv_format import HEADER, MAX_REPORTED_ERRORS, ImportRejected, RowError, parse_candles
from candles.tests.csv_data import T0, csv_bytes, good_lines, iso, millis


def rejected(data: bytes, interval: str = "1m") -> ImportRejected:
    with pytest.raises(ImportRejected) as info:
        parse_candles(data, interval)
    return info.value


def only_error(data: bytes, interval: str = "1m") -> RowError:
    exc = rejected(data, interval)
    assert exc.total == 1, exc.lines()
    return exc.errors[0]


# --- parsing: times -----------------------------------------------------------------


def test_iso_and_epoch_milliseconds_give_the_same_rows():
    from_iso = parse_candles(csv_bytes(good_lines(5)), "1m")
    from_epoch = parse_candles(csv_bytes(good_lines(5, fmt=millis)), "1m")
    assert from_iso == from_epoch
    assert from_iso[0] == (T0, 100.0, 102.0, 99.0, 100.5, 1.0)
    assert [row[0] for row in from_iso] == [T0 + timedelta(minutes=i) for i in range(5)]
    assert all(row[0].tzinfo is UTC for row in from_iso)


@pytest.mark.parametrize(
    "cell",
    [
        "2023-08-23T00:00:00Z",
        "2023-08-23T00:00:00+00:00",
        "2023-08-23T09:00:00+09:00",
        "2023-08-22T19:00:00-05:00",
        "2023-08-23 00:00:00",  # naive: UTC
        "2023-08-23T00:00",
        "1692748800000",
    ],
)
def test_time_formats(cell):
    rows = parse_candles(csv_bytes([f"{cell},1,2,0.5,1.5,3"]), "1m")
    assert rows[0][0] == T0


@pytest.mark.parametrize(
    "cell,interval,expected",
    [
        (
            "2023-08-23T00:00:30Z",
            "1m",
            "is not on a 1m boundary (the candle containing it starts at 2023-08-23T00:00:00Z)",
        ),
        ("2023-08-23T00:00:00.5Z", "1m", "is not on a 1m boundary"),
        ("2023-08-23T00:07:00Z", "5m", "the candle containing it starts at 2023-08-23T00:05:00Z"),
        ("2023-08-23T13:00:00Z", "4h", "the candle containing it starts at 2023-08-23T12:00:00Z"),
        # Midnight in Seoul is not midnight UTC: 1d candles are UTC days.
        (
            "2023-08-23T00:00:00+09:00",
            "1d",
            "the candle containing it starts at 2023-08-22T00:00:00Z",
        ),
        ("1692748830000", "1m", "2023-08-23T00:00:30Z (1692748830000 ms) is not on a 1m boundary"),
        ("1692748800", "1m", "this looks like seconds"),
    ],
)
def test_unaligned_times_are_refused_with_the_candle_start(cell, interval, expected):
    error = only_error(csv_bytes([f"{cell},1,2,0.5,1.5,3"]), interval)
    assert (error.line, error.column) == (2, "basetm")
    assert expected in error.reason


@pytest.mark.parametrize(
    "cell,expected",
    [
        ("", "the time is missing"),
        ("yesterday", "is not an ISO 8601 time"),
        ("2023-13-01T00:00:00Z", "is not an ISO 8601 time"),
        (
            "1692748800000.0",
            "is not an ISO 8601 time (e.g. 2023-08-23T00:00:00Z) or integer epoch milliseconds",
        ),
        ("=NOW()", "looks like a spreadsheet formula"),
        ("999999999999999999", "out of range"),
        ("0001-01-01T00:00:00+01:00", "out of range"),
    ],
)
def test_bad_times(cell, expected):
    error = only_error(csv_bytes([f"{cell},1,2,0.5,1.5,3"]))
    assert (error.line, error.column) == (2, "basetm")
    assert expected in error.reason


def test_duplicate_times_are_refused_even_when_written_differently():
    lines = [
        *good_lines(3),
        "2023-08-23T09:01:00+09:00,1,2,0.5,1.5,3",
        millis(T0) + ",1,2,0.5,1.5,3",
    ]
    exc = rejected(csv_bytes(lines))
    assert [(e.line, e.column) for e in exc.errors] == [(5, "basetm"), (6, "basetm")]
    assert (
        exc.errors[0].reason == "2023-08-23T00:01:00Z is also on line 3; each time may appear once"
    )
    assert "also on line 2" in exc.errors[1].reason


def test_rows_need_not_be_in_time_order():
    lines = list(reversed(good_lines(4)))
    assert [row[0] for row in parse_candles(csv_bytes(lines), "1m")] == [
        T0 + timedelta(minutes=i) for i in (3, 2, 1, 0)
    ]


# --- parsing: numbers and OHLC rules --------------------------------------------------


@pytest.mark.parametrize(
    "cells,column,expected",
    [
        ("abc,2,0.5,1.5,3", "o", "'abc' is not a number"),
        (",2,0.5,1.5,3", "o", "the value is missing"),
        ("1,2,0.5,1.5,nan", "v", "NaN is not allowed"),
        ("1,2,0.5,1.5,NaN", "v", "NaN is not allowed"),
        ("1,inf,0.5,1.5,3", "h", "infinity is not allowed"),
        ("1,-Infinity,0.5,1.5,3", "h", "infinity is not allowed"),
        ("1,1e999,0.5,1.5,3", "h", "too large to be a finite number"),
        ("1,2,0.5,=SUM(A1:A3),3", "c", "looks like a spreadsheet formula"),
        ("1,2,@cmd,1.5,3", "l", "looks like a spreadsheet formula"),
        ('"1,000",2,0.5,1.5,3', "o", "use '.' as the decimal point"),
        ("1_000,2,0.5,1.5,3", "o", "is not a number"),
        ("0x10,2,0.5,1.5,3", "o", "is not a number"),
        ("1,2,0.5,1.5,-0.1", "v", "volume -0.1 is negative; it must be >= 0"),
        ("100,110,100.5,105,1", "l", "low 100.5 is above min(open, close) = 100"),
        ("100,104,90,105,1", "h", "high 104 is below max(open, close) = 105"),
        ("100,99,90,95,1", "h", "high 99 is below max(open, close) = 100"),
        (
            "35000000.12,35000001,35000000.5,35000000.9,1",
            "l",
            "low 35000000.5 is above min(open, close) = 35000000.12",
        ),
    ],
)
def test_value_rules(cells, column, expected):
    error = only_error(csv_bytes([f"{iso(T0)},{cells}"]))
    assert (error.line, error.column) == (2, column)
    assert expected in error.reason


def test_boundaries_of_the_ohlc_rules_are_allowed():
    # A flat candle (l == min(o, c), h == max(o, c), v == 0) and a falling one whose low
    # is below the close: both valid.
    lines = [f"{iso(T0)},5,5,5,5,0", f"{iso(T0 + timedelta(minutes=1))},100,110,90,95,0.0"]
    rows = parse_candles(csv_bytes(lines), "1m")
    assert [row[1:] for row in rows] == [(5.0, 5.0, 5.0, 5.0, 0.0), (100.0, 110.0, 90.0, 95.0, 0.0)]


def test_number_notations_and_negative_zero():
    rows = parse_candles(csv_bytes([f"{iso(T0)}, +1.5e2 ,.2e3,1.5E+2,150.,-0.0"]), "1m")
    assert rows[0][1:] == (150.0, 200.0, 150.0, 150.0, 0.0)
    assert str(rows[0][5]) == "0.0"  # not -0.0


def test_one_row_can_have_several_problems():
    exc = rejected(csv_bytes(["2023-08-23T00:00:30Z,x,2,5,1,-1"]))
    assert [(e.line, e.column) for e in exc.errors] == [(2, "basetm"), (2, "o")]
    # With o unparseable the OHLC relations are not checked, but v is: it parsed.
    exc = rejected(csv_bytes([f"{iso(T0)},1,0.5,5,1,-1"]))
    assert [e.column for e in exc.errors] == ["l", "h", "v"]


def test_wrong_number_of_values():
    exc = rejected(
        csv_bytes(
            [f"{iso(T0)},1,2,0.5,1.5", f"{iso(T0 + timedelta(minutes=1))},1,2,0.5,1.5,3,", "x"]
        )
    )
    assert [(e.line, e.column) for e in exc.errors] == [(2, ""), (3, ""), (4, "")]
    assert exc.errors[0].reason == "expected 6 values (basetm,o,h,l,c,v), found 5"
    assert exc.errors[1].reason.endswith("remove the trailing comma(s)")


def test_every_row_is_checked_and_the_first_50_are_kept():
    lines = good_lines(200)
    bad = list(range(10, 130))  # 120 bad rows
    for i in bad:
        lines[i] = lines[i].rsplit(",", 1)[0] + ",-1"
    exc = rejected(csv_bytes(lines))
    assert exc.total == 120
    assert len(exc.errors) == MAX_REPORTED_ERRORS
    assert exc.more == 70
    assert [e.line for e in exc.errors] == [i + 2 for i in bad[:MAX_REPORTED_ERRORS]]
    assert exc.summary == "120 problems found; nothing was imported"
    assert exc.lines()[-1] == "... and 70 more not shown"
    assert exc.lines()[0] == "line 12, column v: volume -1 is negative; it must be >= 0"


# --- parsing: header and file-level problems -----------------------------------------


def test_header_columns_may_come_in_any_order_and_case():
    data = csv_bytes([f"1,2,{iso(T0)},0.5,1.5,3"], header=" O , H ,BaseTm,l,c,v")
    assert parse_candles(data, "1m") == [(T0, 1.0, 2.0, 0.5, 1.5, 3.0)]


@pytest.mark.parametrize(
    "header,expected",
    [
        ("basetm,o,h,l,c", "missing v"),
        ("time,open,high,low,close,volume", "missing basetm, o, h, l, c, v"),
        ("basetm,o,h,l,c,v,note", "unknown column(s) 'note'"),
        ("basetm,o,h,l,c,v,v", "repeated column(s) v"),
        ("basetm;o;h;l;c;v", "is not comma separated; use commas"),
        ("basetm\to\th\tl\tc\tv", "is not comma separated"),
    ],
)
def test_bad_headers(header, expected):
    error = only_error(csv_bytes(good_lines(2), header=header))
    assert (error.line, error.column) == (1, "")
    assert expected in error.reason


def test_data_without_a_header_is_refused():
    error = only_error("\n".join(good_lines(2)).encode())
    assert error.line == 1
    assert (
        "the first line must be the header basetm,o,h,l,c,v; found '2023-08-23T00:00:00Z,100.0"
        in error.reason
    )


@pytest.mark.parametrize(
    "data,expected",
    [
        (b"", "the file is empty"),
        (b" \r\n\n  \n", "the file is empty"),
        (HEADER.encode() + b"\n", "the file has a header but no candle rows"),
        (HEADER.encode() + b"\n\n\n", "the file has a header but no candle rows"),
        (b"\xff\xfe" + "basetm".encode("utf-16-le"), "UTF-16"),
        (b"PK\x03\x04\x14\x00\x06\x00", "Excel workbook"),
    ],
)
def test_file_level_problems(data, expected):
    error = only_error(data)
    assert error.line is None
    assert expected in error.reason


def test_non_utf8_bytes_are_located():
    lines = good_lines(3)
    data = csv_bytes(lines[:2]) + "café,1,2,0.5,1.5,3\n".encode("latin-1")
    error = only_error(data)
    assert error.line == 4
    assert error.reason == "byte 0xe9 is not valid UTF-8; save the file as UTF-8 CSV"


def test_nul_bytes_are_refused_as_binary():
    error = only_error(csv_bytes(good_lines(2)) + b"\x00\x01\x02")
    assert error.line == 4
    assert "NUL bytes" in error.reason


def test_a_utf8_byte_order_mark_is_accepted():
    data = b"\xef\xbb\xbf" + csv_bytes(good_lines(3), newline="\r\n")
    assert len(parse_candles(data, "1m")) == 3


def test_line_endings_and_blank_lines():
    lines = good_lines(3)
    for newline in ("\n", "\r\n", "\r"):
        data = newline.join([HEADER, "", lines[0], "  ", lines[1], lines[2]]).encode()
        assert len(parse_candles(data, "1m")) == 3, repr(newline)


def test_very_long_lines_are_refused_without_parsing_them():
    lines = good_lines(3)
    lines[1] = lines[1] + "9" * 5_000_000
    error = only_error(csv_bytes(lines))
    assert (error.line, error.column) == (3, "")
    assert error.reason == "the line is longer than 1000 characters; this is not a candle row"


def test_broken_quotes_are_reported():
    error = only_error(
        csv_bytes([*good_lines(1), f'"{iso(T0 + timedelta(minutes=1))}"x,1,2,0.5,1.5,3'])
    )
    assert error.line == 3
    assert "malformed CSV" in error.reason


def test_quoted_cells_and_spaces_are_fine():
    rows = parse_candles(csv_bytes([f' "{iso(T0)}", "1",2, 0.5,1.5 ,3']), "1m")
    assert rows == [(T0, 1.0, 2.0, 0.5, 1.5, 3.0)]


def test_hostile_cells_are_shown_safely_and_cut():
    exc = rejected(csv_bytes([f"{iso(T0)},\x1b[31m{'A' * 100},2,0.5,1.5,3"]))
    reason = exc.errors[0].reason
    assert "\\x1b" in reason and "\x1b" not in reason
    assert len(reason) < 100


def test_unknown_interval_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown interval"):
        parse_candles(csv_bytes(good_lines(1)), "2m")
