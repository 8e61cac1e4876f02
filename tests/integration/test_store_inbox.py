"""Poll side of the store on both engines: cursors, inbound dedupe, look-ups, target verdicts,
closing silent targets, and the status summary."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from probe.core.model import Answer, MatchMethod, MessageKind, SendState, TargetState
from probe.store import inbox as I
from probe.store import sends as S
from probe.store.campaigns import launch_campaign, record_pass
from probe.store.status import DueSend, status_summary
from probe.store.tables import InboundMessage, Send, Suppression, Target
from tests.fixtures.db import planned_targets

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
DOMAIN = "probe.example.org"


async def setup(sessions: async_sessionmaker[AsyncSession], count: int = 3, gaps: tuple[int, ...] = (6,),
                name: str = "c") -> tuple[int, dict[str, int]]:
    result = await launch_campaign(sessions, name=name, timezone="UTC", plan_hash="h", close_after_s=3600,
                                   keep_bodies=True, targets=planned_targets(count, start=START, gaps_days=gaps),
                                   now=START)
    async with sessions() as s:
        ids = dict((await s.execute(select(Target.email, Target.id)
                                    .where(Target.campaign_id == result.campaign_id))).all())
    return result.campaign_id, ids


def record(raw: bytes, *, uid: int | None = 1, message_id: str = "<m1@x>", mailbox: str = "me@x/INBOX",
           target_id: int | None = None) -> I.InboundRecord:
    return I.InboundRecord(
        mailbox=mailbox, uidvalidity=7 if uid is not None else None, uid=uid, message_id_header=message_id,
        raw_sha256=hashlib.sha256(raw).hexdigest(), raw=raw, size=len(raw), received_at=START,
        date_header=START - timedelta(minutes=1), sender="t0@example.org", subject="Re: OUI",
        kind=MessageKind.HUMAN_REPLY, answer=Answer.YES, opt_out=False, new_text="OUI", reasons=["word oui"],
        details={"note": "é"}, target_id=target_id, match_method=MatchMethod.IN_REPLY_TO if target_id else None)


async def inbound_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as s:
        return (await s.execute(select(func.count()).select_from(InboundMessage))).scalar_one()


async def test_cursor_round_trip(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid, _ = await setup(sessions)
    assert await I.get_cursor(sessions, cid, "me@x/INBOX") is None
    await I.set_cursor(sessions, cid, "me@x/INBOX", 1234, 10)
    await I.set_cursor(sessions, cid, "me@x/Other", 99, 1)
    assert await I.get_cursor(sessions, cid, "me@x/INBOX") == (1234, 10)
    await I.set_cursor(sessions, cid, "me@x/INBOX", 1235, 3)     # UIDVALIDITY changed: start again
    assert await I.get_cursor(sessions, cid, "me@x/INBOX") == (1235, 3)
    assert await I.get_cursor(sessions, cid, "me@x/Other") == (99, 1)


async def test_inbound_is_stored_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid, ids = await setup(sessions)
    raw = b"From: t0@example.org\r\nMessage-ID: <m1@x>\r\n\r\nOUI\r\n"
    first = await I.insert_inbound(sessions, cid, record(raw, target_id=ids["t0@example.org"]))
    assert isinstance(first, int)
    assert await I.insert_inbound(sessions, cid, record(raw + b"changed", uid=1)) is None        # same UID
    assert await I.insert_inbound(sessions, cid, record(raw, uid=None, mailbox="import:x.mbox")) is None
    assert await I.insert_inbound(sessions, cid, record(raw, uid=2)) is None   # resync: same id + bytes
    no_id_a = await I.insert_inbound(sessions, cid, record(b"no id A", uid=None, message_id=""))
    no_id_b = await I.insert_inbound(sessions, cid, record(b"no id B", uid=None, message_id=""))
    assert no_id_a and no_id_b and no_id_a != no_id_b
    assert await I.insert_inbound(sessions, cid, record(b"no id A", uid=None, message_id="")) is None
    assert await inbound_count(sessions) == 3
    async with sessions() as s:
        row = (await s.execute(select(InboundMessage).where(InboundMessage.id == first))).scalar_one()
    assert (row.raw, row.kind, row.answer, row.reasons, row.details, row.received_at, row.match_method) == (
        raw, MessageKind.HUMAN_REPLY, Answer.YES, ["word oui"], {"note": "é"}, START, MatchMethod.IN_REPLY_TO)


async def test_inbound_and_effect_in_one_transaction(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid, ids = await setup(sessions)
    try:
        async with sessions.begin() as s:
            row = await I.insert_inbound(s, cid, record(b"x", target_id=ids["t0@example.org"]))
            assert row is not None
            await I.mark_answered(s, target_id=ids["t0@example.org"], answer=Answer.NO, message_row_id=row,
                                  received_at=START, now=START)
            raise LookupError("crash before commit")
    except LookupError:
        pass
    assert await inbound_count(sessions) == 0
    assert (await I.target_info(sessions, ids["t0@example.org"]))[0] == TargetState.PENDING  # type: ignore[index]


async def test_lookups(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid, ids = await setup(sessions)
    other, _ = await setup(sessions, name="other")
    (c,) = await S.claim_due(sessions, campaign_id=cid, now=START, owner="o", lease_until=START, domain=DOMAIN)
    assert await I.target_by_token(sessions, cid, c.token.upper()) == c.target_id
    assert await I.target_by_token(sessions, other, c.token) is None
    assert await I.target_by_email(sessions, cid, "T1@Example.org") == ids["t1@example.org"]
    assert await I.target_by_email(sessions, cid, "nobody@example.org") is None
    assert await I.target_by_message_id(sessions, cid, c.message_id) == c.target_id
    assert await I.target_by_message_id(sessions, cid, c.message_id.strip("<>")) == c.target_id
    assert await I.target_by_message_id(sessions, other, c.message_id) is None
    assert await I.target_info(sessions, c.target_id) == (TargetState.PENDING, "t0@example.org", None)
    assert await I.target_info(sessions, 10**9) is None


async def test_first_verdict_wins(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid, ids = await setup(sessions)
    t0, t1 = ids["t0@example.org"], ids["t1@example.org"]
    msg = await I.insert_inbound(sessions, cid, record(b"a", target_id=t0))
    later = START + timedelta(hours=2)
    assert await I.mark_answered(sessions, target_id=t0, answer=Answer.YES, message_row_id=msg,
                                 received_at=START, now=later)
    assert not await I.mark_answered(sessions, target_id=t0, answer=Answer.NO, message_row_id=msg,
                                     received_at=later, now=later)
    assert not await I.mark_bounced(sessions, target_id=t0, now=later)
    async with sessions() as s:
        row = (await s.execute(select(Target).where(Target.id == t0))).scalar_one()
        states = set((await s.execute(select(Send.state).where(Send.target_id == t0))).scalars())
    assert (row.state, row.answer, row.answered_at, row.deciding_message_id, row.state_changed_at) == (
        TargetState.ANSWERED, Answer.YES, START, msg, later)
    assert states == {SendState.CANCELLED}
    assert await I.mark_bounced(sessions, target_id=t1, now=later)
    assert (await I.target_info(sessions, t1))[0] == TargetState.BOUNCED  # type: ignore[index]


async def test_opt_out_wins_and_suppresses_everywhere(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid, ids = await setup(sessions)
    other, other_ids = await setup(sessions, name="other")
    t0 = ids["t0@example.org"]
    await I.mark_answered(sessions, target_id=t0, answer=Answer.NO, message_row_id=None, received_at=START,
                          now=START)
    assert await I.mark_opted_out(sessions, target_id=t0, email="T0@example.org", campaign_id=cid, now=START)
    assert not await I.mark_opted_out(sessions, target_id=t0, email="t0@example.org", campaign_id=cid, now=START)
    async with sessions() as s:
        row = (await s.execute(select(Target.state, Target.answer).where(Target.id == t0))).one()
        suppressed = (await s.execute(select(Suppression.email, Suppression.campaign_id))).all()
        elsewhere = (await s.execute(select(Target.state).where(
            Target.id == other_ids["t0@example.org"]))).scalar_one()
        other_sends = set((await s.execute(select(Send.state).where(
            Send.target_id == other_ids["t0@example.org"]))).scalars())
    assert tuple(row) == (TargetState.OPTED_OUT, Answer.NO)
    assert [tuple(r) for r in suppressed] == [("t0@example.org", cid)]
    assert elsewhere == TargetState.OPTED_OUT and other_sends == {SendState.CANCELLED}
    assert other != cid


async def test_out_of_office_is_recorded(sessions: async_sessionmaker[AsyncSession]) -> None:
    _, ids = await setup(sessions)
    back = START + timedelta(days=9)
    await I.set_out_of_office(sessions, target_id=ids["t2@example.org"], until=back)
    async with sessions() as s:
        assert (await s.execute(select(Target.out_of_office_until)
                                .where(Target.id == ids["t2@example.org"]))).scalar_one() == back


async def _send_everything_due(sessions: async_sessionmaker[AsyncSession], cid: int, now: datetime) -> None:
    for c in await S.claim_due(sessions, campaign_id=cid, now=now, owner="o", lease_until=now, domain=DOMAIN,
                               limit=100):
        assert await S.record_sent(sessions, send_id=c.send_id, owner="o", smtp_reply="250", sent_at=now)


async def test_close_silent_targets(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid, ids = await setup(sessions, count=3, gaps=(1,))
    await _send_everything_due(sessions, cid, START)
    assert await I.close_silent_targets(sessions, campaign_id=cid, now=START + timedelta(days=30),
                                        close_after_s=3600) == 0     # reminders still scheduled
    reminder = START + timedelta(days=1)
    await I.mark_answered(sessions, target_id=ids["t2@example.org"], answer=Answer.YES, message_row_id=None,
                          received_at=START, now=START)
    await _send_everything_due(sessions, cid, reminder)
    assert await I.close_silent_targets(sessions, campaign_id=cid, now=reminder + timedelta(seconds=3599),
                                        close_after_s=3600) == 0
    assert await I.close_silent_targets(sessions, campaign_id=cid, now=reminder + timedelta(seconds=3600),
                                        close_after_s=3600) == 2
    states = {email: (await I.target_info(sessions, tid))[0] for email, tid in ids.items()}  # type: ignore[index]
    assert states == {"t0@example.org": TargetState.CLOSED, "t1@example.org": TargetState.CLOSED,
                      "t2@example.org": TargetState.ANSWERED}
    late = await I.insert_inbound(sessions, cid, record(b"late"))
    assert await I.mark_answered(sessions, target_id=ids["t0@example.org"], answer=Answer.NO,
                                 message_row_id=late, received_at=reminder + timedelta(days=3), now=reminder)


async def test_status_summary(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid, ids = await setup(sessions, count=3, gaps=(6,))
    empty = await status_summary(sessions, cid, now=START - timedelta(days=1))
    assert empty.targets_by_state == {s.value: 0 for s in TargetState} | {"pending": 3}
    assert empty.sends_by_state == {s.value: 0 for s in SendState} | {"scheduled": 6}
    assert (empty.due_now, empty.uncertain, empty.last_pass_at) == (0, [], None)
    assert empty.next_due[:3] == [DueSend(START, 0, f"t{i}@example.org") for i in range(3)]
    assert len(empty.next_due) == 6
    claimed = await S.claim_due(sessions, campaign_id=cid, now=START, owner="host:9", lease_until=START,
                                domain=DOMAIN, limit=2)
    assert all(await S.record_outcomes(sessions, [S.OnTheWire(c.send_id, "host:9", START) for c in claimed]))
    await S.expire_leases(sessions, campaign_id=cid, wall_now=START + timedelta(seconds=1))
    await record_pass(sessions, cid, START)
    summary = await status_summary(sessions, cid, now=START)
    assert summary.sends_by_state["uncertain"] == 2 and summary.due_now == 1
    assert [dataclasses.astuple(u) for u in summary.uncertain] == [
        (c.send_id, 0, c.email, c.message_id, "host:9") for c in claimed]
    assert summary.last_pass_at == START and summary.next_due[0] == DueSend(START, 0, "t2@example.org")
    assert ids
