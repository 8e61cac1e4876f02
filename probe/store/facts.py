"""Each target's outcome facts, kept on its row so that every figure of the report is one GROUP BY of
targets (issue 15: a report on 1,000,000 targets at database speed).

The facts are what the figures used to join in from the sends and the inbound messages at report
time: when the target was first sent to (and when its initial email went), which waves were sent,
its first opt-out reply and first bounce here, how many automatic replies it sent and whether one
said the person is gone, a reviewer's "not eligible", and, when it answered (or replied to opt
out), the wave that answer is credited to and the last send before it.

They are never set piecemeal: `refresh` recomputes all of them for some targets from the rows they
summarise, in the transaction of the event that changed those rows (a send recorded as sent, a
message stored, an answer, a resolve, a reviewer's ruling). The target's state, answer and
override stay where they were, on the same row. Anything that writes sends or messages by other
means (a test seeding tables, a repair by hand) must call `refresh` (or `refresh_campaign`) too;
`verify` says, figure by figure, whether the facts still agree with the events.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from probe.core.model import MessageKind, SendState
from probe.store.aggregates import seconds_between
from probe.store.tables import InboundMessage, Send, Target, TargetEligibility

#: The reason the classifier gives an automatic reply saying the person is no longer there (AAPOR NE).
NO_LONGER_REASON = "no-longer-with-company"
#: Targets refreshed per statement (bound parameters stay well under every engine's limit).
CHUNK = 500


def message_counts(kind: MessageKind, opt_out: bool) -> bool:
    """Does storing such a message change its target's facts? An opt-out, an automatic reply or a
    bounce does; a person's reply changes them when it answers (mark_answered refreshes then)."""
    return opt_out or kind in (MessageKind.AUTO_REPLY, MessageKind.BOUNCE)


def _values() -> dict[str, ColumnElement[Any]]:
    """Each fact as an expression over the target's sends and messages, correlated to the UPDATE's
    target row (explicitly: a subquery nested in another one would otherwise bring its own `target`)."""
    def one(select: sa.Select[Any]) -> ColumnElement[Any]:
        return select.correlate(Target).scalar_subquery()

    def some(*where: ColumnElement[bool]) -> ColumnElement[bool]:
        return sa.exists().where(*where).correlate(Target)

    sent = sa.and_(Send.target_id == Target.id, Send.state == SendState.SENT)
    here = sa.and_(InboundMessage.campaign_id == Target.campaign_id, InboundMessage.target_id == Target.id)
    opt = sa.and_(here, InboundMessage.opt_out.is_(True))
    opted_out_at = one(sa.select(sa.func.min(InboundMessage.received_at)).where(opt))
    # The answer's time: the deciding reply, else (an opt-out reply leaves answered_at empty) the opt-out.
    when = sa.func.coalesce(Target.answered_at, opted_out_at)
    before = sa.and_(sent, Send.sent_at.is_not(None), Send.sent_at <= when)
    auto = sa.and_(here, InboundMessage.kind == MessageKind.AUTO_REPLY)
    return {
        "first_sent_at": one(sa.select(sa.func.min(Send.sent_at)).where(sent)),
        "initial_sent_at": one(sa.select(Send.sent_at).where(sent, Send.wave == 0)),
        "sent_waves": one(sa.select(sa.func.coalesce(sa.func.sum(sa.literal(1).op("<<")(Send.wave)), 0))
                          .where(sent)),
        "opted_out_at": opted_out_at,
        "opt_out_reply": some(opt),
        "bounced_at": one(sa.select(sa.func.min(InboundMessage.received_at))
                          .where(here, InboundMessage.kind == MessageKind.BOUNCE)),
        "auto_replies": one(sa.select(sa.func.count()).where(auto)),
        "no_longer_there": some(auto, sa.cast(InboundMessage.reasons, sa.String).like(f"%{NO_LONGER_REASON}%")),
        "not_eligible": some(TargetEligibility.target_id == Target.id, TargetEligibility.eligible.is_(False)),
        # The last wave sent at or before the answer (0 when none was); null: no answer time.
        "answer_wave": sa.case((when.is_not(None),
                                sa.func.coalesce(one(sa.select(sa.func.max(Send.wave)).where(before)), 0))),
        "last_sent_at": one(sa.select(sa.func.max(Send.sent_at)).where(before)),
    }


