"""The SQL behind `probe report`: counts, per-wave figures and quantiles computed by the database.

Every function here returns plain dicts and tuples, never ORM rows, and never loads one row per
target into Python (except the explicitly chunked streams for CSV and export): a report on
1,000,000 targets is a handful of GROUP BY queries.

A *segment* is the value of one target field (``--by``); without ``--by`` every target is in the
one segment ``""``. Queries are built over a subquery that carries the segment as a plain column,
so PostgreSQL never sees the JSON path parameter twice (once in SELECT, once in GROUP BY).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from probe.core.model import Answer, MessageKind, SendState, TargetState
from probe.core.stats import interpolate, quantile_position
from probe.store.tables import InboundMessage, Send, Target

ALL = ""  # the segment of every target when there is no --by
QUANTILES = (0.5, 0.9)
ANSWERING_STATES = (TargetState.ANSWERED.value, TargetState.OPTED_OUT.value)


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def seconds_between(dialect: str, later: Any, earlier: Any) -> ColumnElement[float]:
    """later - earlier in seconds, as a float, on each engine."""
    if dialect == "sqlite":
        # SQLite stores UTCDateTime as ISO text; julianday() reads it at ~50 µs precision.
        return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0
    return sa.cast(sa.extract("epoch", later - earlier), sa.Float)


def epoch_seconds(dialect: str, when: Any) -> ColumnElement[float]:
    if dialect == "sqlite":
        return (sa.func.julianday(when) - 2440587.5) * 86400.0
    return sa.cast(sa.extract("epoch", when), sa.Float)


def effective_answer() -> ColumnElement[str]:
    """The answer a report counts: a person's override first, then the automatic answer; an opt-out
    reply without one is a "no"."""
    return sa.case(
        (Target.answer_override.is_not(None), sa.cast(Target.answer_override, sa.String)),
        (Target.answer.is_not(None), sa.cast(Target.answer, sa.String)),
        (Target.state == TargetState.OPTED_OUT, sa.literal_column("'no'", sa.String)),
        else_=sa.literal_column("'unclear'", sa.String),
    )


def opt_out_replies(campaign_id: int) -> sa.Subquery:
    """When each target asked, in this campaign, to be left alone (its first opt-out message).

    An opted-out target without one was suppressed (an opt-out in another campaign, or an address
    already on the suppression list at launch): it did not answer this campaign.
    """
    return (sa.select(InboundMessage.target_id.label("target_id"),
                      sa.func.min(InboundMessage.received_at).label("opt_at"))
            .where(InboundMessage.campaign_id == campaign_id, InboundMessage.opt_out.is_(True),
                   InboundMessage.target_id.is_not(None))
            .group_by(InboundMessage.target_id)
            .subquery("opt"))


def answering(opt: sa.Subquery) -> ColumnElement[bool]:
    """A person of this target answered this campaign: a reply, or an opt-out reply."""
    return sa.or_(Target.state == TargetState.ANSWERED,
                  sa.and_(Target.state == TargetState.OPTED_OUT, opt.c.opt_at.is_not(None)))


def answer_time(opt: sa.Subquery) -> ColumnElement[datetime]:
    # mark_opted_out leaves answered_at empty: the opt-out message's time stands in for it.
    return sa.func.coalesce(Target.answered_at, opt.c.opt_at)


def segment_of(by: str | None) -> ColumnElement[str]:
    if by is None:
        return sa.literal_column("''", sa.String)
    return sa.func.coalesce(Target.fields[by].as_string(), sa.literal_column("''", sa.String))


async def field_names(session: AsyncSession, campaign_id: int) -> list[str]:
    """The target fields (CSV columns), read from the first target: one file, one set of columns."""
    fields = (await session.execute(
        sa.select(Target.fields).where(Target.campaign_id == campaign_id).order_by(Target.id).limit(1)
    )).scalar_one_or_none()
    return list(fields or {})


def _ones(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


async def target_figures(session: AsyncSession, campaign_id: int, by: str | None) -> dict[str, dict[str, int]]:
    """Per segment: targets, states, answers, and targets that sent only automatic replies."""
    opt = opt_out_replies(campaign_id)
    base = (
        sa.select(
            segment_of(by).label("seg"),
            sa.cast(Target.state, sa.String).label("state"),
            effective_answer().label("answer"),
            answering(opt).label("answering"),
        )
        .select_from(Target)
        .outerjoin(opt, opt.c.target_id == Target.id)
        .where(Target.campaign_id == campaign_id)
        .subquery("base")
    )
    answered = base.c.answering.is_(True)
    opted_out = base.c.state == TargetState.OPTED_OUT.value
    columns: dict[str, ColumnElement[int]] = {
        "targets": sa.func.count(),
        "bounced": _ones(base.c.state == TargetState.BOUNCED.value),
        "undelivered": _ones(base.c.state == TargetState.UNDELIVERED.value),
        "opted_out": _ones(sa.and_(opted_out, answered)),
        "suppressed": _ones(sa.and_(opted_out, sa.not_(answered))),
        "answered": _ones(answered),
        "pending": _ones(base.c.state == TargetState.PENDING.value),
        "contacted": _ones(base.c.state == TargetState.CONTACTED.value),
        "closed": _ones(base.c.state == TargetState.CLOSED.value),
    }
    for answer in Answer:
        columns[answer.value] = _ones(sa.and_(answered, base.c.answer == answer.value))
    stmt = sa.select(base.c.seg, *(c.label(k) for k, c in columns.items())).group_by(base.c.seg)
    out: dict[str, dict[str, int]] = {}
    for row in (await session.execute(stmt)).mappings():
        out[row["seg"]] = {k: int(row[k]) for k in columns} | {"auto_replies": 0, "auto_reply_messages": 0}
    # Auto-replies are few: count them from the messages, not by joining every target.
    auto = (
        sa.select(segment_of(by).label("seg"), InboundMessage.target_id.label("target_id"),
                  sa.cast(Target.state, sa.String).label("state"))
        .join(Target, Target.id == InboundMessage.target_id)
        .where(InboundMessage.campaign_id == campaign_id, InboundMessage.kind == MessageKind.AUTO_REPLY)
        .subquery("auto")
    )
    silent = sa.case((auto.c.state.not_in(ANSWERING_STATES), auto.c.target_id))
    stmt = (sa.select(auto.c.seg, sa.func.count(sa.distinct(silent)), sa.func.count())
            .group_by(auto.c.seg))
    for seg, targets, messages in await session.execute(stmt):
        if seg in out:
            out[seg].update(auto_replies=int(targets), auto_reply_messages=int(messages))
    return out


async def send_figures(session: AsyncSession, campaign_id: int,
                       by: str | None) -> dict[str, dict[tuple[int, str], int]]:
    """Per segment: number of sends by (wave, state)."""
    out: dict[str, dict[tuple[int, str], int]] = {}
    if by is None:
        stmt = (sa.select(Send.wave, sa.cast(Send.state, sa.String), sa.func.count())
                .where(Send.campaign_id == campaign_id).group_by(Send.wave, Send.state))
        out[ALL] = {(int(wave), state): int(n) for wave, state, n in await session.execute(stmt)}
        return out
    # Per segment the segment lives on the target: summarise each target's sends in one row first
    # (a bit per wave sent, a count of uncertain ones), in target order, then join each target
    # once. Joining every send to its target costs twice as much on a million targets.
    per_target = (
        sa.select(
            Send.target_id.label("target_id"),
            sa.func.sum(sa.case((Send.state == SendState.SENT, sa.literal(1).op("<<")(Send.wave)), else_=0))
            .label("bits"),
            sa.func.sum(sa.case((Send.state == SendState.UNCERTAIN, 1), else_=0)).label("uncertain"),
        )
        .where(Send.campaign_id == campaign_id)
        .group_by(Send.target_id)
        .subquery("per_target")
    )
    base = (sa.select(segment_of(by).label("seg"), per_target.c.bits, per_target.c.uncertain)
            .join(Target, Target.id == per_target.c.target_id).subquery("base"))
    grouped = (sa.select(base.c.seg, base.c.bits, base.c.uncertain, sa.func.count())
               .group_by(base.c.seg, base.c.bits, base.c.uncertain))
    for seg, bits, uncertain, n in await session.execute(grouped):
        counts = out.setdefault(seg, {})
        wave, left = 0, int(bits)
        while left:
            if left & 1:
                counts[(wave, SendState.SENT.value)] = counts.get((wave, SendState.SENT.value), 0) + int(n)
            left, wave = left >> 1, wave + 1
        if uncertain:
            # Waves of uncertain sends are not needed by the report: it shows their total.
            key = (-1, SendState.UNCERTAIN.value)
            counts[key] = counts.get(key, 0) + int(uncertain) * int(n)
    return out


def _answer_facts(dialect: str, campaign_id: int, by: str | None) -> sa.Select[Any]:
    """One row per answering target: its segment, the wave it answered after, and two durations.

    The wave is the last one sent at or before the answer (0 when none was, e.g. an answer to a
    send whose outcome was never recorded); durations run from the first send and from the last
    send before the answer.
    """
    opt = opt_out_replies(campaign_id)
    when = answer_time(opt)
    sent_before = sa.and_(Send.sent_at.is_not(None), Send.sent_at <= when)
    inner = (
        sa.select(
            Target.id.label("target_id"),
            segment_of(by).label("seg"),
            sa.func.min(when).label("answered_at"),
            sa.func.min(Send.sent_at).label("first_sent"),
            sa.func.max(sa.case((sent_before, Send.sent_at))).label("last_sent"),
            sa.func.max(sa.case((sent_before, Send.wave))).label("wave"),
        )
        .select_from(Target)
        .outerjoin(opt, opt.c.target_id == Target.id)
        .outerjoin(Send, sa.and_(Send.target_id == Target.id, Send.state == SendState.SENT))
        .where(Target.campaign_id == campaign_id, answering(opt), when.is_not(None))
        .group_by(Target.id)
        .subquery("inner")
    )
    return sa.select(
        inner.c.seg,
        sa.func.coalesce(inner.c.wave, 0).label("wave"),
        seconds_between(dialect, inner.c.answered_at, inner.c.first_sent).label("to_answer"),
        seconds_between(dialect, inner.c.answered_at, inner.c.last_sent).label("since_last"),
    )


@asynccontextmanager
async def answer_facts(session: AsyncSession, campaign_id: int, by: str | None) -> AsyncIterator[sa.Table]:
    """The answering targets' facts (segment, wave, durations) in a temporary table, computed once
    (the join of targets and sends is the costly part) and read by answered_by_wave and
    duration_quantiles; dropped on exit."""
    table = sa.Table(
        f"probe_facts_{uuid.uuid4().hex[:12]}", sa.MetaData(),
        sa.Column("seg", sa.String), sa.Column("wave", sa.Integer),
        sa.Column("to_answer", sa.Float), sa.Column("since_last", sa.Float),
        prefixes=["TEMPORARY"],
    )
    conn = await session.connection()
    await conn.run_sync(table.create)
    await session.execute(table.insert().from_select(
        ["seg", "wave", "to_answer", "since_last"], _answer_facts(dialect_name(session), campaign_id, by)))
    yield table
    # Not in a finally: after an error the transaction is aborted (PostgreSQL refuses any statement)
    # and its rollback removes the table anyway, DDL being transactional on both engines.
    await conn.run_sync(table.drop)


async def answered_by_wave(session: AsyncSession, facts: sa.Table) -> dict[str, dict[int, int]]:
    stmt = sa.select(facts.c.seg, facts.c.wave, sa.func.count()).group_by(facts.c.seg, facts.c.wave)
    out: dict[str, dict[int, int]] = {}
    for seg, wave, n in await session.execute(stmt):
        out.setdefault(seg, {})[int(wave)] = int(n)
    return out


async def duration_quantiles(session: AsyncSession,
                             facts: sa.Table) -> dict[str, dict[str, dict[str, float | None]]]:
    """Per segment: {"to_answer": {"median", "p90"}, "since_last": {...}} in seconds."""
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for column in ("to_answer", "since_last"):
        if dialect_name(session) == "postgresql":
            values = await _quantiles_postgresql(session, facts, column)
        else:
            values = await _quantiles_by_rank(session, facts, column)
        for seg, figures in values.items():
            out.setdefault(seg, {})[column] = figures
    return out


async def _quantiles_postgresql(session: AsyncSession, facts: sa.Table,
                                column: str) -> dict[str, dict[str, float | None]]:
    value = facts.c[column]
    stmt = sa.select(
        facts.c.seg,
        *(sa.func.percentile_cont(q).within_group(value.asc()) for q in QUANTILES),
    ).group_by(facts.c.seg)
    return {seg: _named(median, p90) for seg, median, p90 in await session.execute(stmt)}


async def _quantiles_by_rank(session: AsyncSession, facts: sa.Table,
                             column: str) -> dict[str, dict[str, float | None]]:
    """percentile_cont without percentile_cont: rank the values per segment in SQL and fetch only
    the (at most four) rows each quantile interpolates between."""
    value = facts.c[column]
    ranked = (
        sa.select(
            facts.c.seg.label("seg"),
            value.label("v"),
            (sa.func.row_number().over(partition_by=facts.c.seg, order_by=value) - 1).label("rn"),
            sa.func.count().over(partition_by=facts.c.seg).label("n"),
        )
        .where(value.is_not(None))
        .subquery("ranked")
    )
    wanted = []
    for q in QUANTILES:
        floor = sa.cast(q * (ranked.c.n - 1), sa.Integer)  # truncation = floor, positions are >= 0
        wanted += [ranked.c.rn == floor, ranked.c.rn == floor + 1]
    stmt = sa.select(ranked.c.seg, ranked.c.rn, ranked.c.n, ranked.c.v).where(sa.or_(*wanted))
    rows: dict[str, tuple[int, dict[int, float]]] = {}
    for seg, rn, n, v in await session.execute(stmt):
        rows.setdefault(seg, (int(n), {}))[1][int(rn)] = float(v)
    out: dict[str, dict[str, float | None]] = {}
    for seg, (n, by_rank) in rows.items():
        figures = []
        for q in QUANTILES:
            lo, hi, weight = quantile_position(q, n)
            figures.append(interpolate(by_rank[lo], by_rank[hi], weight))
        out[seg] = _named(*figures)
    return out


def _named(median: float | None, p90: float | None) -> dict[str, float | None]:
    return {"median": None if median is None else round(float(median), 3),
            "p90": None if p90 is None else round(float(p90), 3)}


async def last_due(session: AsyncSession, campaign_id: int) -> datetime | None:
    return (await session.execute(
        sa.select(sa.func.max(Send.due_at)).where(Send.campaign_id == campaign_id)
    )).scalar_one_or_none()


async def answer_timeline(session: AsyncSession, campaign_id: int,
                          buckets: int = 200) -> tuple[list[tuple[float, int]], dict[int, tuple[float, float]]]:
    """Answers over time, for the chart: ([(bucket start epoch s, answers)], {wave: (first, last send)}).

    The bucket width adapts to the campaign's span, so the result has at most ~`buckets` rows
    whatever the number of targets.
    """
    dialect = dialect_name(session)
    waves: dict[int, tuple[float, float]] = {}
    sent_epoch = epoch_seconds(dialect, Send.sent_at)
    stmt = (sa.select(Send.wave, sa.func.min(sent_epoch), sa.func.max(sent_epoch))
            .where(Send.campaign_id == campaign_id, Send.state == SendState.SENT, Send.sent_at.is_not(None))
            .group_by(Send.wave))
    for wave, first, last in (await session.execute(stmt)):
        waves[int(wave)] = (float(first), float(last))
    opt = opt_out_replies(campaign_id)
    times = (sa.select(epoch_seconds(dialect, answer_time(opt)).label("t"))
             .select_from(Target).outerjoin(opt, opt.c.target_id == Target.id)
             .where(Target.campaign_id == campaign_id, answering(opt), answer_time(opt).is_not(None))
             .subquery("times"))
    low, high = (await session.execute(sa.select(sa.func.min(times.c.t), sa.func.max(times.c.t)))).one()
    if low is None:
        return [], waves
    start = min([float(low)] + [w[0] for w in waves.values()])
    width = max(1.0, (float(high) - start) / buckets)
    offset = (times.c.t - start) / width
    index = sa.cast(offset, sa.Integer) if dialect == "sqlite" else sa.cast(sa.func.floor(offset), sa.Integer)
    sub = sa.select(index.label("b")).subquery("b")
    stmt2 = sa.select(sub.c.b, sa.func.count()).group_by(sub.c.b).order_by(sub.c.b)
    points = [(start + int(b) * width, int(n)) for b, n in (await session.execute(stmt2))]
    return points, waves


async def authenticated_answers(session: AsyncSession, campaign_id: int) -> int:
    """Answered targets whose deciding reply came from a sender domain that passed DMARC or an
    aligned DKIM check (inbound_message.authenticity["domain_passed"]): replies that provably came
    from the target's domain."""
    rows = (await session.execute(
        sa.select(InboundMessage.authenticity)
        .join(Target, Target.deciding_message_id == InboundMessage.id)
        .where(Target.campaign_id == campaign_id, Target.state == TargetState.ANSWERED,
               InboundMessage.authenticity.is_not(None)))).scalars()
    return sum(1 for auth in rows if isinstance(auth, dict) and auth.get("domain_passed") is True)
