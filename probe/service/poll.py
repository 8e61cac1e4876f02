"""One mailbox pass: fetch what is new → parse → classify → match → store → apply to the target.

The same ingest path serves IMAP polling and `probe import` (mbox, maildir, .eml), so a message is
read the same way wherever it comes from. A message is stored once; what matches no target is kept
and listed, never dropped."""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from probe.core.lifecycle import TargetEvent, message_event
from probe.core.model import Classification, MatchMethod, MessageKind
from probe.core.planning import localize
from probe.store.inbox import (
    AnsweredBy,
    InboundRecord,
    TargetKeys,
    get_cursor,
    insert_inbound_many,
    mark_answered,
    mark_answered_many,
    mark_bounced,
    mark_opted_out,
    message_id_key,
    set_cursor,
    set_out_of_office,
    set_out_of_office_many,
    targets_for_keys,
)
from probe.store.notify import CHANNEL_REPLIES, notify
from probe.store.sends import defer_sends

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from probe.adapters.imap import ImapMailbox
    from probe.core.answers import AnswerWords
    from probe.core.matching import Candidate
    from probe.core.message import ParsedMessage
    from probe.service.wiring import Service

log = logging.getLogger("probe.poll")


@dataclass
class Ingested:
    row_id: int
    kind: MessageKind
    answer: str | None
    target_id: int | None
    method: MatchMethod | None
    sender: str


@dataclass
class PollResult:
    new_messages: int = 0
    duplicates: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    unmatched: int = 0
    replies: list[Ingested] = field(default_factory=list)

    def add(self, item: Ingested | None) -> None:
        if item is None:
            self.duplicates += 1
            return
        self.new_messages += 1
        self.kinds[item.kind.value] += 1
        self.unmatched += item.target_id is None
        self.replies.append(item)


@dataclass(frozen=True)
class Incoming:
    """One raw message and where it was read from."""

    raw: bytes
    mailbox: str
    uidvalidity: int | None
    uid: int | None
    received_at: datetime | None


@dataclass
class _Read:
    """A message parsed and classified once; the matcher and the store both use this form."""

    item: Incoming
    parsed: ParsedMessage
    verdict: Classification
    candidates: list[Candidate]
    authenticity: dict[str, object] | None
    target_id: int | None = None
    method: MatchMethod | None = None


def _thread_ids(parsed: ParsedMessage) -> list[str]:
    return [mid.strip() for mid in (parsed.in_reply_to, *parsed.references) if mid]


def _resolve(read: _Read, keys: TargetKeys, *, by_message_id: bool) -> None:
    """The first candidate that names a target, in match_candidates' order; then (a relay that
    rewrote our Message-ID, e.g. SES, still names it in the reply's headers) the thread's ids."""
    for candidate in read.candidates:
        found = (keys.by_token if candidate.key == "token" else keys.by_email).get(candidate.value.lower())
        if found is not None:
            read.target_id, read.method = found, candidate.method
            return
    if by_message_id:
        for mid in _thread_ids(read.parsed):
            found = keys.by_message_id.get(message_id_key(mid))
            if found is not None:
                read.target_id, read.method = found, MatchMethod.IN_REPLY_TO
                return


async def find_targets(session: AsyncSession, campaign_id: int, reads: list[_Read]) -> None:
    """Match a chunk at once: one look-up per kind of key (a second for the thread's Message-IDs of
    what the first left unmatched), then each message keeps its first candidate that names a target."""
    keys = await targets_for_keys(
        session, campaign_id,
        tokens=[c.value for r in reads for c in r.candidates if c.key == "token"],
        emails=[c.value for r in reads for c in r.candidates if c.key == "email"], message_ids=())
    for read in reads:
        _resolve(read, keys, by_message_id=False)
    unmatched = [r for r in reads if r.target_id is None and _thread_ids(r.parsed)]
    if unmatched:
        keys = await targets_for_keys(session, campaign_id, tokens=(), emails=(),
                                      message_ids=[m for r in unmatched for m in _thread_ids(r.parsed)])
        for read in unmatched:
            _resolve(read, keys, by_message_id=True)


#: How far a server's clock may run ahead of ours before its time is not believed.
CLOCK_SKEW = timedelta(minutes=15)


