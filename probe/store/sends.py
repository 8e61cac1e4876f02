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

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    BindParameter,
    String,
    TextClause,
    bindparam,
    case,
    exists,
    func,
    literal,
    select,
    text,
    type_coerce,
    update,
)
from sqlalchemy.orm import aliased

from probe.core import tokens
from probe.core.fairness import recipient_domain, take_fair
from probe.core.lifecycle import (
    BLOCKING_SENDS,
    RESENDABLE_TARGETS,
    SEND_TABLE,
    OtherSends,
    SendEvent,
    TargetEvent,
    TargetRule,
    decide_send,
    decide_target,
    send_sources,
    target_rules,
)
from probe.core.model import WAITING_STATES, SendState, TargetState
from probe.store.engine import Db, transaction
from probe.store.facts import TIMED, refresh_durations, refresh_sent, sent_increments
from probe.store.facts import refresh as refresh_facts
from probe.store.notify import CHANNEL_SENDS, notify
from probe.store.tables import Send, Suppression, Target, UTCDateTime

CLAIMABLE = (SendState.SCHEDULED, SendState.RETRY)
WAITING = tuple(sorted(WAITING_STATES))
#: Target states in which a bounce or an answer may still change the target (first verdict wins).
OPEN_STATES = (*WAITING, TargetState.CLOSED)
BLOCKING = tuple(sorted(BLOCKING_SENDS))
#: last_error of the sends cancelled because the initial email was undelivered: a resend revives them.
UNDELIVERED_REASON = "target undelivered"

#: (initial_sent_at, sent_wave, sent_at) → {later wave: due time}: core.planning.follow_up_due with
#: the campaign's offsets, time zone and window bound in (the service builds it).
Replanner = Callable[[datetime, int, datetime], dict[int, datetime]]


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
    initial_sent_at: datetime | None = None   # when wave 0 went out (waves follow the target)
    first_attempt_at: datetime | None = None  # start of the retry window


@cache
def _pick(state: SendState) -> Any:
    """The claim's candidate query for one state, built once: campaign_id, now and lim are bound
    at each call (the statement cache then skips compiling it again)."""
    due = aliased(Send)
    earlier = aliased(Send)
    # Every column the claimed send needs, so the claim reads no row again; `fields` as its JSON text,
    # decoded only for the candidates taken (most are looked at, not taken).
    return (select(due.id, due.target_id, due.wave, due.attempts, due.due_at, due.first_attempt_at,
                   Target.email, Target.address, Target.line, type_coerce(Target.fields, String).label("fields"),
                   Target.token)
            .join(Target, Target.id == due.target_id)
            .where(due.campaign_id == bindparam("campaign_id"), due.state == state,
                   due.due_at <= bindparam("now", type_=UTCDateTime()),
                   Target.state.in_(WAITING),
                   ~exists().where(Suppression.email == Target.email),
                   # Waves follow the target: a reminder waits until every earlier wave is settled.
                   ~exists().where(earlier.target_id == due.target_id, earlier.wave < due.wave,
                                   earlier.state.in_(BLOCKING)))
            # Soonest due first; ties in the index's order (SQLite: id; PostgreSQL: where the rows
            # lie). Not `due_at, id`: PostgreSQL's index has no id to break ties with, so with a
            # wave's sends all due at one time it joined and sorted every due send for each claim
            # (37 ms a claim at 10,000 due, against 0.9 ms reading the index in order to the LIMIT).
            .order_by(due.due_at)
            .limit(bindparam("lim"))
            .with_for_update(skip_locked=True, of=due))


@cache
def _claim_sql(n: int) -> TextClause:
    """n picked sends of one state are leased and given their Message-IDs in one statement, which
    returns the ids it took. Built once per n (n <= a claim's limit)."""
    whens = " ".join(f"WHEN :i{k} THEN :m{k}" for k in range(n))
    ids = ", ".join(f":i{k}" for k in range(n))
    return text(f"UPDATE send SET state = :claimed, lease_owner = :owner, lease_expires_at = :lease_until, "
                f"wire_at = NULL, message_id = CASE id {whens} END "
                f"WHERE id IN ({ids}) AND state = :from_state RETURNING id"
                ).bindparams(bindparam("lease_until", type_=UTCDateTime()))


