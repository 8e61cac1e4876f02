"""The report in four forms: an aligned table, JSON, CSV (one row per target) and one HTML file.

The HTML page is self-contained (inline CSS and SVG, no script, no font, no URL fetched) and every
string that came from a target file or a message goes through html.escape.
"""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from html import escape
from typing import Any, TextIO

from probe import csvout
from probe.core.model import TargetState
from probe.report import svg

CSV_OUTCOME_COLUMNS = ["state", "answer", "automatic_answer", "override", "first_sent_at", "answered_at",
                       "time_to_answer_s", "time_to_answer", "bounced", "auto_replies"]


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
            "median"]


def _segment_cells(seg: dict[str, Any]) -> list[str]:
    return [str(seg["targets"]), str(seg["reachable"]), str(seg["answered"]), pct(seg["answer_rate"]),
            ci(seg["answer_rate_ci95"]), str(seg["answers"]["yes"]), str(seg["answers"]["no"]),
            str(seg["answers"]["unclear"]), str(seg["bounced"]), duration(seg["time_to_answer_s"]["median"])]


# ---------------------------------------------------------------- table

def _grid(rows: Sequence[Sequence[str]], right_from: int = 1) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [c.ljust(w) if i < right_from else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))]
        lines.append("  " + "  ".join(cells).rstrip())
    return lines


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
    ]


def render_csv(fields: Sequence[str], targets: Iterable[dict[str, Any]], *, header: bool = True,
               sep: str = ",", zone: tzinfo = UTC) -> str:
    """Rows (from aggregates.stream_targets) as CSV text; `fields` first, then the outcome columns.
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
max-width:60rem;padding:0 1rem;line-height:1.4;background:#fff}
h1{font-size:1.6rem;margin:0 0 .2rem}h2{font-size:1.15rem;margin:2rem 0 .6rem;border-bottom:1px solid #e4e7eb}
.status{color:#7b8794}.headline{font-size:1.35rem;margin:1rem 0;padding:1rem;background:#f0f4fb;
border-left:6px solid #2f6fdf}.big{font-size:2.6rem;font-weight:700;color:#2f6fdf;display:block}
table{border-collapse:collapse;margin:.5rem 0}
td,th{padding:.25rem .7rem;white-space:nowrap;border-bottom:1px solid #e4e7eb;text-align:right}
td:first-child,th:first-child{text-align:left}th{font-weight:600;background:#f5f7fa}
.muted{color:#7b8794}.note{font-size:.9rem;color:#52606d}tr.small td{color:#7b8794}
td.text{white-space:normal;text-align:left;max-width:24rem}.scroll{overflow-x:auto}
table.wide td,table.wide th{padding:.2rem .45rem;font-size:.92rem}
"""


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], row_class: Sequence[str] = (),
           wrap: frozenset[int] = frozenset(), cls: str = "") -> str:
    opening = f'<div class="scroll"><table class="{cls}"><thead><tr>' if cls else "<table><thead><tr>"
    out = [opening, *(f"<th>{escape(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for i, row in enumerate(rows):
        cls = f' class="{row_class[i]}"' if i < len(row_class) and row_class[i] else ""
        cells = (f'<td class="text">{escape(c)}</td>' if j in wrap else f"<td>{escape(c)}</td>"
                 for j, c in enumerate(row))
        out.append(f"<tr{cls}>" + "".join(cells) + "</tr>")
    out.append("</tbody></table></div>" if cls else "</tbody></table>")
    return "".join(out)


def render_html(report: dict[str, Any], timeline: tuple[list[tuple[float, int]], dict[int, tuple[float, float]]],
                review: Sequence[dict[str, Any]] = ()) -> str:
    """The whole report as one HTML page. `timeline` is aggregates.answer_timeline(); `review` the
    unclear replies (aggregates.review_rows) listed for a person to check."""
    points, waves = timeline
    name = escape(report["campaign"])
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>probe report: {name}</title><style>{CSS}</style></head><body>",
        f"<h1>{name}</h1>",
        f'<p class="status">Campaign {escape(report.get("status", "?"))} — report generated '
        f"{escape(report.get('generated_at', ''))}</p>",
        f'<p class="headline" id="headline"><span class="big">{escape(pct(report["answer_rate"]))}</span>'
        f"{escape(headline(report))}</p>",
        "<h2>Figures</h2>",
        _table(["figure", "value"], [(label.strip(), value) for label, value in _figure_rows(report)]),
        "<h2>Answers over time</h2>",
        svg.cumulative_chart(points, waves, report["reachable"]),
        "<h2>Emails and answers by wave</h2>",
        _table(["wave", "sent", "answered after it"],
               [(wave_name(w), str(n), str(report["answered_by_wave"].get(w, 0))) for w, n in report["sent"].items()]),
        svg.bar_chart([(wave_name(w), n) for w, n in report["answered_by_wave"].items()],
                      title="Answers by the wave they followed"),
        "<h2>Time to answer</h2>",
        _table(["measured", "median", "p90"], [
            ("from the first email", duration(report["time_to_answer_s"]["median"]),
             duration(report["time_to_answer_s"]["p90"])),
            ("from the last email received", duration(report.get("time_since_last_email_s", {}).get("median")),
             duration(report.get("time_since_last_email_s", {}).get("p90")))]),
    ]
    for field, segments in report.get("by", {}).items():
        parts.append(f"<h2>By {escape(field)}</h2>")
        parts.append(_table([field, *_segment_header()],
                            [[value or "(empty)", *_segment_cells(seg)] for value, seg in segments.items()],
                            ["" if seg["rankable"] else "small" for seg in segments.values()], cls="wide"))
        if any(not s["rankable"] for s in segments.values()):
            parts.append('<p class="note">Grey rows: too small to rank (fewer than 10 reachable targets); '
                         "their rates are shown, not ranked.</p>")
        parts.append(svg.league_chart(
            [svg.Segment(value, seg["answer_rate"], *(seg["answer_rate_ci95"] or (None, None)),
                         seg["rankable"], seg["reachable"]) for value, seg in segments.items()],
            title=f"Answer rate by {field}, with 95 % intervals"))
    if review:
        parts.append("<h2>Unclear replies to review</h2>")
        parts.append('<p class="note">Confirm or correct with <code>probe review CONFIG</code>.</p>')
        parts.append(_table(["id", "received", "from", "subject", "new text", "answer"], [
            (str(r["id"]), _iso(r["received_at"]), r["sender"], r["subject"], r["new_text"][:300],
             str(r["override_answer"] or r["answer"] or "")) for r in review], wrap=frozenset({2, 3, 4}),
            cls="wide"))
    parts.append("<h2>How to read this</h2><ul class=\"note\">")
    parts += [f"<li>{escape(note)}</li>" for note in report.get("notes", [])]
    parts.append("</ul></body></html>")
    return "\n".join(parts) + "\n"
