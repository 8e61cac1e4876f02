"""Tests of a difference between arms of an experiment: two proportions, and independence.

- ``two_proportion_z``: the two-sided z-test of p1 = p2 with the pooled proportion, without
  continuity correction (the usual "prop.test(correct = FALSE)").
- ``fisher_exact``: Fisher's exact test of a 2×2 table, two-sided as R's ``fisher.test``: the sum
  of the hypergeometric probabilities of every table with the same margins that is no more likely
  than the one observed (with a relative tolerance of 1e-7, as R does).
- ``compare_proportions``: the difference b − a with Newcombe's hybrid score interval
  (probe.core.stats) and the z-test, or Fisher's test when an expected cell count is under 5.
- ``chi_square_independence``: Pearson's chi-square test of an r×c table, its p-value from the
  regularized upper incomplete gamma function Q(df/2, x/2) (series and continued fraction,
  Numerical Recipes §6.2).
Pure: numbers in, numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from probe.core.stats import newcombe_diff_ci

#: Below this expected count in any cell, the normal approximation is not trusted: Fisher instead.
MIN_EXPECTED = 5.0
Z_TEST = "two-proportion z-test"
FISHER = "Fisher's exact test"


def normal_two_sided_p(z: float) -> float:
    """P(|Z| >= |z|) for a standard normal Z."""
    return math.erfc(abs(z) / math.sqrt(2.0))


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test; None when it is undefined (an empty
    sample, or a pooled proportion of 0 or 1, where both samples agree exactly: p = 1)."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    if pooled in (0.0, 1.0):
        return 1.0
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return normal_two_sided_p((x1 / n1 - x2 / n2) / se)


def _log_hypergeom(k: int, row1: int, col1: int, total: int) -> float:
    return (math.lgamma(col1 + 1) - math.lgamma(k + 1) - math.lgamma(col1 - k + 1)
            + math.lgamma(total - col1 + 1) - math.lgamma(row1 - k + 1) - math.lgamma(total - col1 - row1 + k + 1)
            - (math.lgamma(total + 1) - math.lgamma(row1 + 1) - math.lgamma(total - row1 + 1)))


def fisher_exact(a: int, b: int, c: int, d: int) -> float:
    """Two-sided p-value of Fisher's exact test of the table [[a, b], [c, d]].

    Probabilities are exact integer ratios of math.comb for tables up to a few thousand, so the
    comparison "no more likely than the observed" does not suffer from rounding."""
    if min(a, b, c, d) < 0:
        raise ValueError("cell counts cannot be negative")
    row1, col1, total = a + b, a + c, a + b + c + d
    low, high = max(0, row1 + col1 - total), min(row1, col1)
    if total <= 5000:
        denom = math.comb(total, row1)
        weights = {k: math.comb(col1, k) * math.comb(total - col1, row1 - k) for k in range(low, high + 1)}
        observed = weights[a]
        # R's relative tolerance: tables within 1e-7 of the observed probability count as equal.
        limit = observed * (1 + 1e-7)
        more_extreme = sum(w for w in weights.values() if w <= limit)
        return min(1.0, more_extreme / denom)
    logs = {k: _log_hypergeom(k, row1, col1, total) for k in range(low, high + 1)}
    ref = logs[a] + math.log1p(1e-7)
    return min(1.0, sum(math.exp(v) for v in logs.values() if v <= ref))


@dataclass(frozen=True)
class Difference:
    diff: float | None               # p_b − p_a
    ci95: tuple[float, float] | None  # Newcombe hybrid score interval of p_b − p_a
    p_value: float | None
    test: str | None


def compare_proportions(xa: int, na: int, xb: int, nb: int) -> Difference:
    """Arm b against arm a: b − a, its Newcombe interval, and the test the counts allow."""
    if na <= 0 or nb <= 0:
        return Difference(None, None, None, None)
    ci = newcombe_diff_ci(xb, nb, xa, na)
    total, successes = na + nb, xa + xb
    expected = [n * k / total for n in (na, nb) for k in (successes, total - successes)]
    p: float | None
    if min(expected) < MIN_EXPECTED:
        p, test = fisher_exact(xb, nb - xb, xa, na - xa), FISHER
    else:
        p, test = two_proportion_z(xb, nb, xa, na), Z_TEST
    return Difference(xb / nb - xa / na, ci, p, test)


def regularized_gamma_q(a: float, x: float) -> float:
    """Q(a, x) = Γ(a, x) / Γ(a), the upper regularized incomplete gamma function (a > 0, x >= 0)."""
    if a <= 0:
        raise ValueError("a must be positive")
    if x < 0:
        raise ValueError("x cannot be negative")
    if x == 0:
        return 1.0
    log_prefix = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        # Series for P(a, x): sum x^n / (a (a+1) ... (a+n)), converges fast below a + 1.
        term = total = 1.0 / a
        ap = a
        for _ in range(10_000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-16:
                break
        return max(0.0, 1.0 - total * math.exp(log_prefix))
    # Continued fraction for Q(a, x) (modified Lentz), converges fast above a + 1.
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-16:
            break
    return min(1.0, math.exp(log_prefix) * h)


def chi_square_sf(statistic: float, df: int) -> float:
    """P(X >= statistic) for X chi-square with df degrees of freedom."""
    if df <= 0:
        raise ValueError("df must be positive")
    return regularized_gamma_q(df / 2.0, max(statistic, 0.0) / 2.0)


@dataclass(frozen=True)
class ChiSquare:
    statistic: float
    df: int
    p_value: float | None   # None when the table has fewer than two non-empty rows or columns


def chi_square_independence(table: Sequence[Sequence[int]]) -> ChiSquare:
    """Pearson's chi-square test of independence of an r×c table of counts (no correction).
    Empty rows and columns are dropped first: they carry no information."""
    rows = [list(r) for r in table if sum(r) > 0]
    if not rows:
        return ChiSquare(0.0, 0, None)
    keep = [j for j in range(len(rows[0])) if sum(r[j] for r in rows) > 0]
    rows = [[r[j] for j in keep] for r in rows]
    if len(rows) < 2 or len(keep) < 2:
        return ChiSquare(0.0, 0, None)
    total = sum(map(sum, rows))
    row_sums = [sum(r) for r in rows]
    col_sums = [sum(r[j] for r in rows) for j in range(len(keep))]
    stat = 0.0
    for i, r in enumerate(rows):
        for j, observed in enumerate(r):
            expected = row_sums[i] * col_sums[j] / total
            stat += (observed - expected) ** 2 / expected
    df = (len(rows) - 1) * (len(keep) - 1)
    return ChiSquare(stat, df, chi_square_sf(stat, df))
