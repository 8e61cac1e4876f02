"""The report as an aligned table for the terminal, in one language (probe.report.i18n): every word,
number and time in the reader's language and the campaign's time zone."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from probe.report.i18n import RATE_DEFINITIONS_FR, ci, duration, label, number, pct, wave_name


def printable(text: str) -> str:
    """Text from a message or a CSV made safe for a terminal: no escape sequences, no stray controls."""
    return "".join(ch if ch.isprintable() else " " for ch in text)


def _when(text: str | None, zone: tzinfo) -> str:
    """`generated_at` (ISO, UTC) → `2015-10-17 18:00 +02:00` in the campaign's zone, to the minute."""
    if not text:
        return "?"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return text
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M ") + local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]


def headline(report: dict[str, Any], lang: str = "en") -> str:
    no_answer = None if not report["reachable"] else report["no_answer"] / report["reachable"]
    return label("headline", lang, answered=report["answered"], reachable=report["reachable"],
                 rate=pct(report["answer_rate"], lang), ci=ci(report["answer_rate_ci95"], lang),
                 no_answer=pct(no_answer, lang))


def figure_rows(report: dict[str, Any], lang: str = "en") -> list[tuple[str, str]]:
    def row(key: str, value: str, indent: bool = False) -> tuple[str, str]:
        return (("  " if indent else "") + label(key, lang), value)

    return [
        row("targets", str(report["targets"])),
        row("bounced", str(report["bounced"])),
        row("reachable", str(report["reachable"])),
        row("answered", str(report["answered"])),
        row("yes", str(report["answers"]["yes"]), True),
        row("no", str(report["answers"]["no"]), True),
        row("unclear", str(report["answers"]["unclear"]), True),
        row("of which opted out", str(report["opted_out"]), True),
        *([row("suppressed (not asked)", str(report["suppressed"]))] if report.get("suppressed") else []),
        row("no answer", str(report["no_answer"])),
        row("answer rate (reachable)", pct(report["answer_rate"], lang)),
        row("answer rate (all targets)", pct(report["answer_rate_all"], lang)),
        row("auto-replies only", str(report["auto_replies"])),
        row("automatic messages", str(report.get("auto_reply_messages", 0))),
        row("uncertain sends", str(report.get("uncertain", 0))),
    ]


