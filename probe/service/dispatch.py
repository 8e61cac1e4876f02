"""One send pass: claim what is due, render, hand it to SMTP, record the server's answer.

A send is claimed with a lease before anything goes on the wire and its outcome is recorded under
asyncio.shield, so a pass stopped half-way leaves each send either recorded or `claimed`; a claim
whose owner died becomes `uncertain` on the next pass and is never resent without a person."""

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
from probe.core.model import WAITING_STATES
from probe.core.tokens import reply_to_address
from probe.errors import ProbeError, SmtpError
from probe.service.wiring import process_owner
from probe.store.inbox import target_info
from probe.store.sends import (
    ClaimedSend,
    cancel_claimed,
    claim_due,
    claimed_owners,
    expire_leases,
    record_failed,
    record_retry,
    record_sent,
    record_uncertain,
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
    sent_to: list[tuple[str, int]] = field(default_factory=list)   # (email, wave)


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
                                   fatal, appended)
        finally:
            await sender.close()

    await asyncio.gather(*(worker() for _ in range(settings.smtp.concurrency)))
    if appended:
        await copy_to_sent(service, appended, now)
    if fatal:
        raise fatal[0]
    return result


async def send_claimed(service: Service, sender: SmtpSender, send: ClaimedSend, owner: str, now: datetime,
                       envelope_from: str, result: DispatchResult, fatal: list[ProbeError],
                       appended: list[bytes]) -> None:
    settings = service.settings
    info = await target_info(service.sessions, send.target_id)
    state = info[0] if info else None
    if state not in WAITING_STATES:  # answered while this send waited for its turn
        await cancel_claimed(service.sessions, send_id=send.send_id, owner=owner, reason=f"target {state}")
        result.cancelled += 1
        return
    try:
        rendered = service.templates.render(dict(send.fields), send.wave, service.name, send.line)
        reply_to = settings.campaign.reply_to
        message = build_message(rendered, from_=settings.campaign.from_, to=send.address,
                                message_id=send.message_id, date=now,
                                references=send.previous_message_ids,
                                reply_to=reply_to_address(reply_to, send.token) if reply_to else None)
    except ProbeError as exc:
        await record_failed(service.sessions, send_id=send.send_id, owner=owner, error=str(exc), smtp_reply=None,
                            bounce_target=False, now=now)
        result.failed += 1
        log.error("target line %d wave %d: cannot build the message: %s", send.line, send.wave, exc)
        return
    started = time.monotonic()
    try:
        outcome = await sender.send(message, sender=envelope_from, recipient=send.address)
    except SmtpError as exc:  # the account itself is unusable: stop the pass, nothing was sent
        fatal.append(exc)
        outcome = SendOutcome(OutcomeKind.TEMPORARY, str(exc))
    elapsed_ms = (time.monotonic() - started) * 1000
    await asyncio.shield(record_outcome(service, send, owner, now, outcome, result))
    if outcome.kind is OutcomeKind.SENT and settings.imap is not None and settings.imap.sent_folder:
        appended.append(bytes(message))
    log.info("send token=%s wave=%d outcome=%s elapsed_ms=%.0f reply=%r", send.token[:6], send.wave,
             outcome.kind, elapsed_ms, outcome.reply)


async def record_outcome(service: Service, send: ClaimedSend, owner: str, now: datetime, outcome: SendOutcome,
                         result: DispatchResult) -> None:
    max_attempts = service.settings.smtp.max_attempts
    match outcome.kind:
        case OutcomeKind.SENT:
            await record_sent(service.sessions, send_id=send.send_id, owner=owner, smtp_reply=outcome.reply,
                              sent_at=now)
            result.sent += 1
            result.sent_to.append((send.email, send.wave))
        case OutcomeKind.TEMPORARY if send.attempts + 1 < max_attempts:
            await record_retry(service.sessions, send_id=send.send_id, owner=owner, error=outcome.reply,
                               next_due_at=now + retry_delay(send.attempts))
            result.retried += 1
        case OutcomeKind.TEMPORARY | OutcomeKind.REFUSED_MESSAGE:
            await record_failed(service.sessions, send_id=send.send_id, owner=owner, error=outcome.reply,
                                smtp_reply=outcome.reply, bounce_target=False, now=now)
            result.failed += 1
        case OutcomeKind.REFUSED_RECIPIENT:
            await record_failed(service.sessions, send_id=send.send_id, owner=owner, error=outcome.reply,
                                smtp_reply=outcome.reply, bounce_target=True, now=now)
            result.failed += 1
            result.bounced += 1
        case OutcomeKind.UNCERTAIN:
            await record_uncertain(service.sessions, send_id=send.send_id, owner=owner, error=outcome.reply)
            result.uncertain += 1


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
