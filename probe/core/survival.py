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
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import accumulate
from operator import add, mul

from probe.core.stats import Z95


@dataclass(frozen=True)
class Step:
    time: float          # seconds from the first email
    at_risk: int         # nⱼ
    events: int          # dⱼ
    survival: float      # S(tⱼ), the share still silent just after tⱼ
    se: float            # Greenwood standard error of S(tⱼ)


class KaplanMeier:
    """The estimate's steps (one per event time), kept as parallel lists: a large campaign has
    hundreds of thousands of them and the report reads about a thousand (the thinned curve, a few
    shares within), so a `Step` is built only when asked for."""

    def __init__(self, subjects: int, events: int, last_time: float | None, times: Sequence[float],
                 at_risk: list[int], deaths: Sequence[int], survival: list[float], greenwood: list[float]) -> None:
        self.subjects = subjects
        self.events = events
        self.last_time = last_time          # the largest time observed (event or censoring)
        self._times = times
        self._at_risk = at_risk
        self._deaths = deaths
        self._survival = survival
        self._greenwood = greenwood          # Σ dⱼ / (nⱼ (nⱼ − dⱼ)) up to each step

    def _se(self, i: int) -> float:
        s = self._survival[i]
        return 0.0 if s == 0.0 else s * math.sqrt(self._greenwood[i])

    def _step(self, i: int) -> Step:
        return Step(float(self._times[i]), self._at_risk[i], self._deaths[i], self._survival[i], self._se(i))

    @cached_property
    def steps(self) -> tuple[Step, ...]:
        return tuple(self._step(i) for i in range(len(self._times)))

    def at(self, t: float) -> tuple[float, float] | None:
        """(S(t), SE) — None beyond the last time observed (follow-up too short to say) or with
        nobody observed."""
        if self.subjects == 0 or self.last_time is None or t > self.last_time:
            return None
        i = bisect_right(self._times, t)    # the steps at or before t come first
        return (1.0, 0.0) if i == 0 else (self._survival[i - 1], self._se(i - 1))

    def answered_within(self, t: float, z: float = Z95) -> dict[str, object]:
        """{"value": 1 − S(t), "ci95": [lo, hi]} (Greenwood, clipped), or both None."""
        found = self.at(t)
        if found is None:
            return {"value": None, "ci95": None}
        s, se = found
        return {"value": 1.0 - s, "ci95": [max(0.0, 1.0 - s - z * se), min(1.0, 1.0 - s + z * se)]}

    def _thinned(self, max_points: int) -> list[Step]:
        """Every step, or evenly by rank about `max_points` of them, the last kept."""
        n = len(self._times)
        keep: Iterable[int] = range(n)
        if n > max_points:
            stride = math.ceil(n / max_points)
            keep = [*range(stride - 1, n, stride), *([n - 1] if n % stride else [])]
        return [self._step(i) for i in keep]

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
    times: list[float] = []
    events: list[int] = []
    censored: list[int] = []
    for t, d, c in grouped:
        if d < 0 or c < 0 or t < 0:
            raise ValueError(f"times and counts must not be negative, got {(t, d, c)}")
        if times and t <= times[-1]:
            if t < times[-1]:
                raise ValueError("rows must come in ascending time")
            events[-1] += d
            censored[-1] += c
        else:
            times.append(t)
            events.append(d)
            censored.append(c)
    with_events = [j for j, d in enumerate(events) if d]
    with_censored = [j for j, c in enumerate(censored) if c]
    return from_times([times[j] for j in with_events], [events[j] for j in with_events],
                      [times[j] for j in with_censored], [censored[j] for j in with_censored],
                      last_time=times[-1] if times else None)   # a row may count nobody: still observed


def from_times(event_times: Sequence[float], events: Sequence[int], censor_times: Sequence[float],
               censored: Sequence[int], *, last_time: float | None = None) -> KaplanMeier:
    """From the events and the censorings apart, each as distinct times in ascending order with a
    count of at least 1 at each (not checked: kaplan_meier checks and merges rows). A censoring at
    an event's time still counts as at risk then. `last_time`: the largest time observed, if later
    than every event and censoring."""
    censored_before = list(accumulate(censored, initial=0))
    n = sum(events) + censored_before[-1]
    # nⱼ = n − the answers before tⱼ − the censorings before tⱼ (the censorings are few: a bisection).
    if not censor_times or (event_times and censor_times[0] >= event_times[-1]):
        at_risk = [n - e for e in accumulate(events, initial=0)][:len(events)]
    else:
        at_risk = [n - e - censored_before[bisect_left(censor_times, t)]
                   for t, e in zip(event_times, accumulate(events, initial=0), strict=False)]  # one sum more
    # The running product and sum, left to right as the textbook loop does (accumulate multiplies and
    # adds in that order): the same floats. At S = 0 (everyone left answered) Greenwood's term has a
    # zero denominator: the variance stops growing there.
    survival = list(accumulate([1.0 - d / r for d, r in zip(events, at_risk, strict=True)], mul))
    greenwood = list(accumulate([d / (r * (r - d)) if r > d else 0.0
                                 for d, r in zip(events, at_risk, strict=True)], add))
    last = max(event_times[-1] if event_times else -1.0, censor_times[-1] if censor_times else -1.0,
               -1.0 if last_time is None else last_time)
    return KaplanMeier(n, n - censored_before[-1], None if last < 0 else float(last), event_times, at_risk,
                       events, survival, greenwood)


def from_observations(observations: Sequence[tuple[float, bool]]) -> KaplanMeier:
    """Convenience for small samples: (time, answered?) per subject."""
    grouped: dict[float, list[int]] = {}
    for t, event in observations:
        cell = grouped.setdefault(float(t), [0, 0])
        cell[0 if event else 1] += 1
    return kaplan_meier((t, d, c) for t, (d, c) in sorted(grouped.items()))