def _grid(rows: Sequence[Sequence[str]], right_from: int = 1) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [c.ljust(w) if i < right_from else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


def render_table(report: dict[str, Any], lang: str = "en", zone: tzinfo = UTC) -> str:
    status = report.get("status", "?")
    status_text = label(f"status.{status}", lang) if status in ("running", "closed") else str(status)
    lines = [f"{printable(report['campaign'])} — {status_text} ({label('at', lang)} "
             f"{_when(report.get('generated_at'), zone)})", headline(report, lang), ""]
    lines += _grid(figure_rows(report, lang))
    lines.append("")
    waves = [[label("wave", lang), label("sent", lang), label("answered after it", lang), label("answer rate", lang),
              label("RR1 so far", lang), label("RR6 so far", lang)]]
    for wave, n in report["sent"].items():
        answered = report["answered_by_wave"].get(wave, 0)
        # The rate per wave: answers that followed this wave over the emails of this wave.
        waves.append([wave_name(int(wave), lang), str(n), str(answered), pct(answered / n if n else None, lang),
                      *_wave_rates(report, wave, lang)])
    lines += _grid(waves)
    lines.append("")
    tta, tsl = report["time_to_answer_s"], report.get("time_since_last_email_s", {})
    lines += _grid([[label("time to answer", lang), label("median", lang), label("p90", lang)],
                    [label("from the first email", lang), duration(tta["median"], lang), duration(tta["p90"], lang)],
                    [label("from the last email", lang), duration(tsl.get("median"), lang),
                     duration(tsl.get("p90"), lang)]])
    if report.get("dispositions"):
        lines += ["", f"  {label('AAPOR dispositions', lang)}: {_dispositions(report)}",
                  f"  {_headline_rate(report, lang)}"]
        rows = [[label("rate", lang), label("value", lang), label("95 % CI", lang), ""],
                *([name, pct(f["value"], lang), ci(f["ci95"], lang), definition]
                  for name, f, definition in _rates(report, lang))]
        # The definitions are text: aligned left after the figures.
        lines += [f"{figures}  {row[3]}".rstrip()
                  for figures, row in zip(_grid([r[:3] for r in rows]), rows, strict=True)]
    if report.get("answered_within"):
        head = [label("answered within", lang), label("share", lang), label("95 % CI", lang)]
        business = report.get("answered_within_business")
        if business is not None:
            head += [label("business time", lang), label("95 % CI", lang)]
        rows = [head]
        for key, figure in report["answered_within"].items():
            row = [key, pct(figure["value"], lang), ci(figure["ci95"], lang)]
            if business is not None:
                b = business.get(key, {"value": None, "ci95": None})
                row += [pct(b["value"], lang), ci(b["ci95"], lang)]
            rows.append(row)
        lines += ["", *_grid(rows), "  " + label("km note", lang)]
    coding = _coding(report, lang)
    if coding:
        lines += ["", f"  {coding}"]
    for field, segments in report.get("by", {}).items():
        lines.append("")
        head = [f"{label('by', lang)} {printable(field)}", label("targets", lang), label("reachable", lang),
                label("answered", lang), label("rate", lang), label("95 % CI", lang), label("yes", lang),
                label("no", lang), label("unclear", lang), label("bounced", lang), label("median", lang),
                "RR1", label("within 1d", lang), label("vs all", lang), label("95 % CI", lang), ""]
        rows = [head]
        for value, seg in segments.items():
            rows.append([printable(value) or label("(empty)", lang), str(seg["targets"]), str(seg["reachable"]),
                         str(seg["answered"]), pct(seg["answer_rate"], lang), ci(seg["answer_rate_ci95"], lang),
                         str(seg["answers"]["yes"]), str(seg["answers"]["no"]), str(seg["answers"]["unclear"]),
                         str(seg["bounced"]), duration(seg["time_to_answer_s"]["median"], lang),
                         *_versus_cells(seg, lang), "" if seg["rankable"] else "*"])
        lines += _grid(rows)
        if any(not s["rankable"] for s in segments.values()):
            lines.append("  " + label("too small", lang))
        lines.append("  " + label("vs all note", lang))
    from probe.report.experiment import table_lines

    lines += table_lines(report, _grid)
    return "\n".join(lines) + "\n"


def _wave_rates(report: dict[str, Any], wave: str, lang: str) -> list[str]:
    """RR1 and RR6 as they stood after this wave (rates_by_wave)."""
    rates = ((report.get("rates_by_wave") or {}).get(wave) or {}).get("rates") or {}
    return [pct((rates.get(name) or {}).get("value"), lang) for name in ("RR1", "RR6")]


def _headline_rate(report: dict[str, Any], lang: str) -> str:
    d = report.get("dispositions") or {}
    return label("headline rate same" if not d.get("R") and not d.get("NE") else "headline rate differs", lang)


def _coding(report: dict[str, Any], lang: str) -> str | None:
    agreement = report.get("coding_agreement")
    if not agreement or not agreement.get("n"):
        return None
    n = agreement["n"]
    kappa = agreement.get("kappa")
    return label("coding", lang, agree=round(agreement["agreement"] * n), n=n,
                 kappa=label("n/a", lang) if kappa is None else number(kappa, 2, lang))


def _rates(report: dict[str, Any], lang: str) -> list[tuple[str, dict[str, Any], str]]:
    definitions = RATE_DEFINITIONS_FR if lang == "fr" else report.get("rate_definitions", {})
    return [(name, figure, definitions.get(name, "")) for name, figure in (report.get("rates") or {}).items()
            if name != "e"]


def _points(interval: Sequence[float] | None, lang: str) -> str:
    if interval is None:
        return label("n/a", lang)
    low, high = (f"{v * 100:+.1f}".replace(".", "," if lang == "fr" else ".") for v in interval)
    return f"{low} … {high} pts"


def _versus_cells(seg: dict[str, Any], lang: str) -> list[str]:
    versus = seg.get("vs_all") or {}
    diff = versus.get("diff")
    rr1 = (seg.get("rates") or {}).get("RR1", {}).get("value")
    within = (seg.get("answered_within") or {}).get("1d", {}).get("value")
    shown = label("n/a", lang) if diff is None else (
        f"{diff * 100:+.1f}".replace(".", "," if lang == "fr" else ".") + " pts"
        + (" †" if versus.get("distinct") else ""))
    return [pct(rr1, lang), pct(within, lang), shown, _points(versus.get("ci95"), lang)]


def _dispositions(report: dict[str, Any]) -> str:
    return " · ".join(f"{code} {n}" for code, n in report.get("dispositions", {}).items())
