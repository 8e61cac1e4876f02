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


def wilson_interval(successes: float, n: float, z: float = Z95) -> tuple[float, float] | None:
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


def newcombe_diff_ci(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> tuple[float, float] | None:
    """Newcombe's hybrid score interval for p1 - p2 (Newcombe 1998, method 10); None if n1 or n2 is 0.

    Built from the two Wilson intervals (l1, u1) and (l2, u2) of independent samples:
    lower = d - sqrt((p1 - l1)² + (u2 - p2)²), upper = d + sqrt((u1 - p1)² + (p2 - l2)²). Chosen over
    the Wald interval for the same reasons as Wilson: it stays in [-1, 1] and behaves at 0/n.
    """
    w1, w2 = wilson_interval(x1, n1, z), wilson_interval(x2, n2, z)
    if w1 is None or w2 is None:
        return None
    p1, p2 = x1 / n1, x2 / n2
    d = p1 - p2
    low = d - math.sqrt((p1 - w1[0]) ** 2 + (w2[1] - p2) ** 2)
    high = d + math.sqrt((w1[1] - p1) ** 2 + (p2 - w2[0]) ** 2)
    return (max(-1.0, low), min(1.0, high))


def cohen_kappa(pairs: Sequence[tuple[str, str]]) -> dict[str, float | int | None]:
    """Agreement between two codings of the same items: {"n", "agreement", "kappa"} (Cohen 1960).

    kappa = (po - pe) / (1 - pe), po the observed share of agreement, pe the agreement expected by
    chance from each coder's own marginal shares. When chance agreement is certain (both coders used
    one and the same code throughout) kappa is undefined: None.
    """
    n = len(pairs)
    if n == 0:
        return {"n": 0, "agreement": None, "kappa": None}
    po = sum(1 for a, b in pairs if a == b) / n
    first: dict[str, int] = {}
    second: dict[str, int] = {}
    for a, b in pairs:
        first[a] = first.get(a, 0) + 1
        second[b] = second.get(b, 0) + 1
    pe = sum(first[c] * second.get(c, 0) for c in first) / (n * n)
    kappa = None if pe >= 1.0 else (po - pe) / (1.0 - pe)
    return {"n": n, "agreement": po, "kappa": kappa}
