"""The row streams behind `probe report --format csv`, `probe replies` and `probe export`.

Unlike the report's GROUP BY queries (store/aggregates.py), these read one row per target, send or
message, so they stream: the database hands rows over `chunk_size` at a time and memory stays flat
on a million targets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from probe.core.model import MessageKind, SendState
from probe.store.aggregates import effective_answer
from probe.store.tables import InboundMessage, Send, Target


async def _chunks(session: AsyncSession, stmt: sa.Select[*tuple[Any, ...]],
                  chunk_size: int) -> AsyncIterator[list[dict[str, Any]]]:
    """`stmt`'s rows as plain dicts, `chunk_size` at a time, read with a server-side cursor."""
    result = await session.stream(stmt.execution_options(yield_per=chunk_size))
    async for partition in result.mappings().partitions(chunk_size):
        yield [dict(row) for row in partition]


def stream_targets(session: AsyncSession, campaign_id: int,
                   chunk_size: int = 5000) -> AsyncIterator[list[dict[str, Any]]]:
    """Every target with its outcome, in file order, `chunk_size` rows at a time (for CSV)."""
    first_sent = (sa.select(sa.func.min(Send.sent_at))
                  .where(Send.target_id == Target.id, Send.state == SendState.SENT)
                  .scalar_subquery())
    auto_n = (sa.select(sa.func.count())
              .where(InboundMessage.target_id == Target.id, InboundMessage.kind == MessageKind.AUTO_REPLY)
              .scalar_subquery())
    opted_out_at = (sa.select(sa.func.min(InboundMessage.received_at))
                    .where(InboundMessage.target_id == Target.id, InboundMessage.opt_out.is_(True))
                    .scalar_subquery())
    stmt = (
        sa.select(Target.email, Target.fields, Target.state, Target.answer, Target.answer_override,
                  effective_answer().label("effective"), Target.answered_at,
                  first_sent.label("first_sent_at"), auto_n.label("auto_replies"),
                  opted_out_at.label("opted_out_at"))
        .where(Target.campaign_id == campaign_id)
        .order_by(Target.line, Target.id)
    )
    return _chunks(session, stmt, chunk_size)


def stream_sends(session: AsyncSession, campaign_id: int,
                 chunk_size: int = 5000) -> AsyncIterator[list[dict[str, Any]]]:
    stmt = (
        sa.select(Target.email.label("target_email"), Send.wave, Send.state, Send.due_at, Send.sent_at, Send.message_id,
                  Send.smtp_reply, Send.attempts, Send.last_error)
        .join(Target, Target.id == Send.target_id)
        .where(Send.campaign_id == campaign_id)
        .order_by(Target.line, Target.id, Send.wave)
    )
    return _chunks(session, stmt, chunk_size)


def inbound_query(campaign_id: int, *, unmatched: bool = False, kind: str | None = None,
                  with_raw: bool = False) -> sa.Select[*tuple[Any, ...]]:
    columns: list[Any] = [
        InboundMessage.id, InboundMessage.received_at, InboundMessage.sender, InboundMessage.subject,
        Target.email.label("target_email"), InboundMessage.kind, InboundMessage.answer,
        InboundMessage.override_answer, InboundMessage.override_by, InboundMessage.override_at,
        InboundMessage.match_method, InboundMessage.raw_sha256, InboundMessage.message_id_header,
        InboundMessage.opt_out, InboundMessage.authenticity,
    ]
    if with_raw:
        columns.append(InboundMessage.raw)
    stmt = (sa.select(*columns).outerjoin(Target, Target.id == InboundMessage.target_id)
            .where(InboundMessage.campaign_id == campaign_id)
            .order_by(InboundMessage.received_at, InboundMessage.id))
    if unmatched:
        stmt = stmt.where(InboundMessage.target_id.is_(None))
    if kind is not None:
        stmt = stmt.where(InboundMessage.kind == MessageKind(kind))
    return stmt


def stream_inbound(session: AsyncSession, campaign_id: int, *, unmatched: bool = False,
                   kind: str | None = None, with_raw: bool = False,
                   chunk_size: int = 500) -> AsyncIterator[list[dict[str, Any]]]:
    return _chunks(session, inbound_query(campaign_id, unmatched=unmatched, kind=kind, with_raw=with_raw),
                   chunk_size)
