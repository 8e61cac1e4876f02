"""probe.core.comparisons against published and independently computed values."""

from __future__ import annotations

import math

import pytest

from probe.core.comparisons import (
    FISHER,
    Z_TEST,
    chi_square_independence,
    chi_square_sf,
    compare_proportions,
    fisher_exact,
    regularized_gamma_q,
    two_proportion_z,
)
from probe.core.stats import newcombe_diff_ci


@pytest.mark.parametrize(
    ("statistic", "df", "p"),
    [
        (3.841458820694124, 1, 0.05),          # the 95 % critical values of every table
        (5.991464547107979, 2, 0.05),
        (6.634896601021214, 1, 0.01),
        (10.0, 5, 0.07523524614651217),        # scipy.stats.chi2.sf(10, 5)
        (1.0, 1, 0.31731050786291415),         # = erfc(1/sqrt 2)
        (0.5, 3, 0.9188914116160915),          # scipy.stats.chi2.sf(0.5, 3)
        # df 10: Q(5, 50) = exp(-50) (1 + 50 + 50²/2 + 50³/6 + 50⁴/24), the even-df closed form
        (100.0, 10, math.exp(-50) * (1 + 50 + 1250 + 125000 / 6 + 6250000 / 24)),
        (0.0, 4, 1.0),
    ],
)
def test_chi_square_survival_matches_tables(statistic: float, df: int, p: float) -> None:
    assert chi_square_sf(statistic, df) == pytest.approx(p, rel=1e-6, abs=1e-300)


def test_incomplete_gamma_closed_forms() -> None:
    # Q(1, x) = exp(-x); Q(1/2, x) = erfc(sqrt x): both branches (x < a + 1 and above).
    for x in (0.1, 0.9, 1.5, 4.0, 30.0):
        assert regularized_gamma_q(1.0, x) == pytest.approx(math.exp(-x), rel=1e-12)
        assert regularized_gamma_q(0.5, x) == pytest.approx(math.erfc(math.sqrt(x)), rel=1e-10)


@pytest.mark.parametrize(
    ("table", "p"),
    [
        ((3, 1, 1, 3), 0.4857142857142857),   # Fisher's lady tasting tea (R fisher.test)
        ((8, 2, 1, 5), 0.03496503496503495),   # R: fisher.test(matrix(c(8,1,2,5),2))
        ((1, 9, 11, 3), 0.002759456185220083),  # scipy.stats.fisher_exact docs example
        ((0, 5, 5, 0), 0.007936507936507936),
        ((2, 2, 2, 2), 1.0),
    ],
)
def test_fisher_exact_matches_r(table: tuple[int, int, int, int], p: float) -> None:
    assert fisher_exact(*table) == pytest.approx(p, rel=1e-9)


def test_fisher_large_tables_use_logs_and_agree_with_z() -> None:
    # Beyond the exact-integer size, the log path still gives a p-value near the z-test's.
    p = fisher_exact(1500, 1500, 1400, 1600)
    assert 0.005 < p < 0.02
    assert p == pytest.approx(two_proportion_z(1500, 3000, 1400, 3000), rel=0.15)


def test_z_test_equals_pearson_chi_square_without_correction() -> None:
    # prop.test(c(15, 25), c(50, 50), correct = FALSE): X-squared = 4.1667, p = 0.04123
    p = two_proportion_z(15, 50, 25, 50)
    assert p == pytest.approx(0.04122683333716714, rel=1e-9)
    chi = chi_square_independence([[15, 35], [25, 25]])
    assert chi.statistic == pytest.approx(4.166666666666667)
    assert chi.df == 1 and chi.p_value == pytest.approx(p, rel=1e-9)


def test_compare_uses_z_test_then_fisher_for_small_cells() -> None:
    big = compare_proportions(15, 50, 25, 50)
    assert big.test == Z_TEST
    assert big.diff == pytest.approx(0.2)
    assert big.ci95 == newcombe_diff_ci(25, 50, 15, 50)   # b − a, the existing Newcombe function
    small = compare_proportions(1, 10, 6, 10)      # expected answered cells 3.5 < 5
    assert small.test == FISHER
    assert small.p_value == pytest.approx(fisher_exact(6, 4, 1, 9))
    assert compare_proportions(0, 0, 3, 10).diff is None


def test_chi_square_r_by_c_and_degenerate_tables() -> None:
    # chisq.test(matrix(c(10,20,30, 20,20,20), 3)): X-squared = 5.3333, df = 2, p = 0.06948
    chi = chi_square_independence([[10, 20], [20, 20], [30, 20]])
    assert chi.statistic == pytest.approx(5.333333333333333)
    assert chi.df == 2
    assert chi.p_value == pytest.approx(math.exp(-5.333333333333333 / 2), rel=1e-12)  # df 2: exp(-x/2)
    assert chi_square_independence([[5, 5], [0, 0]]).p_value is None
    assert chi_square_independence([[7, 0], [3, 0]]).p_value is None
