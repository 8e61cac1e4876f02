"""The report in four forms: an aligned table, JSON, CSV (one row per target) and one HTML file.

The HTML page is self-contained (inline CSS and SVG, no script, no font, no URL fetched); it comes
from a Jinja2 template with autoescaping, so every string that came from a target file or a message
arrives as text.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from functools import cache
from typing import TYPE_CHECKING, Any, TextIO

from probe import csvout
from probe.core.model import TargetState

if TYPE_CHECKING:
    import jinja2

    from probe.report import svg

CSV_OUTCOME_COLUMNS = ["state", "answer", "automatic_answer", "override", "first_sent_at", "answered_at",
                       "time_to_answer_s", "time_to_answer", "bounced", "auto_replies", "disposition"]


# ---------------------------------------------------------------- formatting helpers

def pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f} %"


def ci(interval: Sequence[float] | None) -> str:
    if interval is None:
        return "n/a"
    return f"{interval[0] * 100:.1f}–{interval[1] * 100:.1f} %"


def duration(seconds: float | None) -> str:
    """A duration a reader takes in at a glance: 45 s, 12 min, 3 h, 2.5 h, 1 d, 6.1 d."""
    if seconds is None:
        return "n/a"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(seconds) >= size:
            value = seconds / size
            return f"{value:.0f} {unit}" if abs(value - round(value)) < 0.05 else f"{value:.1f} {unit}"
    return f"{seconds:.0f} s"


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """Text from a message or a CSV made safe for a terminal: no escape sequences, no stray controls."""
    return "".join(ch if ch.isprintable() or (keep_newlines and ch == "\n") else " " for ch in text)


def wave_name(wave: int | str) -> str:
    # The charts' module, and the experiment's, load with the HTML page: `replies` and `report
    # --format json` need neither (they are a read command's start-up).
    from probe.report import svg

    return svg.wave_name(int(wave))


def headline(report: dict[str, Any]) -> str:
    no_answer = None if not report["reachable"] else report["no_answer"] / report["reachable"]
    return (f"{report['answered']} of {report['reachable']} reachable targets answered "
            f"({pct(report['answer_rate'])}, 95 % CI {ci(report['answer_rate_ci95'])}); "
            f"no answer: {pct(no_answer)}")


def _figure_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        ("targets", str(report["targets"])),
        ("bounced", str(report["bounced"])),
        ("reachable", str(report["reachable"])),
        ("answered", str(report["answered"])),
        ("  yes", str(report["answers"]["yes"])),
        ("  no", str(report["answers"]["no"])),
        ("  unclear", str(report["answers"]["unclear"])),
        ("  of which opted out", str(report["opted_out"])),
        *([("suppressed (not asked)", str(report["suppressed"]))] if report.get("suppressed") else []),
        ("no answer", str(report["no_answer"])),
        ("answer rate (reachable)", pct(report["answer_rate"])),
        ("answer rate (all targets)", pct(report["answer_rate_all"])),
        ("auto-replies only", str(report["auto_replies"])),
        ("automatic messages", str(report.get("auto_reply_messages", 0))),
        ("uncertain sends", str(report.get("uncertain", 0))),
    ]


def _segment_header() -> list[str]:
    return ["targets", "reachable", "answered", "rate", "95 % CI", "yes", "no", "unclear", "bounced",
            "median", "RR1", "within 1d", "vs all", "95 % CI (vs all)"]


def _segment_cells(seg: dict[str, Any]) -> list[str]:
    versus = seg.get("vs_all") or {}
    diff = versus.get("diff")
    rr1 = (seg.get("rates") or {}).get("RR1", {}).get("value")
    within = (seg.get("answered_within") or {}).get("1d", {}).get("value")
    return [str(seg["targets"]), str(seg["reachable"]), str(seg["answered"]), pct(seg["answer_rate"]),
            ci(seg["answer_rate_ci95"]), str(seg["answers"]["yes"]), str(seg["answers"]["no"]),
            str(seg["answers"]["unclear"]), str(seg["bounced"]), duration(seg["time_to_answer_s"]["median"]),
            pct(rr1), pct(within),
            "n/a" if diff is None else f"{diff * 100:+.1f} pts" + (" †" if versus.get("distinct") else ""),
            points(versus.get("ci95"))]


# ---------------------------------------------------------------- research figures

DISPOSITION_NAMES = {
    "I": "answered yes or no",
    "P": "answered, unclear",
    "R": "refused (opted out)",
    "NC": "no answer (silence or only automatic replies)",
    "UO": "unknown eligibility (bounced or undelivered)",
    "NE": "not eligible",
}


def points(interval: Sequence[float] | None) -> str:
    if interval is None:
        return "n/a"
    return f"{interval[0] * 100:+.1f} to {interval[1] * 100:+.1f} pts"


def disposition_line(report: dict[str, Any]) -> str:
    return " · ".join(f"{code} {n}" for code, n in report.get("dispositions", {}).items())


def headline_rate_line(report: dict[str, Any]) -> str:
    d = report.get("dispositions") or {}
    same = not d.get("R") and not d.get("NE")
    return ("The headline rate is answered / reachable" +
            (" = AAPOR RR6: answered / eligible contacted." if same else
             "; AAPOR RR6 (answered / eligible contacted) differs here because of refusals or "
             "ineligible targets: see the rates."))


def rate_rows(report: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    definitions = report.get("rate_definitions", {})
    rows = []
    for name, figure in (report.get("rates") or {}).items():
        if name == "e":
            continue
        rows.append((name, pct(figure["value"]), ci(figure["ci95"]), definitions.get(name, "")))
    if "e" in (report.get("rates") or {}):
        rows.append(("e", f"{report['rates']['e']:.3f}", "",
                     "share of unknown-eligibility targets (UO) taken as eligible, used by RR3 and RR4"))
    return rows


def within_rows(report: dict[str, Any]) -> list[list[str]]:
    business = report.get("answered_within_business")
    rows = []
    for label, figure in (report.get("answered_within") or {}).items():
        row = [label, pct(figure["value"]), ci(figure["ci95"])]
        if business is not None:
            b = business.get(label, {"value": None, "ci95": None})
            row += [pct(b["value"]), ci(b["ci95"])]
        rows.append(row)
    return rows


def wave_rates(report: dict[str, Any], wave: str) -> list[str]:
    """RR1 and RR6 as they stood after this wave (rates_by_wave)."""
    rates = ((report.get("rates_by_wave") or {}).get(wave) or {}).get("rates") or {}
    return [pct((rates.get(name) or {}).get("value")) for name in ("RR1", "RR6")]


def coding_line(report: dict[str, Any]) -> str | None:
    agreement = report.get("coding_agreement")
    if not agreement or not agreement.get("n"):
        return None
    n = agreement["n"]
    agree = round(agreement["agreement"] * n)
    kappa = agreement.get("kappa")
    return (f"automatic answers agree with a reviewer on {agree}/{n}, "
            f"κ = {'n/a' if kappa is None else f'{kappa:.2f}'} (Cohen's kappa)")


# ---------------------------------------------------------------- table

def render_table(report: dict[str, Any], lang: str = "en", zone: tzinfo = UTC) -> str:
    """The terminal table, in `lang` (probe.report.i18n) and the campaign's time zone."""
    from probe.report.table import render_table as localized

    return localized(report, lang, zone)


