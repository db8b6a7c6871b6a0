"""Per-row cost fitting and the aggregation over repeats."""

import math

import pytest

from loadtest.fitting import fit_line, fit_row_cost, ratio, spread


def test_fit_line_recovers_an_exact_line():
    a, b, r2 = fit_line([1, 2, 3, 4], [3, 5, 7, 9])
    assert (a, b, r2) == pytest.approx((1.0, 2.0, 1.0))


def test_fit_line_least_squares_on_noisy_points():
    # y = 1 + x with residuals +1, -1, -1, +1 at x = 0..3: the fit stays y = 1 + x.
    a, b, r2 = fit_line([0, 1, 2, 3], [2, 1, 2, 5])
    assert a == pytest.approx(1.0) and b == pytest.approx(1.0)
    assert r2 == pytest.approx(1 - 4 / 9)


def test_fit_line_needs_two_distinct_x():
    with pytest.raises(ValueError):
        fit_line([1], [1])
    with pytest.raises(ValueError):
        fit_line([2, 2], [1, 3])
    with pytest.raises(ValueError):
        fit_line([1, 2], [1])


def test_row_cost_from_requests_per_second():
    # A server that spends 1.5 ms per request plus 20 µs per row.
    rps = {rows: 1000 / (1.5 + 0.020 * rows) for rows in (1, 100, 1000, 1440)}
    fit = fit_row_cost(rps)
    assert fit.fixed_ms == pytest.approx(1.5)
    assert fit.per_row_us == pytest.approx(20.0)
    assert fit.r2 == pytest.approx(1.0)
    assert fit.points == 4
    assert fit.predict_ms(500) == pytest.approx(11.5)


def test_row_cost_skips_unusable_points():
    rps = {1: 500.0, 100: 0.0, 1000: math.nan, 1440: 1000 / (2 + 0.01 * 1440)}
    fit = fit_row_cost(rps)
    assert fit.points == 2
    assert fit.fixed_ms + fit.per_row_us / 1000 == pytest.approx(2.0)
    assert fit_row_cost({1: 100.0, 1000: 0.0}) is None


def test_spread_over_repeats():
    s = spread([100.0, 110.0, 90.0])
    assert (s.median, s.low, s.high, s.n) == (100.0, 90.0, 110.0, 3)
    assert s.half_range_pct == pytest.approx(10.0)
    assert spread([5.0]).half_range_pct == 0.0
    empty = spread([math.nan])
    assert empty.n == 0 and math.isnan(empty.median)


def test_ratio():
    assert ratio(30.0, 10.0) == 3.0
    assert math.isnan(ratio(1.0, 0.0))
    assert math.isnan(ratio(math.nan, 1.0))


# drf-validated under asgi as the issue saw it: one 1440-row cell halved by noise made the
# least-squares fixed cost -6.53 ms.
NOISY = {1: 1000 / 2.3, 100: 1000 / 8.4, 1000: 1000 / 58.5, 1440: 1000 / 175.4798268626234}


def test_a_negative_fixed_cost_is_a_fit_unreliable_with_its_reason():
    fit = fit_row_cost(NOISY)
    assert fit.fixed_ms == pytest.approx(-6.53, abs=1e-6)
    assert (
        fit.unreliable == "negative fixed cost (-6.53 ms): noise at the large limits moved the line"
    )


def test_a_fit_whose_points_stray_more_than_the_rows_effect_is_unreliable():
    # ~2 ms per request at every size: the rows' effect (0.07 ms) is smaller than the scatter.
    fit = fit_row_cost({1: 1000 / 2.0, 100: 1000 / 2.6, 1000: 1000 / 2.2, 1440: 1000 / 2.4})
    assert fit.fixed_ms > 0 and fit.per_row_us > 0
    assert (
        fit.unreliable.startswith("the points stray up to ")
        and "more than the rows' effect" in fit.unreliable
    )


def test_a_negative_per_row_cost_and_two_limits_are_unreliable():
    assert "not positive" in fit_row_cost({1: 400.0, 100: 420.0, 1000: 430.0}).unreliable
    assert fit_row_cost({1: 400.0, 1000: 40.0}).unreliable.startswith("only two limits")


def test_a_clean_fit_is_shown():
    # The README's drf-validated under asgi (medians of 3 repeats).
    fit = fit_row_cost({1: 446.0, 100: 119.0, 1000: 17.1, 1440: 11.4})
    assert fit.unreliable == ""
    assert fit.fixed_ms == pytest.approx(2.03, abs=0.01) and fit.per_row_us == pytest.approx(
        58.5, abs=0.1
    )
