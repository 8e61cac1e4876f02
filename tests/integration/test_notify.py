"""Wake-ups between processes: a notify from another engine (another process's connections) wakes a
listener at once, well before its timeout; without one it waits the timeout. PostgreSQL through
LISTEN/NOTIFY, SQLite through the polled counter."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from probe.store.engine import make_engine, make_sessionmaker
from probe.store.notify import CHANNEL_REPLIES, CHANNEL_SENDS, Listener, notify
from tests.fixtures.db import pg_database


@pytest.fixture
def pg_url(_pg_template: str) -> Iterator[str]:
    with pg_database(_pg_template) as url:
        yield url


@pytest.fixture
async def other(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(db_url)
    yield eng
    await eng.dispose()


async def test_notify_wakes_a_listener_in_another_process(engine: AsyncEngine, other: AsyncEngine) -> None:
    sender = make_sessionmaker(other)
    async with Listener(engine, CHANNEL_SENDS, poll_s=0.05) as wake:
        assert not await wake.wait(timeout_s=0.2)               # nothing yet: the timeout
        loop = asyncio.get_running_loop()
        started = loop.time()
        waiter = asyncio.create_task(wake.wait(timeout_s=30))
        await notify(sender, CHANNEL_SENDS, "campaign 1")
        assert await asyncio.wait_for(waiter, 10)
        assert loop.time() - started < 5                        # woken, not timed out
        if engine.dialect.name == "postgresql":
            assert wake.payloads == ["campaign 1"]
        # Another channel does not wake it; notifications between waits are not lost.
        await notify(sender, CHANNEL_REPLIES)
        assert not await wake.wait(timeout_s=0.3)
        await notify(sender, CHANNEL_SENDS)
        await notify(sender, CHANNEL_SENDS)
        assert await wake.wait(timeout_s=10)


async def test_notify_is_sent_with_the_transaction(engine: AsyncEngine, other: AsyncEngine) -> None:
    sessions = make_sessionmaker(other)
    async with Listener(engine, CHANNEL_SENDS, poll_s=0.05) as wake:
        async with sessions() as s:
            await s.begin()
            await notify(s, CHANNEL_SENDS)
            await s.rollback()                                  # rolled back: no wake-up
        assert not await wake.wait(timeout_s=0.3)
        async with sessions.begin() as s:
            await notify(s, CHANNEL_SENDS)
        assert await wake.wait(timeout_s=10)


async def test_one_listener_on_several_channels_wakes_on_each(engine: AsyncEngine, other: AsyncEngine) -> None:
    sender = make_sessionmaker(other)
    async with Listener(engine, CHANNEL_SENDS, CHANNEL_REPLIES, poll_s=0.05) as wake:
        assert not await wake.wait(timeout_s=0.2)
        await notify(sender, CHANNEL_REPLIES, "7")
        assert await wake.wait(timeout_s=10)
        if engine.dialect.name == "postgresql":
            assert wake.payloads == ["7"]
        await notify(sender, CHANNEL_SENDS, "7")
        assert await wake.wait(timeout_s=10)
        assert not await wake.wait(timeout_s=0.3)               # each notification wakes it once


def test_channel_names_are_identifiers() -> None:
    with pytest.raises(ValueError, match="lowercase identifier"):
        Listener(make_engine("sqlite:///:memory:"), "Bad Channel;")


@pytest.mark.postgres
async def test_listener_wakes_and_reconnects_when_its_connection_dies(pg_url: str) -> None:
    db_url = pg_url
    listen_eng, sender_eng = make_engine(db_url), make_engine(db_url)
    try:
        async with Listener(listen_eng, CHANNEL_SENDS) as wake:
            assert wake._conn is not None
            pid = (await wake._conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            async with sender_eng.connect() as conn:
                await conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            old = wake._conn
            # Lost connection: wake up (a pass too many beats a missed send), listening again on return…
            assert await wake.wait(timeout_s=10)
            assert wake._conn is not None and wake._conn is not old
            # …once: no further spurious wake-up, and a new NOTIFY arrives on the new connection.
            assert not await wake.wait(timeout_s=0.2)
            await notify(make_sessionmaker(sender_eng), CHANNEL_SENDS)
            assert await wake.wait(timeout_s=10)
    finally:
        await listen_eng.dispose()
        await sender_eng.dispose()
