"""The SQL behind the research figures: AAPOR dispositions, per-target event times for Kaplan–Meier,
and the blind coding sample of `probe review --sample`.

Counts are GROUP BY queries; event times are grouped by whole second in SQL (one row per distinct
time, not per target); the only per-target stream (business hours, which SQL cannot count) goes out
in chunks. Nothing here loads one ORM row per target.

The disposition of a target, in this order (DESIGN.md "report"):
NE when a reviewer ruled it not eligible; R when its person asked to be left alone (an opt-out reply,
or an address suppressed before this campaign); I when a person answered yes or no; P when a person
answered unclear; NE when an automatic reply said the person is no longer there ("no longer with the
company", the classifier's reason ``no-longer-with-company``); UO when the address bounced or the
email was undelivered; NC otherwise (silence, or only automatic replies).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from probe.core.model import Answer, MessageKind, SendState, TargetState
from probe.store.aggregates import dialect_name, effective_answer, opt_out_replies, seconds_between, segment_of
from probe.store.facts import ceil_seconds
from probe.store.facts import refresh as refresh_facts
from probe.store.tables import CodingSample, InboundMessage, Send, Target, TargetEligibility, UTCDateTime

#: Target state of an initial email that could not be delivered (issue 10); compared as a string so
#: this module counts it before the enum member exists.
UNDELIVERED = "undelivered"
NO_LONGER_REASON = "no-longer-with-company"


def _answering(opt: sa.Subquery) -> ColumnElement[bool]:
    # A person of this target answered this campaign: a reply, or an opt-out reply here.
    return sa.or_(Target.state == TargetState.ANSWERED,
                  sa.and_(Target.state == TargetState.OPTED_OUT, opt.c.opt_at.is_not(None)))


def _no_longer_there(campaign_id: int) -> sa.Subquery:
    return (sa.select(InboundMessage.target_id.label("target_id"))
            .where(InboundMessage.campaign_id == campaign_id, InboundMessage.kind == MessageKind.AUTO_REPLY,
                   InboundMessage.target_id.is_not(None),
                   sa.cast(InboundMessage.reasons, sa.String).like(f"%{NO_LONGER_REASON}%"))
            .group_by(InboundMessage.target_id)
            .subquery("gone"))


def _disposition(opt: sa.Subquery, gone: sa.Subquery) -> ColumnElement[str]:
    state = sa.cast(Target.state, sa.String)
    answering = _answering(opt)

    def code(text: str) -> ColumnElement[str]:
        return sa.literal_column(f"'{text}'", sa.String)

    return sa.case(
        (TargetEligibility.eligible.is_(False), code("NE")),
        (state == TargetState.OPTED_OUT.value, code("R")),
        (sa.and_(answering, effective_answer().in_([Answer.YES.value, Answer.NO.value])), code("I")),
        (answering, code("P")),
        (gone.c.target_id.is_not(None), code("NE")),
        (state.in_([TargetState.BOUNCED.value, UNDELIVERED]), code("UO")),
        else_=code("NC"),
    )


def _targets_with_disposition(campaign_id: int, by: str | None, *, with_wave: bool = False) -> sa.Select[Any]:
    opt = opt_out_replies(campaign_id)
    gone = _no_longer_there(campaign_id)
    columns: list[Any] = [Target.id.label("target_id"), segment_of(by).label("seg"),
                          _disposition(opt, gone).label("disposition")]
    if with_wave:
        # The wave an answer (or opt-out reply) is credited to: the last one sent at or before it. A
        # correlated subquery on the (target_id, wave) index, evaluated only for those who replied.
        when = sa.func.coalesce(Target.answered_at, opt.c.opt_at)
        last_wave = (sa.select(sa.func.max(Send.wave))
                     .where(Send.target_id == Target.id, Send.state == SendState.SENT, Send.sent_at.is_not(None),
                            Send.sent_at <= when)
                     .scalar_subquery())
        columns.append(sa.case((when.is_not(None), sa.func.coalesce(last_wave, 0)), else_=0).label("wave"))
    return (sa.select(*columns)
            .select_from(Target)
            .outerjoin(opt, opt.c.target_id == Target.id)
            .outerjoin(gone, gone.c.target_id == Target.id)
            .outerjoin(TargetEligibility, TargetEligibility.target_id == Target.id)
            .where(Target.campaign_id == campaign_id))


async def disposition_counts(session: AsyncSession, campaign_id: int,
                             by: str | None = None) -> dict[str, dict[str, int]]:
    """Per segment ("" without --by): {code: number of targets} for I, P, R, NC, UO, NE."""
    base = _targets_with_disposition(campaign_id, by).subquery("base")
    stmt = (sa.select(base.c.seg, base.c.disposition, sa.func.count())
            .group_by(base.c.seg, base.c.disposition))
    out: dict[str, dict[str, int]] = {}
    for seg, code, n in await session.execute(stmt):
        out.setdefault(seg, dict.fromkeys(("I", "P", "R", "NC", "UO", "NE"), 0))[code] = int(n)
    return out


def _observations(campaign_id: int, now: datetime, by: str | None) -> sa.Subquery:
    """One row per contacted target: segment, first send, end of observation, answered (0/1).

    Observed from the first email sent; the event is a person's answer (an opt-out reply included,
    as in `answered`) at or before `now`; a bounced target is censored when it bounced, any other at
    `now`. Undelivered and suppressed targets were never reached: not observed.
    """
    opt = opt_out_replies(campaign_id)
    at = sa.literal(now, UTCDateTime())
    # The first email is wave 0: a reminder goes only once every earlier wave to that target is sent.
    # Joined on the (target_id, wave) index, with no GROUP BY over every send.
    first = sa.orm.aliased(Send, name="first")
    bounce = (sa.select(InboundMessage.target_id.label("target_id"),
                        sa.func.min(InboundMessage.received_at).label("bounce_at"))
              .where(InboundMessage.campaign_id == campaign_id, InboundMessage.kind == MessageKind.BOUNCE,
                     InboundMessage.target_id.is_not(None))
              .group_by(InboundMessage.target_id)
              .subquery("bounce"))
    answered_at = sa.func.coalesce(Target.answered_at, opt.c.opt_at)
    event = sa.and_(_answering(opt), answered_at.is_not(None), answered_at <= at)
    # The bounce message's arrival; the state change when the bounce came from the SMTP dialogue.
    bounced_at = sa.func.coalesce(bounce.c.bounce_at, Target.state_changed_at, at)
    end = sa.case(
        (event, answered_at),
        (sa.and_(Target.state == TargetState.BOUNCED, bounced_at < at), bounced_at),
        else_=at,
    )
    return (sa.select(segment_of(by).label("seg"), first.sent_at.label("first_sent"),
                      end.label("ended"), sa.case((event, 1), else_=0).label("event"))
            .select_from(Target)
            .join(first, sa.and_(first.target_id == Target.id, first.wave == 0, first.state == SendState.SENT,
                                 first.sent_at.is_not(None)))
            .outerjoin(opt, opt.c.target_id == Target.id)
            .outerjoin(bounce, bounce.c.target_id == Target.id)
            .where(Target.campaign_id == campaign_id, first.sent_at <= at,
                   sa.cast(Target.state, sa.String) != UNDELIVERED,
                   sa.or_(Target.state != TargetState.OPTED_OUT, opt.c.opt_at.is_not(None)))
            .subquery("obs"))


async def event_times(session: AsyncSession, campaign_id: int, now: datetime,
                      by: str | None = None) -> dict[str, list[tuple[float, int, int]]]:
    """Per segment: [(whole seconds from the first email, answers, censored)] in ascending time —
    the grouped input of probe.core.survival.kaplan_meier. Times are rounded up to the second, so a
    share "within 1 day" never counts an answer that came after it."""
    obs = _observations(campaign_id, now, by)
    dialect = dialect_name(session)
    # Less a millisecond: SQLite's julianday() arithmetic is exact only to ~10 µs.
    raw = seconds_between(dialect, obs.c.ended, obs.c.first_sent) - 0.001
    seconds = sa.case((raw <= 0, 0), else_=ceil_seconds(dialect, raw))
    timed = sa.select(obs.c.seg, seconds.label("t"), obs.c.event).subquery("timed")
    stmt = (sa.select(timed.c.seg, timed.c.t, sa.func.sum(timed.c.event), sa.func.count())
            .group_by(timed.c.seg, timed.c.t).order_by(timed.c.seg, timed.c.t))
    out: dict[str, list[tuple[float, int, int]]] = {}
    for seg, t, events, n in await session.execute(stmt):
        out.setdefault(seg, []).append((float(t), int(events), int(n) - int(events)))
    return out


def stream_observations(session: AsyncSession, campaign_id: int, now: datetime,
                        chunk_size: int = 5000) -> AsyncIterator[list[tuple[datetime, datetime, bool]]]:
    """(first send, end of observation, answered?) per contacted target, in chunks (business hours)."""
    return stream_observation_rows(session, _observations(campaign_id, now, None), chunk_size)


async def stream_observation_rows(session: AsyncSession, obs: Any,
                                  chunk_size: int) -> AsyncIterator[list[tuple[datetime, datetime, bool]]]:
    """The rows of an observations subquery (first_sent, ended, event), in chunks, as UTC times."""
    stmt = sa.select(obs.c.first_sent, obs.c.ended, obs.c.event).execution_options(yield_per=chunk_size)
    result = await session.stream(stmt)
    utc = UTCDateTime()
    dialect = session.get_bind().dialect
    async for part in result.partitions(chunk_size):
        # The CASE loses the column type on SQLite: read the times back through UTCDateTime.
        yield [(as_utc(utc, a, dialect), as_utc(utc, b, dialect), bool(e)) for a, b, e in part]


def as_utc(utc: UTCDateTime, value: Any, dialect: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    out = utc.process_result_value(value, dialect)
    assert out is not None
    return out


# ---------------------------------------------------------------- the coding sample

def _codable(campaign_id: int) -> sa.Select[Any]:
    """Human replies with an automatic answer, matched to a target: what a sample is drawn from."""
    return (sa.select(InboundMessage.id)
            .where(InboundMessage.campaign_id == campaign_id, InboundMessage.kind == MessageKind.HUMAN_REPLY,
                   InboundMessage.answer.is_not(None), InboundMessage.target_id.is_not(None))
            .order_by(InboundMessage.id))


async def draw_sample(session: AsyncSession, campaign_id: int, size: int, seed: int | None,
                      now: datetime) -> int:
    """Add up to `size` human replies not yet in the campaign's sample, drawn uniformly at random
    (reservoir sampling over the ids, streamed; the same seed and replies give the same draw).
    Returns how many were added. The caller commits."""
    if size <= 0:
        return 0
    taken = sa.select(CodingSample.message_id).where(CodingSample.campaign_id == campaign_id)
    stmt = _codable(campaign_id).where(InboundMessage.id.not_in(taken)).execution_options(yield_per=5000)
    rng = random.Random(seed)
    reservoir: list[int] = []
    seen = 0
    async for (ident,) in await session.stream(stmt):
        seen += 1
        if len(reservoir) < size:
            reservoir.append(int(ident))
        else:
            j = rng.randrange(seen)
            if j < size:
                reservoir[j] = int(ident)
    for ident in sorted(reservoir):
        session.add(CodingSample(campaign_id=campaign_id, message_id=ident, seed=seed, drawn_at=now))
    await session.flush()
    return len(reservoir)


async def sample_rows(session: AsyncSession, campaign_id: int, *, uncoded_only: bool = True) -> list[dict[str, Any]]:
    """The sampled replies to code, with their new text — and deliberately without the automatic
    answer or its reasons, so the reviewer codes blind."""
    stmt = (sa.select(CodingSample.message_id.label("id"), InboundMessage.received_at, InboundMessage.sender,
                      InboundMessage.subject, InboundMessage.new_text, CodingSample.code)
            .join(InboundMessage, InboundMessage.id == CodingSample.message_id)
            .where(CodingSample.campaign_id == campaign_id)
            .order_by(CodingSample.id))
    if uncoded_only:
        stmt = stmt.where(CodingSample.code.is_(None))
    return [dict(row) for row in (await session.execute(stmt)).mappings()]


async def record_code(session: AsyncSession, campaign_id: int, message_id: int, code: Answer | None, *,
                      by: str, at: datetime) -> bool:
    """Store the reviewer's blind code for a sampled reply (None clears it); False when the reply is
    not in the campaign's sample. Never touches the reply's answer or override."""
    result = await session.execute(
        sa.update(CodingSample)
        .where(CodingSample.campaign_id == campaign_id, CodingSample.message_id == message_id)
        .values(code=code, coded_by=None if code is None else by, coded_at=None if code is None else at))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def coding_pairs(session: AsyncSession, campaign_id: int) -> list[tuple[str, str]]:
    """(automatic answer, reviewer's code) for every coded sample reply."""
    stmt = (sa.select(sa.cast(InboundMessage.answer, sa.String), sa.cast(CodingSample.code, sa.String),
                      sa.func.count())
            .join(InboundMessage, InboundMessage.id == CodingSample.message_id)
            .where(CodingSample.campaign_id == campaign_id, CodingSample.code.is_not(None))
            .group_by(InboundMessage.answer, CodingSample.code))
    pairs: list[tuple[str, str]] = []
    for automatic, code, n in await session.execute(stmt):
        pairs += [(str(automatic), str(code))] * int(n)
    return pairs


async def set_not_eligible(session: AsyncSession, campaign_id: int, message_id: int, not_eligible: bool, *,
                           by: str, at: datetime) -> str | None:
    """A reviewer's ruling on the target of reply `message_id`: not eligible (NE), or back to eligible.
    Returns the target's email, or None when the reply is not in the campaign or matches no target."""
    row = (await session.execute(
        sa.select(Target.id, Target.email).join(InboundMessage, InboundMessage.target_id == Target.id)
        .where(InboundMessage.id == message_id, InboundMessage.campaign_id == campaign_id))).one_or_none()
    if row is None:
        return None
    await session.execute(sa.delete(TargetEligibility).where(TargetEligibility.target_id == row.id))
    if not_eligible:
        session.add(TargetEligibility(target_id=row.id, campaign_id=campaign_id, eligible=False, set_by=by,
                                      set_at=at))
        await session.flush()
    await refresh_facts(session, [row.id])
    return str(row.email)


async def with_dispositions(session: AsyncSession, campaign_id: int,
                            chunks: AsyncIterator[list[dict[str, Any]]]) -> AsyncIterator[list[dict[str, Any]]]:
    """Add each target's AAPOR disposition ("disposition") to the chunks of exports.stream_targets,
    one query per chunk."""
    async for chunk in chunks:
        emails = [row["email"] for row in chunk]
        sub = _targets_with_disposition(campaign_id, None).add_columns(Target.email.label("email")).subquery("d")
        codes = dict((await session.execute(
            sa.select(sub.c.email, sub.c.disposition).where(sub.c.email.in_(emails)))).all())
        yield [{**row, "disposition": codes.get(row["email"], "")} for row in chunk]


async def dispositions_by_wave(session: AsyncSession, campaign_id: int) -> dict[int, dict[str, int]]:
    """{credited wave: {code: targets}}: each answer (and opt-out reply) goes to the last wave sent
    at or before it, as in answered_by_wave; targets without an answer are under wave 0. Summed over
    the waves, these are the campaign's disposition_counts."""
    base = _targets_with_disposition(campaign_id, None, with_wave=True).subquery("disp")
    stmt = (sa.select(base.c.disposition, base.c.wave, sa.func.count())
            .group_by(base.c.disposition, base.c.wave))
    out: dict[int, dict[str, int]] = {}
    for code, w, n in await session.execute(stmt):
        out.setdefault(int(w), {})[str(code)] = int(n)
    return out
