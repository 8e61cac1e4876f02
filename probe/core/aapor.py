"""AAPOR dispositions and outcome rates (AAPOR *Standard Definitions*), with Wilson intervals.

probe sorts every target into exactly one final disposition (DESIGN.md "report"):

- ``I``  a person answered yes or no (complete);
- ``P``  a person answered, but unclear (partial);
- ``R``  refusal: asked to be left alone (an opt-out, here or before this campaign);
- ``NC`` no answer: silence, or only automatic replies (non-contact);
- ``UO`` unknown eligibility: the address bounced, or the email could not be delivered;
- ``NE`` known not eligible ("no longer with the company", or set by a reviewer).

AAPOR's ``O`` (other) and ``UH`` have no email counterpart here: they are 0, so the formulas below
are AAPOR's with O = UH = 0. ``e`` is the share of unknown-eligibility cases taken as eligible.
Pure: counts in, figures out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from probe.core.stats import wilson_interval

CODES = ("I", "P", "R", "NC", "UO", "NE")


@dataclass(frozen=True)
class Dispositions:
    I: int = 0  # noqa: E741 - AAPOR's own symbol
    P: int = 0
    R: int = 0
    NC: int = 0
    UO: int = 0
    NE: int = 0

    @classmethod
    def from_counts(cls, counts: dict[str, int]) -> Dispositions:
        unknown = set(counts) - set(CODES)
        if unknown:
            raise ValueError(f"unknown disposition codes: {sorted(unknown)}")
        return cls(**{k: int(v) for k, v in counts.items()})

    def as_dict(self) -> dict[str, int]:
        return {c: getattr(self, c) for c in CODES}

    @property
    def total(self) -> int:
        return sum(self.as_dict().values())


def proportional_e(d: Dispositions) -> float:
    """AAPOR's proportional allocation: eligible / (eligible + known ineligible) among the cases
    whose eligibility is known; 1.0 (all taken as eligible, the conservative choice) when none is."""
    eligible = d.I + d.P + d.R + d.NC
    known = eligible + d.NE
    return eligible / known if known else 1.0


#: name -> (numerator, denominator, definition in words). e is the eligibility estimate.
FORMULAS: dict[str, tuple[Callable[[Dispositions, float], float], Callable[[Dispositions, float], float], str]] = {
    "RR1": (lambda d, e: d.I, lambda d, e: d.I + d.P + d.R + d.NC + d.UO,
            "RR1 = I / (I + P + R + NC + UO): complete answers over every eligible or possibly eligible target"),
    "RR2": (lambda d, e: d.I + d.P, lambda d, e: d.I + d.P + d.R + d.NC + d.UO,
            "RR2 = (I + P) / (I + P + R + NC + UO): any answer over every eligible or possibly eligible target"),
    "RR3": (lambda d, e: d.I, lambda d, e: d.I + d.P + d.R + d.NC + e * d.UO,
            "RR3 = I / (I + P + R + NC + e·UO): like RR1, counting only the share e of unknown cases"),
    "RR4": (lambda d, e: d.I + d.P, lambda d, e: d.I + d.P + d.R + d.NC + e * d.UO,
            "RR4 = (I + P) / (I + P + R + NC + e·UO): like RR2, counting only the share e of unknown cases"),
    "RR5": (lambda d, e: d.I, lambda d, e: d.I + d.P + d.R + d.NC,
            "RR5 = I / (I + P + R + NC): complete answers over targets known to be reached (e = 0)"),
    "RR6": (lambda d, e: d.I + d.P, lambda d, e: d.I + d.P + d.R + d.NC,
            "RR6 = (I + P) / (I + P + R + NC): any answer over eligible targets contacted (e = 0)"),
    "COOP1": (lambda d, e: d.I, lambda d, e: d.I + d.P + d.R,
              "COOP1 = I / (I + P + R): complete answers among those who replied in person"),
    "COOP2": (lambda d, e: d.I + d.P, lambda d, e: d.I + d.P + d.R,
              "COOP2 = (I + P) / (I + P + R): answers among those who replied in person"),
    "REF1": (lambda d, e: d.R, lambda d, e: d.I + d.P + d.R + d.NC + d.UO,
             "REF1 = R / (I + P + R + NC + UO): refusals over every eligible or possibly eligible target"),
    "CON1": (lambda d, e: d.I + d.P + d.R, lambda d, e: d.I + d.P + d.R + d.NC + d.UO,
             "CON1 = (I + P + R) / (I + P + R + NC + UO): targets reached in person over every eligible "
             "or possibly eligible target"),
}

DEFINITIONS = {name: text for name, (_, _, text) in FORMULAS.items()}


def outcome_rates(d: Dispositions, eligibility: float | None = None) -> dict[str, Any]:
    """Every rate of FORMULAS as {"value", "ci95"} (Wilson 95 %; None over an empty denominator),
    plus "e" (the eligibility used: `eligibility` when given, else AAPOR's proportional estimate).

    RR3 and RR4 have a fractional denominator when 0 < e < 1; their Wilson interval takes it as the
    effective sample size, the usual approximation.
    """
    if eligibility is not None and not 0.0 <= eligibility <= 1.0:
        raise ValueError(f"eligibility e must be within [0, 1], got {eligibility}")
    e = proportional_e(d) if eligibility is None else eligibility
    out: dict[str, Any] = {}
    for name, (num, den, _) in FORMULAS.items():
        x, n = float(num(d, e)), float(den(d, e))
        if n <= 0:
            out[name] = {"value": None, "ci95": None}
            continue
        ci = wilson_interval(x, n)  # fractional counts are fine: the formula is continuous
        out[name] = {"value": x / n, "ci95": None if ci is None else [ci[0], ci[1]]}
    out["e"] = e
    return out
