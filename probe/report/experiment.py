"""The experiment keys of the report (DESIGN.md "Experiments"): `variants`, `differences`, `balance`.

- variants: each arm's full figures (the same keys as the whole campaign's, RR1 and RR6 with their
  intervals among them), in the config's order;
- differences: each arm b against the first arm a, on answer_rate (answered / reachable) and RR1
  (I / (I + P + R + NC + UO)): diff = b − a, Newcombe's hybrid score 95 % interval, and the p-value of
  the two-sided two-proportion z-test (no continuity correction), or of Fisher's exact test when an
  expected cell count is under 5; `test` names the one used;
- balance: {stratum: {variant: targets}}; balance_fields: for each target field with a few values,
  the arms' counts per value and Pearson's chi-square test of independence (a small p-value says
  the arms differ on that field more than chance would make them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from probe.core.comparisons import chi_square_independence, compare_proportions
from probe.store import aggregates as agg
from probe.store import experiment as store

VARIANT = "variant"
#: Fields with more values than this are not balance-checked (names, emails: every value is unique).
MAX_BALANCE_VALUES = 20
COMPARED = ("answer_rate", "RR1")

CONDITIONAL_WARNING = (
    "time_to_answer_s and time_since_last_email_s are conditional on answering (measured among those who "
    "answered): comparing arms on them breaks the randomisation, since the arms' answerers are no longer "
    "comparable groups. Compare arms on rates over everyone assigned (answer_rate, RR1, answered_within)")

NOTES = [
    "variants: each arm's figures; differences: each arm b minus the first arm a on answer_rate and RR1, "
    "ci95 = Newcombe (1998) hybrid score interval, p_value = two-sided two-proportion z-test without "
    "continuity correction, or Fisher's exact test when an expected cell count is under 5 (test names it)",
    "balance: targets per stratum and arm; balance_fields: the arms' counts by each target field with at "
    f"most {MAX_BALANCE_VALUES} values (and at least 5 targets per value), with Pearson's chi-square test of "
    "independence",
    CONDITIONAL_WARNING,
]


def _counts(figures: dict[str, Any], figure: str) -> tuple[int, int]:
    if figure == "answer_rate":
        return int(figures["answered"]), int(figures["reachable"])
    d = figures["dispositions"]
    return int(d["I"]), int(d["I"] + d["P"] + d["R"] + d["NC"] + d["UO"])


def differences(variants: dict[str, dict[str, Any]], order: Sequence[str]) -> list[dict[str, Any]]:
    if len(order) < 2:
        return []
    a = order[0]
    out = []
    for b in order[1:]:
        for figure in COMPARED:
            xa, na = _counts(variants[a], figure)
            xb, nb = _counts(variants[b], figure)
            d = compare_proportions(xa, na, xb, nb)
            out.append({"a": a, "b": b, "figure": figure, "diff": d.diff,
                        "ci95": None if d.ci95 is None else [d.ci95[0], d.ci95[1]],
                        "p_value": d.p_value, "test": d.test,
                        "counts": {"a": [xa, na], "b": [xb, nb]}})
    return out


async def balance_fields(session: AsyncSession, campaign_id: int, order: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in await agg.field_names(session, campaign_id):
        if name in (VARIANT, "email"):
            continue
        table = await store.field_by_variant(session, campaign_id, name, MAX_BALANCE_VALUES)
        if table is None or len(table) < 2:
            continue
        total = sum(sum(row.values()) for row in table.values())
        if len(table) * 5 > total:   # mostly unique values (names): no cell could be tested
            continue
        rows = {value: {v: table[value].get(v, 0) for v in order} for value in sorted(table)}
        chi = chi_square_independence([list(r.values()) for r in rows.values()])
        out[name] = {"counts": rows, "chi2": chi.statistic, "df": chi.df, "p_value": chi.p_value}
    return out


async def experiment_figures(session: AsyncSession, campaign_id: int, segments: dict[str, dict[str, Any]],
                             order: Sequence[str] = ()) -> dict[str, Any] | None:
    """The experiment keys, given each arm's figures (`segments`, the report's `--by variant`);
    None when the campaign has no stored assignment."""
    stored = await store.variant_names(session, campaign_id)
    if not stored:
        return None
    names = [v for v in order if v in stored] + [v for v in stored if v not in order]
    variants = {v: segments[v] for v in names if v in segments}
    strata = await store.strata_counts(session, campaign_id)
    balance = {s: {v: strata[s].get(v, 0) for v in names} for s in sorted(strata)}
    return {
        "variants": variants,
        "differences": differences(variants, [v for v in names if v in variants]),
        "balance": balance,
        "balance_fields": await balance_fields(session, campaign_id, names),
        "experiment_warning": CONDITIONAL_WARNING,
    }


# ---------------------------------------------------------------- table and HTML (arms side by side)

def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def _interval(interval: Sequence[float] | None) -> str:
    return "n/a" if interval is None else f"{interval[0] * 100:.1f}–{interval[1] * 100:.1f} %"


def _points(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f} pts"


def _p(value: float | None) -> str:
    if value is None:
        return "n/a"
    return "< 0.0001" if value < 0.0001 else f"{value:.4f}"


def arm_rows(report: dict[str, Any]) -> list[list[str]]:
    """One row per arm: targets, reachable, answered, answer rate and CI, RR1 and CI, RR6 and CI."""
    rows = []
    for name, v in (report.get("variants") or {}).items():
        rates = v.get("rates") or {}
        rr1, rr6 = rates.get("RR1") or {}, rates.get("RR6") or {}
        rows.append([name, str(v["targets"]), str(v["reachable"]), str(v["answered"]), _pct(v["answer_rate"]),
                     _interval(v["answer_rate_ci95"]), _pct(rr1.get("value")), _interval(rr1.get("ci95")),
                     _pct(rr6.get("value")), _interval(rr6.get("ci95"))])
    return rows


ARM_HEAD = ["variant", "targets", "reachable", "answered", "answer rate", "95 % CI", "RR1", "95 % CI", "RR6",
            "95 % CI"]
DIFF_HEAD = ["comparison", "figure", "difference", "95 % CI (Newcombe)", "p-value", "test"]


def difference_rows(report: dict[str, Any]) -> list[list[str]]:
    return [[f"{d['b']} − {d['a']}", d["figure"], _points(d["diff"]),
             "n/a" if d["ci95"] is None else f"{_points(d['ci95'][0])} … {_points(d['ci95'][1])}",
             _p(d["p_value"]), d["test"] or "n/a"] for d in report.get("differences") or []]


def balance_rows(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    names = list(report.get("variants") or {})
    rows = [[stratum, *(str(row.get(v, 0)) for v in names)] for stratum, row in (report.get("balance") or {}).items()]
    return ["stratum", *names], rows


def balance_check_rows(report: dict[str, Any]) -> list[list[str]]:
    return [[name, f"{b['chi2']:.2f}", str(b["df"]), _p(b["p_value"])]
            for name, b in (report.get("balance_fields") or {}).items()]


def table_lines(report: dict[str, Any], grid: Any) -> list[str]:
    """The experiment section of the terminal table; `grid` aligns rows (probe.report.table._grid)."""
    if not report.get("variants"):
        return []
    lines = ["", "  Experiment: arms side by side", *grid([ARM_HEAD, *arm_rows(report)])]
    if report.get("differences"):
        lines += ["", *grid([DIFF_HEAD, *difference_rows(report)])]
    head, rows = balance_rows(report)
    lines += ["", *grid([head, *rows])]
    checks = balance_check_rows(report)
    if checks:
        lines += ["", *grid([["balance check (field)", "chi²", "df", "p-value"], *checks])]
    lines += ["", f"  Warning: {CONDITIONAL_WARNING}"]
    return lines


def html_context(report: dict[str, Any]) -> dict[str, Any] | None:
    if not report.get("variants"):
        return None
    head, rows = balance_rows(report)
    return {"arm_head": ARM_HEAD, "arms": arm_rows(report), "diff_head": DIFF_HEAD,
            "differences": difference_rows(report), "balance_head": head, "balance": rows,
            "checks": balance_check_rows(report), "warning": CONDITIONAL_WARNING}
