"""The report's figures read from the targets' outcome facts (probe.store.facts): no join of targets
with their sends or messages, so a report on 1,000,000 targets is a few scans of one table.

- `outcomes`: one GROUP BY of the campaign's targets on the facts that decide every count (state,
  answer, override, waves sent, the wave an answer is credited to, opt-out reply, automatic replies,
  "no longer there", "not eligible"). Without --by it reads the covering index ix_target_campaign_facts
  in group order; the few hundred groups are then added up here into the counts of the report
  (targets, answers, sent per wave, answered_by_wave) and the AAPOR dispositions by credited wave.
- `duration_quantiles`, `event_columns` (`event_times` with --by) and `stream_observations`: the time
  figures, from the same rows (the durations and the Kaplan–Meier time of each answer are facts too).

They give the figures of probe.store.aggregates and probe.store.research (which compute them from
the events, and stay as the oracle: tests/integration/test_facts.py), figure for figure.
"""

from __future__ import annotations

import json
import operator
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from probe.core.model import Answer, SendState, TargetState
from probe.core.stats import interpolate, quantile_position
from probe.store.aggregates import ALL, QUANTILES, _named, dialect_name, seconds_between, segment_of
from probe.store.aggregates import duration_quantiles as agg_duration_quantiles
from probe.store.facts import ceil_seconds
from probe.store.research import as_utc, stream_observation_rows
from probe.store.tables import Send, Target, UTCDateTime

CODES = ("I", "P", "R", "NC", "UO", "NE")
ANSWERING_STATES = (TargetState.ANSWERED.value, TargetState.OPTED_OUT.value)
ACTIVE_SEND_STATES = (SendState.SCHEDULED, SendState.CLAIMED, SendState.RETRY)
_KEYS = (Target.state, Target.answer, Target.answer_override, Target.sent_waves, Target.answer_wave,
         Target.opt_out_reply, Target.auto_replies, Target.no_longer_there, Target.not_eligible,
         Target.authenticated)


@dataclass
class Outcomes:
    """The counts of one segment (all targets without --by)."""

    targets: dict[str, int]                      # as aggregates.target_figures
    sent: dict[int, int] = field(default_factory=dict)            # wave -> sends accepted
    by_wave: dict[int, int] = field(default_factory=dict)         # answered_by_wave
    credited: dict[int, dict[str, int]] = field(default_factory=dict)  # wave -> {disposition: targets}
    authenticated: int = 0       # answered targets whose deciding reply's domain passed DMARC / DKIM

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
              not_eligible: bool, authenticated: bool, n: int) -> None:
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
    if authenticated and state == TargetState.ANSWERED.value:
        out.authenticated += n
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
        state, answer, override, sent_waves, answer_wave, opt, auto, gone, ne, auth, n = facts
        segment = out.setdefault(seg, Outcomes(empty_targets()))
        add_group(segment, str(_value(state)), _value(answer), _value(override), int(sent_waves or 0),
                  None if answer_wave is None else int(answer_wave), bool(opt), int(auto or 0), bool(gone),
                  bool(ne), bool(auth), int(n))
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
    """Is anything still to be sent (scheduled, claimed or retrying)? One probe of the
    (campaign_id, state, due_at) index per state (an IN over the states scanned the sends)."""
    probes = [sa.exists().where(Send.campaign_id == campaign_id, Send.state == st) for st in ACTIVE_SEND_STATES]
    return any(bool(v) for v in (await session.execute(sa.select(*probes))).one())


async def last_due(session: AsyncSession, campaign_id: int) -> datetime | None:
    """max(due_at) as one look-up per send state on the (campaign_id, state, due_at) index, not a
    scan of every send."""
    per_state = [sa.select(sa.func.max(Send.due_at)).where(Send.campaign_id == campaign_id, Send.state == st)
                 .scalar_subquery() for st in SendState]
    values = (await session.execute(sa.select(*per_state))).one()
    utc = UTCDateTime()
    dialect = session.get_bind().dialect
    found = [as_utc(utc, v, dialect) for v in values if v is not None]
    return max(found) if found else None


