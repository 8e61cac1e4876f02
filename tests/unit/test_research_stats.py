"""The research figures against published worked examples: AAPOR rates (the outcomerate README table),
Kaplan–Meier with Greenwood standard errors (Freireich's 6-MP arm), Newcombe (1998) table II,
Cohen's kappa, and business hours."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from probe.core.aapor import Dispositions, outcome_rates, proportional_e
from probe.core.business_hours import BusinessHours
from probe.core.stats import cohen_kappa, newcombe_diff_ci, wilson_interval
from probe.core.survival import from_observations, kaplan_meier

# ---------------------------------------------------------------- AAPOR


def test_founding_case_rates():
    d = Dispositions(I=13, P=2, R=0, NC=33, UO=2, NE=0)
    rates = outcome_rates(d)
    assert rates["RR1"]["value"] == pytest.approx(0.26)
    assert rates["RR2"]["value"] == pytest.approx(15 / 50)
    assert rates["RR5"]["value"] == pytest.approx(13 / 48)
    assert rates["RR6"]["value"] == pytest.approx(0.3125)
    assert rates["e"] == 1.0                          # nobody known ineligible: every unknown counts
    assert rates["RR3"]["value"] == pytest.approx(rates["RR1"]["value"])
    assert rates["COOP1"]["value"] == pytest.approx(13 / 15)
    assert rates["REF1"]["value"] == 0.0
    assert rates["CON1"]["value"] == pytest.approx(15 / 50)
    low, high = rates["RR6"]["ci95"]
    assert (low, high) == pytest.approx(wilson_interval(15, 48))


def test_outcomerate_readme_table():
    # outcomerate's README: I 4, P 2, R 1, NC 1, O 1, UH 1, NE 1, UO 1. probe has no O and no UH: O is
    # folded into NC (counted in the same denominators as NC except COOP/CON) — so we check the
    # formulas on that table with O = 0 and UH + UO = 2, whose values are worked by hand here.
    d = Dispositions(I=4, P=2, R=1, NC=1, UO=2, NE=1)
    assert proportional_e(d) == pytest.approx(8 / 9)
    rates = outcome_rates(d)
    assert rates["RR1"]["value"] == pytest.approx(4 / 10)
    assert rates["RR2"]["value"] == pytest.approx(6 / 10)
    assert rates["RR3"]["value"] == pytest.approx(4 / (8 + 2 * 8 / 9))
    assert rates["RR4"]["value"] == pytest.approx(6 / (8 + 2 * 8 / 9))
    assert rates["RR5"]["value"] == pytest.approx(4 / 8)
    assert rates["RR6"]["value"] == pytest.approx(6 / 8)
    assert rates["COOP1"]["value"] == pytest.approx(4 / 7)
    assert rates["COOP2"]["value"] == pytest.approx(6 / 7)
    assert rates["REF1"]["value"] == pytest.approx(1 / 10)
    assert rates["CON1"]["value"] == pytest.approx(7 / 10)


def test_eligibility_from_config_is_used_and_checked():
    d = Dispositions(I=10, NC=10, UO=20)
    assert outcome_rates(d, 0.5)["RR3"]["value"] == pytest.approx(10 / 30)
    assert outcome_rates(d, 0.5)["e"] == 0.5
    with pytest.raises(ValueError):
        outcome_rates(d, 1.5)


def test_empty_denominators_are_null():
    rates = outcome_rates(Dispositions(NE=3))
    assert rates["RR1"] == {"value": None, "ci95": None}


# ---------------------------------------------------------------- Kaplan–Meier

# Freireich et al. (1963), 6-MP arm, weeks of remission (* censored); the table in Kleinbaum & Klein,
# *Survival Analysis*, and in R: summary(survfit(Surv(time, status) ~ 1)) on the 6-MP group.
SIX_MP = [(6, True), (6, True), (6, True), (6, False), (7, True), (9, False), (10, True), (10, False),
          (11, False), (13, True), (16, True), (17, False), (19, False), (20, False), (22, True), (23, True),
          (25, False), (32, False), (32, False), (34, False), (35, False)]
SIX_MP_TABLE = [  # time, at risk, events, S, Greenwood SE
    (6, 21, 3, 0.857, 0.0764), (7, 17, 1, 0.807, 0.0869), (10, 15, 1, 0.753, 0.0963),
    (13, 12, 1, 0.690, 0.1068), (16, 11, 1, 0.627, 0.1141), (22, 7, 1, 0.538, 0.1282),
    (23, 6, 1, 0.448, 0.1346)]


def test_kaplan_meier_freireich_6mp():
    km = from_observations(SIX_MP)
    assert km.subjects == 21 and km.events == 9
    got = [(s.time, s.at_risk, s.events, round(s.survival, 3), round(s.se, 4)) for s in km.steps]
    assert got == SIX_MP_TABLE
    assert km.at(12) == pytest.approx((0.7529, 0.0963), abs=1e-4)
    assert km.at(36) is None                              # beyond the last follow-up: not measurable
    within = km.answered_within(16)
    assert within["value"] == pytest.approx(1 - 0.6275, abs=1e-4)
    assert within["ci95"] == pytest.approx([1 - 0.6275 - 1.96 * 0.1141, 1 - 0.6275 + 1.96 * 0.1141], abs=1e-3)


def test_censoring_changes_the_share_answered():
    # Naively 1 answered of 3 within 10 s; but two were only observed 2 s: KM gives 1 - (1 - 1/1) ... of
    # those still observed at 5 s, the only one answered.
    km = from_observations([(2, False), (2, False), (5, True)])
    assert km.answered_within(5)["value"] == 1.0
    km = kaplan_meier([(1.0, 1, 0), (1.0, 0, 2), (3.0, 1, 0)])  # same time rows merge, events first
    assert km.steps[0].at_risk == 4 and km.steps[1].at_risk == 1


def test_curve_is_thinned_and_starts_at_one():
    km = kaplan_meier((float(t), 1, 0) for t in range(1, 5001))
    curve = km.curve(max_points=100)
    assert curve[0] == [0.0, 1.0] and len(curve) <= 102 and curve[-1][1] == 0.0


# ---------------------------------------------------------------- Newcombe, Cohen


@pytest.mark.parametrize(("x1", "n1", "x2", "n2", "low", "high"), [
    (56, 70, 48, 80, 0.0524, 0.3339),    # Newcombe (1998) table II, example (a), method 10
    (9, 10, 3, 10, 0.1705, 0.8090),      # (b)
    (6, 7, 2, 7, 0.0582, 0.8062),        # (c)
    (5, 56, 0, 29, -0.0381, 0.1926),     # (d)
    (0, 10, 0, 20, -0.1611, 0.2775),     # (e)
    (0, 10, 0, 10, -0.2775, 0.2775),     # (f)
    (10, 10, 0, 20, 0.6791, 1.0),        # (g)
    (10, 10, 0, 10, 0.6075, 1.0),        # (h)
])
def test_newcombe_hybrid_score_interval(x1, n1, x2, n2, low, high):
    assert newcombe_diff_ci(x1, n1, x2, n2) == pytest.approx((low, high), abs=1e-4)


def test_newcombe_needs_two_samples():
    assert newcombe_diff_ci(0, 0, 1, 2) is None


def test_cohen_kappa_worked_example():
    # 50 items: both yes 20, first yes second no 5, first no second yes 10, both no 15 -> po 0.7,
    # pe 0.5, kappa 0.4 (the worked example of Cohen's kappa in most textbooks).
    pairs = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10 + [("no", "no")] * 15
    assert cohen_kappa(pairs) == {"n": 50, "agreement": pytest.approx(0.7), "kappa": pytest.approx(0.4)}


def test_cohen_kappa_two_disagreements_in_ten():
    pairs = [("yes", "yes")] * 5 + [("no", "no")] * 3 + [("yes", "no"), ("no", "yes")]
    got = cohen_kappa(pairs)
    assert got["agreement"] == pytest.approx(0.8)
    assert got["kappa"] == pytest.approx((0.8 - 0.52) / 0.48)
    assert cohen_kappa([("yes", "yes")] * 3)["kappa"] is None
    assert cohen_kappa([]) == {"n": 0, "agreement": None, "kappa": None}


# ---------------------------------------------------------------- business hours

PARIS = ZoneInfo("Europe/Paris")


def paris(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS)


def test_friday_evening_to_saturday_is_no_business_time():
    bh = BusinessHours("mon-fri 09:00-18:00", [], PARIS)
    assert bh.day_seconds == 9 * 3600
    assert bh.elapsed(paris(2015, 10, 2, 19, 0), paris(2015, 10, 3, 11, 0)) == 0.0
    assert bh.elapsed(paris(2015, 10, 2, 19, 0), paris(2015, 10, 5, 10, 0)) == 3600.0
    assert bh.elapsed(paris(2015, 10, 2, 17, 0), paris(2015, 10, 5, 10, 0)) == 7200.0
    assert bh.elapsed(paris(2015, 9, 28, 9, 0), paris(2015, 10, 5, 9, 0)) == 5 * 9 * 3600


def test_holidays_and_dst_are_counted():
    bh = BusinessHours("mon-fri 09:00-18:00", [date(2015, 11, 11)], PARIS)
    # Tuesday 10 Nov 17:00 -> Thursday 12 Nov 10:00: 1 h + (11 Nov is a holiday) + 1 h
    assert bh.elapsed(paris(2015, 11, 10, 17, 0), paris(2015, 11, 12, 10, 0)) == 7200.0
    allday = BusinessHours("daily", [], PARIS)
    # 25 Oct 2015 is 25 hours long in Paris
    assert allday.elapsed(paris(2015, 10, 25, 0, 0), paris(2015, 10, 26, 0, 0)) == 25 * 3600
    # Earlier dates after later ones: the memo extends both ways
    assert bh.elapsed(paris(2015, 9, 1, 9, 0), paris(2015, 9, 2, 9, 0)) == 9 * 3600


def test_segment_against_the_whole_is_the_scaled_difference_with_the_rest():
    from probe.report.research import versus_all

    got = versus_all(7, 10, 11, 24)
    assert got["diff"] == pytest.approx(7 / 10 - 11 / 24)
    low, high = newcombe_diff_ci(7, 10, 4, 14)
    assert got["ci95"] == pytest.approx([low * 14 / 24, high * 14 / 24])
    assert got["diff"] == pytest.approx((7 / 10 - 4 / 14) * 14 / 24)     # the identity behind the scaling
    assert versus_all(5, 10, 5, 10) == {"diff": 0.0, "ci95": None, "distinct": False}   # the only segment
