"""probe.core.stats: Wilson intervals against published values, rates, quantiles (percentile_cont)."""

from __future__ import annotations

import pytest

from probe.core.stats import (
    Z95,
    interpolate,
    median_p90,
    quantile,
    quantile_position,
    rate,
    wilson_interval,
)


@pytest.mark.parametrize(
    ("successes", "n", "low", "high"),
    [
        (15, 50, 0.1910, 0.4375),   # the founding case: 15 of 50 answered
        (35, 50, 0.5625, 0.8090),
        (1, 10, 0.0179, 0.4042),    # Newcombe (1998) table 1
        (0, 10, 0.0, 0.2775),       # upper bound = z²/(n+z²)
        (10, 10, 0.7225, 1.0),
        (50, 100, 0.4038, 0.5962),
        (0, 1, 0.0, 0.7935),
        (1, 1, 0.2065, 1.0),
        (81, 263, 0.2553, 0.3662),  # by hand: centre 0.3108, half-width 0.0555
    ],
)
def test_wilson_interval_known_values(successes: int, n: int, low: float, high: float) -> None:
    got = wilson_interval(successes, n)
    assert got is not None
    assert got[0] == pytest.approx(low, abs=5e-5)
    assert got[1] == pytest.approx(high, abs=5e-5)


def test_wilson_interval_of_nothing_is_none() -> None:
    assert wilson_interval(0, 0) is None


@pytest.mark.parametrize(("successes", "n"), [(-1, 5), (6, 5), (1, -1)])
def test_wilson_interval_refuses_impossible_counts(successes: int, n: int) -> None:
    with pytest.raises(ValueError):
        wilson_interval(successes, n)


def test_wilson_interval_contains_the_rate_and_narrows_with_n() -> None:
    previous = 1.0
    for n in (10, 100, 1000, 10000):
        low, high = wilson_interval(3 * n // 10, n) or (0.0, 1.0)
        assert low < 0.3 < high
        assert high - low < previous
        previous = high - low


def test_wilson_wider_with_a_larger_z() -> None:
    narrow = wilson_interval(15, 50, z=1.0)
    wide = wilson_interval(15, 50, z=Z95)
    assert narrow and wide
    assert wide[0] < narrow[0] and narrow[1] < wide[1]


def test_rate() -> None:
    assert rate(15, 50) == 0.3
    assert rate(0, 0) is None
    with pytest.raises(ValueError):
        rate(3, 2)


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1.0], 0.5, 1.0),
        ([1.0, 2.0], 0.5, 1.5),
        ([3.0, 1.0, 2.0], 0.5, 2.0),
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5),
        ([float(i) for i in range(1, 11)], 0.9, 9.1),   # numpy.percentile(range(1, 11), 90)
        ([10.0, 20.0, 30.0, 40.0, 50.0], 0.9, 46.0),
        ([5.0, 1.0], 0.0, 1.0),
        ([5.0, 1.0], 1.0, 5.0),
    ],
)
def test_quantile_matches_percentile_cont(values: list[float], q: float, expected: float) -> None:
    assert quantile(values, q) == pytest.approx(expected)


def test_quantile_of_nothing() -> None:
    assert quantile([], 0.5) is None
    assert median_p90([]) == {"median": None, "p90": None}


def test_quantile_position_and_interpolate() -> None:
    assert quantile_position(0.5, 4) == (1, 2, 0.5)
    assert quantile_position(0.9, 1) == (0, 0, 0.0)
    assert quantile_position(1.0, 3) == (2, 2, 0.0)
    assert interpolate(10.0, 20.0, 0.25) == 12.5
    with pytest.raises(ValueError):
        quantile_position(1.5, 3)
    with pytest.raises(ValueError):
        quantile_position(0.5, 0)


def test_median_p90() -> None:
    assert median_p90([1.0, 2.0, 3.0]) == {"median": 2.0, "p90": pytest.approx(2.8)}
