"""The HTML report page is well-formed (every element closed, in order) and carries the research
figures with their names, definitions and sources — on both engines, with --by and a review list."""

from __future__ import annotations

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from probe.report import render
from probe.report.research import ResearchOptions
from probe.report.summary import build_report
from probe.store import aggregates as agg
from probe.store import review as review_store
from tests.fixtures.seed import W2, seed_known

VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "embed", "source", "track", "wbr"}


class Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass   # <line/> in SVG: opened and closed

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'} "
                                 f"at line {self.getpos()[0]}")
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()


def well_formed(html: str) -> list[str]:
    parser = Balance()
    parser.feed(html)
    parser.close()
    return parser.problems + [f"<{tag}> never closed" for tag in parser.stack]


def test_balance_checker_catches_an_unclosed_div():
    assert well_formed("<html><body><div><table></table></body></html>") != []
    assert well_formed("<html><body><div><svg><line/></svg></div></body></html>") == []


@pytest.fixture
def db(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    return sessions


async def test_html_page_is_well_formed_and_names_its_rates(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as s:
        cid = await seed_known(s)
    options = ResearchOptions(business_hours="mon-fri 09:00-18:00")
    async with db() as s:
        report = await build_report(s, "known", now=W2 + timedelta(days=30), by="sector", options=options)
        html = render.render_html(report, await agg.answer_timeline(s, cid), await review_store.review_rows(s, cid))
    assert html.startswith("<!DOCTYPE html>")
    assert well_formed(html) == []
    for name in ("RR1", "RR6", "COOP1", "REF1", "CON1"):
        assert f"<td>{name}</td>" in html
    assert "RR6 = (I + P) / (I + P + R + NC)" in html
    for source in ("AAPOR Standard Definitions", "Wilson (1927)", "Newcombe (1998)", "Kaplan–Meier (1958)",
                   "Greenwood (1926)", "Cohen 1960"):
        assert source in html, source
    assert "I 9 · P 1 · R 1 · NC 13 · UO 1 · NE 0" in html
    assert "Kaplan–Meier" in html and "business time" in html
    assert "reminder 1" in html and "fill-opacity" in html      # reminders marked, the band drawn
    assert "&lt;script&gt;alert(" in html and "<script>" not in html


def test_table_names_the_rates_and_the_headline() -> None:
    report = {"campaign": "c", "targets": 50, "reachable": 49, "answered": 15, "answer_rate": 15 / 49,
              "answer_rate_ci95": [0.2, 0.4], "answer_rate_all": 0.3, "answers": {"yes": 8, "no": 5, "unclear": 2},
              "opted_out": 0, "no_answer": 34, "auto_replies": 4, "bounced": 1, "sent": {"0": 50},
              "answered_by_wave": {"0": 15}, "time_to_answer_s": {"median": 3600.0, "p90": 7200.0},
              "dispositions": {"I": 13, "P": 2, "R": 0, "NC": 34, "UO": 1, "NE": 0},
              "rates": {"RR1": {"value": 0.26, "ci95": [0.16, 0.4]}, "e": 1.0},
              "rate_definitions": {"RR1": "RR1 = I / (I + P + R + NC + UO): complete answers"},
              "answered_within": {"1d": {"value": 0.2, "ci95": [0.1, 0.3]}},
              "coding_agreement": {"n": 50, "agreement": 0.96, "kappa": 0.93}}
    table = render.render_table(report)
    assert "AAPOR dispositions: I 13 · P 2 · R 0 · NC 34 · UO 1 · NE 0" in table
    assert "answered / reachable = AAPOR RR6" in table
    assert "RR1 = I / (I + P + R + NC + UO)" in table and "26.0 %" in table
    assert "automatic answers agree with a reviewer on 48/50, κ = 0.93" in table
