"""Statistics for reply rates: rates, Wilson score intervals, quantiles.

Pure: the store computes counts and quantiles in SQL over any number of rows; these functions
turn a few numbers into the figures a report prints. An empty denominator gives ``None`` (no rate,
no interval) rather than a made-up 0 % or a [0, 1] interval, so a report says "n/a" plainly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

#: The two-sided 95 % normal quantile (scipy.stats.norm.ppf(0.975)).
Z95 = 1.959963984540054


def rate(successes: int, n: int) -> float | None:
    """successes / n, or None when n is 0."""
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    return successes / n if n else None


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """Wilson score interval for a binomial proportion; None when n is 0.

    Chosen over the normal (Wald) interval because it stays inside [0, 1] and behaves at 0/n and
    n/n, which small segments of a campaign hit often.
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return None
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    # Clamp: at 0/n and n/n the bounds are 0 and 1 exactly, up to rounding.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return (low, high)


def quantile_position(q: float, n: int) -> tuple[int, int, float]:
    """Where quantile q of n sorted values lies: (lower index, upper index, weight of the upper).

    Linear interpolation between closest ranks, the definition of PostgreSQL's percentile_cont and
    numpy's default, so SQLite (which fetches the two rows) and PostgreSQL give the same figure.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be within [0, 1], got {q}")
    if n <= 0:
        raise ValueError("no values")
    pos = q * (n - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    return lo, hi, pos - lo


def interpolate(lower: float, upper: float, weight: float) -> float:
    return lower + (upper - lower) * weight


def quantile(values: Sequence[float], q: float) -> float | None:
    """Quantile q of a small list (percentile_cont semantics); None for an empty list."""
    if not values:
        return None
    ordered = sorted(values)
    lo, hi, weight = quantile_position(q, len(ordered))
    return interpolate(ordered[lo], ordered[hi], weight)


def median_p90(values: Sequence[float]) -> dict[str, float | None]:
    return {"median": quantile(values, 0.5), "p90": quantile(values, 0.9)}
