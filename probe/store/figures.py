"""The report's figures read from the targets' outcome facts (probe.store.facts): no join of targets
with their sends or messages, so a report on 1,000,000 targets is a few scans of one table.

- `outcomes`: one GROUP BY of the campaign's targets on the facts that decide every count (state,
  answer, override, waves sent, the wave an answer is credited to, opt-out reply, automatic replies,
  "no longer there", "not eligible"). Without --by it reads the covering index ix_target_campaign_facts
  in group order; the few hundred groups are then added up here into the counts of the report
  (targets, answers, sent per wave, answered_by_wave) and the AAPOR dispositions by credited wave.
- `answer_durations` and `event_times` / `stream_observations`: the time figures, from the same rows.

They give the figures of probe.store.aggregates and probe.store.research (which compute them from
the events, and stay as the oracle: tests/integration/test_facts.py), figure for figure.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from probe.core.model import Answer, SendState, TargetState
from probe.store.aggregates import ALL, dialect_name, seconds_between, segment_of
from probe.store.tables import Send, Target, UTCDateTime

CODES = ("I", "P", "R", "NC", "UO", "NE")
ANSWERING_STATES = (TargetState.ANSWERED.value, TargetState.OPTED_OUT.value)
ACTIVE_SEND_STATES = (SendState.SCHEDULED, SendState.CLAIMED, SendState.RETRY)
_KEYS = (Target.state, Target.answer, Target.answer_override, Target.sent_waves, Target.answer_wave,
         Target.opt_out_reply, Target.auto_replies, Target.no_longer_there, Target.not_eligible)


@dataclass
class Outcomes:
    """The counts of one segment (all targets without --by)."""

    targets: dict[str, int]                      # as aggregates.target_figures
    sent: dict[int, int] = field(default_factory=dict)            # wave -> sends accepted
    by_wave: dict[int, int] = field(default_factory=dict)         # answered_by_wave
    credited: dict[int, dict[str, int]] = field(default_factory=dict)  # wave -> {disposition: targets}

    def dispositions(self) -> dict[str, int]:
        out = dict.fromkeys(CODES, 0)
        for per_code in self.credited.values():
            for code, n in per_code.items():
                out[code] += n
        return out


def empty_targets() -> dict[str, int]:
    keys = ["targets", "bounced", "undelivered", "opted_out", "suppressed", "answered", "pending", "contacted",
            "closed", "auto_replies", "auto_reply_messages", *(a.value for a in Answer)]
    return dict.fromkeys(keys, 0)


def _value(x: Any) -> str | None:
    return None if x is None else str(getattr(x, "value", x))


def effective_answer(state: str, answer: str | None, override: str | None) -> str:
    """As aggregates.effective_answer: a person's override, the automatic answer, "no" for an opt-out."""
    if override is not None:
        return override
    if answer is not None:
        return answer
    return Answer.NO.value if state == TargetState.OPTED_OUT.value else Answer.UNCLEAR.value


def disposition(state: str, effective: str, answering: bool, no_longer_there: bool, not_eligible: bool) -> str:
    """As research._disposition, in the same order."""
    if not_eligible:
        return "NE"
    if state == TargetState.OPTED_OUT.value:
        return "R"
    if answering:
        return "I" if effective in (Answer.YES.value, Answer.NO.value) else "P"
    if no_longer_there:
        return "NE"
    if state in (TargetState.BOUNCED.value, TargetState.UNDELIVERED.value):
        return "UO"
    return "NC"


def add_group(out: Outcomes, state: str, answer: str | None, override: str | None, sent_waves: int,
              answer_wave: int | None, opt_out_reply: bool, auto_replies: int, no_longer_there: bool,
              not_eligible: bool, n: int) -> None:
    """Add `n` targets with these facts to the segment's counts."""
    t = out.targets
    answering = state == TargetState.ANSWERED.value or (state == TargetState.OPTED_OUT.value and opt_out_reply)
    effective = effective_answer(state, answer, override)
    t["targets"] += n
    for name in ("bounced", "undelivered", "pending", "contacted", "closed"):
        t[name] += n if state == name else 0
    if state == TargetState.OPTED_OUT.value:
        t["opted_out" if answering else "suppressed"] += n
    if answering:
        t["answered"] += n
        t[effective] += n
        if answer_wave is not None:
            out.by_wave[answer_wave] = out.by_wave.get(answer_wave, 0) + n
    if auto_replies:
        t["auto_reply_messages"] += auto_replies * n
        t["auto_replies"] += n if state not in ANSWERING_STATES else 0
    wave, bits = 0, sent_waves
    while bits:
        if bits & 1:
            out.sent[wave] = out.sent.get(wave, 0) + n
        bits, wave = bits >> 1, wave + 1
    code = disposition(state, effective, answering, no_longer_there, not_eligible)
    per_code = out.credited.setdefault(answer_wave or 0, {})
    per_code[code] = per_code.get(code, 0) + n