@cache
def _earlier_sql() -> Any:
    """The earlier waves' Message-IDs of the claimed reminders' targets (References)."""
    ids: BindParameter[list[int]] = bindparam("ids", expanding=True)
    return (select(Send.target_id, Send.wave, Send.message_id, Send.state, Send.sent_at)
            .where(Send.target_id.in_(ids), Send.state.in_((SendState.SENT, SendState.UNCERTAIN)),
                   Send.message_id.is_not(None))
            .order_by(Send.target_id, Send.wave))


#: The most sends one claim statement leases (few distinct statements to cache, few bound parameters).
CLAIM_CHUNK = 64
#: How many due sends a claim looks at per send it takes: room to deal them out fairly across domains
#: and to step over throttled domains, without scanning every due row.
CANDIDATES_PER_SEND = 8
MIN_CANDIDATES = 64


@dataclass
class ClaimBatch:
    sends: list[ClaimedSend]
    #: Due sends passed over because their domain is throttled (`skip_domains`): the queue is not
    #: empty even when `sends` is.
    skipped: int = 0


async def claim_batch(db: Db, *, campaign_id: int, now: datetime, owner: str, lease_until: datetime,
                      domain: str, limit: int = 1, skip_domains: Collection[str] = ()) -> ClaimBatch:
    """Lease up to `limit` due sends of waiting, unsuppressed targets to `owner` in one write
    transaction: the soonest due candidates, dealt out round-robin across recipient domains
    (core.fairness), leaving out the domains in `skip_domains` (their domain_rate_limit says wait)."""
    skip = {d.lower() for d in skip_domains}
    want = max(limit * CANDIDATES_PER_SEND, MIN_CANDIDATES) if limit > 1 or skip else limit
    async with transaction(db) as s:
        skipped = 0
        # One state at a time, ordered by due_at: the index (campaign_id, state, due_at) then
        # yields the rows in order and the LIMIT stops the scan, instead of sorting every due row
        # (0.2 s a claim with 100,000 sends due, measured).
        # Select (rows locked, SKIP LOCKED on PostgreSQL), then update by id: inside one UPDATE … IN
        # (SELECT … LIMIT n FOR UPDATE SKIP LOCKED) PostgreSQL may run the sub-select more than once
        # and claim more than n rows (seen: 5 rows for LIMIT 1).
        conn = await s.connection()   # Core execution: these statements need nothing of the ORM
        rows: list[Any] = []
        ids_by_send: dict[int, str] = {}
        for state in CLAIMABLE:
            if len(rows) >= limit:
                break
            found = list(await conn.execute(_pick(state), {"campaign_id": campaign_id, "now": now, "lim": want}))
            if not found:
                continue
            usable = [r for r in found if recipient_domain(r.email) not in skip]
            skipped += len(found) - len(usable)
            picked = take_fair(usable, lambda r: recipient_domain(r.email), limit - len(rows))
            if not picked:
                continue
            for start in range(0, len(picked), CLAIM_CHUNK):
                chunk = picked[start:start + CLAIM_CHUNK]
                params: dict[str, Any] = {"claimed": SendState.CLAIMED.value, "from_state": state.value,
                                          "owner": owner, "lease_until": lease_until}
                for k, r in enumerate(chunk):
                    params.update({f"i{k}": r.id, f"m{k}": tokens.message_id(r.token, r.wave, domain)})
                taken = set((await conn.execute(_claim_sql(len(chunk)), params)).scalars())
                for k, r in enumerate(chunk):
                    if r.id in taken:
                        rows.append(r)
                        ids_by_send[r.id] = params[f"m{k}"]
        if not rows:
            return ClaimBatch([], skipped)
        earlier: dict[int, list[tuple[int, str]]] = {}
        initial: dict[int, datetime] = {}
        reminders = sorted({r.target_id for r in rows if r.wave > 0})   # an initial email has no earlier wave
        for tid, wave, mid, state, sent_at in (await conn.execute(_earlier_sql(), {"ids": reminders})
                                               if reminders else ()):
            earlier.setdefault(tid, []).append((wave, str(mid)))
            if wave == 0 and state == SendState.SENT and sent_at is not None:
                initial[tid] = sent_at
    return ClaimBatch([ClaimedSend(
        send_id=r.id, target_id=r.target_id, campaign_id=campaign_id, wave=r.wave,
        attempts=r.attempts, address=r.address, email=r.email, line=r.line,
        fields=json.loads(r.fields) if isinstance(r.fields, str) else dict(r.fields), token=r.token,
        message_id=ids_by_send[r.id], due_at=r.due_at,
        previous_message_ids=tuple(m for w, m in earlier.get(r.target_id, ()) if w < r.wave),
        initial_sent_at=initial.get(r.target_id), first_attempt_at=r.first_attempt_at)
        for r in rows], skipped)