def _derived(dialect: str) -> dict[str, ColumnElement[Any]]:
    """Facts computed from the facts above on the same row (a second UPDATE: SET sees the old values).

    The durations are the report's expressions evaluated once here, on the same stored values, so a
    quantile or a Kaplan–Meier time read from them is the number the report would compute."""
    when = sa.func.coalesce(Target.answered_at, Target.opted_out_at)
    # Kaplan–Meier's event time: whole seconds from the initial email, rounded up, less a millisecond
    # (SQLite's julianday() arithmetic is exact only to ~10 µs); see store.research.event_times.
    raw = seconds_between(dialect, when, Target.initial_sent_at) - 0.001
    return {
        "to_answer_s": seconds_between(dialect, when, Target.first_sent_at),
        "since_last_s": seconds_between(dialect, when, Target.last_sent_at),
        "answer_t": sa.case((raw <= 0, 0), else_=ceil_seconds(dialect, raw)),
        "authenticated": sa.exists().where(InboundMessage.id == Target.deciding_message_id,
                                           domain_passed(dialect)).correlate(Target),
    }


def ceil_seconds(dialect: str, x: ColumnElement[float]) -> ColumnElement[int]:
    if dialect == "sqlite":
        # No ceil() in older SQLite; CAST truncates, which is floor for the x > 0 it is given here.
        whole = sa.cast(x, sa.Integer)
        return whole + sa.case((x > whole, 1), else_=0)
    return sa.cast(sa.func.ceil(x), sa.Integer)


def domain_passed(dialect: str) -> ColumnElement[bool]:
    """The message's authenticity says its sender's domain passed DMARC or an aligned DKIM check:
    `authenticity["domain_passed"]` is JSON true (what aggregates.authenticated_answers tests in Python)."""
    if dialect == "sqlite":
        return sa.func.json_type(InboundMessage.authenticity, "$.domain_passed") == "true"
    value = InboundMessage.authenticity.op("->")("domain_passed")
    return sa.and_(sa.func.json_typeof(value) == "boolean",
                   InboundMessage.authenticity.op("->>")("domain_passed") == "true")


async def refresh(s: AsyncSession, target_ids: Iterable[int | None]) -> None:
    """Recompute the facts of these targets (None ignored) inside the caller's transaction."""
    ids = sorted({t for t in target_ids if t is not None})
    dialect = s.get_bind().dialect.name
    for start in range(0, len(ids), CHUNK):
        chunk = Target.id.in_(ids[start:start + CHUNK])
        for values in (_values(), _derived(dialect)):
            await s.execute(sa.update(Target).where(chunk).values(**values)
                            .execution_options(synchronize_session=False))


@cache   # SQL expressions are immutable: built once per process, not per group commit
def _sent_values() -> dict[str, ColumnElement[Any]]:
    """The facts that follow the target's sent emails (the messages' facts stand, stored on the row)."""
    values = _values()
    sent = sa.and_(Send.target_id == Target.id, Send.state == SendState.SENT)
    when = sa.func.coalesce(Target.answered_at, Target.opted_out_at)
    before = sa.and_(sent, Send.sent_at.is_not(None), Send.sent_at <= when)
    values.update({
        "answer_wave": sa.case((when.is_not(None), sa.func.coalesce(
            sa.select(sa.func.max(Send.wave)).where(before).correlate(Target).scalar_subquery(), 0))),
        "last_sent_at": sa.select(sa.func.max(Send.sent_at)).where(before).correlate(Target).scalar_subquery(),
    })
    return {k: values[k] for k in SENT_FACTS}