async def outcomes(session: AsyncSession, campaign_id: int, by: str | None) -> dict[str, Outcomes]:
    """Per segment ("" without --by): every count of the report, from one GROUP BY of targets."""
    where = Target.campaign_id == campaign_id
    if by is None:
        stmt = sa.select(*_KEYS, sa.func.count()).where(where).group_by(*_KEYS)
    else:
        # The segment as a plain column of a subquery: PostgreSQL sees the JSON path parameter once.
        base = sa.select(segment_of(by).label("seg"), *_KEYS).where(where).subquery("base")
        keys = [base.c.seg, *(base.c[k.key] for k in _KEYS)]
        stmt = sa.select(*keys, sa.func.count()).group_by(*keys)
    out: dict[str, Outcomes] = {}
    for row in await session.execute(stmt):
        seg, facts = (row[0], row[1:]) if by is not None else (ALL, row)
        state, answer, override, sent_waves, answer_wave, opt, auto, gone, ne, n = facts
        segment = out.setdefault(seg, Outcomes(empty_targets()))
        add_group(segment, str(_value(state)), _value(answer), _value(override), int(sent_waves or 0),
                  None if answer_wave is None else int(answer_wave), bool(opt), int(auto or 0), bool(gone),
                  bool(ne), int(n))
    return out


async def uncertain_sends(session: AsyncSession, campaign_id: int, by: str | None) -> dict[str, int]:
    """Per segment: sends whose outcome was never recorded (few: read on the send state index)."""
    uncertain = sa.and_(Send.campaign_id == campaign_id, Send.state == SendState.UNCERTAIN)
    if by is None:
        n = (await session.execute(sa.select(sa.func.count()).where(uncertain))).scalar_one()
        return {ALL: int(n)} if n else {}
    base = (sa.select(segment_of(by).label("seg")).select_from(Send).join(Target, Target.id == Send.target_id)
            .where(uncertain).subquery("u"))
    stmt = sa.select(base.c.seg, sa.func.count()).group_by(base.c.seg)
    return {str(s): int(n) for s, n in await session.execute(stmt)}


async def sends_active(session: AsyncSession, campaign_id: int) -> bool:
    """Is anything still to be sent (scheduled, claimed or retrying)?"""
    stmt = sa.select(sa.exists().where(Send.campaign_id == campaign_id, Send.state.in_(ACTIVE_SEND_STATES)))
    return bool((await session.execute(stmt)).scalar())


async def last_due(session: AsyncSession, campaign_id: int) -> datetime | None:
    """max(due_at) as one look-up per send state on the (campaign_id, state, due_at) index, not a
    scan of every send."""
    per_state = [sa.select(sa.func.max(Send.due_at)).where(Send.campaign_id == campaign_id, Send.state == st)
                 .scalar_subquery() for st in SendState]
    values = (await session.execute(sa.select(*per_state))).one()
    utc = UTCDateTime()
    dialect = session.get_bind().dialect
    found = [_as_utc(utc, v, dialect) for v in values if v is not None]
    return max(found) if found else None


def _answering() -> ColumnElement[bool]:
    return sa.or_(Target.state == TargetState.ANSWERED,
                  sa.and_(Target.state == TargetState.OPTED_OUT, Target.opt_out_reply.is_(True)))


def _answer_time() -> ColumnElement[datetime]:
    # mark_opted_out leaves answered_at empty: the opt-out reply's time stands in for it.
    return sa.func.coalesce(Target.answered_at, Target.opted_out_at)