async def claim_due(db: Db, *, campaign_id: int, now: datetime, owner: str, lease_until: datetime,
                    domain: str, limit: int = 1) -> list[ClaimedSend]:
    """Lease up to `limit` due sends of waiting, unsuppressed targets to `owner` (claim_batch)."""
    return (await claim_batch(db, campaign_id=campaign_id, now=now, owner=owner, lease_until=lease_until,
                              domain=domain, limit=limit)).sends


def _mine(send_id: int, owner: str) -> Any:
    return update(Send).where(Send.id == send_id, Send.state == SendState.CLAIMED, Send.lease_owner == owner)


async def cancel_waiting(s: Any, target_ids: Sequence[int], reason: str) -> int:
    """The lifecycle's CANCEL_WAITING: the targets' sends still waiting (scheduled or retrying) are
    cancelled, with the reason; how many. Claimed sends are left to their pass, which cancels them
    before the wire when it finds the target decided."""
    result = await s.execute(update(Send).where(Send.target_id.in_(list(target_ids)), Send.state.in_(CLAIMABLE))
                             .values(state=SendState.CANCELLED, last_error=reason).returning(Send.id)
                             .execution_options(synchronize_session=False))
    return len(result.all())


async def _replan_later(s: Any, target_id: int, later_due: dict[int, datetime]) -> None:
    """Later waves still scheduled move to their due time from the actual initial send."""
    for wave, due in later_due.items():
        await s.execute(update(Send).where(Send.target_id == target_id, Send.wave == wave,
                                           Send.state == SendState.SCHEDULED)
                        .values(due_at=due).execution_options(synchronize_session=False))


async def apply_target_event(s: Any, target_id: int, event: TargetEvent, *, now: datetime,
                             reason: str = "", values: dict[str, Any] | None = None,
                             ) -> tuple[TargetState, TargetRule] | None:
    """Apply the lifecycle table's row for (the target's state, `event`) inside the caller's
    transaction: one UPDATE guarded by the state it was read in (a target that moved meanwhile is read
    again), then the row's effect on the target's sends. The (state before, rule) applied, or None when
    the table says the event changes nothing. `values`: extra columns written with a state change."""
    for _ in range(3):
        state = (await s.execute(select(Target.state).where(Target.id == target_id))).scalar_one_or_none()
        if state is None:
            return None
        rule = decide_target(TargetState(state), event)
        if rule is None:
            return None
        if rule.new_state is not None and rule.new_state != state:
            changed = (await s.execute(
                update(Target).where(Target.id == target_id, Target.state == state)
                .values(state=rule.new_state, state_changed_at=now, **(values or {}))
                .returning(Target.id))).scalar_one_or_none()
            if changed is None:
                continue    # another transaction moved it: decide again from its new state
        await _apply_sends_effect(s, target_id, rule.sends, reason or f"target {rule.new_state or state}")
        return TargetState(state), rule
    return None


async def _apply_sends_effect(s: Any, target_id: int, effect: OtherSends, reason: str) -> None:
    if effect is OtherSends.CANCEL_WAITING:
        await cancel_waiting(s, [target_id], reason)
    elif effect is OtherSends.REVIVE:
        await s.execute(update(Send).where(Send.target_id == target_id, Send.state == SendState.CANCELLED,
                                           Send.last_error == UNDELIVERED_REASON)
                        .values(state=SendState.SCHEDULED, last_error=None)
                        .execution_options(synchronize_session=False))
    # DEFER_WAITING needs a date: defer_sends does it. REPLAN_LATER is the send's effect (record_sent).


@dataclass(frozen=True)
class Outcome:
    """One send's outcome, to record (alone or in a group commit: record_outcomes)."""

    send_id: int
    owner: str
    event: SendEvent
    wave: int
    now: datetime
    smtp_reply: str | None = None
    error: str | None = None
    next_due_at: datetime | None = None
    replan: Replanner | None = None
    initial_sent_at: datetime | None = None


