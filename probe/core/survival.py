"""Time to answer as an event time: the Kaplan–Meier estimate with Greenwood's variance.

Every contacted target is observed from its first email: the *event* is its answer; a target still
silent when the report is made, or whose address bounced, is *censored* then (it might still have
answered later; we only know it had not yet). Kaplan & Meier (1958): S(t) = Π over event times
tⱼ ≤ t of (1 − dⱼ / nⱼ), dⱼ events at tⱼ and nⱼ targets still observed (not answered, not censored)
just before tⱼ. Greenwood (1926): Var S(t) = S(t)² · Σ dⱼ / (nⱼ (nⱼ − dⱼ)). The share answered
within t is 1 − S(t); its 95 % interval is the plain Greenwood interval 1 − (S ± 1.96·SE), clipped
to [0, 1].

Input comes grouped: (time, events, censored) in ascending time, one row per distinct time, so a
caller can stream it from a GROUP BY without holding one row per target. An event and a censoring at
the same time: the event counts first (the censored target was still observed at that time).
Pure: numbers in, numbers out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from probe.core.stats import Z95


@dataclass(frozen=True)
class Step:
    time: float          # seconds from the first email
    at_risk: int         # nⱼ
    events: int          # dⱼ
    survival: float      # S(tⱼ), the share still silent just after tⱼ
    se: float            # Greenwood standard error of S(tⱼ)


@dataclass(frozen=True)
class KaplanMeier:
    subjects: int
    events: int
    last_time: float | None       # the largest time observed (event or censoring)
    steps: tuple[Step, ...]

    def at(self, t: float) -> tuple[float, float] | None:
        """(S(t), SE) — None beyond the last time observed (follow-up too short to say) or with
        nobody observed."""
        if self.subjects == 0 or self.last_time is None or t > self.last_time:
            return None
        s, se = 1.0, 0.0
        for step in self.steps:
            if step.time > t:
                break
            s, se = step.survival, step.se
        return s, se

    def answered_within(self, t: float, z: float = Z95) -> dict[str, object]:
        """{"value": 1 − S(t), "ci95": [lo, hi]} (Greenwood, clipped), or both None."""
        found = self.at(t)
        if found is None:
            return {"value": None, "ci95": None}
        s, se = found
        return {"value": 1.0 - s, "ci95": [max(0.0, 1.0 - s - z * se), min(1.0, 1.0 - s + z * se)]}

    def _thinned(self, max_points: int) -> list[Step]:
        steps = list(self.steps)
        if len(steps) > max_points:
            stride = math.ceil(len(steps) / max_points)
            steps = steps[stride - 1::stride] + ([steps[-1]] if (len(steps) % stride) else [])
        return steps

    def curve(self, max_points: int = 1000) -> list[list[float]]:
        """The steps as [[seconds, share still silent], …] from [0, 1]; thinned to about
        `max_points` steps (evenly by rank, the last kept) so a huge campaign's JSON stays small."""
        return [[0.0, 1.0]] + [[round(s.time, 3), s.survival] for s in self._thinned(max_points)]

    def band(self, max_points: int = 1000, z: float = Z95) -> list[list[float]]:
        """The Greenwood 95 % band of the same steps: [[seconds, low S, high S], …], clipped to [0, 1]."""
        return [[0.0, 1.0, 1.0]] + [[round(s.time, 3), max(0.0, s.survival - z * s.se),
                                     min(1.0, s.survival + z * s.se)] for s in self._thinned(max_points)]


def kaplan_meier(grouped: Iterable[tuple[float, int, int]]) -> KaplanMeier:
    """From (time, events, censored) rows in ascending time; rows with the same time may repeat."""
    rows: list[tuple[float, int, int]] = []
    for t, d, c in grouped:
        if d < 0 or c < 0 or t < 0:
            raise ValueError(f"times and counts must not be negative, got {(t, d, c)}")
        if rows and t < rows[-1][0]:
            raise ValueError("rows must come in ascending time")
        if rows and t == rows[-1][0]:
            rows[-1] = (t, rows[-1][1] + d, rows[-1][2] + c)
        else:
            rows.append((t, d, c))
    n = sum(d + c for _, d, c in rows)
    at_risk, s, greenwood, events = n, 1.0, 0.0, 0
    steps: list[Step] = []
    for t, d, c in rows:
        if d:
            s *= 1.0 - d / at_risk
            # At S = 0 (everyone left answered) the term's denominator is 0: the variance is 0 there.
            greenwood = greenwood + d / (at_risk * (at_risk - d)) if at_risk > d else greenwood
            se = 0.0 if s == 0.0 else s * math.sqrt(greenwood)
            steps.append(Step(t, at_risk, d, s, se))
            events += d
        at_risk -= d + c
    return KaplanMeier(n, events, rows[-1][0] if rows else None, tuple(steps))


def from_observations(observations: Sequence[tuple[float, bool]]) -> KaplanMeier:
    """Convenience for small samples: (time, answered?) per subject."""
    grouped: dict[float, list[int]] = {}
    for t, event in observations:
        cell = grouped.setdefault(float(t), [0, 0])
        cell[0 if event else 1] += 1
    return kaplan_meier((t, d, c) for t, (d, c) in sorted(grouped.items()))
