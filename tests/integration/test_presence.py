"""A process's presence: registered at start, heartbeats from a background task on its own schedule
(not only after passes), records passes, leaves the list on exit. Sleep and clock are injected."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from probe.service.presence import worker_presence
from probe.store import workers as W
from tests.integration.test_store_workers import new_campaign

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


class SteppedSleep:
    """sleep() that returns only when the test says so, and tells the test when it is called."""

    def __init__(self) -> None:
        self.asked: asyncio.Queue[float] = asyncio.Queue()
        self.go: asyncio.Queue[None] = asyncio.Queue()

    async def __call__(self, seconds: float) -> None:
        await self.asked.put(seconds)
        await self.go.get()


async def test_heartbeats_on_its_own_and_stops_cleanly(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid = await new_campaign(sessions)
    now = [T0]
    sleep = SteppedSleep()
    async with worker_presence(sessions, cid, "run", clock=lambda: now[0], sleep=sleep) as me:
        assert await asyncio.wait_for(sleep.asked.get(), 10) == W.HEARTBEAT_EVERY.total_seconds()
        live = (await W.list_workers(sessions, cid, now=T0)).live
        assert [(w.worker_id, w.kind, w.heartbeat_at, w.last_pass_at) for w in live] == \
            [(me.worker_id, "run", T0, None)]

        # A pass lasting 10 minutes: heartbeats keep the process listed as live meanwhile.
        for minutes in range(1, 11):
            now[0] = T0 + timedelta(minutes=minutes)
            await sleep.go.put(None)
            await asyncio.wait_for(sleep.asked.get(), 10)    # beat done, sleeping again
        listed = await W.list_workers(sessions, cid, now=now[0] + timedelta(seconds=30))
        assert [w.heartbeat_at for w in listed.live] == [T0 + timedelta(minutes=10)] and listed.silent == []
        await me.passed()
        assert (await W.list_workers(sessions, cid, now=now[0])).live[0].last_pass_at == now[0]
    assert await W.list_workers(sessions, cid, now=now[0]) == W.WorkerList(live=[], silent=[])


async def test_without_heartbeats_it_shows_as_silent(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid = await new_campaign(sessions)
    sleep = SteppedSleep()
    async with worker_presence(sessions, cid, "tick", clock=lambda: T0, sleep=sleep):
        await asyncio.wait_for(sleep.asked.get(), 10)
        # The heartbeat task is stuck (as in a process frozen or killed): 3 minutes later, silent.
        listed = await W.list_workers(sessions, cid, now=T0 + timedelta(minutes=3))
        assert listed.live == [] and [w.kind for w in listed.silent] == ["tick"]


async def test_a_process_started_while_the_database_is_away_enrols_once_it_answers(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    # A daemon started during a PostgreSQL restart died of it (its passes survive outages, its
    # enrolment did not). The table renamed away stands for a database that cannot be used.
    cid = await new_campaign(sessions)
    async with sessions.begin() as s:
        await s.execute(text("ALTER TABLE worker RENAME TO worker_away"))
    sleep = SteppedSleep()
    async with worker_presence(sessions, cid, "run", clock=lambda: T0, sleep=sleep) as me:
        assert me.worker_id is None
        await asyncio.wait_for(sleep.asked.get(), 10)
        await me.passed()                                   # still away: a warning, no crash
        async with sessions.begin() as s:
            await s.execute(text("ALTER TABLE worker_away RENAME TO worker"))
        await sleep.go.put(None)
        await asyncio.wait_for(sleep.asked.get(), 10)       # the next heartbeat enrols it
        assert [w.worker_id for w in (await W.list_workers(sessions, cid, now=T0)).live] == [me.worker_id]
        assert me.worker_id is not None
        await me.passed()
        assert (await W.list_workers(sessions, cid, now=T0)).live[0].last_pass_at == T0
    assert await W.list_workers(sessions, cid, now=T0) == W.WorkerList(live=[], silent=[])
