"""One send pass: claim what is due, render, hand it to SMTP, record the server's answer.

A send is claimed with a lease before anything goes on the wire and its outcome is recorded under
asyncio.shield, so a pass stopped half-way leaves each send either recorded or `claimed`; a claim
whose owner died becomes `uncertain` on the next pass and is never resent without a person.

What each server answer does is the lifecycle table's business (probe.core.lifecycle): this module
turns the answer into a SendEvent and the store applies the table's row. An account fault (connection
refused, host not found, TLS or AUTH refused, 421 at the greeting) is found by connecting before the
message is handed over: the claim goes back to the queue at no cost and the pass stops dispatching."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import TYPE_CHECKING

from probe.adapters.compose import build_message
from probe.adapters.smtp import OutcomeKind, SendOutcome, SmtpSender
from probe.core.lifecycle import SendEvent, classify_smtp_failure
from probe.core.model import WAITING_STATES
from probe.core.planning import follow_up_due
from probe.core.tokens import reply_to_address
from probe.errors import ProbeError, SmtpError
from probe.service.context import process_owner
from probe.service.experiment import sender_for
from probe.store.inbox import target_info
from probe.store.sends import (
    ClaimedSend,
    Replanner,
    cancel_claimed,
    claim_due,
    claimed_owners,
    expire_leases,
    release_claimed,
)
from probe.store.sends import (
    record_outcome as store_outcome,
)

if TYPE_CHECKING:
    from probe.service.wiring import Service

log = logging.getLogger("probe.dispatch")

RETRY_BASE = timedelta(minutes=5)
RETRY_CAP = timedelta(hours=6)


def retry_delay(attempts: int) -> timedelta:
    """5 min, 10, 20, … capped at 6 h: greylisting clears in minutes, outages in hours."""
    return min(RETRY_BASE * (2 ** max(attempts, 0)), RETRY_CAP)


def owner_is_dead(owner: str) -> bool:
    """True when the owner is a process of this host that no longer exists."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class RateLimiter:
    """Spaces sends evenly across all workers of a pass (real time, whatever the campaign clock)."""

    def __init__(self, per_second: float | None) -> None:
        self.interval = 1.0 / per_second if per_second else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.interval:
            return
        async with self._lock:
            delay = self._next - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self._next = max(self._next, time.monotonic()) + self.interval


@dataclass
class DispatchResult:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    bounced: int = 0
    uncertain: int = 0
    cancelled: int = 0
    found_uncertain: int = 0      # claims of dead passes turned uncertain at the start
    undelivered: int = 0          # initial emails failed: their targets are undelivered
    sent_to: list[tuple[str, int]] = field(default_factory=list)   # (email, wave)
    account_fault: SmtpError | None = None   # the account could not be used: dispatch stopped


def replanner(service: Service) -> Replanner:
    """Later waves due at their offsets from the target's actual initial send (core.planning)."""
    schedule = service.settings.schedule
    zone = service.settings.campaign.zone

    def replan(initial_sent_at: datetime, wave: int, sent_at: datetime) -> dict[int, datetime]:
        return follow_up_due(initial_sent_at, wave, sent_at, schedule.reminders, zone, schedule.window)

    return replan


async def dispatch(service: Service, now: datetime) -> DispatchResult:
    campaign_id = service.require_campaign()
    settings = service.settings
    result = DispatchResult()
    owner = process_owner()
    dead = [o for o in await claimed_owners(service.sessions, campaign_id) if owner_is_dead(o)]
    result.found_uncertain = await expire_leases(service.sessions, campaign_id=campaign_id,
                                                 wall_now=service.wall_clock(), dead_owners=dead)
    if result.found_uncertain:
        log.warning("%d sends were claimed by a pass that stopped before recording them: they are "
                    "uncertain (probe status lists them)", result.found_uncertain)
    account = service.smtp_account()
    limiter = RateLimiter(settings.smtp.rate_per_s)
    envelope_from = parseaddr(settings.campaign.from_)[1]
    lease = settings.smtp.lease
    fatal: list[ProbeError] = []
    appended: list[bytes] = []
    replan = replanner(service)

    async def worker() -> None:
        sender = SmtpSender(account)
        try:
            while not fatal and not service.stopping:
                claimed = await claim_due(service.sessions, campaign_id=campaign_id, now=now, owner=owner,
                                          lease_until=service.wall_clock() + lease,
                                          domain=service.message_id_domain, limit=1)
                if not claimed:
                    return
                await limiter.wait()
                await send_claimed(service, sender, claimed[0], owner, now, envelope_from, result,
                                   fatal, appended, replan)
        finally:
            await sender.close()

    await asyncio.gather(*(worker() for _ in range(settings.smtp.concurrency)))
    if appended:
        await copy_to_sent(service, appended, now)
    if fatal:
        if isinstance(fatal[0], SmtpError):
            result.account_fault = fatal[0]   # loud (tick exits 1), recorded for status; not a crash
        else:
            raise fatal[0]
    return result


