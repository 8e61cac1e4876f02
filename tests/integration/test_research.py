"""The research figures from the database, on SQLite and PostgreSQL: AAPOR dispositions of a seeded
campaign with every outcome, Kaplan–Meier with censoring, business hours over a weekend, the blind
coding sample, and a reviewer's "not eligible"."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from probe.core.model import Answer, MessageKind, SendState, TargetState
from probe.report.research import ResearchOptions
from probe.report.summary import build_report
from probe.store import research as facts
from probe.store.facts import refresh as refresh_facts
from probe.store.tables import InboundMessage, Send, Target
from tests.fixtures.seed import DAY, HOUR, T0, W2, SeedReply, SeedTarget, seed_campaign, seed_known, sent

NOW = W2 + timedelta(days=30)


@pytest.fixture
def db(sessions: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession]:
    return sessions


async def test_dispositions_and_rates_of_the_known_campaign(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as s:
        await seed_known(s)
    async with db() as s:
        report = await build_report(s, "known", now=NOW)
    # 9 yes/no answers (t03's unclear overridden to yes; t06's opt-out is R, not a no), t11 unclear,
    # t05 bounced, the 13 others silent or only automatic.
    assert report["dispositions"] == {"I": 9, "P": 1, "R": 1, "NC": 13, "UO": 1, "NE": 0}
    rates = report["rates"]
    assert rates["RR1"]["value"] == pytest.approx(9 / 25)
    assert rates["RR2"]["value"] == pytest.approx(10 / 25)
    assert rates["RR5"]["value"] == pytest.approx(9 / 24)
    assert rates["RR6"]["value"] == pytest.approx(10 / 24)
    assert rates["REF1"]["value"] == pytest.approx(1 / 25)
    assert rates["COOP2"]["value"] == pytest.approx(10 / 11)
    assert rates["e"] == 1.0
    assert rates["RR1"]["ci95"][0] < 9 / 25 < rates["RR1"]["ci95"][1]
    assert any("Wilson (1927)" in n for n in report["notes"])
    assert any("RR6 = (I + P) / (I + P + R + NC)" in n for n in report["notes"])
    assert report["coding_agreement"] is None and report["answered_within_business"] is None


async def test_answered_within_is_kaplan_meier_from_the_first_email(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as s:
        await seed_known(s)
    async with db() as s:
        report = await build_report(s, "known", now=NOW, options=ResearchOptions(within=("3h",)))
    within = report["answered_within"]
    # 25 observed, the bounce censored after 10 min; answers at 1h 2h 2h 3h 5h 1d | 6d2h 6d3h 6d4h 7d | 12d1h.
    assert within["1d"]["value"] == pytest.approx(6 / 24)
    se = math.sqrt(0.25 * 0.75 / 24)              # no censoring before 1 d: Greenwood = binomial
    assert within["1d"]["ci95"] == pytest.approx([0.25 - 1.959964 * se, 0.25 + 1.959964 * se], abs=1e-6)
    assert within["2d"]["value"] == pytest.approx(6 / 24)
    assert within["7d"]["value"] == pytest.approx(10 / 24)
    assert within["14d"]["value"] == pytest.approx(11 / 24)
    assert within["3h"]["value"] == pytest.approx(4 / 24)
    survival = report["survival"]
    assert survival[0] == [0.0, 1.0] and survival[1] == [3600.0, pytest.approx(23 / 24)]
    assert survival[-1][1] == pytest.approx(13 / 24)


async def test_silent_targets_are_censored_at_the_report_time(db: async_sessionmaker[AsyncSession]) -> None:
    # Two targets, first email at T0: one answers after 1 h; the other is silent. At T0 + 2 h nobody
    # has been observed for a day: "1d" is not measurable yet (null), not 50 % and not 100 %.
    targets = [
        SeedTarget("a@x.example", {}, TargetState.ANSWERED, sent(0), answer=Answer.YES, answered_at=T0 + HOUR,
                   replies=[SeedReply(MessageKind.HUMAN_REPLY, T0 + HOUR, answer=Answer.YES, deciding=True)]),
        SeedTarget("b@x.example", {}, TargetState.CONTACTED, sent(0)),
    ]
    async with db.begin() as s:
        await seed_campaign(s, "early", targets)
    async with db() as s:
        report = await build_report(s, "early", now=T0 + 2 * HOUR)
        times = await facts.event_times(s, (await s.execute(sa.select(Target.campaign_id))).scalars().first(),
                                        T0 + 2 * HOUR)
    assert times[""] == [(3600.0, 1, 0), (7200.0, 0, 1)]
    assert report["answered_within"]["1d"] == {"value": None, "ci95": None}


async def _weekend_campaign(db: async_sessionmaker[AsyncSession]) -> None:
    # Friday 2 October 2015 in Paris: A gets the email at 19:00 and answers Saturday 11:00; B gets it at
    # 17:00 and answers Monday 10:00; C gets it at 17:00 and stays silent.
    fri_19 = datetime(2015, 10, 2, 17, 0, tzinfo=UTC)
    fri_17 = datetime(2015, 10, 2, 15, 0, tzinfo=UTC)
    sat_11 = datetime(2015, 10, 3, 9, 0, tzinfo=UTC)
    mon_10 = datetime(2015, 10, 5, 8, 0, tzinfo=UTC)
    targets = [
        SeedTarget("a@x.example", {}, TargetState.ANSWERED, sent(0), answer=Answer.YES, answered_at=sat_11,
                   replies=[SeedReply(MessageKind.HUMAN_REPLY, sat_11, answer=Answer.YES, deciding=True)]),
        SeedTarget("b@x.example", {}, TargetState.ANSWERED, sent(0), answer=Answer.NO, answered_at=mon_10,
                   replies=[SeedReply(MessageKind.HUMAN_REPLY, mon_10, answer=Answer.NO, deciding=True)]),
        SeedTarget("c@x.example", {}, TargetState.CONTACTED, sent(0)),
    ]
    async with db.begin() as s:
        await seed_campaign(s, "weekend", targets, waves=1)
        for email, when in (("a@x.example", fri_19), ("b@x.example", fri_17), ("c@x.example", fri_17)):
            tid = (await s.execute(sa.select(Target.id).where(Target.email == email))).scalar_one()
            await s.execute(sa.update(Send).where(Send.target_id == tid).values(sent_at=when, due_at=when))
            await refresh_facts(s, [tid])


async def test_business_hours_skip_the_weekend(db: async_sessionmaker[AsyncSession]) -> None:
    await _weekend_campaign(db)
    options = ResearchOptions(business_hours="mon-fri 09:00-18:00", holidays=(date(2015, 12, 25),))
    async with db() as s:
        report = await build_report(s, "weekend", now=datetime(2015, 10, 20, tzinfo=UTC), options=options)
    # Calendar time: A took 16 h, B 2 d 17 h.
    assert report["answered_within"]["1d"]["value"] == pytest.approx(1 / 3)
    assert report["answered_within"]["2d"]["value"] == pytest.approx(1 / 3)
    assert report["answered_within"]["7d"]["value"] == pytest.approx(2 / 3)
    # Business time: A took 0 (sent and answered outside opening hours), B 2 h: both within one
    # business day (9 h of opening).
    business = report["answered_within_business"]
    assert business["1d"]["value"] == pytest.approx(2 / 3)
    assert set(business) == {"1d", "2d", "7d", "14d"}


async def test_undelivered_targets_count_as_unknown_eligibility(db: async_sessionmaker[AsyncSession]) -> None:
    targets = [SeedTarget("a@x.example", {}, TargetState.CLOSED, sent(0)),
               SeedTarget("b@x.example", {}, TargetState.CLOSED, {0: SendState.FAILED})]
    async with db.begin() as s:
        await seed_campaign(s, "undelivered", targets)
        # The state issue 10 adds, written as its stored string.
        await s.execute(sa.text("UPDATE target SET state = 'undelivered' WHERE email = 'b@x.example'"))
    async with db() as s:
        cid = (await s.execute(sa.select(Target.campaign_id).where(Target.email == "b@x.example"))).scalar_one()
        assert (await facts.disposition_counts(s, cid))[""] == {"I": 0, "P": 0, "R": 0, "NC": 1, "UO": 1, "NE": 0}


async def test_no_longer_with_the_company_and_reviewer_rulings_are_not_eligible(
        db: async_sessionmaker[AsyncSession]) -> None:
    gone = SeedReply(MessageKind.AUTO_REPLY, T0 + HOUR, subject="Absence",
                     reasons=["no-longer-with-company"])
    targets = [
        SeedTarget("a@x.example", {}, TargetState.CLOSED, sent(0), replies=[gone]),
        SeedTarget("b@x.example", {}, TargetState.ANSWERED, sent(0), answer=Answer.YES, answered_at=T0 + DAY,
                   replies=[SeedReply(MessageKind.HUMAN_REPLY, T0 + DAY, answer=Answer.YES, deciding=True)]),
        SeedTarget("c@x.example", {}, TargetState.CLOSED, sent(0)),
    ]
    async with db.begin() as s:
        cid = await seed_campaign(s, "ne", targets)
    async with db() as s:
        assert (await facts.disposition_counts(s, cid))[""] == {"I": 1, "P": 0, "R": 0, "NC": 1, "UO": 0, "NE": 1}
    async with db.begin() as s:
        reply = (await s.execute(sa.select(InboundMessage.id).where(InboundMessage.sender == "b@x.example")))
        assert await facts.set_not_eligible(s, cid, reply.scalar_one(), True, by="me", at=NOW) == "b@x.example"
    async with db() as s:
        report = await build_report(s, "ne", now=NOW)
    assert report["dispositions"] == {"I": 0, "P": 0, "R": 0, "NC": 1, "UO": 0, "NE": 2}
    assert report["rates"]["e"] == pytest.approx(1 / 3)


async def test_coding_sample_is_random_blind_and_measures_agreement(db: async_sessionmaker[AsyncSession]) -> None:
    targets = [SeedTarget(f"t{i}@x.example", {}, TargetState.ANSWERED, sent(0),
                          answer=Answer.YES if i % 2 else Answer.NO, answered_at=T0 + DAY,
                          replies=[SeedReply(MessageKind.HUMAN_REPLY, T0 + DAY, new_text=f"reply {i}",
                                             answer=Answer.YES if i % 2 else Answer.NO, deciding=True)])
               for i in range(30)]
    async with db.begin() as s:
        cid = await seed_campaign(s, "coding", targets)
        assert await facts.draw_sample(s, cid, 10, 7, NOW) == 10
        assert await facts.draw_sample(s, cid, 0, 7, NOW) == 0
    async with db() as s:
        rows = await facts.sample_rows(s, cid)
    assert len(rows) == 10 and "answer" not in rows[0] and "reasons" not in rows[0]
    async with db.begin() as s:
        automatic = dict((await s.execute(sa.select(InboundMessage.id, InboundMessage.answer))).all())
        for k, row in enumerate(rows):
            truth = automatic[row["id"]]
            code = truth if k >= 2 else (Answer.NO if truth == Answer.YES else Answer.YES)
            assert await facts.record_code(s, cid, row["id"], code, by="me", at=NOW)
    async with db() as s:
        report = await build_report(s, "coding", now=NOW)
    assert report["coding_agreement"]["n"] == 10
    assert report["coding_agreement"]["agreement"] == pytest.approx(0.8)
    assert -1 <= report["coding_agreement"]["kappa"] < 0.8
    assert report["answers"]["yes"] == 15                 # codes never change an answer


async def test_segments_get_rates_and_a_difference_with_the_whole(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as s:
        await seed_known(s)
    async with db() as s:
        report = await build_report(s, "known", now=NOW, by="sector")
    retail = report["by"]["sector"]["retail"]
    assert retail["dispositions"] == {"I": 5, "P": 1, "R": 1, "NC": 3, "UO": 1, "NE": 0}
    assert retail["rates"]["RR6"]["value"] == pytest.approx(6 / 10)
    diff = retail["vs_all"]
    assert diff["diff"] == pytest.approx(7 / 10 - 11 / 24)
    assert diff["ci95"][0] < diff["diff"] < diff["ci95"][1]
    assert "answered_within" in retail


async def test_rates_after_each_wave(db: async_sessionmaker[AsyncSession]) -> None:
    async with db.begin() as s:
        await seed_known(s)
    async with db() as s:
        report = await build_report(s, "known", now=NOW)
    by_wave = report["rates_by_wave"]
    assert list(by_wave) == ["0", "1", "2"]
    # answered_by_wave is 6 / 4 / 1 (t06's opt-out after reminder 1; t11's unclear after the first email)
    assert by_wave["0"]["dispositions"] == {"I": 5, "P": 1, "R": 0, "NC": 18, "UO": 1, "NE": 0}
    assert by_wave["1"]["dispositions"] == {"I": 8, "P": 1, "R": 1, "NC": 14, "UO": 1, "NE": 0}
    assert by_wave["2"]["dispositions"] == report["dispositions"]
    assert by_wave["0"]["rates"]["RR6"]["value"] == pytest.approx(6 / 24)
