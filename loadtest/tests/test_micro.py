"""The micro benchmark's fit and tables (its timing loop runs in the end-to-end test)."""

import pytest

from loadtest.inprocess.micro import MicroRow, fits, format_table


def rows():
    out = []
    for mode, fixed, per_row in (("drf", 1.0, 0.030), ("raw", 0.5, 0.002)):
        for limit in (1, 100, 1000):
            ms = fixed + per_row * limit
            out.append(
                MicroRow(
                    mode,
                    limit,
                    ms,
                    ms * 1000 / limit,
                    50,
                    118 * limit,
                    {"db": 0.4, "serialize": ms / 2, "render": 0.1},
                )
            )
    return out


def test_fit_per_mode():
    fitted = fits(rows())
    assert fitted["drf"]["fixed_ms"] == pytest.approx(1.0)
    assert fitted["drf"]["per_row_us"] == pytest.approx(30.0)
    assert fitted["raw"]["per_row_us"] == pytest.approx(2.0)
    assert fits([r for r in rows() if r.limit == 100]) == {}  # one limit: nothing to fit


def test_printed_table():
    table = format_table(rows(), fits(rows()))
    lines = table.splitlines()
    assert lines[1].split()[:7] == ["mode", "1", "row", "100", "rows", "1000", "rows"]
    drf = lines[2].split()
    assert drf[0] == "drf"
    assert drf[1:3] == ["1.030", "[1030.00]"]  # ms per request [µs per row] at 1 row
    assert drf[-2:] == ["1.000", "30.00"]  # fixed ms, µs/row
