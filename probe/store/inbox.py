"""Poll side of the store: mailbox cursors, inbound messages (stored once), target look-ups and the
state changes a reply, a bounce or an opt-out causes.

Transactions: every function takes `db`, either an async_sessionmaker (it runs its own short
transaction and commits) or an AsyncSession (it joins the caller's transaction; the caller commits).
See probe.store.engine.Db. To make "store the message and apply its effect" atomic, open one
transaction (`async with sessions.begin() as s:`) and pass `s` to both calls.

Every state change is a row of the lifecycle table (probe.core.lifecycle), applied by
sends.apply_target_event with an UPDATE guarded by the state it was decided from: a human reply
answers an open target (a closed one too: a late reply counts), and a later yes/no replaces a
provisional unclear; a bounce or a refused address bounces an open target; an opt-out always wins
(the answer is kept) and suppresses the sender's address for every campaign in this database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update

from probe.core.lifecycle import BLOCKING_SENDS, AnswerRule, OtherSends, TargetEvent, decide_target, target_sources
from probe.core.model import Answer, MatchMethod, MessageKind, TargetState
from probe.store.engine import Db, transaction, upsert_insert
from probe.store.facts import message_counts
from probe.store.facts import refresh as refresh_facts
from probe.store.sends import WAITING, apply_target_event, cancel_waiting
from probe.store.tables import InboundMessage, MailboxCursor, Send, Suppression, Target


@dataclass(frozen=True)
class InboundRecord:
    mailbox: str
    uidvalidity: int | None
    uid: int | None
    message_id_header: str          # "" when the message has none
    raw_sha256: str
    raw: bytes | None               # None when the campaign keeps no bodies
    size: int
    received_at: datetime
    date_header: datetime | None
    sender: str
    subject: str
    kind: MessageKind
    answer: Answer | None
    opt_out: bool
    new_text: str
    reasons: list[str]
    details: dict[str, Any]
    target_id: int | None
    match_method: MatchMethod | None
    authenticity: dict[str, Any] | None = None  # SPF / DKIM / DMARC (core.authenticity.as_dict)


async def get_cursor(db: Db, campaign_id: int, mailbox: str) -> tuple[int, int] | None:
    """(uidvalidity, last_uid) of the mailbox, or None before its first poll."""
    async with transaction(db) as s:
        row = (await s.execute(select(MailboxCursor.uidvalidity, MailboxCursor.last_uid)
                               .where(MailboxCursor.campaign_id == campaign_id,
                                      MailboxCursor.mailbox == mailbox))).one_or_none()
        return (int(row.uidvalidity), int(row.last_uid)) if row is not None else None


async def set_cursor(db: Db, campaign_id: int, mailbox: str, uidvalidity: int, last_uid: int) -> None:
    async with transaction(db) as s:
        stmt = upsert_insert(s, MailboxCursor).values(campaign_id=campaign_id, mailbox=mailbox,
                                                      uidvalidity=uidvalidity, last_uid=last_uid)
        await s.execute(stmt.on_conflict_do_update(
            index_elements=[MailboxCursor.campaign_id, MailboxCursor.mailbox],
            set_={"uidvalidity": stmt.excluded.uidvalidity, "last_uid": stmt.excluded.last_uid,
                  "updated_at": stmt.excluded.updated_at}))


async def insert_inbound(db: Db, campaign_id: int, rec: InboundRecord) -> int | None:
    """Store the message; its new row id, or None when it is already stored (same mailbox +
    UIDVALIDITY + UID, or same Message-ID header + sha256 of the raw bytes)."""
    async with transaction(db) as s:
        stmt = (upsert_insert(s, InboundMessage)
                .values(campaign_id=campaign_id, mailbox=rec.mailbox, uidvalidity=rec.uidvalidity, uid=rec.uid,
                        message_id_header=rec.message_id_header, raw_sha256=rec.raw_sha256, raw=rec.raw,
                        size=rec.size, received_at=rec.received_at, date_header=rec.date_header,
                        sender=rec.sender, subject=rec.subject, kind=rec.kind, answer=rec.answer,
                        opt_out=rec.opt_out, new_text=rec.new_text, reasons=list(rec.reasons),
                        details=dict(rec.details), target_id=rec.target_id, match_method=rec.match_method,
                        authenticity=rec.authenticity)
                .on_conflict_do_nothing()
                .returning(InboundMessage.id))
        row_id = (await s.execute(stmt)).scalar_one_or_none()
        await refresh_facts(s, [rec.target_id] if row_id is not None and message_counts(rec.kind, rec.opt_out) else [])
        return row_id


#: Values per IN (...) list: far below SQLite's and asyncpg's bound-parameter limits.
IN_CHUNK = 500


def _chunks(values: Sequence[Any], size: int = IN_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _record_values(campaign_id: int, rec: InboundRecord) -> dict[str, Any]:
    return {"campaign_id": campaign_id, "mailbox": rec.mailbox, "uidvalidity": rec.uidvalidity, "uid": rec.uid,
            "message_id_header": rec.message_id_header, "raw_sha256": rec.raw_sha256, "raw": rec.raw,
            "size": rec.size, "received_at": rec.received_at, "date_header": rec.date_header,
            "sender": rec.sender, "subject": rec.subject, "kind": rec.kind, "answer": rec.answer,
            "opt_out": rec.opt_out, "new_text": rec.new_text, "reasons": list(rec.reasons),
            "details": dict(rec.details), "target_id": rec.target_id, "match_method": rec.match_method,
            "authenticity": rec.authenticity}


async def insert_inbound_many(db: Db, campaign_id: int, recs: Sequence[InboundRecord]) -> list[int | None]:
    """Store a chunk of messages in one statement batch: for each record, in order, its new row id,
    or None when it is already stored (as insert_inbound decides: same mailbox + UIDVALIDITY + UID,
    or same Message-ID header + sha256), or repeats an earlier record of the same chunk.

    The stored ones are found first with two SELECTs on the unique keys, so the INSERT (executemany,
    ON CONFLICT DO NOTHING as the last guard against a concurrent writer) only carries new rows;
    the ids come back by RETURNING and are matched to the records by their content key, which is
    unique among the rows inserted. Rows are inserted in the records' order, so ids ascend with it."""
    if not recs:
        return []
    async with transaction(db) as s:
        stored_uids: set[tuple[str, int, int]] = set()
        by_box: dict[tuple[str, int], list[int]] = {}
        for rec in recs:
            if rec.uid is not None and rec.uidvalidity is not None:
                by_box.setdefault((rec.mailbox, rec.uidvalidity), []).append(rec.uid)
        for (mailbox, validity), uids in by_box.items():
            for part in _chunks(uids):
                rows = await s.execute(select(InboundMessage.uid).where(
                    InboundMessage.campaign_id == campaign_id, InboundMessage.mailbox == mailbox,
                    InboundMessage.uidvalidity == validity, InboundMessage.uid.in_(part)))
                stored_uids.update((mailbox, validity, int(uid)) for uid in rows.scalars() if uid is not None)
        stored_content: set[tuple[str, str]] = set()
        # By Message-ID: (campaign_id, message_id_header) leads uq_inbound_content's index.
        shas = {rec.raw_sha256 for rec in recs}
        for part in _chunks(sorted({rec.message_id_header for rec in recs})):
            found = await s.execute(select(InboundMessage.message_id_header, InboundMessage.raw_sha256).where(
                InboundMessage.campaign_id == campaign_id, InboundMessage.message_id_header.in_(part)))
            stored_content.update((str(m), str(h)) for m, h in found if h in shas)
        fresh: list[tuple[int, InboundRecord]] = []
        for i, rec in enumerate(recs):
            content = (rec.message_id_header, rec.raw_sha256)
            uid_key = (rec.mailbox, rec.uidvalidity, rec.uid) if rec.uid is not None and rec.uidvalidity is not None \
                else None
            if content in stored_content or (uid_key is not None and uid_key in stored_uids):
                continue
            stored_content.add(content)   # a later copy in this chunk is a duplicate of this one
            if uid_key is not None:
                stored_uids.add(uid_key)
            fresh.append((i, rec))
        ids: list[int | None] = [None] * len(recs)
        if not fresh:
            return ids
        table = InboundMessage.__table__   # Core executemany (insertmanyvalues), not the ORM's bulk insert
        stmt = (upsert_insert(s, table).on_conflict_do_nothing()
                .returning(table.c.id, table.c.message_id_header, table.c.raw_sha256))
        returned: dict[tuple[str, str], int] = {}
        for part in _chunks(fresh):
            inserted = await s.execute(stmt, [_record_values(campaign_id, rec) for _, rec in part])
            returned.update(((str(m), str(h)), int(row_id)) for row_id, m, h in inserted)
        for i, rec in fresh:
            ids[i] = returned.get((rec.message_id_header, rec.raw_sha256))
        await refresh_facts(s, [rec.target_id for i, rec in fresh
                                if ids[i] is not None and message_counts(rec.kind, rec.opt_out)])
        return ids


