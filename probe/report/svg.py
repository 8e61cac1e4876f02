"""Inline SVG charts for the HTML report: plain strings, no library, every label escaped.

Each function returns one ``<svg>`` element sized by its viewBox (it scales with the page) with a
``<title>`` for screen readers. Numbers are rounded to 0.1 px so the markup stays small.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

INK = "#1f2933"
MUTED = "#7b8794"
ACCENT = "#2f6fdf"
GRID = "#e4e7eb"
WAVE = "#d64545"
PALE = "#b8c4d6"


def _n(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _text(x: float, y: float, label: str, *, anchor: str = "start", size: int = 12, color: str = INK,
          extra: str = "") -> str:
    return (f'<text x="{_n(x)}" y="{_n(y)}" font-size="{size}" fill="{color}" text-anchor="{anchor}"{extra}>'
            f"{escape(label)}</text>")


@dataclass(frozen=True)
class Caption:
    """What makes a chart publishable on its own: a title, who it counts (n), which campaign and when,
    and where the figures come from. Drawn inside the SVG, so a downloaded chart still says it."""
    title: str
    subtitle: str = ""
    source: str = ""


HEAD_LINE, SUB_LINE, FOOT = 20, 17, 26


def _wrap(text: str, width: int, size: int) -> list[str]:
    # About 0.55 em per character in a sans-serif face: enough to keep a title inside the chart.
    return textwrap.wrap(text, max(10, int((width - 20) / (size * 0.55)))) or [""]


def _head(width: int, caption: Caption) -> tuple[list[str], int]:
    """The title lines and the subtitle at the top; returns the parts and the height they take."""
    parts, y = [], 6
    for line in _wrap(caption.title, width, 16):
        y += HEAD_LINE
        parts.append(_text(10, y, line, size=16, extra=' font-weight="600"'))
    for line in _wrap(caption.subtitle, width, 12) if caption.subtitle else []:
        y += SUB_LINE
        parts.append(_text(10, y, line, size=12, color=MUTED))
    return parts, y + 12


def _open(width: int, height: int, caption: Caption) -> str:
    # Fixed pixel size plus a viewBox: the page scales it down (CSS max-width), a downloaded file opens
    # at its natural size. Fonts and colours are attributes, so the file needs nothing from the page.
    return (f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img" font-family="system-ui, -apple-system, '
            f'Segoe UI, Roboto, Helvetica, Arial, sans-serif">'
            f"<title>{escape(caption.title)}</title>"
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>')


def _close(width: int, height: int, caption: Caption) -> str:
    foot = _text(10, height - 9, caption.source, size=12, color=MUTED) if caption.source else ""
    return foot + "</svg>"


def _empty(width: int, caption: Caption, message: str) -> str:
    head, y = _head(width, caption)
    height = y + 30 + FOOT
    return (_open(width, height, caption) + "".join(head) + _text(10, y + 20, message, color=MUTED)
            + _close(width, height, caption))


def wave_name(wave: int) -> str:
    return "initial" if wave == 0 else f"reminder {wave}"


def text_width(label: str, size: int) -> float:
    """A generous estimate of a label's width in a sans-serif face (0.62 em a character): what the
    layout keeps clear, and what the tests measure against."""
    return len(label) * size * 0.62


def _pct(value: float, decimal: str) -> str:
    return f"{value * 100:.1f}".replace(".", decimal) + " %"


@dataclass(frozen=True)
class WaveBar:
    label: str
    answered: int
    sent: int


def wave_chart(bars: Sequence[WaveBar], caption: Caption, *, axis: str, decimal: str = ".") -> str:
    """One bar per wave: the answer rate of that wave (answers that followed it / emails of it), the
    rate above the bar, "answered / sent" under its name."""
    width = 540
    head, top = _head(width, caption)
    plot_h, left = 180, 16
    height = top + 20 + plot_h + 44 + 18 + FOOT
    rates = [b.answered / b.sent if b.sent else 0.0 for b in bars]
    biggest = max([*rates, 0.01])
    slot = (width - 2 * left) / max(1, len(bars))
    base = top + 20 + plot_h
    parts = [_open(width, height, caption), *head]
    for i, (bar, r) in enumerate(zip(bars, rates, strict=True)):
        h = r / biggest * plot_h
        cx = left + i * slot + slot / 2
        parts.append(f'<rect class="bar" x="{_n(cx - slot * 0.3)}" y="{_n(base - h)}" width="{_n(slot * 0.6)}" '
                     f'height="{_n(h)}" fill="{ACCENT}"/>')
        parts.append(_text(cx, base - h - 6, _pct(r, decimal) if bar.sent else "–", anchor="middle", size=14,
                           extra=' font-weight="600"'))
        parts.append(_text(cx, base + 18, bar.label, anchor="middle", size=13))
        parts.append(_text(cx, base + 36, f"{bar.answered} / {bar.sent}", anchor="middle", size=12, color=MUTED))
    parts.append(f'<line x1="{left}" x2="{width - left}" y1="{_n(base)}" y2="{_n(base)}" stroke="{INK}"/>')
    parts.append(_text(width / 2, base + 58, axis, anchor="middle", size=12, color=MUTED))
    parts.append(_close(width, height, caption))
    return "".join(parts)


YES, NO, UNCLEAR = "#2f9e44", "#e8590c", "#9aa5b1"


def answers_chart(parts_in: Sequence[tuple[str, int]], caption: Caption, *, decimal: str = ".") -> str:
    """The answered targets split into yes / no / unclear: one stacked bar and a legend with counts."""
    width = 460
    head, top = _head(width, caption)
    height = top + 36 + 26 * len(parts_in) + 8 + FOOT
    total = sum(n for _, n in parts_in)
    parts = [_open(width, height, caption), *head]
    x, bar_w = 10.0, width - 20
    for (_label, n), colour in zip(parts_in, (YES, NO, UNCLEAR), strict=False):
        w = n / total * bar_w if total else 0.0
        parts.append(f'<rect x="{_n(x)}" y="{top}" width="{_n(w)}" height="24" fill="{colour}"/>')
        x += w
    for i, ((label, n), colour) in enumerate(zip(parts_in, (YES, NO, UNCLEAR), strict=False)):
        y = top + 44 + 26 * i
        share = f" ({_pct(n / total, decimal)})" if total else ""
        parts.append(f'<rect x="10" y="{y - 12}" width="14" height="14" fill="{colour}"/>')
        parts.append(_text(32, y, f"{label}: {n}{share}", size=13))
    parts.append(_close(width, height, caption))
    return "".join(parts)


@dataclass(frozen=True)
class Segment:
    label: str
    rate: float | None
    low: float | None
    high: float | None
    rankable: bool
    reachable: int


def league_chart(segments: Sequence[Segment], caption: Caption, *, too_few: str = "(too few)",
                 none: str = "n/a", decimal: str = ".") -> str:
    """One horizontal bar per segment in the given (league-table) order, with 95 % CI whiskers and
    its n; segments too small to rank are drawn pale."""
    row, label_w, width, right = 28, 190, 600, 110
    head, top = _head(width, caption)
    height = top + 30 + row * max(1, len(segments)) + FOOT
    plot_w = width - label_w - right

    def x(r: float) -> float:
        return label_w + r * plot_w

    parts = [_open(width, height, caption), *head]
    bottom = top + 6 + row * max(1, len(segments))
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{_n(x(tick))}" x2="{_n(x(tick))}" y1="{top}" y2="{bottom}" stroke="{GRID}"/>')
        parts.append(_text(x(tick), bottom + 16, f"{tick * 100:.0f} %", anchor="middle", size=12, color=MUTED))
    for i, seg in enumerate(segments):
        cy = top + 6 + i * row + row / 2
        label = seg.label if len(seg.label) <= 24 else seg.label[:23] + "…"
        parts.append(_text(label_w - 8, cy + 5, f"{label} (n={seg.reachable})", anchor="end", size=12,
                           color=INK if seg.rankable else MUTED))
        if seg.rate is None:
            parts.append(_text(x(0) + 4, cy + 5, none, size=12, color=MUTED))
            continue
        fill = ACCENT if seg.rankable else PALE
        parts.append(f'<rect x="{_n(x(0))}" y="{_n(cy - 8)}" width="{_n(seg.rate * plot_w)}" height="16" '
                     f'fill="{fill}"/>')
        if seg.low is not None and seg.high is not None:
            parts.append(f'<line x1="{_n(x(seg.low))}" x2="{_n(x(seg.high))}" y1="{_n(cy)}" y2="{_n(cy)}" '
                         f'stroke="{INK}" stroke-width="1.5"/>')
            for end in (seg.low, seg.high):
                parts.append(f'<line x1="{_n(x(end))}" x2="{_n(x(end))}" y1="{_n(cy - 5)}" y2="{_n(cy + 5)}" '
                             f'stroke="{INK}" stroke-width="1.5"/>')
        note = f"{seg.rate * 100:.0f} %" + ("" if seg.rankable else f" {too_few}")
        parts.append(_text(x(1) + 6, cy + 5, note, size=12, color=INK if seg.rankable else MUTED))
    parts.append(_close(width, height, caption))
    return "".join(parts)


def answer_curve(survival: Sequence[Sequence[float]], band: Sequence[Sequence[float]],
                 reminders: Sequence[tuple[str, float]], caption: Caption, *, axis: str = "days since the first email",
                 day: str = "d", none: str = "No answers yet.", decimal: str = ".",
                 end: float | None = None) -> str:
    """The share answered, 1 − S(t) (Kaplan–Meier), against the time since each target's first email,
    with its Greenwood 95 % band shaded and a dashed line at each reminder's offset (name, seconds).

    The end label (the last share) sits in the right margin, past the end of the plot, where no
    reminder line can be: reminders fall inside the plot by construction (stop > every offset)."""
    width, left, right = 600, 52, 72
    if len(survival) <= 1:
        return _empty(width, caption, none)
    head, top = _head(width, caption)
    plot_h = 230
    height = top + plot_h + 50 + FOOT
    stop = max([survival[-1][0], *(o for _, o in reminders), end or 0.0, 3600.0]) * 1.04
    highest = max(1.0 - row[1] for row in band) if band else 1.0 - survival[-1][1]
    step = 0.05 if highest <= 0.2 else 0.1 if highest <= 0.5 else 0.25
    top_rate = min(1.0, step * (int(highest * 1.05 / step) + 1))
    plot_w = width - left - right

    def x(t: float) -> float:
        return left + t / stop * plot_w

    def y(r: float) -> float:
        return top + plot_h - min(r, top_rate) / top_rate * plot_h

    parts = [_open(width, height, caption), *head]
    for i in range(round(top_rate / step) + 1):
        r = step * i
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{_n(y(r))}" y2="{_n(y(r))}" stroke="{GRID}"/>')
        parts.append(_text(left - 6, y(r) + 4, f"{r * 100:.0f} %", anchor="end", size=12, color=MUTED))
    if band:
        # Upper edge (1 − low S) left to right, lower edge (1 − high S) back: one step-shaped polygon.
        upper = [f"M{_n(x(0))},{_n(y(0))}"]
        for t, low, _high in band:
            upper += [f"H{_n(x(t))}", f"V{_n(y(1.0 - low))}"]
        upper.append(f"H{_n(x(stop))}")
        lower = [f"V{_n(y(1.0 - band[-1][2]))}"]
        for i in range(len(band) - 1, 0, -1):
            lower += [f"H{_n(x(band[i][0]))}", f"V{_n(y(1.0 - band[i - 1][2]))}"]
        lower += [f"H{_n(x(0))}", "Z"]
        parts.append(f'<path d="{" ".join(upper + lower)}" fill="{ACCENT}" fill-opacity="0.15" stroke="none"/>')
    for i, (name, offset) in enumerate(reminders):
        parts.append(f'<line class="reminder" x1="{_n(x(offset))}" x2="{_n(x(offset))}" y1="{top}" '
                     f'y2="{top + plot_h}" stroke="{WAVE}" stroke-dasharray="4 3"/>')
        near_end = x(offset) + 4 + text_width(name, 12) > width - right
        parts.append(_text(x(offset) + (-4 if near_end else 4), top + 14 + 15 * (i % 2), name,
                           anchor="end" if near_end else "start", size=12, color=WAVE))
    path = [f"M{_n(x(0))},{_n(y(0))}"]
    for t, s in survival[1:]:
        path += [f"H{_n(x(t))}", f"V{_n(y(1.0 - s))}"]
    path.append(f"H{_n(x(stop))}")
    parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="{ACCENT}" stroke-width="2.5"/>')
    last = 1.0 - survival[-1][1]
    parts.append(_text(x(stop) + 6, y(last) + 5, _pct(last, decimal), size=13, color=ACCENT,
                       extra=' class="end-label" font-weight="600"'))
    days = max(1, int(stop // 86400))
    tick = 1 if days <= 8 else 2 if days <= 16 else 7
    for d in range(0, days + 1, tick):
        parts.append(_text(x(d * 86400.0), top + plot_h + 18, f"{d} {day}", anchor="middle", size=12,
                           color=MUTED))
    parts.append(_text(left + plot_w / 2, top + plot_h + 38, axis, anchor="middle", size=12, color=MUTED))
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{INK}"/>')
    parts.append(_close(width, height, caption))
    return "".join(parts)
