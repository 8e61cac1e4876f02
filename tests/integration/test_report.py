"""build_report and the renderers on a seeded campaign with every outcome, on SQLite and PostgreSQL.

The campaign is tests/fixtures/seed.py:known_campaign(); every figure below is worked out by hand:
25 targets (retail 11, telecom 12, energy 2); t05 bounced → 24 reachable; answered: retail
t01 yes, t02 no, t03 unclear→override yes, t04 yes, t06 opted out (no), t08 yes, t11 unclear;
telecom t12 yes, t13 yes, t14 no; energy t24 yes → 11 (7 yes, 3 no, 1 unclear).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from probe.core.model import Answer, SendState, TargetState
from probe.core.stats import wilson_interval
from probe.errors import InputError
from probe.report import render
from probe.report.summary import build_report
from probe.store import aggregates as agg
from probe.store import exports as exports_store
from probe.store import review as review_store
from probe.store.tables import Target
from tests.fixtures.seed import (
    HOSTILE,
    T0,
    W1,
    W2,
    SeedTarget,
    seed_campaign,
    seed_known,
    sent,
)

NOW = W2 + timedelta(days=30)


@pytest.fixture
def db(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    """tests/fixtures/db.py: a fresh migrated database per test, SQLite and PostgreSQL."""
    return sessions


async def known_report(db: async_sessionmaker[AsyncSession], by: str | None = None) -> dict:
    async with db.begin() as s:
        await seed_known(s)
    async with db() as s:
        return await build_report(s, "known", now=NOW, by=by)


async def test_report_figures_of_a_campaign_with_every_outcome(db: async_sessionmaker[AsyncSession]) -> None:
    report = await known_report(db)
    assert report["campaign"] == "known"
    assert report["targets"] == 25
    assert report["bounced"] == 1
    assert report["reachable"] == 24
    assert report["answered"] == 11
    assert report["answers"] == {"yes": 7, "no": 3, "unclear": 1}
    assert report["opted_out"] == 1
    assert report["auto_replies"] == 1          # t07 only: t08's out-of-office came before its answer
    assert report["auto_reply_messages"] == 3
    assert report["no_answer"] == 13
    assert report["answer_rate"] == pytest.approx(11 / 24)
    low, high = wilson_interval(11, 24) or (0, 0)
    assert report["answer_rate_ci95"] == [pytest.approx(low), pytest.approx(high)]
    assert report["answer_rate_ci95"][0] == pytest.approx(0.2789, abs=1e-4)
    assert report["answer_rate_all"] == pytest.approx(11 / 25)
    assert report["sent"] == {"0": 25, "1": 18, "2": 13}
    assert report["uncertain"] == 1
    assert report["answered_by_wave"] == {"0": 6, "1": 4, "2": 1}
    # From the first send: 1h 2h 2h 3h 5h 1d 6d2h 6d3h 6d4h 7d 12d1h → median 1 d, p90 7 d.
    assert report["time_to_answer_s"] == {"median": 86400.0, "p90": 604800.0}
    # From the last email before the answer: median 3 h, p90 1 d.
    assert report["time_since_last_email_s"] == {"median": 10800.0, "p90": 86400.0}
    assert report["status"] == "closed"
    assert report["by"] == {}
    assert report["generated_at"] == NOW.isoformat()
    # The contract keys of DESIGN.md are all there.
    for key in ("campaign", "targets", "reachable", "sent", "answered", "answer_rate", "answer_rate_ci95",
                "answers", "auto_replies", "bounced", "no_answer", "answered_by_wave", "time_to_answer_s", "by"):
        assert key in report
    json.loads(render.render_json(report))


async def test_report_by_segment_ranks_and_flags_small_groups(db: async_sessionmaker[AsyncSession]) -> None:
    report = await known_report(db, by="sector")
    segments = report["by"]["sector"]
    assert list(segments) == ["retail", "telecom", "energy"]      # league-table order
    retail, telecom, energy = segments["retail"], segments["telecom"], segments["energy"]
    assert (retail["targets"], retail["reachable"], retail["answered"]) == (11, 10, 7)
    assert retail["answers"] == {"yes": 4, "no": 2, "unclear": 1}
    assert retail["answer_rate"] == pytest.approx(0.7)
    assert retail["rankable"] is True
    assert retail["sent"] == {"0": 11, "1": 7, "2": 3}
    assert retail["uncertain"] == 1
    assert retail["answered_by_wave"] == {"0": 3, "1": 3, "2": 1}
    assert (telecom["targets"], telecom["answered"], telecom["rankable"]) == (12, 3, True)
    assert telecom["time_to_answer_s"]["median"] == 7200.0
    assert energy["rankable"] is False
    assert "too small to rank" in energy["note"]
    assert energy["answer_rate"] == 0.5
    assert energy["answer_rate_ci95"] is not None
    # Segments add up to the whole.
    assert sum(s["answered"] for s in segments.values()) == report["answered"]
    table = render.render_table(report)
    assert "too small to rank" in table


async def test_unknown_campaign_and_unknown_field_are_input_errors(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as s:
        await seed_known(s)
    async with db() as s:
        with pytest.raises(InputError, match="not in the database") as missing:
            await build_report(s, "nope", now=NOW, source="campaign.toml")
        assert "probe launch" in str(missing.value)
        with pytest.raises(InputError, match="no field 'region'") as unknown:
            await build_report(s, "known", now=NOW, by="region")
        assert "sector" in str(unknown.value) and "name" in str(unknown.value)


async def test_override_changes_the_figures(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as s:
        await seed_known(s)
        await s.execute(sa.update(Target).where(Target.email == "t11@retail.example")
                        .values(answer_override=Answer.NO))
    async with db() as s:
        report = await build_report(s, "known", now=NOW)
    assert report["answers"] == {"yes": 7, "no": 4, "unclear": 0}


async def test_running_campaign(db: async_sessionmaker[AsyncSession]) -> None:
    targets = [
        SeedTarget("a@x.example", {"sector": "a"}, TargetState.ANSWERED,
                   sent(0, cancelled=(1, 2)), answer=Answer.YES, answered_at=T0 + timedelta(hours=4)),
        SeedTarget("b@x.example", {"sector": "a"}, TargetState.CONTACTED,
                   {0: SendState.SENT, 1: SendState.SCHEDULED, 2: SendState.SCHEDULED}),
        SeedTarget("c@x.example", {"sector": "a"}, TargetState.PENDING,
                   {0: SendState.RETRY, 1: SendState.SCHEDULED, 2: SendState.SCHEDULED}),
    ]
    async with db.begin() as s:
        await seed_campaign(s, "running", targets)
    async with db() as s:
        report = await build_report(s, "running", now=T0 + timedelta(days=1))
    assert report["status"] == "running"
    assert report["sent"] == {"0": 2, "1": 0, "2": 0}
    assert report["answered"] == 1 and report["no_answer"] == 2
    assert report["time_to_answer_s"] == {"median": 14400.0, "p90": 14400.0}
    assert report["states"] == {"pending": 1, "contacted": 1, "closed": 0}
    # Still running while a planned send remains, even long after the last due time.
    async with db() as s:
        late = await build_report(s, "running", now=W2 + timedelta(days=60))
    assert late["status"] == "running"


async def test_silence_after_close_after_closes_the_campaign(db: async_sessionmaker[AsyncSession]) -> None:
    targets = [SeedTarget("a@x.example", {}, TargetState.CONTACTED, sent(0, 1, 2))]
    async with db.begin() as s:
        await seed_campaign(s, "silent", targets, close_after_s=7 * 86400)
    async with db() as s:
        assert (await build_report(s, "silent", now=W2 + timedelta(days=6)))["status"] == "running"
        assert (await build_report(s, "silent", now=W2 + timedelta(days=7)))["status"] == "closed"


async def test_empty_campaign_has_no_rates(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as s:
        await seed_campaign(s, "empty", [])
    async with db() as s:
        report = await build_report(s, "empty", now=NOW)
    assert report["targets"] == 0
    assert report["answer_rate"] is None and report["answer_rate_ci95"] is None
    assert report["time_to_answer_s"] == {"median": None, "p90": None}
    assert "n/a" in render.render_table(report)


async def test_csv_has_one_row_per_target_with_its_fields(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as s:
        cid = await seed_known(s)
    out = io.StringIO()
    async with db() as s:
        fields = await agg.field_names(s, cid)
        await render.write_csv(out, fields, exports_store.stream_targets(s, cid, chunk_size=7))
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 25
    by_email = {r["email"]: r for r in rows}
    t03 = by_email["t03@retail.example"]
    assert (t03["state"], t03["answer"], t03["automatic_answer"], t03["override"]) == (
        "answered", "yes", "unclear", "yes")
    assert t03["sector"] == "retail"
    assert t03["first_sent_at"] == T0.isoformat()
    assert t03["answered_at"] == (W1 + timedelta(hours=3)).isoformat()
    assert float(t03["time_to_answer_s"]) == 529200.0
    assert by_email["t05@retail.example"]["bounced"] == "yes"
    assert by_email["t06@retail.example"]["answer"] == "no"
    assert by_email["t07@retail.example"]["auto_replies"] == "2"
    assert by_email["t07@retail.example"]["answer"] == ""
    assert by_email["t09@retail.example"]["name"] == HOSTILE
    # The CSV agrees with the report.
    async with db() as s:
        report = await build_report(s, "known", now=NOW)
    answered = [r for r in rows if r["answer"]]
    assert len(answered) == report["answered"]
    assert sum(r["answer"] == "yes" for r in rows) == report["answers"]["yes"]
    assert sum(r["bounced"] == "yes" for r in rows) == report["bounced"]


async def test_table_reads_at_a_glance(db: async_sessionmaker[AsyncSession]) -> None:
    report = await known_report(db)
    table = render.render_table(report)
    assert table.splitlines()[0].startswith("known")
    assert "11 of 24 reachable targets answered (45.8 %, 95 % CI 27.9–64.9 %); no answer: 54.2 %" in table
    for label, value in [("targets", "25"), ("bounced", "1"), ("yes", "7"), ("unclear", "1"),
                         ("auto-replies only", "1"), ("uncertain sends", "1")]:
        assert any(line.split() and label in line and line.rstrip().endswith(value)
                   for line in table.splitlines()), (label, table)
    assert "1 d" in table and "7 d" in table       # median and p90 time to answer


async def test_html_escapes_hostile_strings_and_holds_the_figures(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as s:
        cid = await seed_known(s)
    async with db() as s:
        report = await build_report(s, "known", now=NOW, by="name")
        timeline = await agg.answer_timeline(s, cid)
        review = await review_store.review_rows(s, cid)
    html = render.render_html(report, timeline, review)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(" in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html
    assert "<svg" in html
    assert "45.8" in html and "11 of 24" in html
    assert "Je transmets &lt;b&gt;à&lt;/b&gt; mon collègue" in html


async def test_by_a_field_with_too_many_values_is_refused(db: async_sessionmaker[AsyncSession],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from probe.report import summary

    monkeypatch.setattr(summary, "MAX_SEGMENTS", 20)
    async with db.begin() as s:
        await seed_known(s)
    async with db() as s:
        with pytest.raises(InputError, match="25 different values"):
            await build_report(s, "known", now=NOW, by="email")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "n/a"), (42, "42 s"), (720, "12 min"), (10800, "3 h"), (9000, "2.5 h"), (86400, "1 d"),
     (529200, "6.1 d")],
)
def test_duration_reads_at_a_glance(seconds: float | None, text: str) -> None:
    assert render.duration(seconds) == text


def test_percent_and_interval_formatting() -> None:
    assert render.pct(11 / 24) == "45.8 %"
    assert render.pct(None) == "n/a"
    assert render.ci([0.2789, 0.6493]) == "27.9–64.9 %"
    assert render.ci(None) == "n/a"


def test_terminal_output_drops_escape_sequences() -> None:
    assert render.printable("a\x1b[31mred\x07\r\nb") == "a [31mred   b"
    assert render.printable("line 1\nline 2\x1b", keep_newlines=True) == "line 1\nline 2 "


async def test_suppressed_targets_are_neither_answers_nor_reachable(db: async_sessionmaker[AsyncSession]) -> None:
    from probe.core.model import MessageKind
    from tests.fixtures.seed import SeedReply

    targets = [
        # On the suppression list at launch: nothing sent, no reply here.
        SeedTarget("gone@x.example", {"sector": "a"}, TargetState.OPTED_OUT, sent(cancelled=(0, 1, 2))),
        # Answered yes, then asked to be removed: still a yes, answered at the first reply.
        SeedTarget("yes-then-out@x.example", {"sector": "a"}, TargetState.OPTED_OUT, sent(0, cancelled=(1, 2)),
                   answer=Answer.YES, answered_at=T0 + timedelta(hours=2),
                   replies=[SeedReply(MessageKind.HUMAN_REPLY, T0 + timedelta(hours=2), answer=Answer.YES),
                            SeedReply(MessageKind.HUMAN_REPLY, T0 + timedelta(days=1), opt_out=True)]),
        SeedTarget("silent@x.example", {"sector": "a"}, TargetState.CLOSED, sent(0, 1, 2)),
    ]
    async with db.begin() as s:
        cid = await seed_campaign(s, "suppressed", targets)
    async with db() as s:
        report = await build_report(s, "suppressed", now=NOW)
        out = io.StringIO()
        await render.write_csv(out, await agg.field_names(s, cid), exports_store.stream_targets(s, cid))
    assert (report["targets"], report["suppressed"], report["reachable"]) == (3, 1, 2)
    assert (report["answered"], report["opted_out"], report["no_answer"]) == (1, 1, 1)
    assert report["answers"] == {"yes": 1, "no": 0, "unclear": 0}
    assert report["time_to_answer_s"]["median"] == 7200.0
    assert "suppressed (not asked)" in render.render_table(report)
    rows = {r["email"]: r for r in csv.DictReader(io.StringIO(out.getvalue()))}
    assert rows["gone@x.example"]["answer"] == ""
    assert rows["yes-then-out@x.example"]["answer"] == "yes"