@dataclass
class TargetKeys:
    """What a chunk of messages can be matched by, looked up at once (see targets_for_keys)."""

    by_token: dict[str, int] = field(default_factory=dict)       # lowercased token → target id
    by_email: dict[str, int] = field(default_factory=dict)       # lowercased address → target id
    by_message_id: dict[str, int] = field(default_factory=dict)  # "<id>" of one of our sends → target id


def message_id_key(message_id: str) -> str:
    """A Message-ID as the send table stores it (with <>), as target_by_message_id compares it."""
    wanted = message_id.strip()
    return wanted if wanted.startswith("<") else f"<{wanted}>"


async def targets_for_keys(db: Db, campaign_id: int, *, tokens: Iterable[str], emails: Iterable[str],
                           message_ids: Iterable[str]) -> TargetKeys:
    """target_by_token / target_by_email / target_by_message_id for many values, a query per 500."""
    keys = TargetKeys()
    async with transaction(db) as s:
        for part in _chunks(sorted({t.lower() for t in tokens})):
            rows = await s.execute(select(Target.token, Target.id).where(Target.campaign_id == campaign_id,
                                                                         Target.token.in_(part)))
            keys.by_token.update((str(t), int(i)) for t, i in rows)
        for part in _chunks(sorted({e.lower() for e in emails})):
            rows = await s.execute(select(Target.email, Target.id).where(Target.campaign_id == campaign_id,
                                                                         Target.email.in_(part)))
            keys.by_email.update((str(e), int(i)) for e, i in rows)
        for part in _chunks(sorted({message_id_key(m) for m in message_ids})):
            rows = await s.execute(select(Send.message_id, Send.target_id).where(Send.campaign_id == campaign_id,
                                                                                 Send.message_id.in_(part)))
            keys.by_message_id.update((str(m), int(t)) for m, t in rows)
    return keys


