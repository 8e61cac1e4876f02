"""One poller per mailbox: whichever process holds the mailbox's lock polls it (or IDLEs on it).

PostgreSQL: a session-level advisory lock keyed by a 64-bit hash of the mailbox, taken with
`pg_try_advisory_lock` on a connection of its own, held (in autocommit: no open transaction) for as
long as the process polls. A process that dies, or whose connection breaks, loses the lock with its
connection, and the next process that tries takes it over; `renew` lets the holder notice that it
lost it (connection gone, or server restarted) before polling again.

SQLite: a lease row (owner, expires_at) per mailbox, taken or renewed with one guarded UPDATE
(`WHERE owner = me OR expires_at <= now`). The holder renews it at every poll; when it stops
renewing, another process takes over once the lease has expired. Use `lease = imap.poll_every` (plus
the time a poll takes): takeover within one poll interval, as DESIGN.md asks.

Usage (a service loop):

    lock = mailbox_lock(engine, service.mailbox_key(), owner=process_owner(), lease=poll_every)
    try:
        if await lock.acquire(now):      # then before each later poll: `await lock.renew(now)`
            ... poll / IDLE ...
    finally:
        await lock.release()
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from probe.store.engine import make_sessionmaker, transaction, upsert_insert
from probe.store.tables import MailboxLease


class MailboxLock(Protocol):
    mailbox: str

    async def acquire(self, now: datetime) -> bool:
        """Take the mailbox if nobody holds it (or we already do). True when we hold it."""
        ...

    async def renew(self, now: datetime) -> bool:
        """Still ours? (SQLite: extends the lease.) False means stop polling; `acquire` may retake it."""
        ...

    async def release(self) -> None:
        """Let another process take the mailbox now. Safe to call when not held."""
        ...


def lock_key(mailbox: str) -> int:
    """The advisory-lock key of a mailbox: a stable signed 64-bit hash (the same on every machine)."""
    digest = hashlib.blake2b(mailbox.encode("utf-8"), digest_size=8, person=b"probe-mbox").digest()
    return int.from_bytes(digest, "big", signed=True)


class AdvisoryLock:
    """PostgreSQL: `pg_try_advisory_lock` on a dedicated connection, held while polling."""

    def __init__(self, engine: AsyncEngine, mailbox: str) -> None:
        self.engine = engine
        self.mailbox = mailbox
        self.key = lock_key(mailbox)
        self._conn: AsyncConnection | None = None

    async def acquire(self, now: datetime) -> bool:
        if self._conn is not None and await self.renew(now):
            return True
        await self.release()
        conn = await self.engine.connect()
        try:
            # Autocommit: a session lock needs no transaction, and an idle-in-transaction connection
            # held for hours would hold back VACUUM.
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})).scalar_one()
        except BaseException:
            await conn.close()
            raise
        if not got:
            await conn.close()
            return False
        self._conn = conn
        return True

    async def renew(self, now: datetime) -> bool:
        if self._conn is None:
            return False
        # A bigint advisory key is stored as classid (high 32 bits), objid (low 32 bits), objsubid 1.
        high, low = (self.key >> 32) & 0xFFFFFFFF, self.key & 0xFFFFFFFF
        try:
            held = (await self._conn.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                "AND classid = CAST(:high AS bigint)::oid AND objid = CAST(:low AS bigint)::oid "
                "AND objsubid = 1 AND granted"), {"high": high, "low": low})).scalar_one()
        except (DBAPIError, SQLAlchemyError, OSError):
            await self._discard()
            return False
        if not held:
            await self._discard()
        return bool(held)

    async def release(self) -> None:
        if self._conn is None:
            return
        # Closing the connection drops every session lock it holds; no unlock call needed, and
        # it works whether or not the connection is still alive.
        await self._discard()

    async def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            await conn.invalidate()     # never return a lock-holding connection to the pool
        except (DBAPIError, SQLAlchemyError, OSError):
            pass
        try:
            await conn.close()
        except (DBAPIError, SQLAlchemyError, OSError):
            pass


class LeaseLock:
    """SQLite (or any engine): a lease row renewed at each poll, taken over once expired."""

    def __init__(self, engine: AsyncEngine, mailbox: str, owner: str, lease: timedelta) -> None:
        self.sessions = make_sessionmaker(engine)
        self.mailbox = mailbox
        self.owner = owner
        self.lease = lease
        self._held = False

    async def acquire(self, now: datetime) -> bool:
        async with transaction(self.sessions) as s:
            taken = await s.execute(
                update(MailboxLease)
                .where(MailboxLease.mailbox == self.mailbox,
                       (MailboxLease.owner == self.owner) | (MailboxLease.expires_at <= now))
                .values(owner=self.owner, expires_at=now + self.lease).returning(MailboxLease.owner))
            if taken.first() is None:
                created = await s.execute(
                    upsert_insert(s, MailboxLease).values(mailbox=self.mailbox, owner=self.owner,
                                                          expires_at=now + self.lease)
                    .on_conflict_do_nothing(index_elements=["mailbox"]).returning(MailboxLease.owner))
                self._held = created.first() is not None
            else:
                self._held = True
        return self._held

    async def renew(self, now: datetime) -> bool:
        async with transaction(self.sessions) as s:
            # Only while our lease runs: once expired, someone may have polled in between.
            done = await s.execute(
                update(MailboxLease)
                .where(MailboxLease.mailbox == self.mailbox, MailboxLease.owner == self.owner,
                       MailboxLease.expires_at > now)
                .values(expires_at=now + self.lease).returning(MailboxLease.owner))
            self._held = done.first() is not None
        return self._held

    async def release(self) -> None:
        async with transaction(self.sessions) as s:
            await s.execute(delete(MailboxLease).where(MailboxLease.mailbox == self.mailbox,
                                                       MailboxLease.owner == self.owner))
        self._held = False


def mailbox_lock(engine: AsyncEngine, mailbox: str, *, owner: str, lease: timedelta) -> MailboxLock:
    """The right lock for this engine: advisory on PostgreSQL, lease row elsewhere."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine, mailbox)
    return LeaseLock(engine, mailbox, owner, lease)
