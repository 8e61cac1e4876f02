"""The report's charts stand alone and can be published: each SVG parses as XML on its own, carries
its xmlns, fonts, white background, its title, n, campaign, date and source as text; labels are at
least 12 px; the end label of the answer curve never sits on a reminder line."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from probe.report import svg

NS = "{http://www.w3.org/2000/svg}"
CAPTION = svg.Caption("Share answered", "n = 25 targets, 24 reachable · known · 9 Nov 2015",
                      "Source: probe (replies to the emails)")


def _parse(markup: str) -> ET.Element:
    root = ET.fromstring(markup)    # a standalone file: well-formed XML with its namespace
    assert root.tag == f"{NS}svg"
    assert root.get("width") and root.get("height") and root.get("font-family")
    return root


def _texts(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{NS}text"))


def _survival(end_s: float) -> list[list[float]]:
    return [[0.0, 1.0], [3600.0, 0.9], [end_s / 2, 0.7], [end_s, 0.55]]


CHARTS = {
    "curve": lambda: svg.answer_curve(_survival(86400 * 12), [], [("reminder 1", 86400 * 6.0),
                                                                   ("reminder 2", 86400 * 12.0)], CAPTION),
    "waves": lambda: svg.wave_chart([svg.WaveBar("initial", 6, 25), svg.WaveBar("reminder 1", 4, 18)], CAPTION,
                                    axis="answers / emails"),
    "answers": lambda: svg.answers_chart([("yes", 7), ("no", 3), ("unclear", 1)], CAPTION),
    "league": lambda: svg.league_chart([svg.Segment("retail", 0.7, 0.4, 0.9, True, 10),
                                        svg.Segment("energy", 0.5, 0.1, 0.9, False, 2)], CAPTION),
}


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_each_chart_stands_alone_with_its_caption(name: str) -> None:
    root = _parse(CHARTS[name]())
    assert root.find(f"{NS}title").text == CAPTION.title
    words = " ".join(t.text or "" for t in _texts(root))
    for part in (CAPTION.title, "n = 25 targets, 24 reachable", "known", "9 Nov 2015", CAPTION.source):
        assert part in words, (name, part)
    assert root.find(f"{NS}rect").get("fill") == "#ffffff", "a background of its own, not the page's"
    small = [t.text for t in _texts(root) if float(t.get("font-size")) < 12]
    assert small == [], f"labels under 12 px: {small}"


def test_wave_chart_shows_the_rate_of_each_wave_not_only_counts() -> None:
    words = [t.text for t in _texts(_parse(CHARTS["waves"]()))]
    assert "24.0 %" in words and "22.2 %" in words      # 6 / 25, 4 / 18
    assert "6 / 25" in words and "4 / 18" in words


def test_answers_chart_splits_answered_into_yes_no_unclear() -> None:
    words = [t.text for t in _texts(_parse(CHARTS["answers"]()))]
    assert "yes: 7 (63.6 %)" in words and "no: 3 (27.3 %)" in words and "unclear: 1 (9.1 %)" in words


@pytest.mark.parametrize("last_reminder_day", [3.0, 11.0, 11.9, 12.0, 12.4])
def test_end_label_never_overlaps_a_reminder_line(last_reminder_day: float) -> None:
    # The worst cases: the last reminder at (or after) the last answer, where the label used to sit.
    root = _parse(svg.answer_curve(_survival(86400 * 12), [], [("reminder 1", 86400 * 2.0),
                                                               ("reminder 2", 86400 * last_reminder_day)], CAPTION))
    label = next(t for t in _texts(root) if t.get("class") == "end-label")
    size = float(label.get("font-size"))
    assert label.get("text-anchor") in (None, "start")
    x0 = float(label.get("x"))
    x1 = x0 + svg.text_width(label.text or "", int(size))
    lines = [float(line.get("x1")) for line in root.iter(f"{NS}line") if line.get("class") == "reminder"]
    assert len(lines) == 2
    for x in lines:
        assert not (x0 - 2 <= x <= x1 + 2), f"reminder line at x={x} crosses the end label [{x0}, {x1}]"
    assert x1 <= float(root.get("width")), "the end label stays inside the chart"
