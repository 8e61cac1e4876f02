"""Inline SVG charts for the HTML report: plain strings, no library, every label escaped.

Each function returns one ``<svg>`` element sized by its viewBox (it scales with the page) with a
``<title>`` for screen readers. Numbers are rounded to 0.1 px so the markup stays small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
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


def _open(width: int, height: int, title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
            f'style="max-width:{width}px" role="img" font-family="system-ui, sans-serif">'
            f"<title>{escape(title)}</title>")


def _day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%d %b")


def wave_name(wave: int) -> str:
    return "initial" if wave == 0 else f"reminder {wave}"


def cumulative_chart(points: Sequence[tuple[float, int]], waves: dict[int, tuple[float, float]],
                     reachable: int, *, end: float | None = None) -> str:
    """Cumulative answer rate (answers / reachable) over time, a dashed line at each wave."""
    width, height, left, right, top, bottom = 720, 300, 56, 20, 24, 40
    title = "Cumulative answer rate over time, with the emails sent marked"
    times = [t for t, _ in points] + [w[0] for w in waves.values()]
    if not times or reachable <= 0:
        return _open(width, 60, title) + _text(10, 35, "No answers yet.", color=MUTED) + "</svg>"
    start = min(times)
    stop = max([*times, *(w[1] for w in waves.values()), end or 0.0])
    if stop <= start:
        stop = start + 3600.0
    stop += (stop - start) * 0.04   # room after the last event
    total = sum(n for _, n in points)
    step = 0.05 if total / reachable <= 0.2 else 0.1 if total / reachable <= 0.5 else 0.25
    top_rate = min(1.0, step * (int(total / reachable * 1.1 / step) + 1))
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(t: float) -> float:
        return left + (t - start) / (stop - start) * plot_w

    def y(r: float) -> float:
        return top + plot_h - r / top_rate * plot_h

    parts = [_open(width, height, title)]
    for i in range(round(top_rate / step) + 1):
        r = step * i
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{_n(y(r))}" y2="{_n(y(r))}" stroke="{GRID}"/>')
        parts.append(_text(left - 6, y(r) + 4, f"{r * 100:.0f} %", anchor="end", size=11, color=MUTED))
    for wave, (first, _last) in sorted(waves.items()):
        parts.append(f'<line x1="{_n(x(first))}" x2="{_n(x(first))}" y1="{top}" y2="{top + plot_h}" '
                     f'stroke="{WAVE}" stroke-dasharray="4 3"/>')
        near_end = x(first) > width - right - 80
        parts.append(_text(x(first) + (-4 if near_end else 4), top + 12 + 14 * (wave % 2), wave_name(wave),
                           anchor="end" if near_end else "start", size=11, color=WAVE))
    path, cumulative = [f"M{_n(x(start))},{_n(y(0))}"], 0
    for t, n in points:
        path.append(f"H{_n(x(t))}")
        cumulative += n
        path.append(f"V{_n(y(cumulative / reachable))}")
    path.append(f"H{_n(x(stop))}")
    parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="{ACCENT}" stroke-width="2.5"/>')
    parts.append(_text(x(stop) - 2, y(cumulative / reachable) - 6, f"{cumulative / reachable * 100:.1f} %",
                       anchor="end", size=12, color=ACCENT))
    for t in (start, (start + stop) / 2, stop):
        parts.append(_text(x(t), height - bottom + 18, _day(t), anchor="middle", size=11, color=MUTED))
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{INK}"/>')
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(bars: Sequence[tuple[str, int]], *, title: str) -> str:
    """Vertical bars with their counts (answers by wave)."""
    width, height, top, bottom = 480, 220, 24, 36
    biggest = max([n for _, n in bars] + [1])
    slot = (width - 40) / max(1, len(bars))
    plot_h = height - top - bottom
    parts = [_open(width, height, title)]
    for i, (label, n) in enumerate(bars):
        h = n / biggest * plot_h
        bx = 20 + i * slot + slot * 0.2
        parts.append(f'<rect x="{_n(bx)}" y="{_n(top + plot_h - h)}" width="{_n(slot * 0.6)}" '
                     f'height="{_n(h)}" fill="{ACCENT}"/>')
        parts.append(_text(bx + slot * 0.3, top + plot_h - h - 6, str(n), anchor="middle"))
        parts.append(_text(bx + slot * 0.3, height - bottom + 18, label, anchor="middle", size=11, color=MUTED))
    parts.append(f'<line x1="10" x2="{width - 10}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{INK}"/>')
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class Segment:
    label: str
    rate: float | None
    low: float | None
    high: float | None
    rankable: bool
    reachable: int


def league_chart(segments: Sequence[Segment], *, title: str) -> str:
    """One horizontal bar per segment in the given (league-table) order, with 95 % CI whiskers;
    segments too small to rank are drawn pale."""
    row, label_w, width, right = 26, 200, 720, 96
    height = 30 + row * max(1, len(segments))
    plot_w = width - label_w - right

    def x(r: float) -> float:
        return label_w + r * plot_w

    parts = [_open(width, height, title)]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{_n(x(tick))}" x2="{_n(x(tick))}" y1="4" y2="{height - 22}" stroke="{GRID}"/>')
        parts.append(_text(x(tick), height - 8, f"{tick * 100:.0f} %", anchor="middle", size=11, color=MUTED))
    for i, seg in enumerate(segments):
        cy = 6 + i * row + row / 2
        label = seg.label if len(seg.label) <= 28 else seg.label[:27] + "…"
        parts.append(_text(label_w - 8, cy + 4, label or "(empty)", anchor="end",
                           color=INK if seg.rankable else MUTED))
        if seg.rate is None:
            parts.append(_text(x(0) + 4, cy + 4, "n/a", size=11, color=MUTED))
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
        note = f"{seg.rate * 100:.0f} %" + ("" if seg.rankable else " (too few)")
        parts.append(_text(x(1) + 6, cy + 4, note, size=11, color=INK if seg.rankable else MUTED))
    parts.append("</svg>")
    return "".join(parts)


def answer_curve(survival: Sequence[Sequence[float]], band: Sequence[Sequence[float]],
                 reminders: Sequence[tuple[int, float]], *, end: float | None = None) -> str:
    """The share answered, 1 − S(t) (Kaplan–Meier), against the time since each target's first email,
    with its Greenwood 95 % band shaded and a dashed line at each reminder's offset."""
    width, height, left, right, top, bottom = 720, 300, 56, 20, 24, 40
    title = "Share answered by time since the first email (Kaplan–Meier, 95 % band), reminders marked"
    if len(survival) <= 1:
        return _open(width, 60, title) + _text(10, 35, "No answers yet.", color=MUTED) + "</svg>"
    stop = max([survival[-1][0], *(o for _, o in reminders), end or 0.0, 3600.0]) * 1.04
    highest = max(1.0 - row[1] for row in band) if band else 1.0 - survival[-1][1]
    step = 0.05 if highest <= 0.2 else 0.1 if highest <= 0.5 else 0.25
    top_rate = min(1.0, step * (int(highest * 1.05 / step) + 1))
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(t: float) -> float:
        return left + t / stop * plot_w

    def y(r: float) -> float:
        return top + plot_h - min(r, top_rate) / top_rate * plot_h

    parts = [_open(width, height, title)]
    for i in range(round(top_rate / step) + 1):
        r = step * i
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{_n(y(r))}" y2="{_n(y(r))}" stroke="{GRID}"/>')
        parts.append(_text(left - 6, y(r) + 4, f"{r * 100:.0f} %", anchor="end", size=11, color=MUTED))
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
    for wave, offset in reminders:
        parts.append(f'<line x1="{_n(x(offset))}" x2="{_n(x(offset))}" y1="{top}" y2="{top + plot_h}" '
                     f'stroke="{WAVE}" stroke-dasharray="4 3"/>')
        near_end = x(offset) > width - right - 80
        parts.append(_text(x(offset) + (-4 if near_end else 4), top + 12 + 14 * (wave % 2), wave_name(wave),
                           anchor="end" if near_end else "start", size=11, color=WAVE))
    path = [f"M{_n(x(0))},{_n(y(0))}"]
    for t, s in survival[1:]:
        path += [f"H{_n(x(t))}", f"V{_n(y(1.0 - s))}"]
    path.append(f"H{_n(x(stop))}")
    parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="{ACCENT}" stroke-width="2.5"/>')
    last = 1.0 - survival[-1][1]
    parts.append(_text(x(stop) - 2, y(last) - 6, f"{last * 100:.1f} %", anchor="end", size=12, color=ACCENT))
    days = max(1, int(stop // 86400))
    tick = 1 if days <= 8 else 2 if days <= 16 else 7
    for d in range(0, days + 1, tick):
        parts.append(_text(x(d * 86400.0), height - bottom + 18, f"{d} d", anchor="middle", size=11, color=MUTED))
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="{INK}"/>')
    parts.append("</svg>")
    return "".join(parts)