# ---------------------------------------------------------------- JSON

def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- CSV

def _iso(value: datetime | None) -> str:
    return "" if value is None else value.isoformat()


def csv_row(fields: Sequence[str], target: dict[str, Any], zone: tzinfo = UTC) -> list[str]:
    state = str(target["state"])
    opted_out_at = target.get("opted_out_at")
    answering = state == TargetState.ANSWERED.value or (state == TargetState.OPTED_OUT.value and
                                                        opted_out_at is not None)
    first, answered = target["first_sent_at"], target["answered_at"] or opted_out_at
    took = (answered - first).total_seconds() if first is not None and answered is not None else None
    values = target["fields"] or {}
    return [
        *(str(values.get(f, "")) for f in fields),
        state,
        target["effective"] if answering else "",
        "" if target["answer"] is None else str(target["answer"]),
        "" if target["answer_override"] is None else str(target["answer_override"]),
        csvout.local_time(first, zone), csvout.local_time(answered, zone),
        "" if took is None else f"{took:.0f}",
        csvout.readable_duration(took),
        "yes" if state == TargetState.BOUNCED.value else "no",
        str(target["auto_replies"]),
        str(target.get("disposition", "")),
    ]


def render_csv(fields: Sequence[str], targets: Iterable[dict[str, Any]], *, header: bool = True,
               sep: str = ",", zone: tzinfo = UTC) -> str:
    """Rows (from exports.stream_targets) as CSV text; `fields` first, then the outcome columns.
    Cells are spreadsheet-safe (probe.csvout); times in `zone` with their offset."""
    buffer = io.StringIO()
    writer = csvout.SafeWriter(buffer, sep)
    if header:
        writer.writerow([*fields, *CSV_OUTCOME_COLUMNS])
    writer.writerows(csv_row(fields, t, zone) for t in targets)
    return buffer.getvalue()