def _answering() -> ColumnElement[bool]:
    return sa.or_(Target.state == TargetState.ANSWERED,
                  sa.and_(Target.state == TargetState.OPTED_OUT, Target.opt_out_reply.is_(True)))


def _answer_time() -> ColumnElement[datetime]:
    # mark_opted_out leaves answered_at empty: the opt-out reply's time stands in for it.
    return sa.func.coalesce(Target.answered_at, Target.opted_out_at)


def _durations(by: str | None, campaign_id: int) -> sa.Subquery:
    """The answering targets' segment and durations (as aggregates.answer_facts), off their rows."""
    return (sa.select(segment_of(by).label("seg"), Target.to_answer_s.label("to_answer"),
                      Target.since_last_s.label("since_last"))
            .where(Target.campaign_id == campaign_id, _answering(), _answer_time().is_not(None))
            .subquery("durations"))


async def duration_quantiles(session: AsyncSession, campaign_id: int,
                             by: str | None) -> dict[str, dict[str, dict[str, float | None]]]:
    """Per segment: {"to_answer": {"median", "p90"}, "since_last": {...}} in seconds, as
    aggregates.duration_quantiles. For the whole campaign, each quantile walks the partial index of
    its duration to the two ranks it interpolates between (percentile_cont's definition: on
    PostgreSQL, percentile_cont itself sorts every duration, several times slower); with --by the
    durations are ranked as aggregates does (window functions on SQLite, percentile_cont on
    PostgreSQL)."""
    if by is not None:
        return await agg_duration_quantiles(session, _durations(by, campaign_id))  # type: ignore[arg-type]
    out: dict[str, dict[str, float | None]] = {}
    for name, column in (("to_answer", Target.to_answer_s), ("since_last", Target.since_last_s)):
        where = (Target.campaign_id == campaign_id, column.is_not(None), _answering())
        n = int((await session.execute(sa.select(sa.func.count()).where(*where))).scalar_one())
        if n == 0:
            continue
        found: list[float | None] = []
        for q in QUANTILES:
            lo, hi, weight = quantile_position(q, n)
            values = [float(v) for v in (await session.execute(   # not null: in `where`
                sa.select(column).where(*where).order_by(column).limit(hi - lo + 1).offset(lo))).scalars()
                      if v is not None]
            found.append(interpolate(values[0], values[-1], weight))
        out[name] = _named(*found)
    return {ALL: out} if out else {}


def _observed(campaign_id: int, at: ColumnElement[datetime]) -> ColumnElement[bool]:
    """As research._observations: contacted (initial email sent by `at`); undelivered and suppressed
    targets are not observed."""
    return sa.and_(Target.campaign_id == campaign_id, Target.initial_sent_at.is_not(None),
                   Target.initial_sent_at <= at, Target.state != TargetState.UNDELIVERED,
                   sa.or_(Target.state != TargetState.OPTED_OUT, Target.opt_out_reply.is_(True)))


def _ends(at: ColumnElement[datetime]) -> tuple[ColumnElement[bool], ColumnElement[bool], ColumnElement[datetime]]:
    """(answered by `at`, bounced before `at` and not answered, when it bounced), as research does:
    the bounce message's arrival, else the state change when the bounce came from SMTP."""
    answered_at = _answer_time()
    event = sa.and_(_answering(), answered_at.is_not(None), answered_at <= at)
    bounced_at = sa.func.coalesce(Target.bounced_at, Target.state_changed_at, at)
    bounced = sa.and_(sa.not_(event), Target.state == TargetState.BOUNCED, bounced_at < at)
    return event, bounced, bounced_at


def _seconds_since(dialect: str, later: Any, first: Any) -> ColumnElement[int]:
    # The expression of research.event_times (and of facts.answer_t): the same numbers.
    raw = seconds_between(dialect, later, first) - 0.001
    return sa.case((raw <= 0, 0), else_=ceil_seconds(dialect, raw))