def received_time(internaldate: datetime | None, date_header: datetime | None, now: datetime) -> datetime:
    """When the message arrived: the server's INTERNALDATE, else the Date header, else this pass.
    A time after `now` cannot be right on the campaign clock (a simulated run, or a skewed clock),
    so the pass that saw the message is the best bound."""
    for candidate in (internaldate, date_header):
        if candidate is not None and candidate <= now + CLOCK_SKEW:
            return candidate
    return now


MAX_SUBJECT = 2000
IMPORT_CHUNK = 200  # messages per transaction in `probe import`
MAX_NEW_TEXT = 20_000


def storable(text: str, limit: int) -> str:
    """Text any database accepts: no NUL (PostgreSQL refuses it), no lone surrogates, bounded."""
    text = text[:limit]
    if text.isascii() and "\x00" not in text:
        return text  # what the round trip below gives back for ASCII without NUL (isascii is O(1))
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def content_hash(raw: bytes) -> str:
    """SHA-256 of the message in its canonical form (CRLF line ends, as on the wire), so the copy
    read over IMAP and the same message exported to an mbox or a .eml file are recognised as one."""
    if raw.count(b"\n") != raw.count(b"\r\n"):  # a bare LF somewhere (each CRLF holds one LF)
        raw = re.sub(rb"\r?\n", b"\r\n", raw)
    return hashlib.sha256(raw).hexdigest()


def _return_datetime(service: Service, verdict: Classification) -> datetime | None:
    if verdict.return_date is None:
        return None
    # Back in the office at the start of that working day, campaign time.
    return localize(datetime.combine(verdict.return_date, time(9, 0)), service.settings.campaign.zone)


async def _authenticity(service: Service, parsed: ParsedMessage, raw: bytes) -> dict[str, object] | None:
    """SPF / DKIM / DMARC of the message, with our own DKIM check when `campaign.verify_dkim`."""
    auth = parsed.authenticity
    if service.settings.campaign.verify_dkim:
        import asyncio

        from probe.adapters.dkim import verify_dkim
        from probe.core.authenticity import with_dkim_verified

        result, domains = await asyncio.to_thread(verify_dkim, raw)  # blocking DNS: off the loop
        auth = with_dkim_verified(auth, result, domains)
    return auth.as_dict() if auth.present else None


async def ingest(service: Service, raw: bytes, *, mailbox: str, uidvalidity: int | None, uid: int | None,
                 received_at: datetime | None, now: datetime) -> Ingested | None:
    """Store one raw message and apply what it means; None when it was already stored."""
    return (await ingest_many(service, [Incoming(raw, mailbox, uidvalidity, uid, received_at)], now))[0]


async def _read(service: Service, item: Incoming, words: AnswerWords) -> _Read:
    # Imported on the first message, not with the module: the classifier's modules and their
    # regular expressions are most of a tick's start-up, and a pass that sends only, or finds
    # nothing new in the mailbox, never reads a message.
    from probe.core.classify import classify_bytes
    from probe.core.matching import match_candidates

    parsed, verdict = classify_bytes(item.raw, words)
    candidates = match_candidates(in_reply_to=parsed.in_reply_to, references=parsed.references,
                                  to_addrs=parsed.to_addrs, from_addr=parsed.from_addr, classification=verdict)
    return _Read(item, parsed, verdict, candidates, await _authenticity(service, parsed, item.raw))


def _record(service: Service, read: _Read, now: datetime) -> InboundRecord:
    parsed, verdict, raw = read.parsed, read.verdict, read.item.raw
    details: dict[str, object] = {
        "failed_recipients": list(verdict.failed_recipients),
        "original_message_ids": list(verdict.original_message_ids),
        "return_date": verdict.return_date.isoformat() if verdict.return_date else None,
        "status": verdict.status,
        "parse_error": parsed.parse_error,
        **verdict.extra,
    }
    keep = service.settings.campaign.keep_bodies
    return InboundRecord(
        mailbox=read.item.mailbox, uidvalidity=read.item.uidvalidity, uid=read.item.uid,
        message_id_header=storable(parsed.message_id, 250), raw_sha256=content_hash(raw),
        raw=raw if keep else None, size=len(raw), received_at=received_time(read.item.received_at, parsed.date, now),
        date_header=parsed.date,
        sender=storable(parsed.from_addr, 320), subject=storable(parsed.subject, MAX_SUBJECT),
        kind=verdict.kind, answer=verdict.answer, opt_out=verdict.opt_out,
        new_text=storable(verdict.new_text, MAX_NEW_TEXT if keep else 500),
        reasons=[storable(r, 200) for r in verdict.reasons],
        details={k: storable(v, 2000) if isinstance(v, str) else v for k, v in details.items()},
        target_id=read.target_id, match_method=read.method, authenticity=read.authenticity)