async def target_by_token(db: Db, campaign_id: int, token: str) -> int | None:
    async with transaction(db) as s:
        return (await s.execute(select(Target.id).where(Target.campaign_id == campaign_id,
                                                        Target.token == token.lower()))).scalar_one_or_none()


async def target_by_email(db: Db, campaign_id: int, email: str) -> int | None:
    async with transaction(db) as s:
        return (await s.execute(select(Target.id).where(Target.campaign_id == campaign_id,
                                                        Target.email == email.lower()))).scalar_one_or_none()


async def target_by_message_id(db: Db, campaign_id: int, message_id: str) -> int | None:
    """The target of one of our sends by its Message-ID (with or without <>)."""
    wanted = message_id.strip()
    if not wanted.startswith("<"):
        wanted = f"<{wanted}>"
    async with transaction(db) as s:
        return (await s.execute(select(Send.target_id).where(Send.campaign_id == campaign_id,
                                                             Send.message_id == wanted))).scalar_one_or_none()


async def target_info(db: Db, target_id: int) -> tuple[TargetState, str, datetime | None] | None:
    """(state, email, answered_at) of the target, or None when it does not exist."""
    async with transaction(db) as s:
        row = (await s.execute(select(Target.state, Target.email, Target.answered_at)
                               .where(Target.id == target_id))).one_or_none()
        return (row.state, row.email, row.answered_at) if row is not None else None


async def mark_answered(db: Db, *, target_id: int, answer: Answer, message_row_id: int | None,
                        received_at: datetime, now: datetime) -> bool:
    """A human reply: the lifecycle table's REPLY_CLEAR / REPLY_UNCLEAR row. The first human reply
    answers the target and cancels its waiting sends; a later yes/no replaces a provisional unclear
    (the reviewer's override, kept apart in answer_override, still wins). False when nothing changed."""
    event = TargetEvent.REPLY_UNCLEAR if answer == Answer.UNCLEAR else TargetEvent.REPLY_CLEAR
    async with transaction(db) as s:
        applied = await apply_target_event(
            s, target_id, event, now=now, reason="target answered",
            values={"answer": answer, "answered_at": received_at, "deciding_message_id": message_row_id})
        if applied is None:
            return False
        await refresh_facts(s, [target_id])
        before, rule = applied
        if rule.new_state is not None and rule.new_state != before:
            return True
        if rule.answer is AnswerRule.REPLACE_UNCLEAR:
            # The first clear answer decides: replace the provisional unclear. answered_at stays the
            # first reply's time (the target answered then); the deciding message is the clear one.
            replaced = (await s.execute(
                update(Target).where(Target.id == target_id, Target.state == TargetState.ANSWERED,
                                     Target.answer == Answer.UNCLEAR)
                .values(answer=answer, deciding_message_id=message_row_id, state_changed_at=now)
                .returning(Target.id))).scalar_one_or_none()
            if replaced is not None:   # the deciding message changed: so do the facts that follow it
                await refresh_facts(s, [target_id])
            return replaced is not None
    return False


