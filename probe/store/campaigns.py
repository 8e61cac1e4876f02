"""Launch: store the plan (campaign, targets, one send per target per wave), idempotently.

Transactions: every function takes `db`, either an async_sessionmaker (it runs its own short
transaction and commits) or an AsyncSession (it joins the caller's transaction; the caller commits).
See probe.store.engine.Db.

launch_campaign works in bulk (one query per table to read what exists, multi-row INSERTs and
UPDATEs by primary key) so 100,000 targets × 3 waves take seconds, not minutes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from json import encoder as json_encoder
from typing import Any, cast

from sqlalchemy import Table, bindparam, case, exists, func, insert, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from probe.core import tokens
from probe.core.model import WAITING_STATES, SendState, TargetState
from probe.store.engine import Db, transaction
from probe.store.notify import CHANNEL_SENDS, notify
from probe.store.tables import Campaign, Send, Suppression, Target, UTCDateTime

#: last_error of a send cancelled because its target left the targets file; such a send comes back
#: when the target does.
REMOVED_FROM_FILE = "target removed from the targets file"
SUPPRESSED = "address suppressed (opted out)"
WAVE_DROPPED = "wave removed from the plan"

#: Targets written per transaction by a big launch: SQLite's write lock is held 0.4–0.7 s for each
#: (measured with 2 cores loaded 3–4 deep; issue 12: never seconds).
LAUNCH_CHUNK = 10000
#: The plan hash a campaign carries while a chunked launch is being written: matches no config.
LAUNCH_IN_PROGRESS = "launch-in-progress"

_TARGETS = cast(Table, Target.__table__)
_SENDS = cast(Table, Send.__table__)
_CHUNK = 1000   # ids per IN (...) list: far below every engine's parameter limit
_MANY_PLANS = 20   # more distinct per-target plans than this: replan row by row instead of set-based
WAITING = tuple(sorted(WAITING_STATES))
CLAIMABLE_STATES = (SendState.SCHEDULED, SendState.RETRY)


# Read-only by convention, not frozen: launch makes one per target, and a frozen dataclass's __init__
# costs twice as much (its `fields` dict made it unhashable anyway).
@dataclass(slots=True)
class PlannedTarget:
    line: int
    address: str
    email: str                        # lowercased
    fields: dict[str, str]
    due_times: tuple[datetime, ...]   # one aware UTC due time per wave
    variant: str | None = None        # an experiment's assignment (stored once, never moved)
    stratum: str | None = None


@dataclass(frozen=True)
class LaunchResult:
    campaign_id: int
    created: bool
    targets_added: int
    targets_kept: int
    targets_removed: int      # stored targets no longer in the file (their waiting sends cancelled)
    sends_planned: int        # sends newly scheduled (new targets, added waves, targets back in the file)
    sends_rescheduled: int    # scheduled sends whose planned time changed
    suppressed: int           # targets of the file whose address is suppressed: opted_out, nothing sent


# The targets' `fields` as the JSON column stores them (json.dumps, what SQLAlchemy's JSON type
# calls), from one C encoder made once: json.dumps makes a new encoder for every call, and with the
# type's wrapper that was three times the encoding itself (100,000 dicts a launch).
_ENCODER = getattr(json_encoder, "c_make_encoder", None)
_FIELDS_ENCODER = (None if _ENCODER is None else
                   _ENCODER(None, json.JSONEncoder().default, json_encoder.encode_basestring_ascii, None,
                            ": ", ", ", False, False, True))


def fields_json(fields: dict[str, str]) -> str:
    """json.dumps(fields), faster (no cycle check: a targets file's fields are flat strings)."""
    if _FIELDS_ENCODER is None:   # pragma: no cover - CPython always has the C encoder
        return json.dumps(fields)
    return "".join(_FIELDS_ENCODER(fields, 0))


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start:start + _CHUNK]


