"""One pass = poll, then dispatch, then close what has gone silent: the unit cron and the daemon run.

Poll comes first so that a reply that arrived overnight cancels the morning reminder."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from probe.service.context import process_owner
from probe.service.dispatch import DispatchResult, dispatch
from probe.service.poll import PollResult, poll
from probe.service.presence import worker_presence
from probe.service.validate import check_secrets
from probe.store.campaigns import record_account_health, record_pass
from probe.store.inbox import close_silent_targets
from probe.store.pollers import mailbox_lock

if TYPE_CHECKING:
    from probe.adapters.imap import ImapMailbox
    from probe.service.wiring import Service

log = logging.getLogger("probe.tick")


@dataclass
class PassResult:
    now: datetime
    polled: PollResult = field(default_factory=PollResult)
    dispatched: DispatchResult = field(default_factory=DispatchResult)
    closed: int = 0

    @property
    def new_messages(self) -> int:
        return self.polled.new_messages

    @property
    def sent(self) -> int:
        return self.dispatched.sent

    @property
    def retried(self) -> int:
        return self.dispatched.retried

    @property
    def failed(self) -> int:
        return self.dispatched.failed

    @property
    def cancelled(self) -> int:
        return self.dispatched.cancelled

    @property
    def replies(self) -> list[tuple[str, str, str | None]]:
        return [(r.sender, r.kind.value, r.answer) for r in self.polled.replies]

    def summary(self) -> str:
        d, p = self.dispatched, self.polled
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(p.kinds.items())) or "none"
        return (f"pass at {self.now.isoformat(timespec='minutes')}: {p.new_messages} new messages ({kinds}; "
                f"{p.unmatched} unmatched), sent {d.sent}, retry {d.retried}, failed {d.failed}, "
                f"uncertain {d.uncertain + d.found_uncertain}, cancelled {d.cancelled}, closed {self.closed}"
                + (", SMTP ACCOUNT FAILING" if d.account_fault is not None else ""))


async def poll_if_free(service: Service, now: datetime) -> PollResult:
    """Poll the mailbox only if no other process holds it (one poller per mailbox, DESIGN.md)."""
    imap = service.settings.imap
    if imap is None:
        return await poll(service, now)
    lock = mailbox_lock(service.engine, service.mailbox_key(), owner=process_owner(), lease=imap.poll_every)
    try:
        if not await lock.acquire(service.wall_clock()):
            log.info("another process polls %s: this pass only sends", service.mailbox_key())
            return PollResult()
        return await poll(service, now)
    finally:
        await asyncio.shield(lock.release())


async def run_pass(service: Service, now: datetime, *, do_poll: bool = True,
                   mailbox: ImapMailbox | None = None, own_lock: bool = True,
                   presence: bool = False) -> PassResult:
    """`own_lock`: take the mailbox's lock for the poll (`probe tick`); False when the caller holds it
    (the daemon). `presence`: register this process in the worker table for the pass (`probe tick`)."""
    if presence:
        async with worker_presence(service.sessions, service.campaign_id, "tick") as me:
            result = await run_pass(service, now, do_poll=do_poll, mailbox=mailbox, own_lock=own_lock)
            await me.passed()
            return result
    campaign_id = service.require_campaign()
    check_secrets(service.settings)   # a missing password is exit 2 before any connection
    result = PassResult(now)
    if do_poll:
        if mailbox is None and own_lock:
            result.polled = await poll_if_free(service, now)
        else:
            result.polled = await poll(service, now, mailbox)
    result.dispatched = await dispatch(service, now)
    fault = result.dispatched.account_fault
    if fault is not None:
        log.error("the SMTP account cannot be used, nothing more is sent this pass (no attempt counted): %s",
                  fault)
        await record_account_health(service.sessions, campaign_id, failure=str(fault), now=now)
    elif result.dispatched.sent or result.dispatched.retried or result.dispatched.failed:
        await record_account_health(service.sessions, campaign_id, failure=None, now=now)
    result.closed = await close_silent_targets(
        service.sessions, campaign_id=campaign_id, now=now,
        close_after_s=int(service.settings.schedule.close_after.total_seconds()))
    await record_pass(service.sessions, campaign_id, service.wall_clock())
    log.info("%s", result.summary())
    return result