@asynccontextmanager
async def answer_durations(session: AsyncSession, campaign_id: int, by: str | None) -> AsyncIterator[sa.Table]:
    """The answering targets' segment, credited wave and durations in a temporary table (one scan),
    for aggregates.duration_quantiles; dropped on exit."""
    table = sa.Table(
        f"probe_facts_{uuid.uuid4().hex[:12]}", sa.MetaData(),
        sa.Column("seg", sa.String), sa.Column("wave", sa.Integer),
        sa.Column("to_answer", sa.Float), sa.Column("since_last", sa.Float),
        prefixes=["TEMPORARY"],
    )
    dialect = dialect_name(session)
    when = _answer_time()
    rows = (sa.select(segment_of(by), sa.func.coalesce(Target.answer_wave, 0),
                      seconds_between(dialect, when, Target.first_sent_at),
                      seconds_between(dialect, when, Target.last_sent_at))
            .where(Target.campaign_id == campaign_id, _answering(), when.is_not(None)))
    conn = await session.connection()
    await conn.run_sync(table.create)
    await session.execute(table.insert().from_select(["seg", "wave", "to_answer", "since_last"], rows))
    yield table
    # Not in a finally: after an error the transaction is aborted and its rollback drops the table.
    await conn.run_sync(table.drop)


def _observations(campaign_id: int, now: datetime, by: str | None) -> sa.Subquery:
    """As research._observations: one row per contacted target (segment, first email, end of
    observation, answered 0/1); undelivered and suppressed targets are not observed."""
    at = sa.literal(now, UTCDateTime())
    answered_at = _answer_time()
    event = sa.and_(_answering(), answered_at.is_not(None), answered_at <= at)
    bounced_at = sa.func.coalesce(Target.bounced_at, Target.state_changed_at, at)
    end = sa.case(
        (event, answered_at),
        (sa.and_(Target.state == TargetState.BOUNCED, bounced_at < at), bounced_at),
        else_=at,
    )
    return (sa.select(segment_of(by).label("seg"), Target.initial_sent_at.label("first_sent"),
                      end.label("ended"), sa.case((event, 1), else_=0).label("event"))
            .where(Target.campaign_id == campaign_id, Target.initial_sent_at.is_not(None),
                   Target.initial_sent_at <= at,
                   sa.cast(Target.state, sa.String) != TargetState.UNDELIVERED.value,
                   sa.or_(Target.state != TargetState.OPTED_OUT, Target.opt_out_reply.is_(True)))
            .subquery("obs"))


async def event_times(session: AsyncSession, campaign_id: int, now: datetime,
                      by: str | None = None) -> dict[str, list[tuple[float, int, int]]]:
    """As research.event_times: per segment, [(whole seconds from the first email, answers,
    censored)] in ascending time, rounded up to the second."""
    obs = _observations(campaign_id, now, by)
    dialect = dialect_name(session)
    # Less a millisecond: SQLite's julianday() arithmetic is exact only to ~10 µs.
    raw = seconds_between(dialect, obs.c.ended, obs.c.first_sent) - 0.001
    seconds = sa.case((raw <= 0, 0), else_=_ceil(dialect, raw))
    timed = sa.select(obs.c.seg, seconds.label("t"), obs.c.event).subquery("timed")
    stmt = (sa.select(timed.c.seg, timed.c.t, sa.func.sum(timed.c.event), sa.func.count())
            .group_by(timed.c.seg, timed.c.t).order_by(timed.c.seg, timed.c.t))
    out: dict[str, list[tuple[float, int, int]]] = {}
    for seg, t, events, n in await session.execute(stmt):
        out.setdefault(seg, []).append((float(t), int(events), int(n) - int(events)))
    return out


def _ceil(dialect: str, x: ColumnElement[float]) -> ColumnElement[int]:
    if dialect == "sqlite":
        whole = sa.cast(x, sa.Integer)
        return whole + sa.case((x > whole, 1), else_=0)
    return sa.cast(sa.func.ceil(x), sa.Integer)


async def stream_observations(session: AsyncSession, campaign_id: int, now: datetime,
                              chunk_size: int = 5000) -> AsyncIterator[list[tuple[datetime, datetime, bool]]]:
    """(first send, end of observation, answered?) per contacted target, in chunks (business hours)."""
    obs = _observations(campaign_id, now, None)
    stmt = sa.select(obs.c.first_sent, obs.c.ended, obs.c.event).execution_options(yield_per=chunk_size)
    result = await session.stream(stmt)
    utc = UTCDateTime()
    dialect = session.get_bind().dialect
    async for part in result.partitions(chunk_size):
        # The CASE loses the column type on SQLite: read the times back through UTCDateTime.
        yield [(_as_utc(utc, a, dialect), _as_utc(utc, b, dialect), bool(e)) for a, b, e in part]


def _as_utc(utc: UTCDateTime, value: Any, dialect: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    out = utc.process_result_value(value, dialect)
    assert out is not None
    return out
