"""What `probe status` shows: counts by state, the next due sends, the uncertain sends.

Transactions: every function takes `db`, either an async_sessionmaker (it runs its own short
transaction and commits) or an AsyncSession (it joins the caller's transaction; the caller commits).
See probe.store.engine.Db.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from probe.core.model import SendState, TargetState
from probe.store.campaigns import CLAIMABLE_STATES as CLAIMABLE
from probe.store.engine import Db, transaction
from probe.store.tables import Campaign, Send, Target


@dataclass(frozen=True)
class DueSend:
    due_at: datetime
    wave: int
    email: str


@dataclass(frozen=True)
class UncertainSend:
    send_id: int
    wave: int
    email: str
    message_id: str | None
    owner: str | None          # the lease owner that claimed it (host:pid:...)


@dataclass(frozen=True)
class FailedSend:
    send_id: int
    wave: int
    email: str
    message_id: str | None
    error: str | None


@dataclass(frozen=True)
class StatusSummary:
    targets_by_state: dict[str, int]   # every TargetState value, 0 included
    sends_by_state: dict[str, int]     # every SendState value, 0 included
    due_now: int                       # scheduled or retry sends due at `now`
    next_due: list[DueSend]            # the first 10 waiting sends, soonest first
    uncertain: list[UncertainSend]
    last_pass_at: datetime | None
    failed: list[FailedSend] = field(default_factory=list)   # `probe resolve --resend` can send them again
    smtp_failing_since: datetime | None = None   # the account fails since then (None: healthy)
    smtp_failure: str | None = None


async def status_summary(db: Db, campaign_id: int, *, now: datetime, next_limit: int = 10) -> StatusSummary:
    async with transaction(db) as s:
        targets = {st.value: 0 for st in TargetState}
        for target_state, count in await s.execute(select(Target.state, func.count()).where(
                Target.campaign_id == campaign_id).group_by(Target.state)):
            targets[TargetState(target_state).value] = int(count)
        sends = {st.value: 0 for st in SendState}
        for send_state, count in await s.execute(select(Send.state, func.count()).where(
                Send.campaign_id == campaign_id).group_by(Send.state)):
            sends[SendState(send_state).value] = int(count)
        waiting = (Send.campaign_id == campaign_id) & Send.state.in_(CLAIMABLE)
        due_now = (await s.execute(select(func.count()).select_from(Send)
                                   .where(waiting, Send.due_at <= now))).scalar_one()
        next_due = [DueSend(r.due_at, r.wave, r.email) for r in await s.execute(
            select(Send.due_at, Send.wave, Target.email).join(Target, Target.id == Send.target_id)
            .where(waiting).order_by(Send.due_at, Send.wave, Send.id).limit(next_limit))]
        uncertain = [u for u, _ in await list_uncertain(s, campaign_id)]
        failed = [FailedSend(r.id, r.wave, r.email, r.message_id, r.last_error) for r in await s.execute(
            select(Send.id, Send.wave, Target.email, Send.message_id, Send.last_error)
            .join(Target, Target.id == Send.target_id)
            .where(Send.campaign_id == campaign_id, Send.state == SendState.FAILED)
            .order_by(Send.due_at, Send.id))]
        row = (await s.execute(select(Campaign.last_pass_at, Campaign.smtp_failing_since, Campaign.smtp_failure)
                               .where(Campaign.id == campaign_id))).one_or_none()
    return StatusSummary(targets_by_state=targets, sends_by_state=sends, due_now=int(due_now),
                         next_due=next_due, uncertain=uncertain, last_pass_at=row.last_pass_at if row else None,
                         failed=failed, smtp_failing_since=row.smtp_failing_since if row else None,
                         smtp_failure=row.smtp_failure if row else None)


async def list_uncertain(db: Db, campaign_id: int) -> list[tuple[UncertainSend, datetime]]:
    """The campaign's uncertain sends with their due times, earliest due first."""
    async with transaction(db) as s:
        return [(UncertainSend(r.id, r.wave, r.email, r.message_id, r.lease_owner), r.due_at)
                for r in await s.execute(
                    select(Send.id, Send.wave, Target.email, Send.message_id, Send.lease_owner, Send.due_at)
                    .join(Target, Target.id == Send.target_id)
                    .where(Send.campaign_id == campaign_id, Send.state == SendState.UNCERTAIN)
                    .order_by(Send.due_at, Send.wave, Send.id))]
