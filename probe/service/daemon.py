"""`probe run`: the same pass as `probe tick`, driven by APScheduler 3.x, woken by IMAP IDLE.

APScheduler is only a ticker (memory job store): the database is the record of what is due, so a
restart loses nothing. On SIGINT/SIGTERM the daemon stops scheduling, lets the pass in progress
finish (its sends are recorded), then exits."""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.exc import SQLAlchemyError

from probe.adapters.imap import IDLE_RENEW_S  # one home: the adapter that issues IDLE
from probe.errors import InputError, MailServerError, ProbeError, StoreError
from probe.service.clock import Clock
from probe.service.context import process_owner
from probe.service.presence import Presence, worker_presence
from probe.service.tick import run_pass
from probe.store.notify import CHANNEL_REPLIES, CHANNEL_SENDS, Listener
from probe.store.pollers import MailboxLock, mailbox_lock

if TYPE_CHECKING:
    from probe.adapters.imap import ImapMailbox
    from probe.service.wiring import Service

log = logging.getLogger("probe.daemon")

MIN_INTERVAL_S = 0.2
MAX_BACKOFF_S = 60.0
WAKE_GAP_S = 1.0


async def campaign_closed(service: Service, now: datetime) -> bool:
    """Nothing left to do: every target settled (answered, bounced, opted out, closed…) and no send
    waiting, claimed or retrying. Uncertain sends keep their target open (a person settles them)."""
    from probe.store.status import status_summary

    s = await status_summary(service.sessions, service.require_campaign(), now=now, next_limit=0)
    open_targets = s.targets_by_state.get("pending", 0) + s.targets_by_state.get("contacted", 0)
    active = sum(s.sends_by_state.get(state, 0) for state in ("scheduled", "claimed", "retry"))
    return open_targets == 0 and active == 0