async def _upsert_campaign(s: Any, *, name: str, values: dict[str, Any], now: datetime) -> tuple[int, bool]:
    existing = (await s.execute(select(Campaign.id).where(Campaign.name == name))).scalar_one_or_none()
    if existing is None:
        row = (await s.execute(insert(Campaign).returning(Campaign.id),
                               [{"name": name, "created_at": now, "launched_at": now, **values}])).scalar_one()
        return row, True
    await s.execute(update(Campaign).where(Campaign.id == existing).values(launched_at=now, **values))
    return existing, False


async def launch_campaign(db: Db, *, name: str, timezone: str, plan_hash: str, close_after_s: int,
                          keep_bodies: bool, targets: Sequence[PlannedTarget], now: datetime) -> LaunchResult:
    """Create or update the campaign `name` and its plan. Re-running with the same input changes nothing.

    A target is known by its email (a later duplicate in `targets` is ignored). Known targets keep
    their token and their sends; only sends still `scheduled` move when their planned time changed.
    """
    plan: dict[str, PlannedTarget] = {}
    for t in targets:
        plan.setdefault(t.email, t)
    # A big plan is written in chunks, each its own short transaction, so another probe command never
    # waits seconds for SQLite's write lock. Until the last chunk commits, the campaign's stored plan
    # hash is one no config matches: `tick`/`run` refuse (run launch again), and a launch that died
    # half-way is finished by running it again (idempotent: known targets are kept).
    chunked = not isinstance(db, AsyncSession) and len(plan) > LAUNCH_CHUNK
    async with transaction(db) as s:
        stored_waves = None
        if not plan:
            stored_waves = (await s.execute(select(Campaign.waves).where(Campaign.name == name))).scalar()
        waves = max((len(t.due_times) for t in plan.values()), default=stored_waves or 1)
        campaign_id, created = await _upsert_campaign(s, name=name, now=now, values={
            "timezone": timezone, "plan_hash": LAUNCH_IN_PROGRESS if chunked else plan_hash, "waves": waves,
            "close_after_s": close_after_s, "keep_bodies": keep_bodies})
        suppressed_emails = set((await s.execute(select(Suppression.email))).scalars())
        # Untyped text() reads skip SQLAlchemy's per-value result processing: 10x faster on 300,000 rows.
        existing = {row.email: row for row in await s.execute(
            text("SELECT id, email, state, line, address, fields, variant FROM target WHERE campaign_id = :c"),
            {"c": campaign_id})}
        counts = _Counts()
        new = [t for e, t in plan.items() if e not in existing]
        kept = {e: row for e, row in existing.items() if e in plan}
        removed_ids = [row.id for e, row in existing.items() if e not in plan]
        if not chunked:
            await _add_targets(s, campaign_id, new, suppressed_emails, now, counts)
            await _update_targets(s, campaign_id, plan, kept, suppressed_emails, removed_ids, now, counts)
            if len(new) >= 1000:
                await _analyze(s)
            # Idle workers wake when this commits (issue 16): new sends may be due now.
            await notify(s, CHANNEL_SENDS, str(campaign_id))
    if chunked:
        for start in range(0, len(new), LAUNCH_CHUNK):
            async with transaction(db) as s:
                await _add_targets(s, campaign_id, new[start:start + LAUNCH_CHUNK], suppressed_emails, now, counts)
        async with transaction(db) as s:
            await _update_targets(s, campaign_id, plan, kept, suppressed_emails, removed_ids, now, counts)
            await s.execute(update(Campaign).where(Campaign.id == campaign_id).values(plan_hash=plan_hash))
            if len(new) >= 1000:
                await _analyze(s)
            await notify(s, CHANNEL_SENDS, str(campaign_id))
    return LaunchResult(campaign_id=campaign_id, created=created, targets_added=counts.added,
                        targets_kept=len(kept), targets_removed=len(removed_ids),
                        sends_planned=counts.planned, sends_rescheduled=counts.rescheduled,
                        suppressed=counts.suppressed)