async def _record(s: Any, o: Outcome) -> bool:
    decision = decide_send(SendState.CLAIMED, o.event, wave=o.wave)
    if decision is None:
        raise ValueError(f"the lifecycle table has no row for a claimed send on {o.event}")
    rule = decision.send
    values: dict[str, Any] = {"state": rule.new_state, "lease_expires_at": None}
    if rule.attempts.value == "one":
        values["attempts"] = Send.attempts + 1
    if o.event is SendEvent.ACCEPTED:
        values.update(smtp_reply=o.smtp_reply, sent_at=o.now, last_error=None)
    elif o.event in (SendEvent.ACCOUNT_FAULT, SendEvent.THROTTLED):
        # Back in the queue as it was: RETRY when it had failed before, else SCHEDULED; no attempt.
        values["state"] = case((Send.attempts > 0, SendState.RETRY.value), else_=SendState.SCHEDULED.value)
        values.update(lease_owner=None, last_error=o.error)
    else:
        values["last_error"] = o.error
        if o.smtp_reply is not None:
            values["smtp_reply"] = o.smtp_reply
    if o.event is SendEvent.TEMPORARY:
        values.update(due_at=o.next_due_at,
                      first_attempt_at=func.coalesce(Send.first_attempt_at, literal(o.now, UTCDateTime())))
    target_id = (await s.execute(_mine(o.send_id, o.owner).values(**values)
                                 .returning(Send.target_id))).scalar_one_or_none()
    if target_id is None:
        return False
    if rule.new_state is SendState.SENT:
        await refresh_sent(s, [target_id])
    if decision.target_event is not None:
        reason = UNDELIVERED_REASON if decision.target_event is TargetEvent.INITIAL_UNDELIVERED else ""
        await apply_target_event(s, target_id, decision.target_event, now=o.now, reason=reason)
    if rule.others is OtherSends.REPLAN_LATER and o.replan is not None:
        initial = o.now if o.wave == 0 else o.initial_sent_at
        if initial is not None:
            await _replan_later(s, target_id, o.replan(initial, o.wave, o.now))
    return True


@dataclass(frozen=True)
class OnTheWire:
    """A claimed send is about to be handed to SMTP: from the commit of this mark on, a crash leaves
    it `uncertain`; before it, the claim goes back to the queue by itself. Refused (False, nothing to
    send) when the lease is no longer ours, or when the target stopped waiting (then the claim is
    cancelled)."""

    send_id: int
    owner: str
    at: datetime          # wall clock


@cache
def _wire_sql() -> Any:
    """The on-the-wire mark of OnTheWire, built once (it runs in nearly every group commit)."""
    return (update(Send).where(Send.id.in_(bindparam("ids", expanding=True)), Send.state == SendState.CLAIMED,
                               Send.lease_owner == bindparam("owner"),
                               exists().where(Target.id == Send.target_id, Target.state.in_(WAITING)))
            .values(wire_at=bindparam("at", type_=UTCDateTime())).returning(Send.id)
            .execution_options(synchronize_session=False))


async def record_outcomes(db: Db, outcomes: Sequence[Outcome | OnTheWire]) -> list[bool]:
    """Several outcomes (and on-the-wire marks) in one write transaction (a group commit: one lock,
    one fsync). Each is applied as record_outcome would; False for a send whose lease is no longer
    ours (for a mark: do not send it)."""
    async with transaction(db) as s:
        # A send's mark and its outcome may be in the same group (dispatch hands the mark over before
        # MAIL FROM and waits for it only before DATA: a refusal at RCPT comes back sooner): the
        # marks are applied first, in their order, and their results kept apart from the outcomes'.
        wired: dict[int, bool] = {}
        done: dict[int, bool] = {}
        marks = [o for o in outcomes if isinstance(o, OnTheWire)]
        for owner in {m.owner for m in marks}:
            mine = [m for m in marks if m.owner == owner]
            ids = [m.send_id for m in mine]
            # Only while the target still waits: one answered or bounced since the claim is not
            # written to (the table's claimed + target_stopped row, applied just below).
            marked = set((await (await s.connection()).execute(_wire_sql(), {"ids": ids, "owner": owner,
                                                        "at": max(m.at for m in mine)})).scalars())
            if len(marked) < len(ids):
                await s.execute(
                    update(Send).where(Send.id.in_([i for i in ids if i not in marked]),
                                       Send.state.in_(send_sources(SendEvent.TARGET_STOPPED)),
                                       Send.lease_owner == owner)
                    .values(state=SEND_TABLE[SendState.CLAIMED, SendEvent.TARGET_STOPPED].new_state,
                            last_error="target stopped waiting before the send", lease_expires_at=None)
                    .execution_options(synchronize_session=False))
            wired.update({i: i in marked for i in ids})
        # Accepted sends (nearly every outcome of a pass) in a few set-based statements; the rest one
        # by one. They are distinct sends of distinct targets (a target's waves are never in flight
        # together: a claimed send blocks its later waves), so their order does not matter.
        accepted = [o for o in outcomes if isinstance(o, Outcome) and o.event is SendEvent.ACCEPTED]
        if accepted:
            done.update(await _record_accepted(s, accepted))
        results = []
        for o in outcomes:
            if isinstance(o, OnTheWire):
                results.append(wired[o.send_id])
                continue
            if o.send_id not in done:
                done[o.send_id] = await _record(s, o)
            results.append(done[o.send_id])
        return results