async def ingest_many(service: Service, items: list[Incoming], now: datetime,
                      cursor: tuple[str, int, int] | None = None) -> list[Ingested | None]:
    """Store a chunk of raw messages and apply what each means, in one transaction; for each item,
    in order, what was stored, or None when it was already stored (or repeats an earlier item).

    Each message is parsed and classified once, before the transaction (no lock held meanwhile);
    matching and the duplicate check are a few queries for the whole chunk, the rows one
    executemany, the effects applied in the items' order. `cursor` (mailbox, UIDVALIDITY, last UID)
    is written in the same transaction: the checkpoint moves only with the chunk it covers."""
    campaign_id = service.require_campaign()
    reads: list[_Read] = []
    if items:   # a poll that found nothing new still writes its cursor, and needs no answer words
        words = service.words   # built from the settings at each use: once for the chunk
        reads = [await _read(service, item, words) for item in items]
    results: list[Ingested | None] = []
    async with service.sessions() as session, session.begin():
        if reads:
            await find_targets(session, campaign_id, reads)
            records = [_record(service, read, now) for read in reads]
            row_ids = await insert_inbound_many(session, campaign_id, records)
            effects = _Effects(service, session, now)
            for read, record, row_id in zip(reads, records, row_ids, strict=True):
                if row_id is None:
                    results.append(None)
                    continue
                if read.target_id is not None:
                    await effects.add(read.target_id, row_id, read, record.received_at)
                results.append(Ingested(row_id, read.verdict.kind, read.verdict.answer, read.target_id,
                                        read.method, read.parsed.from_addr))
            await effects.flush()
            if any(stored is not None and stored.target_id is not None for stored in results):
                # The other workers wake when this commits (an import, or the mailbox's one poller):
                # their next pass sees the targets settled at once, e.g. `probe run` stops when it was
                # the last.
                await notify(session, CHANNEL_REPLIES, str(campaign_id))
        if cursor is not None:
            await set_cursor(session, campaign_id, *cursor)
    for stored in results:
        if stored is not None:
            log.info("message kind=%s answer=%s matched=%s sender=%s", stored.kind, stored.answer,
                     stored.method or "no", stored.sender)
    return results


class _Effects:
    """apply_effect for a chunk's messages, in their order, with the common ones written together.

    Human replies (mark_answered_many) and return dates without deferral (set_out_of_office_many)
    are collected; any other effect (an opt-out, a bounce, a deferral of sends) first writes what
    was collected, then is applied alone, so every effect sees the ones before it as applied."""

    def __init__(self, service: Service, session: AsyncSession, now: datetime) -> None:
        self.service, self.session, self.now = service, session, now
        self.replies: list[AnsweredBy] = []
        self.away: dict[int, datetime] = {}

    async def add(self, target_id: int, row_id: int, read: _Read, received: datetime) -> None:
        verdict = read.verdict
        event = message_event(verdict.kind.value, verdict.answer, verdict.opt_out)
        if event in (TargetEvent.REPLY_CLEAR, TargetEvent.REPLY_UNCLEAR):
            if verdict.answer is not None:
                self.replies.append(AnsweredBy(target_id, verdict.answer, row_id, received))
            return
        if event is TargetEvent.OUT_OF_OFFICE and not self.service.settings.schedule.defer_after_out_of_office:
            until = _return_datetime(self.service, verdict)
            if until is not None and until > received:
                self.away.pop(target_id, None)   # the last one wins, as applied one by one
                self.away[target_id] = until
            return
        if event in (TargetEvent.DELAY_NOTICE, TargetEvent.READ_RECEIPT) or event is None:
            return
        await self.flush()
        await apply_effect(self.service, self.session, target_id, row_id, read.parsed, verdict, received, self.now)

    async def flush(self) -> None:
        replies, self.replies = self.replies, []
        away, self.away = self.away, {}
        await mark_answered_many(self.session, replies, now=self.now)
        await set_out_of_office_many(self.session, away)


