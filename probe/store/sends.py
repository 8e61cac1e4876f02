"""Dispatch side of the store: claim due sends under a lease, record what SMTP said.

Transactions: every function takes `db`, either an async_sessionmaker (it runs its own short
transaction and commits) or an AsyncSession (it joins the caller's transaction; the caller commits).
See probe.store.engine.Db. Never hold a transaction across SMTP I/O: claim (commit), send, record.

Claiming is one UPDATE … WHERE id IN (SELECT … ORDER BY … LIMIT n [FOR UPDATE OF send SKIP LOCKED])
AND state IN (scheduled, retry) RETURNING id. On PostgreSQL the row locks make concurrent passes
take disjoint sends; on SQLite FOR UPDATE is not rendered and BEGIN IMMEDIATE (engine.py) makes the
whole statement run with the write lock held, so passes are serialised. Every record_* call only
acts while the send is still claimed by the caller's owner string, so a pass whose lease was expired
by another pass cannot overwrite the `uncertain` verdict.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm import aliased

from probe.core import tokens
from probe.core.model import WAITING_STATES, SendState, TargetState
from probe.store.engine import Db, transaction
from probe.store.tables import Send, Suppression, Target

CLAIMABLE = (SendState.SCHEDULED, SendState.RETRY)
WAITING = tuple(sorted(WAITING_STATES))
#: Target states in which a bounce or an answer may still change the target (first verdict wins).
OPEN_STATES = (*WAITING, TargetState.CLOSED)


@dataclass(frozen=True)
class ClaimedSend:
    send_id: int
    target_id: int
    campaign_id: int
    wave: int
    attempts: int                             # attempts made before this one
    address: str
    email: str
    line: int
    fields: dict[str, str]
    token: str
    message_id: str                           # with <>
    due_at: datetime
    previous_message_ids: tuple[str, ...]     # earlier waves sent or uncertain, in wave order


def _pick(campaign_id: int, state: SendState, now: datetime, limit: int) -> Any:
    due = aliased(Send)
    return (select(due.id).join(Target, Target.id == due.target_id)
            .where(due.campaign_id == campaign_id, due.state == state, due.due_at <= now,
                   Target.state.in_(WAITING),
                   ~exists().where(Suppression.email == Target.email))
            .order_by(due.due_at, due.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=due))


async def claim_due(db: Db, *, campaign_id: int, now: datetime, owner: str, lease_until: datetime,
                    domain: str, limit: int = 1) -> list[ClaimedSend]:
    """Lease up to `limit` due sends of waiting, unsuppressed targets to `owner`, oldest due first."""
    async with transaction(db) as s:
        ids: list[int] = []
        # One state at a time, ordered by (due_at, id): the index (campaign_id, state, due_at) then
        # yields the rows in order and the LIMIT stops the scan, instead of sorting every due row
        # (0.2 s a claim with 100,000 sends due, measured).
        # Select (rows locked, SKIP LOCKED on PostgreSQL), then update by id: inside one UPDATE … IN
        # (SELECT … LIMIT n FOR UPDATE SKIP LOCKED) PostgreSQL may run the sub-select more than once
        # and claim more than n rows (seen: 5 rows for LIMIT 1).
        for state in CLAIMABLE:
            if len(ids) >= limit:
                break
            picked = list((await s.execute(_pick(campaign_id, state, now, limit - len(ids)))).scalars())
            if not picked:
                continue
            claim = (update(Send).where(Send.id.in_(picked), Send.state == state)
                     .values(state=SendState.CLAIMED, lease_owner=owner, lease_expires_at=lease_until)
                     .returning(Send.id)
                     .execution_options(synchronize_session=False))
            ids += list((await s.execute(claim)).scalars())
        if not ids:
            return []
        rows = list(await s.execute(
            select(Send.id, Send.target_id, Send.wave, Send.attempts, Send.due_at, Target.address,
                   Target.email, Target.line, Target.fields, Target.token)
            .join(Target, Target.id == Send.target_id).where(Send.id.in_(ids))
            .order_by(Send.due_at, Send.wave, Send.id)))
        ids_by_send = {r.id: tokens.message_id(r.token, r.wave, domain) for r in rows}
        await s.execute(update(Send), [{"id": sid, "message_id": mid} for sid, mid in ids_by_send.items()])
        earlier: dict[int, list[tuple[int, str]]] = {}
        for tid, wave, mid in await s.execute(
                select(Send.target_id, Send.wave, Send.message_id)
                .where(Send.target_id.in_({r.target_id for r in rows}),
                       Send.state.in_((SendState.SENT, SendState.UNCERTAIN)), Send.message_id.is_not(None))
                .order_by(Send.target_id, Send.wave)):
            earlier.setdefault(tid, []).append((wave, str(mid)))
    return [ClaimedSend(send_id=r.id, target_id=r.target_id, campaign_id=campaign_id, wave=r.wave,
                        attempts=r.attempts, address=r.address, email=r.email, line=r.line,
                        fields=dict(r.fields), token=r.token, message_id=ids_by_send[r.id], due_at=r.due_at,
                        previous_message_ids=tuple(m for w, m in earlier.get(r.target_id, ()) if w < r.wave))
            for r in rows]


def _mine(send_id: int, owner: str) -> Any:
    return update(Send).where(Send.id == send_id, Send.state == SendState.CLAIMED, Send.lease_owner == owner)


async def _cancel_waiting(s: Any, target_id: int, reason: str) -> int:
    result = await s.execute(update(Send).where(Send.target_id == target_id, Send.state.in_(CLAIMABLE))
                             .values(state=SendState.CANCELLED, last_error=reason).returning(Send.id)
                             .execution_options(synchronize_session=False))
    return len(result.all())


async def record_sent(db: Db, *, send_id: int, owner: str, smtp_reply: str, sent_at: datetime) -> bool:
    """The server accepted the message. False (nothing written) when the lease is no longer ours."""
    async with transaction(db) as s:
        target_id = (await s.execute(
            _mine(send_id, owner).values(state=SendState.SENT, smtp_reply=smtp_reply, sent_at=sent_at,
                                         attempts=Send.attempts + 1, lease_expires_at=None, last_error=None)
            .returning(Send.target_id))).scalar_one_or_none()
        if target_id is None:
            return False
        await s.execute(update(Target).where(Target.id == target_id, Target.state == TargetState.PENDING)
                        .values(state=TargetState.CONTACTED, state_changed_at=sent_at))
    return True


async def record_retry(db: Db, *, send_id: int, owner: str, error: str, next_due_at: datetime) -> bool:
    """A temporary failure: due again at `next_due_at`, attempts+1."""
    async with transaction(db) as s:
        result = await s.execute(
            _mine(send_id, owner).values(state=SendState.RETRY, last_error=error, due_at=next_due_at,
                                         attempts=Send.attempts + 1, lease_expires_at=None)
            .returning(Send.id))
        return result.scalar_one_or_none() is not None


async def record_failed(db: Db, *, send_id: int, owner: str, error: str, smtp_reply: str | None,
                        bounce_target: bool, now: datetime) -> bool:
    """A permanent failure. bounce_target: the address is bad, so the target is bounced and its other
    waiting sends are cancelled (unless a reply already decided the target)."""
    async with transaction(db) as s:
        target_id = (await s.execute(
            _mine(send_id, owner).values(state=SendState.FAILED, last_error=error, smtp_reply=smtp_reply,
                                         attempts=Send.attempts + 1, lease_expires_at=None)
            .returning(Send.target_id))).scalar_one_or_none()
        if target_id is None:
            return False
        if bounce_target:
            changed = await s.execute(
                update(Target).where(Target.id == target_id, Target.state.in_(OPEN_STATES))
                .values(state=TargetState.BOUNCED, state_changed_at=now).returning(Target.id))
            if changed.scalar_one_or_none() is not None:
                await _cancel_waiting(s, target_id, f"target bounced: {error}")
    return True


async def cancel_claimed(db: Db, *, send_id: int, owner: str, reason: str) -> bool:
    """The target stopped waiting between the claim and the send: nothing goes out."""
    async with transaction(db) as s:
        result = await s.execute(_mine(send_id, owner).values(state=SendState.CANCELLED, last_error=reason,
                                                              lease_expires_at=None).returning(Send.id))
        return result.scalar_one_or_none() is not None


async def expire_leases(db: Db, *, campaign_id: int, wall_now: datetime, dead_owners: Collection[str] = ()) -> int:
    """Claimed sends whose lease ran out (or whose owner process is gone) become `uncertain`: they may
    have been handed to SMTP, so they are never put back to `scheduled` here."""
    stale = Send.lease_expires_at < wall_now
    if dead_owners:
        stale = stale | Send.lease_owner.in_(list(dead_owners))
    async with transaction(db) as s:
        result = await s.execute(
            update(Send).where(Send.campaign_id == campaign_id, Send.state == SendState.CLAIMED, stale)
            .values(state=SendState.UNCERTAIN, last_error="lease expired with no recorded outcome")
            .returning(Send.id).execution_options(synchronize_session=False))
        return len(result.all())


async def claimed_owners(db: Db, campaign_id: int) -> list[str]:
    async with transaction(db) as s:
        result = await s.execute(select(Send.lease_owner).distinct()
                                 .where(Send.campaign_id == campaign_id, Send.state == SendState.CLAIMED,
                                        Send.lease_owner.is_not(None)).order_by(Send.lease_owner))
        return [owner for owner in result.scalars() if owner is not None]


async def cancel_waiting_sends(db: Db, *, target_id: int, reason: str) -> int:
    async with transaction(db) as s:
        return await _cancel_waiting(s, target_id, reason)


async def defer_sends(db: Db, *, target_id: int, until: datetime) -> int:
    """Waiting sends of the target due before `until` move to `until` (out-of-office return)."""
    async with transaction(db) as s:
        result = await s.execute(update(Send).where(Send.target_id == target_id, Send.state.in_(CLAIMABLE),
                                                    Send.due_at < until)
                                 .values(due_at=until).returning(Send.id)
                                 .execution_options(synchronize_session=False))
        return len(result.all())


async def resolve_uncertain(db: Db, *, send_id: int, sent: bool, note: str,
                            sent_at: datetime | None = None) -> bool:
    """A person decided an uncertain send: it was sent (kept as sent, `sent_at` defaulting to its due
    time) or it must go again (scheduled, same Message-ID, picked up by the next pass)."""
    async with transaction(db) as s:
        base = update(Send).where(Send.id == send_id, Send.state == SendState.UNCERTAIN)
        if not sent:
            result = await s.execute(base.values(state=SendState.SCHEDULED, resolved_note=note, lease_owner=None,
                                                 lease_expires_at=None).returning(Send.id))
            return result.scalar_one_or_none() is not None
        row = (await s.execute(base.values(state=SendState.SENT, resolved_note=note,
                                           sent_at=sent_at if sent_at is not None else Send.due_at)
                               .returning(Send.target_id, Send.sent_at))).one_or_none()
        if row is None:
            return False
        await s.execute(update(Target).where(Target.id == row.target_id, Target.state == TargetState.PENDING)
                        .values(state=TargetState.CONTACTED, state_changed_at=row.sent_at))
    return True


async def record_uncertain(db: Db, *, send_id: int, owner: str, error: str) -> bool:
    """The connection died during DATA: the server may have queued it. Never resent without a person."""
    async with transaction(db) as s:
        result = await s.execute(_mine(send_id, owner).values(state=SendState.UNCERTAIN, last_error=error,
                                                              attempts=Send.attempts + 1, lease_expires_at=None)
                                 .returning(Send.id))
        return result.scalar_one_or_none() is not None
