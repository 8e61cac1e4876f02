"""probe.core.survival keeps its steps as parallel lists and builds a `Step` only when asked: the
figures must be exactly (==, not approximately) those of the textbook loop it replaced, which is
kept here as the reference."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from probe.core.stats import Z95
from probe.core.survival import KaplanMeier, kaplan_meier

Steps = list[tuple[float, int, int, float, float]]   # time, at risk, events, S, SE


def textbook(grouped: Iterable[tuple[float, int, int]]) -> tuple[int, int, float | None, Steps]:
    """The Kaplan–Meier loop of probe.core.survival before issue 15, one Step per event time."""
    rows: list[tuple[float, int, int]] = []
    for t, d, c in grouped:
        if rows and t == rows[-1][0]:
            rows[-1] = (t, rows[-1][1] + d, rows[-1][2] + c)
        else:
            rows.append((t, d, c))
    n = sum(d + c for _, d, c in rows)
    at_risk, s, greenwood, events = n, 1.0, 0.0, 0
    steps: Steps = []
    for t, d, c in rows:
        if d:
            s *= 1.0 - d / at_risk
            greenwood = greenwood + d / (at_risk * (at_risk - d)) if at_risk > d else greenwood
            se = 0.0 if s == 0.0 else s * math.sqrt(greenwood)
            steps.append((t, at_risk, d, s, se))
            events += d
        at_risk -= d + c
    return n, events, rows[-1][0] if rows else None, steps


def textbook_figures(grouped: Sequence[tuple[float, int, int]], within: Sequence[float],
                     max_points: int = 1000) -> dict[str, object]:
    """What the report took from the textbook estimate: answered_within, the thinned curve and band."""
    n, _, last, steps = textbook(grouped)
    shares = []
    for t in within:
        if n == 0 or last is None or t > last:
            shares.append({"value": None, "ci95": None})
            continue
        s, se = 1.0, 0.0
        for step in steps:
            if step[0] > t:
                break
            s, se = step[3], step[4]
        shares.append({"value": 1.0 - s, "ci95": [max(0.0, 1.0 - s - Z95 * se), min(1.0, 1.0 - s + Z95 * se)]})
    kept = steps
    if len(kept) > max_points:
        stride = math.ceil(len(kept) / max_points)
        kept = kept[stride - 1::stride] + ([kept[-1]] if (len(kept) % stride) else [])
    return {"within": shares,
            "curve": [[0.0, 1.0]] + [[round(t, 3), s] for t, _, _, s, _ in kept],
            "band": [[0.0, 1.0, 1.0]] + [[round(t, 3), max(0.0, s - Z95 * se), min(1.0, s + Z95 * se)]
                                         for t, _, _, s, se in kept]}


def figures_of(km: KaplanMeier, within: Sequence[float], max_points: int = 1000) -> dict[str, object]:
    return {"within": [km.answered_within(t) for t in within], "curve": km.curve(max_points),
            "band": km.band(max_points)}


rows_strategy = st.lists(st.tuples(st.integers(0, 400), st.integers(0, 6), st.integers(0, 6)), max_size=300)


@settings(max_examples=300, deadline=None)
@given(rows=rows_strategy, max_points=st.integers(1, 40), within=st.lists(st.integers(-1, 450), max_size=6))
def test_the_estimate_is_the_textbook_loop_exactly(rows: list[tuple[int, int, int]], max_points: int,
                                                   within: list[int]) -> None:
    grouped = sorted((float(t), d, c) for t, d, c in rows)     # repeated times merge, as before
    km = kaplan_meier(grouped)
    n, events, last, steps = textbook(grouped)
    assert (km.subjects, km.events, km.last_time) == (n, events, last)
    assert [(s.time, s.at_risk, s.events, s.survival, s.se) for s in km.steps] == steps
    points = [float(t) for t in within]
    assert figures_of(km, points, max_points) == textbook_figures(grouped, points, max_points)


def test_a_large_estimate_is_the_textbook_loop_exactly() -> None:
    # Hundreds of thousands of distinct times, as a 1,000,000-target campaign has: thinned to 1,000.
    grouped = [(float(t), 1 + t % 3, t % 5 == 0) for t in range(1, 200_001)]
    rows = [(t, d, int(c)) for t, d, c in grouped] + [(1e7, 0, 400_000)]
    within = [86400.0 * k for k in (0.5, 1, 2, 7, 14, 200)]
    assert figures_of(kaplan_meier(rows), within) == textbook_figures(rows, within)
