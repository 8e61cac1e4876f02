"""Dispatch side of the store on both engines: claims are exclusive, leases expire to `uncertain`,
outcomes are only recorded by the lease owner."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from probe.core import tokens
from probe.core.model import Answer, SendState, TargetState
from probe.store import sends as S
from probe.store.campaigns import launch_campaign
from probe.store.engine import make_engine, make_sessionmaker
from probe.store.inbox import mark_answered, mark_opted_out
from probe.store.tables import Send, Target
from tests.fixtures.db import planned_targets

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
LEASE = START + timedelta(minutes=5)
DOMAIN = "probe.example.org"


async def setup(sessions: async_sessionmaker[AsyncSession], count: int = 3, gaps: tuple[int, ...] = (6,)) -> int:
    result = await launch_campaign(sessions, name="c", timezone="UTC", plan_hash="h", close_after_s=3600,
                                   keep_bodies=True, targets=planned_targets(count, start=START, gaps_days=gaps),
                                   now=START)
    return result.campaign_id


async def claim(sessions: async_sessionmaker[AsyncSession], cid: int, *, owner: str = "host:1",
                now: datetime = START, limit: int = 10) -> list[S.ClaimedSend]:
    return await S.claim_due(sessions, campaign_id=cid, now=now, owner=owner, lease_until=LEASE, domain=DOMAIN,
                             limit=limit)


async def on_wire(sessions: async_sessionmaker[AsyncSession], claims: list[S.ClaimedSend], *,
                  owner: str = "host:1") -> None:
    """Hand the claims to SMTP (as dispatch does right before sending them)."""
    assert all(await S.record_outcomes(sessions, [S.OnTheWire(c.send_id, owner, START) for c in claims]))


async def send_states(sessions: async_sessionmaker[AsyncSession]) -> dict[tuple[str, int], SendState]:
    async with sessions() as s:
        rows = await s.execute(select(Target.email, Send.wave, Send.state).join(Target, Target.id == Send.target_id))
        return {(r.email, r.wave): r.state for r in rows}


async def target_state(sessions: async_sessionmaker[AsyncSession], target_id: int) -> TargetState:
    async with sessions() as s:
        return (await s.execute(select(Target.state).where(Target.id == target_id))).scalar_one()


async def test_claim_takes_due_sends_in_order_with_message_ids(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid = await setup(sessions)
    assert await claim(sessions, cid, now=START - timedelta(seconds=1)) == []
    got = await claim(sessions, cid, limit=2)
    assert [c.email for c in got] == ["t0@example.org", "t1@example.org"]
    first = got[0]
    assert (first.wave, first.attempts, first.due_at, first.previous_message_ids) == (0, 0, START, ())
    assert first.fields == {"email": "T0@example.org", "name": "Name 0"} and first.line == 2
    assert first.message_id == tokens.message_id(first.token, 0, DOMAIN)
    assert tokens.parse_message_id(first.message_id) == (first.token, 0)
    async with sessions() as s:
        row = (await s.execute(select(Send).where(Send.id == first.send_id))).scalar_one()
    assert (row.state, row.lease_owner, row.lease_expires_at, row.message_id) == (
        SendState.CLAIMED, "host:1", LEASE, first.message_id)
    rest = await claim(sessions, cid)
    assert [c.email for c in rest] == ["t2@example.org"]
    assert await claim(sessions, cid) == []


async def test_reminder_carries_earlier_message_ids(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid = await setup(sessions, count=1, gaps=(6, 12))
    (w0,) = await claim(sessions, cid)
    assert await S.record_sent(sessions, send_id=w0.send_id, owner="host:1", smtp_reply="250 ok", sent_at=START)
    (w1,) = await claim(sessions, cid, now=START + timedelta(days=6))
    assert w1.wave == 1 and w1.previous_message_ids == (w0.message_id,)
    await on_wire(sessions, [w1])
    assert await S.expire_leases(sessions, campaign_id=cid, wall_now=LEASE + timedelta(seconds=1)) == 1
    # Waves follow the target: while wave 1 is uncertain, wave 2 waits for a person to settle it.
    assert await claim(sessions, cid, now=START + timedelta(days=12)) == []
    await S.resolve_send(sessions, campaign_id=cid, send_id=w1.send_id, sent=True, note="seen", now=START)
    (w2,) = await claim(sessions, cid, now=START + timedelta(days=12))
    assert w2.previous_message_ids == (w0.message_id, w1.message_id)


async def _claim_all(sessions: async_sessionmaker[AsyncSession], cid: int, owner: str) -> list[int]:
    mine: list[int] = []
    while batch := await claim(sessions, cid, owner=owner, limit=3):
        mine.extend(c.send_id for c in batch)
        await asyncio.sleep(0)
    return mine


async def test_concurrent_claims_never_share_a_send(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid = await setup(sessions, count=60, gaps=())
    results = await asyncio.gather(*(_claim_all(sessions, cid, f"worker:{i}") for i in range(6)))
    claimed = Counter(sid for ids in results for sid in ids)
    assert len(claimed) == 60 and set(claimed.values()) == {1}
    async with sessions() as s:
        owners = dict((await s.execute(select(Send.id, Send.lease_owner))).all())
    for i, ids in enumerate(results):
        assert {owners[sid] for sid in ids} <= {f"worker:{i}"}


async def test_two_engines_claim_disjoint_sends(db_url: str, sessions: async_sessionmaker[AsyncSession]) -> None:
    cid = await setup(sessions, count=60, gaps=())
    other = make_engine(db_url)
    try:
        results = await asyncio.gather(_claim_all(sessions, cid, "a"), _claim_all(sessions, cid, "b"),
                                       _claim_all(make_sessionmaker(other), cid, "c"),
                                       _claim_all(make_sessionmaker(other), cid, "d"))
    finally:
        await other.dispose()
    claimed = Counter(sid for ids in results for sid in ids)
    assert len(claimed) == 60 and set(claimed.values()) == {1}


async def test_waiting_and_suppressed_targets_only(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid = await setup(sessions, count=3, gaps=())
    async with sessions() as s:
        ids = dict((await s.execute(select(Target.email, Target.id))).all())
    async with sessions.begin() as s:   # answered behind the store's back: sends still scheduled
        await s.execute(update(Target).where(Target.id == ids["t0@example.org"])
                        .values(state=TargetState.ANSWERED))
    other = await launch_campaign(sessions, name="other", timezone="UTC", plan_hash="h", close_after_s=1,
                                  keep_bodies=True, targets=planned_targets(3, start=START, gaps_days=()),
                                  now=START)
    async with sessions() as s:
        t1_other = (await s.execute(select(Target.id).where(Target.campaign_id == other.campaign_id,
                                                            Target.email == "t1@example.org"))).scalar_one()
    await mark_opted_out(sessions, target_id=t1_other, email="t1@example.org", campaign_id=other.campaign_id,
                         now=START)
    got = await claim(sessions, cid)
    assert [c.email for c in got] == ["t2@example.org"]
    assert await target_state(sessions, ids["t1@example.org"]) == TargetState.OPTED_OUT


async def test_outcomes_need_the_lease_owner(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid = await setup(sessions, count=1, gaps=())
    (c,) = await claim(sessions, cid)
    assert not await S.record_sent(sessions, send_id=c.send_id, owner="intruder", smtp_reply="250", sent_at=START)
    assert not await S.record_retry(sessions, send_id=c.send_id, owner="intruder", error="x", next_due_at=START)
    assert not await S.record_failed(sessions, send_id=c.send_id, owner="intruder", error="x", smtp_reply=None,
                                     bounce_target=True, now=START)
    assert not await S.cancel_claimed(sessions, send_id=c.send_id, owner="intruder", reason="x")
    assert await target_state(sessions, c.target_id) == TargetState.PENDING
    reply = "250 2.0.0 Ok: queued as 4F2A1"
    assert await S.record_sent(sessions, send_id=c.send_id, owner="host:1", smtp_reply=reply, sent_at=START)
    assert not await S.record_sent(sessions, send_id=c.send_id, owner="host:1", smtp_reply=reply, sent_at=START)
    async with sessions() as s:
        row = (await s.execute(select(Send).where(Send.id == c.send_id))).scalar_one()
    assert (row.state, row.smtp_reply, row.sent_at, row.attempts) == (SendState.SENT, reply, START, 1)
    assert await target_state(sessions, c.target_id) == TargetState.CONTACTED


async def test_retry_comes_back_when_due(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid = await setup(sessions, count=1, gaps=())
    (c,) = await claim(sessions, cid)
    later = START + timedelta(minutes=10)
    assert await S.record_retry(sessions, send_id=c.send_id, owner="host:1", error="421 busy", next_due_at=later)
    assert await claim(sessions, cid, now=later - timedelta(seconds=1)) == []
    (again,) = await claim(sessions, cid, now=later, owner="host:2")
    assert (again.send_id, again.attempts, again.due_at, again.message_id) == (c.send_id, 1, later, c.message_id)


async def test_bounce_fails_the_send_and_cancels_the_rest(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid = await setup(sessions, count=2, gaps=(6, 12))
    first, second = await claim(sessions, cid)
    assert await S.record_failed(sessions, send_id=first.send_id, owner="host:1", error="550 5.1.1 unknown user",
                                 smtp_reply="550 5.1.1 unknown user", bounce_target=True, now=START)
    assert await S.record_failed(sessions, send_id=second.send_id, owner="host:1", error="552 too big",
                                 smtp_reply=None, bounce_target=False, now=START)
    states = await send_states(sessions)
    assert [states[("t0@example.org", w)] for w in range(3)] == [SendState.FAILED, SendState.CANCELLED,
                                                               SendState.CANCELLED]
    # A refused initial message (552) is not about the address: the target is undelivered, no reminder.
    assert [states[("t1@example.org", w)] for w in range(3)] == [SendState.FAILED, SendState.CANCELLED,
                                                               SendState.CANCELLED]
    assert await target_state(sessions, first.target_id) == TargetState.BOUNCED
    assert await target_state(sessions, second.target_id) == TargetState.UNDELIVERED


async def test_expired_lease_is_uncertain_and_never_claimed_again(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    cid = await setup(sessions, count=3, gaps=())
    a, b, c = await claim(sessions, cid)
    assert await S.cancel_claimed(sessions, send_id=c.send_id, owner="host:1", reason="answered meanwhile")
    await on_wire(sessions, [a, b])
    assert await S.claimed_owners(sessions, cid) == ["host:1"]
    assert await S.expire_leases(sessions, campaign_id=cid, wall_now=LEASE) == 0    # not yet expired
    assert await S.expire_leases(sessions, campaign_id=cid, wall_now=LEASE + timedelta(seconds=1)) == 2
    assert await S.claimed_owners(sessions, cid) == []
    assert await claim(sessions, cid, now=START + timedelta(days=30)) == []
    assert not await S.record_sent(sessions, send_id=a.send_id, owner="host:1", smtp_reply="250", sent_at=START)
    states = await send_states(sessions)
    assert [states[(f"t{i}@example.org", 0)] for i in range(3)] == [SendState.UNCERTAIN, SendState.UNCERTAIN,
                                                                  SendState.CANCELLED]
    assert await S.resolve_uncertain(sessions, send_id=a.send_id, sent=True, note="seen in Sent folder")
    assert await target_state(sessions, a.target_id) == TargetState.CONTACTED
    assert await S.resolve_uncertain(sessions, send_id=b.send_id, sent=False, note="resend")
    assert not await S.resolve_uncertain(sessions, send_id=b.send_id, sent=False, note="twice")
    (again,) = await claim(sessions, cid)
    assert again.send_id == b.send_id and again.message_id == b.message_id


async def test_dead_owner_leases_expire_at_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid = await setup(sessions, count=2, gaps=())
    await on_wire(sessions, await claim(sessions, cid, owner="host:111", limit=1), owner="host:111")
    await on_wire(sessions, await claim(sessions, cid, owner="host:222", limit=1), owner="host:222")
    assert await S.claimed_owners(sessions, cid) == ["host:111", "host:222"]
    assert await S.expire_leases(sessions, campaign_id=cid, wall_now=START, dead_owners={"host:111"}) == 1
    assert await S.claimed_owners(sessions, cid) == ["host:222"]


async def test_a_claim_never_on_the_wire_goes_back_to_the_queue(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Issue 12: only what was handed to SMTP can be uncertain. A dead pass's claims that never got
    their on-the-wire mark return to the queue at no cost and are sent by the next pass."""
    cid = await setup(sessions, count=3, gaps=())
    a, b, c = await claim(sessions, cid, owner="host:111")
    await on_wire(sessions, [a], owner="host:111")
    assert await S.expire_leases(sessions, campaign_id=cid, wall_now=START, dead_owners={"host:111"}) == 1
    states = await send_states(sessions)
    assert [states[(f"t{i}@example.org", 0)] for i in range(3)] == [SendState.UNCERTAIN, SendState.SCHEDULED,
                                                                  SendState.SCHEDULED]
    again = await claim(sessions, cid, owner="host:2")
    assert sorted((x.send_id, x.message_id, x.attempts) for x in again) == sorted(
        (x.send_id, x.message_id, 0) for x in (b, c))
    # The dead pass's late mark (or outcome) is refused: the claims are no longer its own.
    assert not any(await S.record_outcomes(sessions, [S.OnTheWire(b.send_id, "host:111", START)]))