async def send_claimed(service: Service, sender: SmtpSender, send: ClaimedSend, owner: str, now: datetime,
                       envelope_from: str, result: DispatchResult, fatal: list[ProbeError],
                       appended: list[bytes], replan: Replanner | None = None) -> None:
    settings = service.settings
    info = await target_info(service.sessions, send.target_id)
    state = info[0] if info else None
    if state not in WAITING_STATES:  # answered while this send waited for its turn
        # Shielded like every outcome: a cancelled pass must not leave a never-sent claim to become
        # uncertain.
        await asyncio.shield(cancel_claimed(service.sessions, send_id=send.send_id, owner=owner,
                                            reason=f"target {state}"))
        result.cancelled += 1
        return
    try:
        rendered = service.templates.render(dict(send.fields), send.wave, service.name, send.line)
        reply_to = settings.campaign.reply_to
        message = build_message(rendered, from_=sender_for(settings, dict(send.fields)), to=send.address,
                                message_id=send.message_id, date=now,
                                references=send.previous_message_ids,
                                reply_to=reply_to_address(reply_to, send.token) if reply_to else None)
    except ProbeError as exc:
        await asyncio.shield(store_outcome(service.sessions, send_id=send.send_id, owner=owner,
                                           event=SendEvent.MESSAGE_REFUSED, wave=send.wave, now=now,
                                           error=str(exc)))
        result.failed += 1
        result.undelivered += send.wave == 0
        log.error("target line %d wave %d: cannot build the message: %s", send.line, send.wave, exc)
        return
    try:
        # Connect (or check the connection) before the message is handed over: a fault here is the
        # account's, not the message's, and costs no attempt.
        await sender.connect()
    except SmtpError as exc:
        fatal.append(exc)
        await asyncio.shield(release_claimed(service.sessions, send_id=send.send_id, owner=owner,
                                             error=str(exc).splitlines()[0], now=now))
        return
    started = time.monotonic()
    try:
        outcome = await sender.send(message, sender=envelope_from, recipient=send.address)
    except SmtpError as exc:  # the account itself is unusable (a reconnect refused): free, stop the pass
        fatal.append(exc)
        await asyncio.shield(release_claimed(service.sessions, send_id=send.send_id, owner=owner,
                                             error=str(exc).splitlines()[0], now=now))
        return
    elapsed_ms = (time.monotonic() - started) * 1000
    await asyncio.shield(record_outcome(service, send, owner, now, outcome, result, replan))
    if outcome.kind is OutcomeKind.SENT and settings.imap is not None and settings.imap.sent_folder:
        appended.append(bytes(message))
    log.info("send token=%s wave=%d outcome=%s elapsed_ms=%.0f reply=%r", send.token[:6], send.wave,
             outcome.kind, elapsed_ms, outcome.reply)


def outcome_event(service: Service, send: ClaimedSend, outcome: SendOutcome, now: datetime) -> SendEvent:
    """The lifecycle event of one SMTP outcome (retry window: smtp.max_attempts and smtp.retry_for)."""
    smtp = service.settings.smtp
    match outcome.kind:
        case OutcomeKind.SENT:
            return SendEvent.ACCEPTED
        case OutcomeKind.UNCERTAIN:
            return SendEvent.LOST_IN_DATA
        case OutcomeKind.REFUSED_RECIPIENT:
            return SendEvent.RECIPIENT_REFUSED
        case OutcomeKind.REFUSED_MESSAGE:
            return SendEvent.MESSAGE_REFUSED
    first = send.first_attempt_at or now
    return classify_smtp_failure(permanent=False, at_rcpt=False, attempts_after=send.attempts + 1,
                                 max_attempts=smtp.max_attempts, window_left=now < first + smtp.retry_for)


def next_retry(service: Service, send: ClaimedSend, now: datetime) -> datetime:
    """The backoff, but never past the end of the retry window: the last try is at its end."""
    first = send.first_attempt_at or now
    return min(now + retry_delay(send.attempts), max(first + service.settings.smtp.retry_for, now))


async def record_outcome(service: Service, send: ClaimedSend, owner: str, now: datetime, outcome: SendOutcome,
                         result: DispatchResult, replan: Replanner | None = None) -> None:
    event = outcome_event(service, send, outcome, now)
    await store_outcome(service.sessions, send_id=send.send_id, owner=owner, event=event, wave=send.wave,
                        now=now, error=None if event is SendEvent.ACCEPTED else outcome.reply,
                        # The server's final reply is evidence only when it decided the send.
                        smtp_reply=None if event in (SendEvent.TEMPORARY, SendEvent.LOST_IN_DATA) else outcome.reply,
                        next_due_at=next_retry(service, send, now) if event is SendEvent.TEMPORARY else None,
                        replan=replan, initial_sent_at=send.initial_sent_at)
    match event:
        case SendEvent.LOST_IN_DATA:
            result.uncertain += 1
        case SendEvent.ACCEPTED:
            result.sent += 1
            result.sent_to.append((send.email, send.wave))
        case SendEvent.TEMPORARY:
            result.retried += 1
        case SendEvent.RECIPIENT_REFUSED:
            result.failed += 1
            result.bounced += 1
        case _:
            result.failed += 1
            result.undelivered += send.wave == 0


async def copy_to_sent(service: Service, raws: list[bytes], now: datetime) -> None:
    """Optional: a copy of each probe in the Sent folder, so it shows in the journalist's client."""
    from probe.adapters.imap import ImapMailbox

    account = service.imap_account()
    folder = service.settings.imap.sent_folder if service.settings.imap else None
    if account is None or not folder:
        return
    try:
        async with ImapMailbox(account) as mailbox:
            for raw in raws:
                await mailbox.append(raw, folder, date=now)
    except ProbeError as exc:
        log.warning("could not copy %d sent messages into %s: %s", len(raws), folder, exc)