async def event_times(session: AsyncSession, campaign_id: int, now: datetime,
                      by: str | None = None) -> dict[str, list[tuple[float, int, int]]]:
    """As research.event_times: per segment, [(whole seconds from the first email, answers,
    censored)] in ascending time. An answer's time is its stored `answer_t`; a silent target is
    censored at `now`, its time computed once per distinct first-email time; a bounced one when it
    bounced (few)."""
    if by is None:
        answer_times, answers, censor_times, censored = await event_columns(session, campaign_id, now)
        merged: dict[str, dict[int, list[int]]] = {}
        for when, n in zip(answer_times, answers, strict=True):
            _add(merged, ALL, when, n, 0)
        for when, n in zip(censor_times, censored, strict=True):
            _add(merged, ALL, when, 0, n)
        return _sorted(merged)
    dialect = dialect_name(session)
    at = sa.literal(now, UTCDateTime())
    event, bounced, _ = _ends(at)
    seg = segment_of(by)
    grouped: dict[str, dict[int, list[int]]] = {}
    # Answers and silences in one scan: an answer by its time, a silence by its first email's time.
    base = (sa.select(seg.label("seg"), sa.case((event, Target.answer_t)).label("t"),
                      sa.case((event, None), else_=Target.initial_sent_at).label("first"),
                      sa.case((event, 1), else_=0).label("event"))
            .where(_observed(campaign_id, at), sa.not_(bounced)).subquery("base"))
    keys = (base.c.seg, base.c.t, base.c.first)
    groups = (sa.select(*keys, sa.func.sum(base.c.event).label("events"), sa.func.count().label("n"))
              .group_by(*keys).subquery("groups"))
    t = sa.func.coalesce(groups.c.t, _seconds_since(dialect, at, groups.c.first))
    for segment, when, events, n in await session.execute(sa.select(groups.c.seg, t, groups.c.events, groups.c.n)):
        _add(grouped, segment, when, int(events), int(n) - int(events))
    for segment, when, n in await session.execute(_bounces(dialect, campaign_id, at, seg)):
        _add(grouped, segment, when, 0, int(n))
    return _sorted(grouped)


def _add(grouped: dict[str, dict[int, list[int]]], segment: str, t: Any, events: int, censored: int) -> None:
    counts = grouped.setdefault(segment, {}).setdefault(int(t), [0, 0])
    counts[0] += events
    counts[1] += censored


def _sorted(grouped: dict[str, dict[int, list[int]]]) -> dict[str, list[tuple[float, int, int]]]:
    return {segment: [(float(t), d, c) for t, (d, c) in sorted(times.items()) if d or c]
            for segment, times in sorted(grouped.items())}


def _bounces(dialect: str, campaign_id: int, at: ColumnElement[datetime], seg: ColumnElement[str]) -> sa.Select[Any]:
    """(segment, time, targets) of the targets censored when they bounced (few)."""
    _, bounced, bounced_at = _ends(at)
    # Found by their state (ix_target_campaign_facts): SQLite would rather walk every observed target
    # on the first-email index, which an expression over initial_sent_at keeps it from using here.
    first = sa.func.coalesce(Target.initial_sent_at, Target.initial_sent_at)
    bounces = (sa.select(seg.label("seg"), _seconds_since(dialect, bounced_at, Target.initial_sent_at).label("t"))
               .where(Target.campaign_id == campaign_id, Target.state == TargetState.BOUNCED, first.is_not(None),
                      first <= at, bounced)
               .subquery("bounces"))
    return sa.select(bounces.c.seg, bounces.c.t, sa.func.count()).group_by(bounces.c.seg, bounces.c.t)


#: (answer times, answers at each, censoring times, censored at each): each time list ascending and
#: distinct, each count at least 1 — the input of core.survival.from_times.
EventColumns = tuple[list[int], list[int], list[int], list[int]]