@dataclass(frozen=True)
class AnsweredBy:
    """One human reply's effect on its target, for mark_answered_many."""

    target_id: int
    answer: Answer
    message_row_id: int
    received_at: datetime


async def mark_answered_many(db: Db, replies: Sequence[AnsweredBy], *, now: datetime) -> None:
    """mark_answered for each reply in order, as a few statements for the whole list.

    The targets are read once (locked: FOR UPDATE on PostgreSQL; a SQLite writer holds the database
    from BEGIN IMMEDIATE), the lifecycle table is applied to each reply in order in memory, then one
    executemany writes each changed target's final state (guarded by the state it was read in) and
    one UPDATE cancels the waiting sends of the targets that became answered. The result is the one
    the replies applied one by one would leave: the first human reply answers the target (its time is
    answered_at), a later yes/no replaces a provisional unclear (and becomes the deciding message)."""
    if not replies:
        return
    async with transaction(db) as s:
        read: dict[int, tuple[TargetState, Answer | None]] = {}
        for part in _chunks(sorted({r.target_id for r in replies})):
            rows = await s.execute(select(Target.id, Target.state, Target.answer).where(Target.id.in_(part))
                                   .order_by(Target.id).with_for_update())
            read.update((int(i), (TargetState(st), Answer(a) if a is not None else None)) for i, st, a in rows)
        current = dict(read)
        values: dict[int, dict[str, Any]] = {}
        cancel: list[int] = []
        for reply in replies:
            if reply.target_id not in current:
                continue
            state, answer = current[reply.target_id]
            event = TargetEvent.REPLY_UNCLEAR if reply.answer == Answer.UNCLEAR else TargetEvent.REPLY_CLEAR
            rule = decide_target(state, event)
            if rule is None:
                continue
            if rule.new_state is not None and rule.new_state != state:
                values[reply.target_id] = {"new_state": rule.new_state, "new_answer": reply.answer,
                                           "answered_at": reply.received_at, "deciding": reply.message_row_id}
                current[reply.target_id] = (rule.new_state, reply.answer)
                if rule.sends is OtherSends.CANCEL_WAITING:
                    cancel.append(reply.target_id)
            elif (rule.answer is AnswerRule.REPLACE_UNCLEAR and state == TargetState.ANSWERED
                  and answer == Answer.UNCLEAR):
                row = values.setdefault(reply.target_id, {})
                row.update({"new_answer": reply.answer, "deciding": reply.message_row_id})
                current[reply.target_id] = (state, reply.answer)
        target = cast(Table, Target.__table__)   # Core: an executemany, not the ORM's per-row bulk UPDATE
        moved = [{"tid": t, "from_state": read[t][0], **v} for t, v in values.items() if "new_state" in v]
        replaced = [{"tid": t, **v} for t, v in values.items() if "new_state" not in v]
        if moved:
            await s.execute(
                update(target).where(target.c.id == bindparam("tid"), target.c.state == bindparam("from_state"))
                .values(state=bindparam("new_state"), answer=bindparam("new_answer"),
                        answered_at=bindparam("answered_at"), deciding_message_id=bindparam("deciding"),
                        state_changed_at=now), moved)
        if replaced:
            await s.execute(
                update(target).where(target.c.id == bindparam("tid"), target.c.state == TargetState.ANSWERED,
                                     target.c.answer == Answer.UNCLEAR)
                .values(answer=bindparam("new_answer"), deciding_message_id=bindparam("deciding"),
                        state_changed_at=now), replaced)
        for part in _chunks(cancel):
            await cancel_waiting(s, list(part), "target answered")
        await refresh_facts(s, values)


async def set_out_of_office_many(db: Db, until: dict[int, datetime]) -> None:
    """set_out_of_office for each target (one executemany)."""
    if not until:
        return
    async with transaction(db) as s:
        target = cast(Table, Target.__table__)
        await s.execute(update(target).where(target.c.id == bindparam("tid"))
                        .values(out_of_office_until=bindparam("until")),
                        [{"tid": t, "until": u} for t, u in until.items()])