#: What an email accepted by the server can change on its target's row.
SENT_FACTS = ("first_sent_at", "initial_sent_at", "sent_waves", "answer_wave", "last_sent_at")


@cache
def _sent_derived(dialect: str) -> tuple[ColumnElement[bool], dict[str, ColumnElement[Any]]]:
    timed = sa.func.coalesce(Target.answered_at, Target.opted_out_at).is_not(None)
    return timed, {k: v for k, v in _derived(dialect).items() if k != "authenticated"}


async def refresh_sent(s: AsyncSession, target_ids: Iterable[int | None]) -> None:
    """`refresh` after emails became sent (the send path's hot spot): only the facts that follow the
    sends, and the durations only of targets that have an answer time (the others' stay null)."""
    ids = sorted({t for t in target_ids if t is not None})
    timed, derived = _sent_derived(s.get_bind().dialect.name)
    for start in range(0, len(ids), CHUNK):
        chunk = Target.id.in_(ids[start:start + CHUNK])
        await s.execute(sa.update(Target).where(chunk).values(**_sent_values())
                        .execution_options(synchronize_session=False))
        await s.execute(sa.update(Target).where(chunk, timed).values(**derived)
                        .execution_options(synchronize_session=False))


#: The answer's time on the target row (the deciding reply, else the opt-out), as in `_derived`.
_WHEN = "COALESCE(answered_at, opted_out_at)"


def sent_increments(wave: int) -> list[str]:
    """`refresh_sent` as increments, for targets that each have exactly one more send of wave `wave`
    sent at `:at` and whose facts were right before it (they are kept so, event by event): the SET
    items of a plain `UPDATE target` with no sub-select. Each is the recomputed fact with the new send
    added to the set it summarises: the earliest send, wave 0's send, the bitmap of waves, and the
    last wave / send at or before the answer time (null without an answer time, as `_values` has
    them). The durations follow the last two only for targets with an answer time: `refresh_durations`.
    Binds: `at` (the send's sent_at), `wave`, `bit` (1 << wave)."""
    items = [
        "first_sent_at = CASE WHEN first_sent_at IS NULL OR first_sent_at > :at THEN :at ELSE first_sent_at END",
        "sent_waves = COALESCE(sent_waves, 0) | :bit",
        f"answer_wave = CASE WHEN {_WHEN} IS NULL THEN NULL"
        f" WHEN :at <= {_WHEN} AND COALESCE(answer_wave, 0) < :wave THEN :wave ELSE COALESCE(answer_wave, 0) END",
        f"last_sent_at = CASE WHEN {_WHEN} IS NULL THEN NULL"
        f" WHEN :at <= {_WHEN} AND (last_sent_at IS NULL OR last_sent_at < :at) THEN :at ELSE last_sent_at END",
    ]
    if wave == 0:
        items.append("initial_sent_at = :at")
    return items


#: A RETURNING column of the increments' UPDATE: 1 for a target with an answer time (its durations
#: need `refresh_durations`), else 0.
TIMED = f"CASE WHEN {_WHEN} IS NULL THEN 0 ELSE 1 END"


async def refresh_durations(s: AsyncSession, target_ids: Iterable[int]) -> None:
    """The durations of targets with an answer time, from the facts on their row (after
    `sent_increments`)."""
    ids = sorted(set(target_ids))
    timed, derived = _sent_derived(s.get_bind().dialect.name)
    for start in range(0, len(ids), CHUNK):
        await s.execute(sa.update(Target).where(Target.id.in_(ids[start:start + CHUNK]), timed).values(**derived)
                        .execution_options(synchronize_session=False))


async def refresh_campaign(s: AsyncSession, campaign_id: int) -> None:
    """Recompute the facts of every target of the campaign (after a bulk load)."""
    dialect = s.get_bind().dialect.name
    for values in (_values(), _derived(dialect)):
        await s.execute(sa.update(Target).where(Target.campaign_id == campaign_id).values(**values)
                        .execution_options(synchronize_session=False))
