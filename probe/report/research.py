"""The research figures of the report (DESIGN.md "report"): AAPOR dispositions and rates, time to
answer as Kaplan–Meier with censoring, business hours, segment differences and coding agreement.

The formulas live in probe.core (aapor, survival, business_hours, stats); the counts and times come
from probe.store.research; this module puts them in the report's shape, with their definitions.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from probe.core.aapor import DEFINITIONS, Dispositions, outcome_rates
from probe.core.business_hours import BusinessHours
from probe.core.durations import parse_duration
from probe.core.stats import cohen_kappa, newcombe_diff_ci
from probe.core.survival import KaplanMeier, from_times, kaplan_meier
from probe.store import figures
from probe.store import research as facts

DEFAULT_WITHIN = ("1d", "2d", "7d", "14d")
#: Business durations are grouped by this many seconds (rounded up): memory stays bounded by the
#: campaign's span, not by its number of targets.
BUSINESS_RESOLUTION_S = 60

HEADLINE_RATE = "RR6"

RESEARCH_NOTES = [
    "dispositions (AAPOR Standard Definitions): I = a person answered yes or no; P = a person answered, "
    "unclear; R = refusal, asked to be left alone (an opt-out, here or before: suppressed); NC = no answer "
    "(silence or only automatic replies); UO = unknown eligibility (bounced or undelivered); NE = not "
    "eligible (a reviewer's ruling, or an automatic reply saying the person is no longer there)",
    *(f"{text} (AAPOR Standard Definitions)" for text in DEFINITIONS.values()),
    "e = the share of unknown-eligibility targets (UO) taken as eligible: [report] eligibility, else AAPOR's "
    "proportional estimate (I + P + R + NC) / (I + P + R + NC + NE), 1 when no eligibility is known",
    "every rate's ci95 is the Wilson (1927) score interval at 95 %",
    "the headline answer_rate = answered / reachable; it equals RR6 when nobody opted out and nobody was "
    "found not eligible",
    "answered_within: the share of contacted targets answered within that time of their first email, "
    "Kaplan–Meier (1958): S(t) = product over answer times t_j <= t of (1 - d_j / n_j); value = 1 - S(t). "
    "A target still silent at the report's time, or bounced, is censored then (counted while observed, "
    "never as a non-answer). ci95: Greenwood (1926) variance S(t)^2 * sum d_j / (n_j (n_j - d_j)), "
    "1 - (S +- 1.96 SE), clipped to [0, 1]. null when no target was observed that long yet",
    "rates_by_wave: the dispositions and rates as they stood after each wave (an answer credited to a "
    "later wave is still NC there)",
    "survival: the Kaplan–Meier steps [seconds from the first email, share still silent] (at most about "
    "1,000 steps, evenly thinned); survival_ci95: their Greenwood 95 % band [seconds, low, high]",
    "answered_within_business: the same, counting only [report] business_hours in campaign.timezone "
    "(holidays skipped); \"1d\" is one day's opening hours; times grouped by the minute, rounded up",
    "by segment, vs_all: the segment's answer_rate minus the whole campaign's, with a 95 % interval from "
    "the hybrid score interval of Newcombe (1998) for the segment against the rest, scaled by the rest's share",
    "coding_agreement: a random sample of human replies coded blind by a reviewer (probe review --sample); "
    "agreement = share of identical codes; kappa (Cohen 1960) = (po - pe) / (1 - pe), pe the agreement "
    "expected by chance from each coder's shares. Sample codes measure the classifier; they change no answer",
]


@dataclass(frozen=True)
class ResearchOptions:
    """[report] settings, as plain values (the report layer does not read the config)."""

    eligibility: float | None = None
    within: Sequence[str] = ()
    business_hours: str | None = None
    holidays: Sequence[date] = field(default_factory=tuple)


def within_labels(options: ResearchOptions) -> list[tuple[str, float]]:
    labels = list(dict.fromkeys([*DEFAULT_WITHIN, *options.within]))
    return [(label, parse_duration(label).total_seconds()) for label in labels]


def shares_within(km: KaplanMeier, labels: Sequence[tuple[str, float]], scale: float = 1.0) -> dict[str, Any]:
    return {label: km.answered_within(seconds * scale) for label, seconds in labels}


def rates_of(counts: dict[str, int], options: ResearchOptions) -> dict[str, Any]:
    return outcome_rates(Dispositions.from_counts(counts), options.eligibility)


async def research_figures(session: AsyncSession, campaign_id: int, timezone: str, *, now: datetime,
                           options: ResearchOptions, credited: dict[int, dict[str, int]]) -> dict[str, Any]:
    """The research keys of the whole campaign; `credited`: {credited wave: {disposition: targets}}
    (probe.store.figures.outcomes)."""
    counts = _empty()
    for per_code in credited.values():
        for code, n in per_code.items():
            counts[code] += n
    labels = within_labels(options)
    km = from_times(*await figures.event_columns(session, campaign_id, now))
    out: dict[str, Any] = {
        "dispositions": counts,
        "rates": rates_of(counts, options),
        "headline_rate": HEADLINE_RATE,
        "rate_definitions": dict(DEFINITIONS),
        "answered_within": shares_within(km, labels),
        "survival": km.curve(),
        "survival_ci95": km.band(),
        "answered_within_business": None,
        "coding_agreement": None,
    }
    out["rates_by_wave"] = _by_wave(credited, options)
    if options.business_hours:
        hours = BusinessHours(options.business_hours, options.holidays, ZoneInfo(timezone))
        out["answered_within_business"] = await _business(session, campaign_id, now, hours, labels)
    pairs = await facts.coding_pairs(session, campaign_id)
    if pairs:
        out["coding_agreement"] = cohen_kappa(pairs)
    return out


def _by_wave(credited: dict[int, dict[str, int]], options: ResearchOptions) -> dict[str, Any]:
    """The dispositions and rates as they stood after each wave: an answer credited to a later wave
    counts as NC (no answer yet) for the earlier ones."""
    waves = max([0, *credited])
    out: dict[str, Any] = {}
    for k in range(waves + 1):
        counts = _empty()
        for w, per_code in credited.items():
            for code, n in per_code.items():
                late = w > k and code in ("I", "P", "R")
                counts["NC" if late else code] += n
        out[str(k)] = {"dispositions": counts, "rates": rates_of(counts, options)}
    return out


async def _business(session: AsyncSession, campaign_id: int, now: datetime, hours: BusinessHours,
                    labels: Sequence[tuple[str, float]]) -> dict[str, Any]:
    grouped: Counter[tuple[int, bool]] = Counter()
    step = BUSINESS_RESOLUTION_S
    async for chunk in figures.stream_observations(session, campaign_id, now):
        for first, ended, answered in chunk:
            seconds = hours.elapsed(first, ended)
            grouped[(-int(-seconds // step) * step, answered)] += 1
    rows: dict[int, list[int]] = {}
    for (t, answered), n in grouped.items():
        rows.setdefault(t, [0, 0])[0 if answered else 1] += n
    km = kaplan_meier((float(t), d, c) for t, (d, c) in sorted(rows.items()))
    # Business "days" count opening hours: "1d" is one day's opening hours (9 h for 09:00-18:00).
    return shares_within(km, labels, scale=hours.day_seconds / 86400.0)


async def segment_figures(session: AsyncSession, campaign_id: int, by: str, *, now: datetime,
                          options: ResearchOptions, counts: dict[str, dict[str, int]]) -> dict[str, dict[str, Any]]:
    """Per value of `by`: dispositions (`counts`, from probe.store.figures.outcomes), rates and
    answered_within."""
    times = await figures.event_times(session, campaign_id, now, by)
    labels = within_labels(options)
    return {value: {"dispositions": c, "rates": rates_of(c, options),
                    "answered_within": shares_within(kaplan_meier(times.get(value, [])), labels)}
            for value, c in counts.items()}


def versus_all(answered: int, reachable: int, total_answered: int, total_reachable: int) -> dict[str, Any]:
    """The segment's answer rate minus the whole's, with a 95 % interval.

    p_seg − p_all = (n_rest / n_all) · (p_seg − p_rest): the segment is part of the whole, so the
    comparison with an independent sample is the one with the rest; its Newcombe interval is scaled
    by the rest's share.
    """
    rest_x, rest_n = total_answered - answered, total_reachable - reachable
    if reachable <= 0 or total_reachable <= 0:
        return {"diff": None, "ci95": None, "distinct": False}
    diff = answered / reachable - total_answered / total_reachable
    ci = newcombe_diff_ci(answered, reachable, rest_x, rest_n) if rest_n > 0 else None
    if ci is None:
        return {"diff": diff, "ci95": None, "distinct": False}
    w = rest_n / total_reachable
    low, high = ci[0] * w, ci[1] * w
    return {"diff": diff, "ci95": [low, high], "distinct": low > 0 or high < 0}


def _empty() -> dict[str, int]:
    return dict.fromkeys(("I", "P", "R", "NC", "UO", "NE"), 0)