_ACCEPTED = SEND_TABLE[SendState.CLAIMED, SendEvent.ACCEPTED]
_UTC = UTCDateTime()


@cache
def _accepted_sql() -> dict[str, TextClause]:
    """The fixed statements of _record_accepted, built once (text(): no ORM construction nor
    cache-key walk per call)."""
    return {
        "replan": text("UPDATE send SET due_at = :due WHERE target_id = :tid AND wave = :wave AND state = :scheduled"
                       ).bindparams(bindparam("due", type_=_UTC)),
    }


#: The most accepted sends one statement of _record_accepted writes (the recorder's batch is 64).
SENT_CHUNK = 64


@cache
def _sent_sql(n: int) -> TextClause:
    """n claimed sends of one owner become sent, each with its server reply, in one statement that
    returns (id, target_id) of those whose lease was still ours: the lifecycle table's
    (claimed, accepted) row. Built once per n (n <= the recorder's batch)."""
    attempts = ", attempts = attempts + 1" if _ACCEPTED.attempts.value == "one" else ""
    whens = " ".join(f"WHEN :i{k} THEN :r{k}" for k in range(n))
    ids = ", ".join(f":i{k}" for k in range(n))
    return text(f"UPDATE send SET state = :new_state{attempts}, lease_expires_at = NULL, sent_at = :at, "
                f"last_error = NULL, smtp_reply = CASE id {whens} END "
                f"WHERE id IN ({ids}) AND state = :claimed AND lease_owner = :owner RETURNING id, target_id"
                ).bindparams(bindparam("at", type_=_UTC))


@cache
def _target_moves(event: TargetEvent) -> dict[TargetState, TargetState] | None:
    """The lifecycle table's state moves for `event` on a target, for a set-wise UPDATE (None when a
    row also acts on the target's other sends: those targets go through apply_target_event)."""
    rules = target_rules(event)
    if any(r.sends is not OtherSends.NONE for r in rules.values()):
        return None
    return {st: r.new_state for st, r in rules.items() if r.new_state is not None and r.new_state != st}


@cache
def _accepted_targets_sql(event: TargetEvent | None, wave: int) -> TextClause:
    """One UPDATE of the targets that each had one send of `wave` accepted at :at: the table's row for
    `event` (SET state = CASE state …, when its rows only move the state; None: the state was dealt
    with elsewhere) and the facts that follow the sends, as increments (facts.sent_increments).
    Returns (id, timed) so the few targets with an answer time get their durations recomputed."""
    items = []
    moves = _target_moves(event) if event is not None else None
    if moves:
        whens = " ".join(f"WHEN '{st.value}' THEN '{new.value}'" for st, new in sorted(moves.items()))
        sources = ", ".join(f"'{st.value}'" for st in sorted(moves))
        items += [f"state = CASE state {whens} ELSE state END",
                  f"state_changed_at = CASE WHEN state IN ({sources}) THEN :at ELSE state_changed_at END"]
    items += sent_increments(wave)
    return text(f"UPDATE target SET {', '.join(items)} WHERE id IN :ids RETURNING id, {TIMED}").bindparams(
        bindparam("ids", expanding=True), bindparam("at", type_=_UTC))


