"""One poller per mailbox, on both engines: of two contenders one holds the mailbox; when the holder
dies (PostgreSQL: its connection ends, even by SIGKILL; SQLite: its lease runs out) the other takes
over, and the old holder learns it lost the mailbox before polling again."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from probe.store.engine import make_engine
from probe.store.pollers import AdvisoryLock, LeaseLock, lock_key, mailbox_lock
from tests.fixtures.db import pg_database

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
POLL_EVERY = timedelta(minutes=5)
MAILBOX = "redaction@imap.example:993/INBOX"


@pytest.fixture
async def other(db_url: str) -> AsyncIterator[AsyncEngine]:
    """A second engine on the same database: another process's connections."""
    eng = make_engine(db_url)
    yield eng
    await eng.dispose()


@pytest.fixture
def pg_url(_pg_template: str) -> Iterator[str]:
    """A fresh PostgreSQL database at head (advisory locks exist only there)."""
    with pg_database(_pg_template) as url:
        yield url


def test_lock_key_is_stable_and_per_mailbox() -> None:
    assert lock_key(MAILBOX) == lock_key(MAILBOX)
    assert lock_key(MAILBOX) != lock_key(MAILBOX.replace("INBOX", "Replies"))
    assert -(2**63) <= lock_key(MAILBOX) < 2**63
    assert lock_key("a@h:993/INBOX") == 7590891908603045336  # pinned: two versions must agree mid-upgrade


async def test_one_holder_then_handover_on_release(engine: AsyncEngine, other: AsyncEngine) -> None:
    a = mailbox_lock(engine, MAILBOX, owner="m1:1:a", lease=POLL_EVERY)
    b = mailbox_lock(other, MAILBOX, owner="m2:2:b", lease=POLL_EVERY)
    try:
        assert await a.acquire(T0)
        assert not await b.acquire(T0)
        assert await a.acquire(T0 + timedelta(seconds=1))          # re-acquiring what we hold is fine
        assert await a.renew(T0 + timedelta(minutes=1))
        assert not await b.acquire(T0 + timedelta(minutes=2))
        # Another mailbox is independent.
        c = mailbox_lock(other, MAILBOX + "-other", owner="m2:2:b", lease=POLL_EVERY)
        assert await c.acquire(T0)
        await c.release()
        await a.release()
        assert await b.acquire(T0 + timedelta(minutes=2))
        assert not await a.renew(T0 + timedelta(minutes=2))
        assert not await a.acquire(T0 + timedelta(minutes=2))
    finally:
        await a.release()
        await b.release()


async def test_lease_expires_and_another_takes_over(engine: AsyncEngine, other: AsyncEngine) -> None:
    # The SQLite mechanism, checked on both engines (it is plain SQL).
    a = LeaseLock(engine, MAILBOX, "m1:1:a", POLL_EVERY)
    b = LeaseLock(other, MAILBOX, "m2:2:b", POLL_EVERY)
    assert await a.acquire(T0)
    assert await a.renew(T0 + timedelta(minutes=4))                      # renewed at each poll…
    assert not await b.acquire(T0 + timedelta(minutes=8))                # …so still a's at 8 min
    # a dies after its last renewal (at 4 min): the lease ends at 9 min, b takes over then, not before.
    assert not await b.acquire(T0 + timedelta(minutes=9) - timedelta(seconds=1))
    assert await b.acquire(T0 + timedelta(minutes=9))
    assert not await a.renew(T0 + timedelta(minutes=9, seconds=30))      # a, back, learns it lost it
    assert not await a.acquire(T0 + timedelta(minutes=9, seconds=30))
    await b.release()
    assert await a.acquire(T0 + timedelta(minutes=10))


@pytest.mark.postgres
async def test_advisory_lock_lost_with_the_holders_connection(pg_url: str) -> None:
    db_url = pg_url
    e1, e2, admin = make_engine(db_url), make_engine(db_url), make_engine(db_url)
    a, b = AdvisoryLock(e1, MAILBOX), AdvisoryLock(e2, MAILBOX)
    try:
        assert await a.acquire(T0)
        assert not await b.acquire(T0)
        assert a._conn is not None
        pid = (await a._conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        # The holder's connection dies (server restart, network cut, process killed).
        async with admin.connect() as conn:
            assert (await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})).scalar_one()
        assert await wait_until(lambda: b.acquire(T0))
        assert not await a.renew(T0)          # the old holder notices before its next poll
        assert not await a.acquire(T0)
    finally:
        await a.release()
        await b.release()
        for eng in (e1, e2, admin):
            await eng.dispose()


@pytest.mark.postgres
async def test_sigkilled_holder_process_loses_the_mailbox(pg_url: str) -> None:
    db_url = pg_url
    script = textwrap.dedent(f"""
        import asyncio
        from datetime import UTC, datetime
        from probe.store.engine import make_engine
        from probe.store.pollers import AdvisoryLock
        async def main():
            lock = AdvisoryLock(make_engine({db_url!r}), {MAILBOX!r})
            print("held" if await lock.acquire(datetime.now(UTC)) else "refused", flush=True)
            await asyncio.Event().wait()
        asyncio.run(main())
        """)
    holder = await asyncio.create_subprocess_exec(sys.executable, "-c", script, stdout=asyncio.subprocess.PIPE)
    eng = make_engine(db_url)
    b = AdvisoryLock(eng, MAILBOX)
    try:
        assert holder.stdout is not None
        line = await asyncio.wait_for(holder.stdout.readline(), 30)
        assert line.strip() == b"held"
        assert not await b.acquire(T0)
        os.kill(holder.pid, signal.SIGKILL)
        await asyncio.wait_for(holder.wait(), 10)
        assert await wait_until(lambda: b.acquire(T0))
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()
        await b.release()
        await eng.dispose()


async def wait_until(attempt: object, deadline_s: float = 10.0) -> bool:
    """Retry `attempt()` until it is true: the server ends a dead backend's session on its own time."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while True:
        if await attempt():  # type: ignore[operator]
            return True
        if loop.time() > end:
            return False
        await asyncio.sleep(0.05)