async def write_csv(out: TextIO, fields: Sequence[str], chunks: AsyncIterator[list[dict[str, Any]]], *,
                    sep: str = ",", zone: tzinfo = UTC) -> int:
    """Stream the per-target CSV chunk by chunk; returns the number of rows written."""
    out.write(render_csv(fields, [], header=True, sep=sep, zone=zone))
    count = 0
    async for chunk in chunks:
        out.write(render_csv(fields, chunk, header=False, sep=sep, zone=zone))
        count += len(chunk)
    return count


# ---------------------------------------------------------------- HTML

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;margin:2rem auto;
max-width:60rem;padding:0 1rem;line-height:1.45;background:#fff;font-size:16px}
h1{font-size:1.6rem;margin:0 0 .2rem;overflow-wrap:anywhere}
h2{font-size:1.15rem;margin:2rem 0 .6rem;border-bottom:1px solid #e4e7eb}
.status{color:#52606d}.headline{font-size:1.25rem;margin:1rem 0;padding:1rem;background:#f0f4fb;
border-left:6px solid #2f6fdf}.big{font-size:2.6rem;font-weight:700;color:#2f6fdf;display:block}
table{border-collapse:collapse;margin:.5rem 0;font-variant-numeric:tabular-nums}
td,th{padding:.3rem .7rem;white-space:nowrap;border-bottom:1px solid #e4e7eb;text-align:right;vertical-align:top}
td:first-child,th:first-child{text-align:left}th{font-weight:600;background:#f5f7fa}
td.text,th.text{white-space:normal;text-align:left;min-width:12rem;max-width:28rem;overflow-wrap:anywhere}
table.review td,table.review th{text-align:left}table.review td:first-child{min-width:0}
.muted{color:#7b8794}.note{font-size:.92rem;color:#52606d}tr.small td{color:#7b8794}
tr.sub td:first-child{padding-left:1.8rem}
.scroll{overflow-x:auto;max-width:100%}
td:first-child{white-space:normal;min-width:6rem}
@media (max-width:40rem){body{margin:1rem auto;padding:0 .6rem}td,th{padding:.25rem .4rem}th{white-space:normal}
td.text,th.text{min-width:9rem}.big{font-size:2.2rem}.headline{font-size:1.1rem}}
table.wide td,table.wide th{padding:.25rem .5rem;font-size:.92rem}
figure{margin:1rem 0}figure svg{display:block;max-width:100%;height:auto}
figcaption{font-size:.9rem}figcaption a{color:#2f6fdf}
"""


@cache
def _env() -> jinja2.Environment:
    # Built on first use: `report --format json`, `replies` and `review` do not pay for Jinja2.
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("probe.report", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def _chart(name: str, markup: str) -> dict[str, Any]:
    """A chart for the page: the inline SVG and the same file as a data: URI to download. Base64, so the
    link holds no markup and no URL the page would fetch; the file stands alone (xmlns, fonts, title)."""
    from markupsafe import Markup

    encoded = base64.b64encode(markup.encode("utf-8")).decode("ascii")
    return {"svg": Markup(markup),  # probe.report.svg escapes its own labels
            "href": "data:image/svg+xml;base64," + encoded, "file": f"{name}.svg"}


def _within_key(key: str, lang: str) -> str:
    """ "1d" (a [report] within setting) → "1 d" / "1 j": the unit in the reader's language."""
    from probe.report.i18n import label

    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(d|h|min)", key)
    return f"{match[1]} {label('unit.' + match[2], lang)}" if match else key


def _segment(label: str, seg: dict[str, Any]) -> svg.Segment:
    """One bar of the --by chart: a segment's rate and its interval."""
    from probe.report import svg

    low, high = seg["answer_rate_ci95"] or (None, None)
    return svg.Segment(label, seg["answer_rate"], low, high, seg["rankable"], seg["reachable"])


def render_html(report: dict[str, Any], timeline: tuple[list[tuple[float, int]], dict[int, tuple[float, float]]],
                review: Sequence[dict[str, Any]] = (), lang: str = "en", zone: tzinfo = UTC) -> str:
    """The whole report as one HTML page in `lang` (probe.report.i18n), times in `zone` (the campaign's),
    from templates/report.html.j2 (autoescaped). `timeline` is aggregates.answer_timeline() (its waves
    place the reminders on the answer curve); `review` the unclear replies (review.review_rows)."""
    from markupsafe import Markup

    from probe.report import i18n, svg, table
    from probe.report.experiment import html_context as experiment_html
    from probe.report.i18n import label

    def t(key: str, **values: object) -> str:
        return label(key, lang, **values)

    decimal = "," if lang == "fr" else "."
    _points, waves = timeline
    start = waves.get(0, (0.0, 0.0))[0]
    reminders = [(i18n.wave_name(w, lang), first - start) for w, (first, _last) in sorted(waves.items()) if w > 0]
    date = i18n.when(report.get("generated_at"), zone, lang, clock=False)

    def caption(title: str, targets: int, reachable: int) -> svg.Caption:
        return svg.Caption(title, t("html.n", targets=targets, reachable=reachable) + " · "
                           + t("html.chart meta", campaign=report["campaign"], date=date), t("html.source"))

    n_all = (report["targets"], report["reachable"])
    business = report.get("answered_within_business")
    segments = []
    for field, values in report.get("by", {}).items():
        head = [label(k, lang) for k in ("targets", "reachable", "answered", "rate", "95 % CI", "yes", "no",
                                          "unclear", "bounced", "median")] + [
            "RR1", t("within 1d"), t("vs all"), t("95 % CI")]
        rows = []
        for value, seg in values.items():
            rows.append([value or t("(empty)"), str(seg["targets"]), str(seg["reachable"]), str(seg["answered"]),
                         i18n.pct(seg["answer_rate"], lang), i18n.ci(seg["answer_rate_ci95"], lang),
                         str(seg["answers"]["yes"]), str(seg["answers"]["no"]), str(seg["answers"]["unclear"]),
                         str(seg["bounced"]), i18n.duration(seg["time_to_answer_s"]["median"], lang),
                         *table._versus_cells(seg, lang)])
        total_t = sum(seg["targets"] for seg in values.values())
        total_r = sum(seg["reachable"] for seg in values.values())
        segments.append({
            "field": field,
            "head": head,
            "rows": rows,
            "classes": ["" if seg["rankable"] else "small" for seg in values.values()],
            "small": any(not seg["rankable"] for seg in values.values()),
            "chart": _chart(f"answer-rate-by-{field}", svg.league_chart(
                [_segment(value or t("(empty)"), seg) for value, seg in values.items()],
                caption(t("chart.by", field=field), total_t, total_r), too_few=t("chart.too few"),
                none=t("n/a"), decimal=decimal)),
        })
    tsl = report.get("time_since_last_email_s", {})
    tta = report["time_to_answer_s"]
    figures = table.figure_rows(report, lang)
    waves_rows = []
    for w, n in report["sent"].items():
        answered = report["answered_by_wave"].get(w, 0)
        waves_rows.append([i18n.wave_name(int(w), lang), str(n), str(answered),
                           i18n.pct(answered / n if n else None, lang), *table._wave_rates(report, w, lang)])
    definitions = i18n.RATE_DEFINITIONS_FR if lang == "fr" else report.get("rate_definitions", {})
    rates = [(name, i18n.pct(f["value"], lang), i18n.ci(f["ci95"], lang), definitions.get(name, ""))
             for name, f in (report.get("rates") or {}).items() if name != "e"]
    answers = report["answers"]
    status = report.get("status", "?")
    context = {
        "lang": lang,
        "t": t,
        "report": report,
        "css": Markup(CSS),  # a constant of this module
        "status_line": t("html.campaign", status=t(f"status.{status}") if status in ("running", "closed")
                         else str(status), when=i18n.when(report.get("generated_at"), zone, lang)),
        "headline_pct": i18n.pct(report["answer_rate"], lang),
        "headline": table.headline(report, lang),
        "headline_rate": table._headline_rate(report, lang),
        "figures": [(lbl.strip(), value) for lbl, value in figures],
        "figure_classes": ["sub" if lbl.startswith("  ") else "" for lbl, _ in figures],
        "disposition_line": table._dispositions(report),
        "dispositions": [(code, i18n.DISPOSITION_NAMES[lang][code], str(n))
                         for code, n in report.get("dispositions", {}).items()],
        "rates": rates,
        "business": business is not None,
        "within": [[_within_key(key, lang), i18n.pct(f["value"], lang), i18n.ci(f["ci95"], lang),
                    *([] if business is None else [i18n.pct(business.get(key, {}).get("value"), lang),
                                                   i18n.ci(business.get(key, {}).get("ci95"), lang)])]
                   for key, f in (report.get("answered_within") or {}).items()],
        "answer_chart": _chart("answer-curve", svg.answer_curve(
            report.get("survival", []), report.get("survival_ci95", []), reminders,
            caption(t("chart.curve"), *n_all), axis=t("chart.curve axis"), day=t("unit.d"),
            none=t("chart.none"), decimal=decimal)),
        "durations": [
            (t("from the first email"), i18n.duration(tta["median"], lang), i18n.duration(tta["p90"], lang)),
            (t("from the last email"), i18n.duration(tsl.get("median"), lang), i18n.duration(tsl.get("p90"), lang))],
        "coding": table._coding(report, lang),
        "waves": waves_rows,
        "wave_chart": _chart("answer-rate-by-wave", svg.wave_chart(
            [svg.WaveBar(i18n.wave_name(int(w), lang), report["answered_by_wave"].get(w, 0), n)
             for w, n in report["sent"].items()],
            caption(t("chart.waves"), *n_all), axis=t("chart.waves axis"), decimal=decimal)),
        "answers_chart": _chart("answers", svg.answers_chart(
            [(t("yes"), answers["yes"]), (t("no"), answers["no"]), (t("unclear"), answers["unclear"])],
            caption(t("chart.answers"), *n_all), decimal=decimal)),
        "segments": segments,
        "experiment": experiment_html(report),
        "review": [(str(r["id"]), i18n.when(r["received_at"], zone, lang), r["sender"], r["subject"],
                    r["new_text"][:300], t(str(r["override_answer"] or r["answer"]))
                    if (r["override_answer"] or r["answer"]) in ("yes", "no", "unclear")
                    else str(r["override_answer"] or r["answer"] or "")) for r in review],
        "notes": [t(f"read.{i}") for i in range(1, 9)],
    }
    return _env().get_template("report.html.j2").render(context)