@dataclass
class _Counts:
    added: int = 0
    planned: int = 0
    rescheduled: int = 0
    suppressed: int = 0


class _Binder:
    """Column values converted the way SQLAlchemy would bind them, each distinct value once
    (a plan has a handful of distinct due times for 300,000 sends)."""

    def __init__(self, table: Table, columns: Sequence[str], dialect: Any) -> None:
        self._procs = [table.c[c].type.dialect_impl(dialect).bind_processor(dialect) for c in columns]

    def value(self, index: int, value: Any) -> Any:
        proc = self._procs[index]
        return value if proc is None or value is None else proc(value)

    def rows(self, rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        out: list[Sequence[Any]] = []
        for proc, column in zip(self._procs, zip(*rows, strict=True), strict=True):
            if proc is None:
                out.append(column)
                continue
            try:
                done = {v: proc(v) for v in set(column) if v is not None}
            except TypeError:   # unhashable values (JSON dicts): convert each
                out.append([None if v is None else proc(v) for v in column])
                continue
            done[None] = None
            out.append([done[v] for v in column])
        return list(zip(*out, strict=True))


async def _bulk_insert(s: Any, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]], *,
                       bound: bool = False) -> None:
    """Multi-row insert through the driver: COPY on PostgreSQL, executemany on SQLite. Runs in the
    session's transaction; no RETURNING, no defaults (pass every NOT NULL column). bound: the rows
    hold the driver's values already (as _Binder makes them)."""
    if not rows:
        return
    conn = await s.connection()
    if not bound:
        rows = _Binder(table, columns, conn.dialect).rows(rows)
    if conn.dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        # The driver transaction starts lazily on the first statement; make sure COPY runs inside it.
        await conn.exec_driver_sql("SELECT 1")
        await raw.driver_connection.copy_records_to_table(table.name, records=rows, columns=list(columns))
    else:
        marks = ", ".join("?" for _ in columns)
        await conn.exec_driver_sql(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", rows)


_TARGET_COLUMNS = ("campaign_id", "email", "address", "line", "fields", "token", "state", "state_changed_at",
                   "variant", "stratum")
_SEND_COLUMNS = ("campaign_id", "target_id", "wave", "due_at", "planned_at", "state", "attempts", "last_error")


async def _add_targets(s: Any, campaign_id: int, new: list[PlannedTarget], suppressed_emails: set[str],
                       now: datetime, counts: _Counts) -> None:
    if not new:
        return
    conn = await s.connection()
    # The rows are made in the driver's values directly (the target's state as stored, the fields as
    # the JSON type writes them, `now` converted once), not through _Binder.rows.
    blocked_at = _Binder(_TARGETS, ("state_changed_at",), conn.dialect).value(0, now)
    pending, opted_out = TargetState.PENDING.value, TargetState.OPTED_OUT.value
    rows = []
    for t, token in zip(new, tokens.new_tokens(len(new)), strict=True):
        blocked = t.email in suppressed_emails
        rows.append((campaign_id, t.email, t.address, t.line, fields_json(t.fields), token,
                     opted_out if blocked else pending, blocked_at if blocked else None, t.variant, t.stratum))
        counts.suppressed += blocked
        counts.planned += 0 if blocked else len(t.due_times)
    counts.added += len(new)
    before = (await s.execute(text("SELECT coalesce(max(id), 0) FROM target"))).scalar_one()
    await _bulk_insert(s, _TARGETS, _TARGET_COLUMNS, rows, bound=True)
    plans = {t.due_times for t in new}
    if len(plans) == 1:
        # One plan for the whole chunk (the usual case): the database makes the sends from the target
        # rows it just stored, without 300,000 rows built in Python and bound one by one.
        await s.execute(*_sends_of_new_targets(conn.dialect.name, campaign_id, before, plans.pop()))
        return
    ids = dict(tuple(r) for r in await s.execute(
        text("SELECT email, id FROM target WHERE campaign_id = :c AND id > :b"), {"c": campaign_id, "b": before}))
    # A plan per target (schedule.spread_by): the send rows are made in the driver's values, each
    # distinct due time converted once (not every tuple through _Binder).
    due_value = _Binder(_SENDS, ["due_at"], conn.dialect)
    dues: dict[datetime, Any] = {}
    queued = (SendState.SCHEDULED.value, None)
    blocked_row = (SendState.CANCELLED.value, SUPPRESSED)
    sends = []
    for t in new:
        target_id = ids[t.email]
        state, error = blocked_row if t.email in suppressed_emails else queued
        for wave, due in enumerate(t.due_times):
            value = dues.get(due)
            if value is None:
                value = dues[due] = due_value.value(0, due)
            sends.append((campaign_id, target_id, wave, value, value, state, 0, error))
    await _bulk_insert(s, _SENDS, _SEND_COLUMNS, sends, bound=True)


def _sends_of_new_targets(dialect: str, campaign_id: int, before: int,
                          dues: tuple[datetime, ...]) -> tuple[Any, dict[str, Any]]:
    """INSERT … SELECT of one send per wave for each target of the campaign stored after id
    `before` (the chunk just written), in (target, wave) order like the rows launch used to send;
    a suppressed target (stored opted_out) gets its sends cancelled."""
    waves = " UNION ALL ".join(f"SELECT {wave} AS wave, :due{wave} AS due" for wave in range(len(dues)))
    # NOT INDEXED: SQLite would otherwise walk an index of campaign_id over every earlier chunk's
    # targets and sort them; this way it reads the rowid range (id > before) in order.
    hint = " NOT INDEXED" if dialect == "sqlite" else ""
    statement = text(
        f"INSERT INTO send ({', '.join(_SEND_COLUMNS)}) "
        "SELECT t.campaign_id, t.id, w.wave, w.due, w.due, "
        "CASE WHEN t.state = :opted_out THEN :cancelled ELSE :scheduled END, 0, "
        "CASE WHEN t.state = :opted_out THEN :suppressed END "
        f"FROM target AS t{hint} CROSS JOIN ({waves}) AS w "
        "WHERE t.id > :before AND t.campaign_id = :campaign "
        "ORDER BY t.id, w.wave").bindparams(*(bindparam(f"due{w}", type_=UTCDateTime()) for w in range(len(dues))))
    values: dict[str, Any] = {f"due{wave}": due for wave, due in enumerate(dues)}
    values.update(opted_out=TargetState.OPTED_OUT.value, cancelled=SendState.CANCELLED.value,
                  scheduled=SendState.SCHEDULED.value, suppressed=SUPPRESSED, before=before, campaign=campaign_id)
    return statement, values


async def _analyze(s: Any) -> None:
    """Fresh planner statistics after a bulk load, so the next statements (and the first claims) get
    index plans instead of plans made for empty tables."""
    conn = await s.connection()
    if conn.dialect.name != "postgresql":   # SQLite's planner does well without; ANALYZE there costs seconds
        return
    for table in ("target", "send"):
        await conn.exec_driver_sql(f"ANALYZE {table}")


def _send_row(campaign_id: int, target_id: int, wave: int, due: datetime, cancelled: bool) -> tuple[Any, ...]:
    return (campaign_id, target_id, wave, due, due, SendState.CANCELLED if cancelled else SendState.SCHEDULED,
            0, SUPPRESSED if cancelled else None)


async def _update_targets(s: Any, campaign_id: int, plan: dict[str, PlannedTarget], kept: dict[str, Any],
                          suppressed_emails: set[str], removed_ids: list[int], now: datetime,
                          counts: _Counts) -> None:
    target_updates: list[dict[str, Any]] = []
    newly_suppressed: list[int] = []
    waiting: dict[int, PlannedTarget] = {}
    for email, row in kept.items():
        t = plan[email]
        change: dict[str, Any] = {}
        fields = json.loads(row.fields) if isinstance(row.fields, str) else row.fields
        if (row.line, row.address, fields) != (t.line, t.address, t.fields):
            change.update(line=t.line, address=t.address, fields=t.fields)
        if row.variant is None and t.variant is not None:   # first launched before the experiment
            change.update(variant=t.variant, stratum=t.stratum)
        if email in suppressed_emails:
            counts.suppressed += 1
            if row.state in WAITING_STATES:
                change.update(state=TargetState.OPTED_OUT, state_changed_at=now)
                newly_suppressed.append(row.id)
        elif row.state in WAITING_STATES:
            waiting[row.id] = t
        if change:
            target_updates.append({"id": row.id, **change})
    for start in range(0, len(target_updates), 5000):
        await s.execute(update(Target), target_updates[start:start + 5000])
    await _cancel_for_targets(s, removed_ids, REMOVED_FROM_FILE)
    await _cancel_for_targets(s, newly_suppressed, SUPPRESSED)
    if not waiting:
        return
    plans = {t.due_times for t in waiting.values()}
    if len(plans) > _MANY_PLANS:
        await _replan_row_by_row(s, campaign_id, waiting, counts)
        return
    # One plan for every target of the file and nobody removed: "the waiting targets of the campaign"
    # is exactly the set to replan, so each statement covers them all without an id list.
    whole = not removed_ids and len({t.due_times for t in plan.values()}) == 1
    for dues in plans:
        ids = [tid for tid, t in waiting.items() if t.due_times == dues]
        for scope in ([None] if whole else _chunks(ids)):
            await _replan_group(s, campaign_id, dues, scope, counts)


async def _cancel_for_targets(s: Any, target_ids: Sequence[int], reason: str) -> None:
    for chunk in _chunks(target_ids):
        await s.execute(update(Send).where(Send.target_id.in_(chunk),
                                           Send.state.in_(CLAIMABLE_STATES))
                        .values(state=SendState.CANCELLED, last_error=reason)
                        .execution_options(synchronize_session=False))


async def _replan_group(s: Any, campaign_id: int, dues: tuple[datetime, ...], target_ids: Sequence[int] | None,
                       counts: _Counts) -> None:
    """Set-based replan of the waiting targets `target_ids` (None: every waiting target of the
    campaign) that share the plan `dues`: move scheduled sends whose planned time changed, revive
    sends of targets back in the file, add waves the plan gained, cancel waves it lost."""
    # EXISTS, not IN (subquery): PostgreSQL may run an unhashed IN-subplan once per send row.
    scope = (exists().where(Target.id == Send.target_id, Target.state.in_(WAITING)) if target_ids is None
             else Send.target_id.in_(list(target_ids)))
    mine = (Send.campaign_id == campaign_id, scope)
    # Each wave's planned time by the send's wave: one pass over the scope's sends for every wave at
    # once (no index has the wave since migration 0011; each row is read once, not once a wave).
    # Rows of different waves are disjoint, so this is the same as one statement per wave.
    planned = case(*((Send.wave == wave, literal(due, UTCDateTime())) for wave, due in enumerate(dues)))
    current = Send.wave < len(dues)
    moved = await s.execute(update(Send).where(*mine, current, Send.state == SendState.SCHEDULED,
                                               Send.planned_at != planned)
                            .values(due_at=planned, planned_at=planned).execution_options(synchronize_session=False))
    counts.rescheduled += moved.rowcount
    revived = await s.execute(update(Send).where(*mine, current, Send.state == SendState.CANCELLED,
                                                 Send.last_error == REMOVED_FROM_FILE)
                              .values(state=SendState.SCHEDULED, last_error=None, due_at=planned, planned_at=planned)
                              .execution_options(synchronize_session=False))
    counts.planned += revived.rowcount
    for wave, due in enumerate(dues):
        only = () if target_ids is None else (Target.id.in_(list(target_ids)),)
        added = await s.execute(insert(Send).from_select(
            ["campaign_id", "target_id", "wave", "due_at", "planned_at", "state", "attempts"],
            select(literal(campaign_id), Target.id, literal(wave), literal(due, UTCDateTime()),
                   literal(due, UTCDateTime()), literal(SendState.SCHEDULED.value), literal(0))
            .where(Target.campaign_id == campaign_id, Target.state.in_(WAITING), *only,
                   ~exists().where(Send.target_id == Target.id, Send.wave == wave))))
        counts.planned += added.rowcount
    await s.execute(update(Send).where(*mine, Send.wave >= len(dues), Send.state.in_(CLAIMABLE_STATES))
                    .values(state=SendState.CANCELLED, last_error=WAVE_DROPPED)
                    .execution_options(synchronize_session=False))


async def _replan_row_by_row(s: Any, campaign_id: int, waiting: dict[int, PlannedTarget], counts: _Counts) -> None:
    """_replan_group for targets with many different plans: read the sends once, compare in Python."""
    conn = await s.connection()
    planned_at = _Binder(_SENDS, ["planned_at"], conn.dialect)
    current: dict[tuple[int, int], Any] = {
        (row.target_id, row.wave): row for row in await s.execute(
            text("SELECT id, target_id, wave, state, planned_at, last_error FROM send WHERE campaign_id = :c"),
            {"c": campaign_id})}
    # Sends that get the same new values are updated together: one UPDATE … WHERE id IN (…) per chunk.
    moves: dict[tuple[datetime, bool], list[int]] = {}
    inserts: list[tuple[Any, ...]] = []
    dropped: list[int] = []
    for target_id, t in waiting.items():
        for wave, due in enumerate(t.due_times):
            row = current.get((target_id, wave))
            if row is None:
                inserts.append(_send_row(campaign_id, target_id, wave, due, cancelled=False))
            elif row.state == SendState.SCHEDULED and row.planned_at != planned_at.value(0, due):
                moves.setdefault((due, False), []).append(row.id)
                counts.rescheduled += 1
            elif row.state == SendState.CANCELLED and row.last_error == REMOVED_FROM_FILE:
                moves.setdefault((due, True), []).append(row.id)
                counts.planned += 1
        extra_wave = len(t.due_times)
        while (row := current.get((target_id, extra_wave))) is not None:
            if row.state in (SendState.SCHEDULED, SendState.RETRY):
                dropped.append(row.id)
            extra_wave += 1
    counts.planned += len(inserts)
    for (due, revive), ids in moves.items():
        values: dict[str, Any] = {"due_at": due, "planned_at": due}
        if revive:
            values.update(state=SendState.SCHEDULED, last_error=None)
        for chunk in _chunks(ids):
            await s.execute(update(Send).where(Send.id.in_(chunk)).values(**values)
                            .execution_options(synchronize_session=False))
    await _bulk_insert(s, _SENDS, _SEND_COLUMNS, inserts)
    for chunk in _chunks(dropped):
        await s.execute(update(Send).where(Send.id.in_(chunk))
                        .values(state=SendState.CANCELLED, last_error=WAVE_DROPPED)
                        .execution_options(synchronize_session=False))


async def stored_assignment(db: Db, campaign_id: int | None) -> list[tuple[str, str, str]]:
    """The experiment's stored assignment: (email, stratum, variant) of every assigned target, by email."""
    if campaign_id is None:
        return []
    async with transaction(db) as s:
        rows = await s.execute(select(Target.email, Target.stratum, Target.variant)
                               .where(Target.campaign_id == campaign_id, Target.variant.is_not(None)))
        # Sorted here, not by ORDER BY: collations differ between engines, the export must not.
        return sorted((e, st or "", str(v)) for e, st, v in rows)   # v: not null in the query


async def get_campaign(db: Db, name: str) -> Campaign | None:
    """The campaign row (detached; its columns are loaded), or None."""
    async with transaction(db) as s:
        return (await s.execute(select(Campaign).where(Campaign.name == name))).scalar_one_or_none()


async def record_pass(db: Db, campaign_id: int, wall_now: datetime) -> None:
    async with transaction(db) as s:
        await s.execute(update(Campaign).where(Campaign.id == campaign_id).values(last_pass_at=wall_now))


async def follow_actual_sends(db: Db, campaign_id: int, replan: Any) -> int:
    """After a relaunch moved scheduled sends to the (new) plan: the later waves of every target that
    already got an email are due from its actual sends instead (waves follow the target; `replan` is
    sends.Replanner). Only `scheduled` sends move (guarded UPDATE). Returns how many moved."""
    from probe.store.sends import _replan_later

    async with transaction(db) as s:
        later_send = aliased(Send)
        has_later = exists().where(later_send.target_id == Target.id, later_send.state == SendState.SCHEDULED,
                                   later_send.wave > 0)
        rows = (await s.execute(
            select(Send.target_id, Send.wave, Send.sent_at).join(Target, Target.id == Send.target_id)
            .where(Send.campaign_id == campaign_id, Send.state == SendState.SENT, Send.sent_at.is_not(None),
                   Target.state.in_(WAITING), has_later)
            .order_by(Send.target_id, Send.wave))).all()
        sent: dict[int, dict[int, datetime]] = {}
        for target_id, wave, sent_at in rows:
            if sent_at is not None:   # filtered in the query too
                sent.setdefault(target_id, {})[wave] = sent_at
        moved = 0
        for target_id, waves in sent.items():
            if 0 not in waves:
                continue
            last = max(waves)
            later = replan(waves[0], last, waves[last])
            await _replan_later(s, target_id, later)
            moved += len(later)
    return moved


async def record_account_health(db: Db, campaign_id: int, *, failure: str | None, now: datetime) -> None:
    """An account fault (failure: its message, with the key to fix) or a pass that reached the server
    (failure None: cleared). smtp_failing_since keeps the first fault of a run of them."""
    async with transaction(db) as s:
        if failure is None:
            await s.execute(update(Campaign).where(Campaign.id == campaign_id, Campaign.smtp_failing_since.is_not(None))
                            .values(smtp_failing_since=None, smtp_failure=None))
            return
        await s.execute(update(Campaign).where(Campaign.id == campaign_id)
                        .values(smtp_failing_since=func.coalesce(Campaign.smtp_failing_since,
                                                                 literal(now, UTCDateTime())),
                                smtp_failure=failure))


async def next_pass_sends(db: Db, campaign_id: int, now: datetime) -> int:
    """How many emails a pass at `now` would send: due sends of waiting targets whose earlier waves are
    all settled (at most one per target: the lowest wave due)."""
    from probe.core.lifecycle import BLOCKING_SENDS

    earlier = aliased(Send)
    async with transaction(db) as s:
        return int((await s.execute(
            select(func.count(func.distinct(Send.target_id))).select_from(Send)
            .join(Target, Target.id == Send.target_id)
            .where(Send.campaign_id == campaign_id, Send.state.in_(CLAIMABLE_STATES), Send.due_at <= now,
                   Target.state.in_(WAITING), ~exists().where(Suppression.email == Target.email),
                   ~exists().where(earlier.target_id == Send.target_id, earlier.wave < Send.wave,
                                   earlier.state.in_(sorted(BLOCKING_SENDS)))))).scalar_one())


async def first_planned_at(db: Db, campaign_id: int) -> datetime | None:
    """When the campaign's initial wave was planned: a relaunch without schedule.start keeps it."""
    async with transaction(db) as s:
        return (await s.execute(select(func.min(Send.planned_at))
                                .where(Send.campaign_id == campaign_id, Send.wave == 0))).scalar_one_or_none()