async def apply_effect(service: Service, session: AsyncSession, target_id: int, row_id: int,
                       parsed: ParsedMessage, verdict: Classification, received: datetime,
                       now: datetime) -> None:
    """What the message does to its target: the lifecycle table's event for it, applied by the store."""
    campaign_id = service.require_campaign()
    event = message_event(verdict.kind.value, verdict.answer, verdict.opt_out)
    if event is TargetEvent.OPT_OUT:
        # A person's "remove me" (or a colleague's), or their mail client's List-Unsubscribe request.
        await mark_opted_out(session, target_id=target_id, email=parsed.from_addr, campaign_id=campaign_id,
                             now=now)
    elif event in (TargetEvent.REPLY_CLEAR, TargetEvent.REPLY_UNCLEAR) and verdict.answer is not None:
        await mark_answered(session, target_id=target_id, answer=verdict.answer, message_row_id=row_id,
                            received_at=received, now=now)
    elif event is TargetEvent.HARD_BOUNCE:
        await mark_bounced(session, target_id=target_id, now=now)
    elif event is TargetEvent.OUT_OF_OFFICE:
        until = _return_datetime(service, verdict)
        if until is not None and until > received:
            await set_out_of_office(session, target_id=target_id, until=until)
            if service.settings.schedule.defer_after_out_of_office:
                await defer_sends(session, target_id=target_id, until=until)
    # DELAY_NOTICE, READ_RECEIPT and unknown messages are recorded and change nothing.


async def poll(service: Service, now: datetime, mailbox: ImapMailbox | None = None) -> PollResult:
    """Fetch every message that arrived since the cursor, batch by batch, advancing the cursor.
    `mailbox`: an open connection to reuse (the daemon's watcher); else one is opened for the poll."""
    account = service.imap_account()
    if account is None:
        return PollResult()
    if mailbox is not None:
        return await _poll_with(service, mailbox, now)
    from probe.adapters.imap import ImapMailbox

    async with ImapMailbox(account) as own:
        return await _poll_with(service, own, now)


async def _poll_with(service: Service, mailbox: ImapMailbox, now: datetime) -> PollResult:
    result = PollResult()
    campaign_id = service.require_campaign()
    key = service.mailbox_key()
    cursor = await get_cursor(service.sessions, campaign_id, key)
    known_validity, last_uid = cursor if cursor else (None, 0)
    async for state, batch in mailbox.fetch_new(last_uid if cursor else 0, known_validity):
        if known_validity is not None and state.uidvalidity != known_validity:
            log.warning("%s: UIDVALIDITY changed (%s → %s): reading the folder again, without "
                        "duplicates", key, known_validity, state.uidvalidity)
            known_validity, last_uid = state.uidvalidity, 0
        items = [Incoming(m.raw, key, state.uidvalidity, m.uid, m.internaldate) for m in batch]
        last_uid = max([last_uid, *(m.uid for m in batch)])
        known_validity = state.uidvalidity
        for stored in await ingest_many(service, items, now, cursor=(key, state.uidvalidity, last_uid)):
            result.add(stored)
    return result


async def import_files(service: Service, path: Path, now: datetime,
                       on_message: Callable[[], None] | None = None) -> PollResult:
    """`probe import`: the same ingest path for an mbox, a maildir or .eml files. `on_message` is
    called after each message (the CLI's progress line)."""
    from probe.adapters.mailfiles import iter_mail_files

    result = PollResult()
    chunk: list[Incoming] = []

    async def flush() -> None:
        for stored in await ingest_many(service, chunk, now):
            result.add(stored)
            if on_message is not None:
                on_message()
        chunk.clear()

    for item in iter_mail_files(path):
        chunk.append(Incoming(item.raw, f"import:{item.source}", None, None, item.received_at))
        if len(chunk) >= IMPORT_CHUNK:
            await flush()
    if chunk:
        await flush()
    return result