async def event_columns(session: AsyncSession, campaign_id: int, now: datetime) -> EventColumns:
    """The whole campaign's event times (whole seconds from the first email): the answers, and the
    censorings apart (few: one time per first-email time, and the bounces).

    Off two partial covering indexes, each read in its order (no sort of the targets): the answers
    by their stored time, the silent targets by their first email (censored at `now`: the time is
    computed once per first-email time); the bounced ones (few) apart."""
    dialect = dialect_name(session)
    at = sa.literal(now, UTCDateTime())
    event, _, bounced_at = _ends(at)
    # observed and event, less what answering implies (not undelivered; an opt-out only with a reply)
    # and what a comparison implies (not null): PostgreSQL multiplies the selectivities of the terms
    # and, expecting a tenth of the rows, hashed the groups and spilled them to disk.
    answered = (Target.campaign_id == campaign_id, Target.answer_t.is_not(None), _answering(),
                Target.initial_sent_at <= at, _answer_time() <= at)
    per_time = (sa.select(Target.answer_t.label("t"), sa.func.count().label("n"))
                .where(*answered).group_by(Target.answer_t).subquery("answers"))
    # One row per distinct answer time would be hundreds of thousands of rows through the driver:
    # the GROUP BY's two columns come back as two JSON arrays in one row (in the same order).
    stmt = sa.select(_json_list(dialect, per_time.c.t), _json_list(dialect, per_time.c.n))
    at_times, counts = (await session.execute(stmt)).one()
    answer_times, answers = _ints(at_times), _ints(counts)
    if any(map(operator.ge, answer_times, islice(answer_times, 1, None))):   # groups in index order, usually
        answer_times, answers = (list(c) for c in zip(*sorted(zip(answer_times, answers, strict=True)), strict=True))
    # observed, not an event, not bounced before `at` (bounced's own "not an event" is already here).
    silent_where = (_observed(campaign_id, at), sa.not_(event),
                    sa.not_(sa.and_(Target.state == TargetState.BOUNCED, bounced_at < at)))
    per_first = (sa.select(_seconds_since(dialect, at, Target.initial_sent_at).label("t"),
                           sa.func.count().label("n"))
                 .where(*silent_where).group_by(Target.initial_sent_at).subquery("silent"))
    silent = sa.select(per_first.c.t, sa.func.sum(per_first.c.n)).group_by(per_first.c.t)
    bounces = _bounces(dialect, campaign_id, at, segment_of(None))
    censored: dict[int, int] = {}
    rows = [*((t, n) for t, n in await session.execute(silent)),
            *((t, n) for _, t, n in await session.execute(bounces))]
    for t, n in rows:
        censored[int(t)] = censored.get(int(t), 0) + int(n)
    censor_times = sorted(censored)
    return answer_times, answers, censor_times, [censored[t] for t in censor_times]


def _json_list(dialect: str, column: ColumnElement[Any]) -> ColumnElement[str]:
    """The column's values over the group as one JSON array (text; NULL on PostgreSQL when none)."""
    if dialect == "sqlite":
        return sa.func.json_group_array(column)
    return sa.cast(sa.func.json_agg(column), sa.Text)


def _ints(text: str | None) -> list[int]:
    return list(json.loads(text)) if text else []


def _observations(campaign_id: int, now: datetime) -> sa.Subquery:
    """(first email, end of observation, answered 0/1) per observed target, for business hours."""
    at = sa.literal(now, UTCDateTime())
    event, bounced, bounced_at = _ends(at)
    end = sa.case((event, _answer_time()), (bounced, bounced_at), else_=at)
    return (sa.select(Target.initial_sent_at.label("first_sent"), end.label("ended"),
                      sa.case((event, 1), else_=0).label("event"))
            .where(_observed(campaign_id, at)).subquery("obs"))


def stream_observations(session: AsyncSession, campaign_id: int, now: datetime,
                        chunk_size: int = 5000) -> AsyncIterator[list[tuple[datetime, datetime, bool]]]:
    """(first send, end of observation, answered?) per contacted target, in chunks (business hours)."""
    return stream_observation_rows(session, _observations(campaign_id, now), chunk_size)
