"""One send pass: claim what is due, render, hand it to SMTP, record the server's answer.

A send is claimed with a lease, marked "on the wire" (a group-committed write) right before its first
SMTP command, and its outcome is recorded under asyncio.shield, in small group commits (Recorder). A
pass stopped half-way leaves each send recorded or `claimed`; on the next pass a claim whose owner died
becomes `uncertain` if it was on the wire (never resent without a person), else it goes back to the
queue at no cost. So after a crash at most the sends in flight are uncertain.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import TYPE_CHECKING

from probe.adapters.compose import build_message
from probe.adapters.smtp import OutcomeKind, SendOutcome, SmtpSender
from probe.core.fairness import recipient_domain
from probe.core.lifecycle import SendEvent, classify_smtp_failure
from probe.core.model import WAITING_STATES
from probe.core.planning import follow_up_due
from probe.core.tokens import reply_to_address
from probe.errors import ProbeError, SmtpError
from probe.service.context import process_owner
from probe.service.experiment import sender_for
from probe.store.inbox import target_info
from probe.store.locks import DatabaseBusyError
from probe.store.ratelimit import domain_key, smtp_key, take, wait_for_token
from probe.store.sends import (
    ClaimedSend,
    OnTheWire,
    Outcome,
    Replanner,
    cancel_claimed,
    claim_batch,
    claimed_owners,
    expire_leases,
)
from probe.store.sends import (
    record_outcomes as store_outcomes,
)
from probe.store.workers import list_workers, owner_is_silent

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


class Recorder:
    """Group commits of outcomes: workers hand their outcome over and wait for it to be committed;
    one task writes whatever has gathered (up to `max_batch`) in one transaction. The window of doubt
    is the outcomes not yet committed: at most the sends in flight, committed within milliseconds.

    A group is written as soon as every busy worker (`busy()`: the workers holding a send) waits for
    it, or `linger_s` after its first item, whichever comes first: the workers still talking SMTP
    add their outcome and next on-the-wire mark to the same transaction instead of starting one
    each (a transaction's fixed cost, not its rows, is most of the send path's CPU)."""

    def __init__(self, service: Service, *, max_batch: int = 64, linger_s: float = 0.003,
                 busy: Callable[[], int] | None = None) -> None:
        self.service = service
        self.max_batch = max_batch
        self.linger_s = linger_s
        self.busy = busy
        self._queue: asyncio.Queue[tuple[Outcome | OnTheWire, asyncio.Future[bool], bool] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._more: asyncio.Future[None] | None = None   # set when an item arrives while a group gathers

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="probe-recorder")

    async def record(self, outcome: Outcome | OnTheWire) -> bool:
        # Shielded: a cancelled worker still leaves its outcome to be committed.
        return await asyncio.shield(await self.submit(outcome, waits=True))

    async def submit(self, outcome: Outcome | OnTheWire, *, waits: bool = False) -> asyncio.Future[bool]:
        """Hand `outcome` over without waiting for its commit: the future says when it is committed.
        Outcomes are committed in the order they are handed over (the same transaction or an earlier
        one), so whatever a worker hands over after it is committed no earlier. `waits`: the caller
        waits for this commit before doing anything else (the group need not wait for it)."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if self._task is None or self._task.done():
            try:
                done.set_result((await asyncio.shield(store_outcomes(self.service.sessions, [outcome])))[0])
            except Exception as exc:
                done.set_exception(exc)
            return done
        self._queue.put_nowait((outcome, done, waits))
        self._wake()
        return done

    def _wake(self) -> None:
        if self._more is not None and not self._more.done():
            self._more.set_result(None)

    def _ready(self, batch: list[tuple[Outcome | OnTheWire, asyncio.Future[bool], bool]]) -> bool:
        """Every worker holding a send waits for this group: nothing more is coming soon."""
        return self.busy is None or sum(waits for _, _, waits in batch) >= self.busy()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            deadline = loop.time() + self.linger_s
            while True:
                while len(batch) < self.max_batch and not self._queue.empty():
                    item = self._queue.get_nowait()
                    if item is None:
                        stop = True
                        break
                    batch.append(item)
                if stop or len(batch) >= self.max_batch or self._ready(batch) or loop.time() >= deadline:
                    break
                await self._gather_more(loop, deadline)
            await self._flush(batch)
            if stop:
                return

    async def _gather_more(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        """Until the next item is handed over, or the deadline."""
        more = self._more = loop.create_future()
        timer = loop.call_at(deadline, self._wake)
        try:
            await more
        finally:
            timer.cancel()
            self._more = None

    async def _flush(self, batch: list[tuple[Outcome | OnTheWire, asyncio.Future[bool], bool]]) -> None:
        try:
            results = await store_outcomes(self.service.sessions, [o for o, _, _ in batch])
        except DatabaseBusyError as exc:   # the lock budget is spent: each waiting worker learns it
            for _, done, _ in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        except Exception:   # e.g. a deadlock victim: record them one by one
            results = []
            for outcome, done, _ in batch:
                try:
                    results.append((await store_outcomes(self.service.sessions, [outcome]))[0])
                except Exception as exc:   # handed to the worker that waits for it
                    if not done.done():
                        done.set_exception(exc)
                    results.append(False)
        for (_, done, _), ok in zip(batch, results, strict=True):
            if not done.done():
                done.set_result(ok)

    async def close(self) -> None:
        """Commit everything handed over, then stop."""
        if self._task is None:
            return
        self._queue.put_nowait(None)
        self._wake()
        await self._task


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
    """Claim due sends in batches (up to four per connection ahead of the workers), hand them to
    `smtp.concurrency` workers through a queue, record outcomes in group commits.

    Rate limits hold across every process on the database: `smtp.rate_limit` is a token bucket per
    account (a worker waits for a token before claiming), `smtp.domain_rate_limit` one per recipient
    domain (a claimed send whose domain must wait goes back to the queue at no cost, and that domain
    is left out of the claims for as long as its bucket says)."""
    campaign_id = service.require_campaign()
    settings = service.settings
    result = DispatchResult()
    owner = process_owner()
    owners = await claimed_owners(service.sessions, campaign_id)
    workers = await list_workers(service.sessions, campaign_id, now=service.wall_clock()) if owners else None
    dead = [o for o in owners if owner_is_dead(o) or (workers is not None and owner_is_silent(o, workers))]
    result.found_uncertain = await expire_leases(service.sessions, campaign_id=campaign_id,
                                                 wall_now=service.wall_clock(), dead_owners=dead)
    if result.found_uncertain:
        log.warning("%d sends were claimed by a pass that stopped before recording them: they are "
                    "uncertain (probe status lists them)", result.found_uncertain)
    account = service.smtp_account()
    rate = settings.smtp.rate_per_s
    domain_rate = settings.smtp.domain_rate_per_s
    account_key = smtp_key(account.username, account.host)
    envelope_from = parseaddr(settings.campaign.from_)[1]
    lease = settings.smtp.lease
    concurrency = settings.smtp.concurrency
    fatal: list[ProbeError] = []
    broken: list[BaseException] = []           # a worker crashed: claim nothing more
    appended: list[bytes] = []
    replan = replanner(service)
    busy = [0]       # workers holding a send: the recorder writes a group once they all wait for it
    recorder = Recorder(service, busy=lambda: busy[0])
    queue: asyncio.Queue[ClaimedSend | None] = asyncio.Queue()
    # Claims ahead of the workers (up to three more per connection), so a claim serves several sends
    # (the producer claims once 2 × concurrency slots are free): a claim not yet on the wire
    # (OnTheWire) goes back to the queue by itself if this process dies.
    ahead = 4 * concurrency
    refill = 2 * concurrency
    idle = asyncio.Semaphore(ahead)
    throttled: dict[str, float] = {}            # recipient domain → monotonic time it may go again

    async def release(send: ClaimedSend, event: SendEvent, error: str) -> None:
        await recorder.record(Outcome(send.send_id, owner, event, 0, now, error=error))

    async def producer() -> None:
        while not fatal and not broken and not service.stopping:
            await idle.acquire()
            slots = 1
            if rate is None:
                # No account limit: claim for every idle slot at once, and while the queue still feeds
                # the workers wait until `refill` slots are free, so a claim (one write transaction)
                # serves several sends instead of one. The queue never runs dry waiting: with it empty
                # at most `concurrency` of the `ahead` slots are taken (in flight).
                while slots < ahead and (not idle.locked() or (slots < refill and not queue.empty())):
                    await idle.acquire()
                    slots += 1
            else:
                await wait_for_token(service.sessions, account_key, rate, burst=1)
            if fatal or broken or service.stopping:
                for _ in range(slots):
                    idle.release()
                break
            clock = time.monotonic()
            for d in [d for d, until in throttled.items() if until <= clock]:
                del throttled[d]
            batch = await claim_batch(service.sessions, campaign_id=campaign_id, now=now, owner=owner,
                                      lease_until=service.wall_clock() + lease, domain=service.message_id_domain,
                                      limit=slots, skip_domains=throttled)
            for _ in range(slots - len(batch.sends)):
                idle.release()
            for send in batch.sends:
                d = recipient_domain(send.email)
                wait_s = await take(service.sessions, domain_key(send.email), domain_rate, 1) if domain_rate else 0.0
                if wait_s > 0:
                    throttled[d] = time.monotonic() + wait_s
                    await release(send, SendEvent.THROTTLED, f"smtp.domain_rate_limit: {d} waits {wait_s:.1f} s")
                    idle.release()
                    continue
                queue.put_nowait(send)
            if not batch.sends:
                if not batch.skipped and not throttled:
                    break             # nothing due any more
                # Only throttled domains are due: wait for the first of them.
                soonest = min(throttled.values(), default=time.monotonic() + 0.05)
                await asyncio.sleep(max(soonest - time.monotonic(), 0.01))

    async def worker() -> None:
        sender = SmtpSender(account)
        # This worker's last outcome, handed to the recorder but not waited for: it is committed with
        # (or before) the next send's on-the-wire mark, so a worker waits for one commit a send.
        deferred: list[asyncio.Future[bool]] = []
        try:
            while (send := await queue.get()) is not None:
                busy[0] += 1
                try:
                    if fatal or broken or service.stopping:
                        await release(send, SendEvent.ACCOUNT_FAULT if fatal else SendEvent.THROTTLED,
                                      "the pass stopped before sending it")
                        continue
                    await send_claimed(service, sender, send, owner, now, envelope_from, result, fatal,
                                       appended, replan, recorder=recorder, check_target=False,
                                       deferred=deferred)
                except Exception as exc:
                    # E.g. the database stayed busy past its budget: claim nothing more, but the other
                    # workers' sends in flight finish and are recorded before the pass ends with it.
                    broken.append(exc)
                except BaseException as exc:   # cancelled: the sends in flight are cut off
                    broken.append(exc)
                    raise
                finally:
                    busy[0] -= 1
                    idle.release()
            await committed(deferred)
        except Exception as exc:      # the last outcome could not be committed
            broken.append(exc)
        finally:
            await sender.close()

    recorder.start()
    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    try:
        try:
            await producer()
        except Exception as exc:     # e.g. the database went away: let the sends in flight finish
            broken.append(exc)
            for _ in tasks:
                queue.put_nowait(None)
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        for _ in tasks:
            queue.put_nowait(None)
        await asyncio.gather(*tasks)     # the claims handed over are sent (or released, once stopping)
        if broken:
            raise broken[0]
    finally:
        # Claims handed over but never started (the pass was stopped or cancelled) go back to the
        # queue: they were never on the wire. Then every outcome is committed before the pass ends.
        async def settle() -> None:
            while not queue.empty():
                left = queue.get_nowait()
                if left is not None:
                    await release(left, SendEvent.THROTTLED, "the pass stopped before sending it")
            await recorder.close()

        # Only on an error or a cancellation is anything still running here: the sends in flight are
        # cut off (on the wire: uncertain at the next pass, as after a crash).
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.shield(settle())
    if appended:
        await copy_to_sent(service, appended, now)
    if fatal:
        if isinstance(fatal[0], SmtpError):
            result.account_fault = fatal[0]   # loud (tick exits 1), recorded for status; not a crash
        else:
            raise fatal[0]
    return result


async def committed(deferred: list[asyncio.Future[bool]]) -> None:
    """Wait for the outcomes handed over earlier (raising what stopped their commit)."""
    while deferred:
        await asyncio.shield(deferred.pop(0))


async def send_claimed(service: Service, sender: SmtpSender, send: ClaimedSend, owner: str, now: datetime,
                       envelope_from: str, result: DispatchResult, fatal: list[ProbeError],
                       appended: list[bytes], replan: Replanner | None = None, *,
                       recorder: Recorder | None = None, check_target: bool = True,
                       deferred: list[asyncio.Future[bool]] | None = None) -> None:
    """Send one claimed send. A claim held for a while may have been answered or bounced meanwhile:
    the on-the-wire mark is written only while the target waits (else the claim is cancelled), so
    dispatch needs no read of its own; `check_target` reads the target first anyway (callers that
    count cancellations before building the message)."""
    settings = service.settings

    async def record(outcome: Outcome | OnTheWire) -> bool:
        if recorder is not None:
            return await recorder.record(outcome)
        return (await asyncio.shield(store_outcomes(service.sessions, [outcome])))[0]

    if check_target:
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
        await record(Outcome(send.send_id, owner, SendEvent.MESSAGE_REFUSED, send.wave, now, error=str(exc)))
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
        await record(Outcome(send.send_id, owner, SendEvent.ACCOUNT_FAULT, 0, now,
                             error=str(exc).splitlines()[0]))
        return
    # On the wire from here: the mark is committed before DATA (a crash before it returns the claim
    # to the queue, and only what was handed to SMTP can be uncertain). With a recorder it is handed
    # over now and its commit waited for only after RCPT, so the group commit overlaps MAIL and RCPT.
    mark = OnTheWire(send.send_id, owner, service.wall_clock())
    on_wire_commit = await recorder.submit(mark, waits=True) if recorder is not None else None

    asked: list[bool] = []

    async def handed_over() -> None:
        asked.append(True)
        on_wire = await record(mark) if on_wire_commit is None else await asyncio.shield(on_wire_commit)
        if deferred:
            # This worker's previous outcome: committed by now (before or with the mark). If it failed,
            # this send is not handed over: back to the queue (were that refused too, it stays on the
            # wire unsent: uncertain, never sent twice).
            try:
                await committed(deferred)
            except Exception:
                if on_wire:
                    await record(Outcome(send.send_id, owner, SendEvent.THROTTLED, 0, now,
                                         error="the pass stopped before sending it"))
                raise
        if not on_wire:
            raise NotHandedOver

    started = time.monotonic()
    try:
        outcome = await sender.send(message, sender=envelope_from, recipient=send.address, before_data=handed_over)
    except NotHandedOver:
        log.info("send %d not sent: its target stopped waiting, or the lease was taken back", send.send_id)
        result.cancelled += 1
        return
    except SmtpError as exc:  # the account itself is unusable (a reconnect refused): free, stop the pass
        fatal.append(exc)
        await record(Outcome(send.send_id, owner, SendEvent.ACCOUNT_FAULT, 0, now,
                             error=str(exc).splitlines()[0]))
        return
    finally:
        if on_wire_commit is not None and not asked:
            # Stopped before DATA (refused, connection lost): the mark's commit is checked with the
            # worker's next outcome, like the previous outcome's (nothing was handed over either way).
            if deferred is not None:
                deferred.insert(0, on_wire_commit)
            else:
                await asyncio.shield(on_wire_commit)
    elapsed_ms = (time.monotonic() - started) * 1000
    await record_outcome(service, send, owner, now, outcome, result, replan, recorder=recorder,
                         deferred=deferred)
    if outcome.kind is OutcomeKind.SENT and settings.imap is not None and settings.imap.sent_folder:
        appended.append(bytes(message))
    if log.isEnabledFor(logging.INFO):
        log.info("send token=%s wave=%d outcome=%s elapsed_ms=%.0f reply=%r", send.token[:6], send.wave,
                 outcome.kind, elapsed_ms, outcome.reply)


class NotHandedOver(Exception):
    """The on-the-wire mark was refused (the target stopped waiting, or the lease was taken back):
    the send stops before DATA."""


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
                         result: DispatchResult, replan: Replanner | None = None, *,
                         recorder: Recorder | None = None,
                         deferred: list[asyncio.Future[bool]] | None = None) -> None:
    """Record the server's answer (with `deferred` and a recorder: handed over, its commit waited for
    by the caller, at its next on-the-wire mark or at the end)."""
    event = outcome_event(service, send, outcome, now)
    item = Outcome(send.send_id, owner, event, send.wave, now,
                   error=None if event is SendEvent.ACCEPTED else outcome.reply,
                   # The server's final reply is evidence only when it decided the send.
                   smtp_reply=None if event in (SendEvent.TEMPORARY, SendEvent.LOST_IN_DATA) else outcome.reply,
                   next_due_at=next_retry(service, send, now) if event is SendEvent.TEMPORARY else None,
                   replan=replan, initial_sent_at=send.initial_sent_at)
    if recorder is not None and deferred is not None:
        deferred.append(await recorder.submit(item))
    elif recorder is not None:
        await recorder.record(item)
    else:
        await asyncio.shield(store_outcomes(service.sessions, [item]))
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