async def _record_accepted(s: Any, outcomes: list[Outcome]) -> dict[int, bool]:
    """_record for a group of ACCEPTED outcomes, the same rows of the lifecycle table applied set-wise:
    the sends still claimed by their owner become sent, their targets take the table's SEND_ACCEPTED
    row, later waves are replanned (executemany). Anything else (a target met twice, which a claimed
    send's blocking of its other waves rules out) goes the one-by-one way."""
    conn = await s.connection()
    targets: dict[int, Outcome] = {}
    careful: list[tuple[int, Outcome]] = []
    done: dict[int, bool] = {o.send_id: False for o in outcomes}   # False: the lease is no longer ours
    groups: dict[tuple[str, datetime], list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault((o.owner, o.now), []).append(o)
    # At most SENT_CHUNK sends a statement: few distinct statements to cache, far from any engine's
    # limit on bound parameters, whoever calls record_outcomes with however many outcomes.
    chunks = [(key, group[i:i + SENT_CHUNK]) for key, group in groups.items()
              for i in range(0, len(group), SENT_CHUNK)]
    for (owner, at), group in chunks:
        params: dict[str, Any] = {"new_state": _ACCEPTED.new_state.value, "at": at,
                                  "claimed": SendState.CLAIMED.value, "owner": owner}
        for k, o in enumerate(group):
            params.update({f"i{k}": o.send_id, f"r{k}": o.smtp_reply})
        by_id = {o.send_id: o for o in group}
        for sid, tid in await conn.execute(_sent_sql(len(group)), params):
            done[sid] = True
            if tid in targets:
                careful.append((tid, by_id[sid]))
            else:
                targets[tid] = by_id[sid]
    twice = {tid for tid, _ in careful}
    # The target's row of the table (what apply_target_event does) and its facts, for many at once:
    # one UPDATE per (event, wave, time), nearly always one a group.
    by_event: dict[tuple[TargetEvent | None, int, datetime], list[int]] = {}
    for tid, o in targets.items():
        if tid in twice:
            continue
        event = _ACCEPTED.target_event if o.wave == 0 else _ACCEPTED.reminder_event
        if event is not None and _target_moves(event) is None:
            await apply_target_event(s, tid, event, now=o.now)
            event = None
        by_event.setdefault((event, o.wave, o.now), []).append(tid)
    timed: list[int] = []
    for (event, wave, at), tids in by_event.items():
        for start in range(0, len(tids), SENT_CHUNK):
            result = await conn.execute(_accepted_targets_sql(event, wave),
                                        {"ids": tids[start:start + SENT_CHUNK], "at": at, "wave": wave,
                                         "bit": 1 << wave})
            timed += [tid for tid, is_timed in result if is_timed]
    if timed:
        await refresh_durations(s, timed)
    # Later waves follow the actual initial send (the table's REPLAN_LATER), one executemany.
    plans: dict[tuple[datetime, int, datetime, Replanner], dict[int, datetime]] = {}
    replans = []
    if _ACCEPTED.others is OtherSends.REPLAN_LATER:
        for tid, o in targets.items():
            initial = o.now if o.wave == 0 else o.initial_sent_at
            if o.replan is None or initial is None or tid in twice:
                continue
            key = (initial, o.wave, o.now, o.replan)
            if key not in plans:
                plans[key] = o.replan(initial, o.wave, o.now)
            replans += [{"due": due, "tid": tid, "wave": wave, "scheduled": SendState.SCHEDULED.value}
                        for wave, due in plans[key].items()]
    if replans:
        await conn.execute(_accepted_sql()["replan"], replans)
    for tid in twice:
        for o in [targets[tid]] + [o for t, o in careful if t == tid]:
            event = _ACCEPTED.target_event if o.wave == 0 else _ACCEPTED.reminder_event
            if event is not None:
                await apply_target_event(s, tid, event, now=o.now)
            initial = o.now if o.wave == 0 else o.initial_sent_at
            if _ACCEPTED.others is OtherSends.REPLAN_LATER and o.replan is not None and initial is not None:
                await _replan_later(s, tid, o.replan(initial, o.wave, o.now))
    if twice:
        await refresh_sent(s, twice)   # the facts of a target met twice, recomputed from its sends
    return done


async def record_outcome(db: Db, *, send_id: int, owner: str, event: SendEvent, wave: int, now: datetime,
                         smtp_reply: str | None = None, error: str | None = None,
                         next_due_at: datetime | None = None, replan: Replanner | None = None,
                         initial_sent_at: datetime | None = None) -> bool:
    """Apply the lifecycle table's row for (claimed, `event`) to a send this owner still holds, and its
    effect on the target and the target's other sends, in one transaction. False (nothing written)
    when the lease is no longer ours."""
    o = Outcome(send_id, owner, event, wave, now, smtp_reply, error, next_due_at, replan, initial_sent_at)
    async with transaction(db) as s:
        return await _record(s, o)


async def record_sent(db: Db, *, send_id: int, owner: str, smtp_reply: str, sent_at: datetime,
                      wave: int = 0, replan: Replanner | None = None,
                      initial_sent_at: datetime | None = None) -> bool:
    """The server accepted the message. False (nothing written) when the lease is no longer ours."""
    return await record_outcome(db, send_id=send_id, owner=owner, event=SendEvent.ACCEPTED, wave=wave,
                                now=sent_at, smtp_reply=smtp_reply, replan=replan,
                                initial_sent_at=initial_sent_at)


async def record_retry(db: Db, *, send_id: int, owner: str, error: str, next_due_at: datetime,
                       now: datetime | None = None) -> bool:
    """A temporary failure: due again at `next_due_at`, attempts+1."""
    return await record_outcome(db, send_id=send_id, owner=owner, event=SendEvent.TEMPORARY, wave=0,
                                now=now or next_due_at, error=error, next_due_at=next_due_at)


async def record_failed(db: Db, *, send_id: int, owner: str, error: str, smtp_reply: str | None,
                        bounce_target: bool, now: datetime, wave: int = 0,
                        event: SendEvent | None = None) -> bool:
    """A permanent failure. bounce_target: the address is bad, so the target is bounced and its other
    waiting sends are cancelled (unless a reply already decided the target); otherwise a failed initial
    email makes the target `undelivered` (DESIGN.md)."""
    if event is None:
        event = SendEvent.RECIPIENT_REFUSED if bounce_target else SendEvent.MESSAGE_REFUSED
    return await record_outcome(db, send_id=send_id, owner=owner, event=event, wave=wave, now=now,
                                error=error, smtp_reply=smtp_reply)


async def release_claimed(db: Db, *, send_id: int, owner: str, error: str, now: datetime) -> bool:
    """An account fault: the claim goes back to the queue as it was, costing no attempt."""
    return await record_outcome(db, send_id=send_id, owner=owner, event=SendEvent.ACCOUNT_FAULT, wave=0,
                                now=now, error=error)


async def cancel_claimed(db: Db, *, send_id: int, owner: str, reason: str) -> bool:
    """The target stopped waiting between the claim and the send: nothing goes out."""
    async with transaction(db) as s:
        result = await s.execute(_mine(send_id, owner).values(state=SendState.CANCELLED, last_error=reason,
                                                              lease_expires_at=None).returning(Send.id))
        return result.scalar_one_or_none() is not None


async def expire_leases(db: Db, *, campaign_id: int, wall_now: datetime, dead_owners: Collection[str] = ()) -> int:
    """Claimed sends whose lease ran out (or whose owner process is gone): those handed to SMTP
    (`wire_at` set) become `uncertain`, since they may have been delivered, and are never put back to
    the queue here; those never handed over go back to the queue at no cost (the table's `abandoned`
    row). Returns how many became uncertain."""
    stale = Send.lease_expires_at < wall_now
    if dead_owners:
        stale = stale | Send.lease_owner.in_(list(dead_owners))
    async with transaction(db) as s:
        await s.execute(
            update(Send).where(Send.campaign_id == campaign_id, Send.state.in_(send_sources(SendEvent.ABANDONED)),
                               stale, Send.wire_at.is_(None))
            # Back as it was: RETRY when it had failed before, else SCHEDULED (as an account fault).
            .values(state=case((Send.attempts > 0, SendState.RETRY.value), else_=SendState.SCHEDULED.value),
                    lease_owner=None, lease_expires_at=None)
            .execution_options(synchronize_session=False))
        result = await s.execute(
            update(Send).where(Send.campaign_id == campaign_id, Send.state.in_(send_sources(SendEvent.LEASE_EXPIRED)),
                               stale, Send.wire_at.is_not(None))
            .values(state=SEND_TABLE[SendState.CLAIMED, SendEvent.LEASE_EXPIRED].new_state,
                    last_error="lease expired with no recorded outcome")
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
        return await cancel_waiting(s, [target_id], reason)


async def defer_sends(db: Db, *, target_id: int, until: datetime) -> int:
    """Waiting sends of the target due before `until` move to `until` (out-of-office return)."""
    async with transaction(db) as s:
        result = await s.execute(update(Send).where(Send.target_id == target_id, Send.state.in_(CLAIMABLE),
                                                    Send.due_at < until)
                                 .values(due_at=until).returning(Send.id)
                                 .execution_options(synchronize_session=False))
        return len(result.all())


class ResolveRefused(Exception):
    """resolve cannot apply: the message says why (another campaign's id, a state the table refuses)."""


async def resolve_send(db: Db, *, campaign_id: int, send_id: int, sent: bool, note: str, now: datetime,
                       replan: Replanner | None = None, sent_at: datetime | None = None) -> SendState:
    """A person settled a send of campaign `campaign_id`: --sent (an uncertain send was delivered: kept
    as sent, `sent_at` defaulting to its due time, later waves follow from it) or --resend (an uncertain
    or failed send goes back in the queue with the same Message-ID, a failed one with fresh attempts;
    its target is reopened so the next pass sends it). Returns the state the send was in; raises
    ResolveRefused, changing nothing, when the table does not allow it."""
    event = SendEvent.RESOLVED_SENT if sent else SendEvent.RESOLVED_RESEND
    async with transaction(db) as s:
        row = (await s.execute(select(Send.state, Send.wave, Send.target_id, Send.due_at, Target.state.label("ts"))
                               .join(Target, Target.id == Send.target_id)
                               .where(Send.id == send_id, Send.campaign_id == campaign_id))).one_or_none()
        if row is None:
            raise ResolveRefused(f"send {send_id} is not a send of this campaign")
        decision = decide_send(SendState(row.state), event, wave=row.wave)
        allowed = ", ".join(send_sources(event))
        if decision is None:
            raise ResolveRefused(f"send {send_id} is {row.state}: only a send that is {allowed} can be "
                                 f"resolved {'--sent' if sent else '--resend'}")
        if not sent and TargetState(row.ts) not in RESENDABLE_TARGETS:
            raise ResolveRefused(f"send {send_id}: its target is {row.ts}; nothing more is sent to it")
        values: dict[str, Any] = {"state": decision.send.new_state, "resolved_note": note,
                                  "lease_owner": None, "lease_expires_at": None}
        when = sent_at if sent_at is not None else row.due_at
        if sent:
            values["sent_at"] = when
        else:
            values.update(due_at=min(row.due_at, now), last_error=None)
            if decision.send.attempts.value == "reset":
                values.update(attempts=0, first_attempt_at=None)
        done = (await s.execute(update(Send).where(Send.id == send_id, Send.state == row.state)
                                .values(**values).returning(Send.id))).scalar_one_or_none()
        if done is None:
            raise ResolveRefused(f"send {send_id} changed while resolving it: run the command again")
        await refresh_facts(s, [row.target_id])
        if decision.target_event is not None:
            await apply_target_event(s, row.target_id, decision.target_event, now=now)
        if sent and replan is not None:
            initial = when if row.wave == 0 else (await s.execute(
                select(Send.sent_at).where(Send.target_id == row.target_id, Send.wave == 0,
                                           Send.state == SendState.SENT))).scalar_one_or_none()
            if initial is not None:
                await _replan_later(s, row.target_id, replan(initial, row.wave, when))
        if not sent:
            # Idle workers wake when this commits: the resend is due now.
            await notify(s, CHANNEL_SENDS, str(campaign_id))
    return SendState(row.state)


async def resolve_uncertain(db: Db, *, send_id: int, sent: bool, note: str,
                            sent_at: datetime | None = None) -> bool:
    """resolve_send for an uncertain send of whatever campaign (kept for callers that predate the
    campaign check): False when it is not uncertain."""
    async with transaction(db) as s:
        row = (await s.execute(select(Send.campaign_id, Send.state, Send.due_at)
                               .where(Send.id == send_id))).one_or_none()
        if row is None or row.state != SendState.UNCERTAIN:
            return False
        try:
            await resolve_send(s, campaign_id=row.campaign_id, send_id=send_id, sent=sent, note=note,
                               now=row.due_at, sent_at=sent_at)
        except ResolveRefused:
            return False
    return True


async def record_uncertain(db: Db, *, send_id: int, owner: str, error: str) -> bool:
    """The connection died during DATA: the server may have queued it. Never resent without a person."""
    async with transaction(db) as s:
        result = await s.execute(_mine(send_id, owner).values(state=SendState.UNCERTAIN, last_error=error,
                                                              attempts=Send.attempts + 1, lease_expires_at=None)
                                 .returning(Send.id))
        return result.scalar_one_or_none() is not None