class Daemon:
    def __init__(self, service: Service, clock: Clock, *, keep_running: bool = True) -> None:
        self.service = service
        self.clock = clock
        #: False (`probe run` without --keep-running): stop by itself once the campaign is closed.
        self.keep_running = keep_running
        self.closed = False
        self.stop_event = asyncio.Event()
        self.passes = 0
        self.failure: ProbeError | None = None
        self._lock = asyncio.Lock()
        #: Set while the mailbox watch waits for news (tests and the demo synchronise on it).
        self.watching = asyncio.Event()
        self.watcher_connected = False
        #: Set while the database cannot be reached (restart, failover): logged once, not every pass.
        self.database_down_since: datetime | None = None
        #: This process holds the mailbox's lock (one poller per mailbox across every process).
        self.mailbox_held = False
        #: Set once the watcher has tried the mailbox's lock: the first pass then knows whether to poll.
        self.lock_tried = asyncio.Event()
        self.presence: Presence | None = None
        #: Passes woken by another process's news (LISTEN/NOTIFY), not by the ticker; `listening` is
        #: set while this process LISTENs (tests synchronise on it).
        self.wakeups = 0
        self.listening = asyncio.Event()

    async def scheduled_pass(self) -> None:
        # While the watcher holds the mailbox open it does the polling (one IMAP connection per
        # account: two aioimaplib clients in one process are a known source of trouble).
        # Another process may hold the mailbox: then it polls, and this one only sends.
        if self.service.settings.imap is not None and not self.lock_tried.is_set():
            try:
                await asyncio.wait_for(self.lock_tried.wait(), 10.0)
            except TimeoutError:
                pass
        await self.one_pass(do_poll=self.mailbox_held and not self.watcher_connected)

    async def one_pass(self, *, do_poll: bool = True, mailbox: ImapMailbox | None = None) -> None:
        if self.stop_event.is_set():
            return
        async with self._lock:
            if self.stop_event.is_set():
                return
            try:
                now = self.clock.now()
                await run_pass(self.service, now, do_poll=do_poll, mailbox=mailbox, own_lock=False)
                self.passes += 1
                if self.presence is not None:
                    await self.presence.passed()
                if not self.keep_running and await campaign_closed(self.service, now):
                    self.closed = True
                    self.stop_event.set()
            except InputError as exc:   # bad config or a changed plan: nothing will fix itself
                self.failure = exc
                self.stop_event.set()
            except MailServerError as exc:
                log.error("pass failed, will try again at the next one: %s", exc)
            except (StoreError, SQLAlchemyError, OSError) as exc:
                # The database went away (a PostgreSQL restart, a failover, SQLite busy past its
                # budget): the pool reconnects (pool_pre_ping) and the next pass goes on. Sends this
                # pass had claimed but not recorded become `uncertain` once their lease runs out.
                if self.database_down_since is None:
                    self.database_down_since = datetime.now(UTC)
                    log.error("pass failed: the database cannot be used (%s); trying again at every pass",
                              str(exc).splitlines()[0][:300])
                else:
                    log.debug("database still unusable: %s", str(exc).splitlines()[0][:300])
                return
            if self.database_down_since is not None:
                log.warning("the database is back (it was unusable since %s)",
                            self.database_down_since.isoformat(timespec="seconds"))
                self.database_down_since = None

    async def watch_mailbox(self) -> None:
        """Wake a pass as soon as the server announces a new message (IDLE), else every poll_every;
        only while this process holds the mailbox's lock (probe.store.pollers): the others retry
        every poll_every and one of them takes over when the holder dies or loses its connection."""
        from probe.adapters.imap import ImapMailbox

        account = self.service.imap_account()
        settings = self.service.settings.imap
        if account is None or settings is None:
            self.lock_tried.set()
            return
        wait_s = max(min(self.clock.real_seconds(settings.poll_every), IDLE_RENEW_S), MIN_INTERVAL_S)
        # Wall-clock lease (SQLite): one wait plus the pass it wakes, with room to spare.
        lock = mailbox_lock(self.service.engine, self.service.mailbox_key(), owner=process_owner(),
                            lease=timedelta(seconds=max(2 * wait_s, 30.0)))
        backoff = 1.0
        mailbox = ImapMailbox(account)
        try:
            while not self.stop_event.is_set():
                try:
                    try:
                        self.mailbox_held = await lock.acquire(self.service.wall_clock())
                        if self.mailbox_held:
                            log.info("this process polls %s", self.service.mailbox_key())
                            await mailbox.connect()
                            self.watcher_connected = True
                    finally:
                        # Only now may the first pass decide to poll: never a second session of ours.
                        self.lock_tried.set()
                    if not self.mailbox_held:
                        await self._sleep(wait_s)
                        continue
                    backoff = 1.0
                    while not self.stop_event.is_set():
                        if not await lock.renew(self.service.wall_clock()):
                            log.warning("lost the lock of %s: another process polls it now",
                                        self.service.mailbox_key())
                            break
                        self.watching.set()
                        await mailbox.wait_for_news(wait_s)
                        self.watching.clear()
                        await self.one_pass(mailbox=mailbox)
                    self.watcher_connected = self.mailbox_held = False
                    await mailbox.close()
                except (MailServerError, SQLAlchemyError, OSError) as exc:
                    self.watcher_connected = False
                    log.warning("mailbox watch: %s; reconnecting in %.0f s", exc, backoff)
                    await self._sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
        finally:
            self.watcher_connected = self.mailbox_held = False
            await mailbox.close()
            await asyncio.shield(self._release(lock))

    async def _release(self, lock: MailboxLock) -> None:
        try:
            await lock.release()
        except (SQLAlchemyError, OSError) as exc:
            log.warning("could not release the mailbox lock (it expires by itself): %s", exc)

    async def _sleep(self, seconds: float) -> None:
        """Wait `seconds` or until the daemon stops."""
        try:
            await asyncio.wait_for(self.stop_event.wait(), seconds)
        except TimeoutError:
            pass

    async def listen_for_sends(self) -> None:
        """PostgreSQL: news from another process wakes a send-only pass at once, instead of at the next
        tick_every: new due sends (a launch, a `probe resolve --resend`) and new replies (`probe
        import`, the mailbox's poller), so a resend goes out promptly and a daemon whose last open
        target just answered stops. Another campaign's news is ignored. A hint only: the pass reads
        the database as any other."""
        if self.service.engine.dialect.name != "postgresql":
            return
        interval = max(self.clock.real_seconds(self.service.settings.schedule.tick_every), MIN_INTERVAL_S)
        ours = {"", str(self.service.campaign_id)}
        loop = asyncio.get_running_loop()
        last_woken = -WAKE_GAP_S
        while not self.stop_event.is_set():
            try:
                async with Listener(self.service.engine, CHANNEL_SENDS, CHANNEL_REPLIES) as wake:
                    self.listening.set()
                    while not self.stop_event.is_set():
                        if not await wake.wait(timeout_s=interval) or self.stop_event.is_set():
                            continue
                        # No payloads: the connection was lost and is back (news may have been missed).
                        if wake.payloads and ours.isdisjoint(wake.payloads):
                            continue
                        # At most one woken pass per WAKE_GAP_S: a `probe import` of thousands of
                        # replies must not keep every worker passing back to back.
                        if (gap := last_woken + WAKE_GAP_S - loop.time()) > 0:
                            await self._sleep(gap)
                        self.wakeups += 1
                        await self.one_pass(do_poll=False)
                        last_woken = loop.time()
            except (SQLAlchemyError, OSError) as exc:
                self.listening.clear()
                log.warning("listening for new sends: %s; again in %.0f s", exc, MAX_BACKOFF_S / 6)
                await self._sleep(MAX_BACKOFF_S / 6)

    def request_stop(self) -> None:
        log.info("stopping: the sends in flight finish and are recorded first")
        self.service.stopping = True
        self.stop_event.set()

    async def run(self, *, install_signals: bool = True) -> int:
        async with worker_presence(self.service.sessions, self.service.campaign_id, "run") as me:
            self.presence = me
            try:
                return await self._run(install_signals=install_signals)
            finally:
                self.presence = None

    async def _run(self, *, install_signals: bool) -> int:
        loop = asyncio.get_running_loop()
        if install_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.request_stop)
        interval = max(self.clock.real_seconds(self.service.settings.schedule.tick_every), MIN_INTERVAL_S)
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(self.scheduled_pass, "interval", seconds=interval, id="pass", max_instances=1,
                          coalesce=True, misfire_grace_time=None, next_run_time=datetime.now(UTC))
        scheduler.start()
        watcher = asyncio.create_task(self.watch_mailbox())
        listener = asyncio.create_task(self.listen_for_sends())
        log.info("daemon running: a pass every %.1f s (campaign %s)", interval, self.service.name)
        try:
            await self.stop_event.wait()
        finally:
            scheduler.pause()
            async with self._lock:   # the pass in progress finishes and records its sends
                pass
            for task in (watcher, listener):
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, ProbeError):
                    pass
            scheduler.shutdown(wait=False)
            if install_signals:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
        if self.failure is not None:
            raise self.failure
        return 0