async def mark_bounced(db: Db, *, target_id: int, now: datetime) -> bool:
    """A hard bounce: target bounced and its waiting sends cancelled, unless already decided."""
    async with transaction(db) as s:
        applied = await apply_target_event(s, target_id, TargetEvent.HARD_BOUNCE, now=now, reason="target bounced")
        return applied is not None and applied[1].new_state is not None and applied[0] != applied[1].new_state


async def mark_opted_out(db: Db, *, target_id: int, email: str, campaign_id: int, now: datetime) -> bool:
    """Someone in the thread asked to be left alone: the target is opted_out (any answer kept), the
    sender's address suppressed for every campaign, waiting sends cancelled here and for the same
    address in other campaigns. The sender may be a colleague of the target (lifecycle table:
    OPT_OUT_COLLEAGUE). False when the target was already opted out."""
    email = email.lower()
    async with transaction(db) as s:
        await s.execute(upsert_insert(s, Suppression)
                        .values(email=email, reason="opt-out reply", campaign_id=campaign_id, created_at=now)
                        .on_conflict_do_nothing())
        own = (await s.execute(select(Target.email).where(Target.id == target_id))).scalar_one_or_none()
        event = TargetEvent.OPT_OUT if own == email else TargetEvent.OPT_OUT_COLLEAGUE
        applied = await apply_target_event(s, target_id, event, now=now, reason="target opted out")
        elsewhere = list((await s.execute(
            update(Target).where(Target.email == email, Target.id != target_id,
                                 Target.state.in_(target_sources(TargetEvent.OPT_OUT)), Target.state.in_(WAITING))
            .values(state=TargetState.OPTED_OUT, state_changed_at=now)
            .returning(Target.id))).scalars())
        await cancel_waiting(s, elsewhere, "target opted out")
    return applied is not None and applied[0] != TargetState.OPTED_OUT


async def set_out_of_office(db: Db, *, target_id: int, until: datetime) -> None:
    async with transaction(db) as s:
        await s.execute(update(Target).where(Target.id == target_id).values(out_of_office_until=until))


async def close_silent_targets(db: Db, *, campaign_id: int, now: datetime, close_after_s: int) -> int:
    """Contacted targets with nothing left to send (nothing scheduled, retrying, claimed or uncertain:
    a target with an uncertain send never closes, its resend must not be lost) whose last send went
    out at least close_after_s ago become closed (lifecycle table: CLOSE): their silence is final."""
    cutoff = now - timedelta(seconds=close_after_s)
    pending = select(Send.id).where(Send.target_id == Target.id, Send.state.in_(sorted(BLOCKING_SENDS)))
    recent = select(Send.id).where(Send.target_id == Target.id, Send.sent_at > cutoff)
    async with transaction(db) as s:
        result = await s.execute(
            update(Target).where(Target.campaign_id == campaign_id,
                                 Target.state.in_(target_sources(TargetEvent.CLOSE)),
                                 ~pending.exists(), ~recent.exists())
            .values(state=TargetState.CLOSED, state_changed_at=now)
            .returning(Target.id).execution_options(synchronize_session=False))
        return len(result.all())


@dataclass(frozen=True)
class ChangedAnswer:
    email: str
    first: Answer          # the answer of the target's first human reply (provisional: unclear)
    now: Answer            # the answer of the reply that decides it now
    deciding_message_id: int


async def changed_answers(db: Db, campaign_id: int) -> list[ChangedAnswer]:
    """Targets whose answer a later reply replaced (lifecycle: a yes/no replaces a provisional
    unclear), for `probe review` to list."""
    first_reply = (select(InboundMessage.target_id, func.min(InboundMessage.id).label("first_id"))
                   .where(InboundMessage.campaign_id == campaign_id, InboundMessage.kind == MessageKind.HUMAN_REPLY,
                          InboundMessage.answer.is_not(None))
                   .group_by(InboundMessage.target_id).subquery())
    async with transaction(db) as s:
        rows = await s.execute(
            select(Target.email, InboundMessage.answer, Target.answer, Target.deciding_message_id)
            .join(first_reply, first_reply.c.target_id == Target.id)
            .join(InboundMessage, InboundMessage.id == first_reply.c.first_id)
            .where(Target.campaign_id == campaign_id, Target.state == TargetState.ANSWERED,
                   Target.deciding_message_id.is_not(None), Target.deciding_message_id != first_reply.c.first_id)
            .order_by(Target.email))
        return [ChangedAnswer(email, first, now, int(deciding)) for email, first, now, deciding in rows
                if first is not None and now is not None and deciding is not None and first != now]