async def test_the_wire_mark_refuses_a_target_that_stopped_waiting(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    from probe.store.inbox import mark_bounced

    cid = await setup(sessions, count=1, gaps=())
    (a,) = await claim(sessions, cid)
    assert await mark_bounced(sessions, target_id=a.target_id, now=START)
    assert await S.record_outcomes(sessions, [S.OnTheWire(a.send_id, "host:1", START)]) == [False]
    assert (await send_states(sessions))[("t0@example.org", 0)] == SendState.CANCELLED


async def test_cancel_and_defer_waiting_sends(sessions: async_sessionmaker[AsyncSession]) -> None:
    await setup(sessions, count=2, gaps=(6, 12))
    async with sessions() as s:
        ids = dict((await s.execute(select(Target.email, Target.id))).all())
    back = START + timedelta(days=8)
    assert await S.defer_sends(sessions, target_id=ids["t0@example.org"], until=back) == 2
    assert await S.cancel_waiting_sends(sessions, target_id=ids["t1@example.org"], reason="manual") == 3
    async with sessions() as s:
        dues = dict((await s.execute(select(Send.wave, Send.due_at)
                                     .where(Send.target_id == ids["t0@example.org"]))).all())
    assert dues == {0: back, 1: back, 2: START + timedelta(days=12)}
    assert {st for (e, _), st in (await send_states(sessions)).items() if e == "t1@example.org"} == {
        SendState.CANCELLED}


async def test_answer_between_claim_and_send(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid = await setup(sessions, count=1, gaps=(6,))
    (c,) = await claim(sessions, cid)
    assert await mark_answered(sessions, target_id=c.target_id, answer=Answer.YES, message_row_id=None,
                               received_at=START, now=START)
    states = await send_states(sessions)
    assert states[("t0@example.org", 0)] == SendState.CLAIMED       # in flight: the pass re-checks and cancels
    assert states[("t0@example.org", 1)] == SendState.CANCELLED
    assert await S.cancel_claimed(sessions, send_id=c.send_id, owner="host:1", reason="target answered")


async def test_claim_never_takes_more_than_its_limit(sessions: async_sessionmaker[AsyncSession]) -> None:
    # PostgreSQL may re-run a LIMIT sub-select inside UPDATE … IN (…): the window of doubt must stay
    # the number of sends in flight, so a claim of one is exactly one.
    cid = await setup(sessions, count=5)
    for claimed_so_far in (1, 2):
        assert len(await claim(sessions, cid, limit=1)) == 1
        states = await send_states(sessions)
        assert sum(1 for s in states.values() if s is SendState.CLAIMED) == claimed_so_far


async def test_a_group_of_accepted_outcomes_writes_what_one_by_one_writes(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    """record_outcomes applies accepted sends set-wise: the rows must be those of the one-by-one path,
    and a send whose lease is no longer ours is left alone in the group."""
    cid = await setup(sessions, count=5, gaps=(6, 12))
    claims = await claim(sessions, cid)
    assert len(claims) == 5
    await on_wire(sessions, claims)
    taken = claims[3]
    async with sessions.begin() as s:
        await s.execute(update(Send).where(Send.id == taken.send_id).values(lease_owner="host:2"))
    sent_at = START + timedelta(minutes=1)

    def replan(initial: datetime, wave: int, at: datetime) -> dict[int, datetime]:
        return {1: initial + timedelta(days=1, minutes=wave), 2: at + timedelta(days=2)}

    def accepted(c: S.ClaimedSend) -> S.Outcome:
        return S.Outcome(c.send_id, "host:1", S.SendEvent.ACCEPTED, 0, sent_at, smtp_reply=f"250 ok {c.line}",
                         replan=replan)

    alone, *group = claims
    assert await S.record_outcomes(sessions, [accepted(alone)]) == [True]
    assert await S.record_outcomes(sessions, [accepted(c) for c in group]) == [True, True, False, True]

    async with sessions() as s:
        rows = {(r.target_id, r.wave): r for r in (await s.execute(
            select(Send.target_id, Send.wave, Send.state, Send.attempts, Send.sent_at, Send.smtp_reply,
                   Send.lease_expires_at, Send.last_error, Send.due_at))).all()}
        targets = {r.id: r for r in (await s.execute(select(Target.id, Target.state, Target.state_changed_at))).all()}

    def written(c: S.ClaimedSend) -> tuple[object, ...]:
        w0, w1, w2 = (rows[c.target_id, w] for w in range(3))
        t = targets[c.target_id]
        return (w0.state, w0.attempts, w0.sent_at, w0.smtp_reply == f"250 ok {c.line}", w0.lease_expires_at,
                w0.last_error, w1.state, w1.due_at, w2.due_at, t.state, t.state_changed_at)

    expected = (SendState.SENT, 1, sent_at, True, None, None, SendState.SCHEDULED,
                sent_at + timedelta(days=1), sent_at + timedelta(days=2), TargetState.CONTACTED, sent_at)
    assert written(alone) == expected
    assert [written(c) for c in group if c is not taken] == [expected] * 3
    assert rows[taken.target_id, 0].state == SendState.CLAIMED
    assert targets[taken.target_id].state == TargetState.PENDING


async def test_more_accepted_outcomes_than_one_statement_takes(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid = await setup(sessions, count=S.SENT_CHUNK + 6, gaps=())
    claims = await claim(sessions, cid, limit=S.SENT_CHUNK + 6)
    assert len(claims) == S.SENT_CHUNK + 6
    await on_wire(sessions, claims)
    assert all(await S.record_outcomes(sessions, [
        S.Outcome(c.send_id, "host:1", S.SendEvent.ACCEPTED, 0, START, smtp_reply=f"250 {c.send_id}") for c in claims]))
    async with sessions() as s:
        rows = (await s.execute(select(Send.id, Send.state, Send.smtp_reply))).all()
    assert {(r.state, r.smtp_reply) for r in rows} == {(SendState.SENT, f"250 {r.id}") for r in rows}
    assert {await target_state(sessions, c.target_id) for c in claims} == {TargetState.CONTACTED}


async def test_a_mark_and_its_outcome_in_one_group_commit(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Dispatch waits for the on-the-wire mark only before DATA, so a refusal at RCPT can reach the
    recorder in the same group as its mark: the mark is applied, then the outcome."""
    cid = await setup(sessions, count=3)
    a, b, c = await claim(sessions, cid, limit=3)
    group: list[S.Outcome | S.OnTheWire] = [
        S.OnTheWire(a.send_id, "host:1", START), S.OnTheWire(b.send_id, "host:1", START),
        S.Outcome(a.send_id, "host:1", S.SendEvent.TEMPORARY, 0, START, error="451 greylisted",
                  next_due_at=START + timedelta(minutes=5)),
        S.Outcome(b.send_id, "host:1", S.SendEvent.RECIPIENT_REFUSED, 0, START, error="550 no such user",
                  smtp_reply="550 no such user"),
        S.OnTheWire(c.send_id, "host:1", START),
    ]
    assert await S.record_outcomes(sessions, group) == [True] * 5
    states = await send_states(sessions)
    assert states[(a.email, 0)] == SendState.RETRY and states[(b.email, 0)] == SendState.FAILED
    assert states[(c.email, 0)] == SendState.CLAIMED
