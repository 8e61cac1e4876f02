"""The queries behind `probe review`: the replies a person should check, and the one write, a
person's answer for a reply (an override). The figures that use overrides are in aggregates.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from probe.core.model import Answer, MessageKind
from probe.store.tables import InboundMessage, Target


def review_query(campaign_id: int, *, include_all: bool = False) -> sa.Select[*tuple[Any, ...]]:
    """Human replies a person should check: unclear ones and those whose new text probe is unsure of
    (an `unsure:` reason: no quote boundary found, or nothing left), not yet overridden (all human
    replies with `include_all`), oldest first."""
    stmt = (
        sa.select(InboundMessage.id, InboundMessage.received_at, InboundMessage.sender, InboundMessage.subject,
                  InboundMessage.new_text, InboundMessage.reasons, InboundMessage.answer,
                  InboundMessage.override_answer, InboundMessage.target_id, Target.email.label("target_email"))
        .outerjoin(Target, Target.id == InboundMessage.target_id)
        .where(InboundMessage.campaign_id == campaign_id, InboundMessage.kind == MessageKind.HUMAN_REPLY)
        .order_by(InboundMessage.received_at, InboundMessage.id)
    )
    if not include_all:
        unsure = sa.cast(InboundMessage.reasons, sa.Text).like('%"unsure:%')  # JSON list, as text on both engines
        # An unclear reply that a later yes/no of the same target replaced no longer decides anything
        # (lifecycle: the first clear answer decides); `review` lists the change itself apart.
        superseded = sa.and_(InboundMessage.answer == Answer.UNCLEAR,
                             Target.deciding_message_id.is_not(None),
                             Target.deciding_message_id != InboundMessage.id,
                             Target.answer.in_([Answer.YES, Answer.NO]))
        stmt = stmt.where(sa.or_(InboundMessage.answer == Answer.UNCLEAR, unsure),
                          InboundMessage.override_answer.is_(None), sa.not_(superseded))
    return stmt


async def review_rows(session: AsyncSession, campaign_id: int, *, include_all: bool = False,
                      limit: int | None = 200) -> list[dict[str, Any]]:
    stmt = review_query(campaign_id, include_all=include_all)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [dict(row) for row in (await session.execute(stmt)).mappings()]


async def apply_override(session: AsyncSession, campaign_id: int, message_id: int, answer: Answer | None,
                         *, by: str, at: datetime) -> dict[str, Any] | None:
    """Record a person's answer for one inbound message (None clears it). When that message is the
    one that decided its target, the target's answer_override follows, so every report uses it; the
    automatic answer is never touched. Returns what changed, or None if the message is not in the
    campaign. The caller commits."""
    row = (await session.execute(
        sa.select(InboundMessage.id, InboundMessage.answer, InboundMessage.target_id, Target.email,
                  Target.deciding_message_id)
        .outerjoin(Target, Target.id == InboundMessage.target_id)
        .where(InboundMessage.id == message_id, InboundMessage.campaign_id == campaign_id)
    )).one_or_none()
    if row is None:
        return None
    await session.execute(sa.update(InboundMessage).where(InboundMessage.id == message_id).values(
        override_answer=answer, override_by=None if answer is None else by,
        override_at=None if answer is None else at))
    deciding = row.target_id is not None and row.deciding_message_id == message_id
    if deciding:
        await session.execute(sa.update(Target).where(Target.id == row.target_id)
                              .values(answer_override=answer))
    return {"id": message_id, "target_email": row.email, "automatic": row.answer, "override": answer,
            "deciding": deciding}


