"""Workers on both engines: a registered process is live while it heartbeats, listed as silent once it
stops answering, and gone when it stops normally; each campaign sees only its own processes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from probe.store import workers as W
from probe.store.tables import Campaign, Worker

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


async def new_campaign(sessions: async_sessionmaker[AsyncSession], name: str = "c") -> int:
    async with sessions.begin() as s:
        row = Campaign(name=name, timezone="UTC", plan_hash="h", waves=1, close_after_s=3600, keep_bodies=True)
        s.add(row)
        await s.flush()
        return row.id


async def test_live_silent_and_stopped(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid = await new_campaign(sessions)
    a = await W.register(sessions, campaign_id=cid, kind="run", host="m1", pid=101, owner="m1:101:aa", now=T0)
    b = await W.register(sessions, campaign_id=cid, kind="run", host="m2", pid=202, owner="m2:202:bb", now=T0)
    t = await W.register(sessions, campaign_id=cid, kind="tick", host="m1", pid=303, owner="m1:303:cc", now=T0)

    listed = await W.list_workers(sessions, cid, now=T0 + timedelta(seconds=10))
    assert [(w.worker_id, w.kind, w.host, w.pid) for w in listed.live] == [(a, "run", "m1", 101), (b, "run", "m2", 202),
                                                                         (t, "tick", "m1", 303)]
    assert listed.silent == []
    assert all(w.started_at == T0 and w.last_pass_at is None for w in listed.live)

    # a heartbeats (and finishes a pass), b is SIGKILLed and never answers again, the tick ends normally.
    later = T0 + timedelta(minutes=5)
    assert await W.heartbeat(sessions, a, later - timedelta(seconds=20), passed=True)
    assert await W.heartbeat(sessions, a, later)
    await W.stop(sessions, t, T0 + timedelta(seconds=30))
    listed = await W.list_workers(sessions, cid, now=later)
    assert [w.worker_id for w in listed.live] == [a]
    assert listed.live[0].heartbeat_at == later
    assert listed.live[0].last_pass_at == later - timedelta(seconds=20)     # a plain heartbeat keeps it
    assert [(w.worker_id, w.heartbeat_at) for w in listed.silent] == [(b, T0)]

    # b's claims (lease owner host:pid:pass) can be treated as dead from any machine; a's cannot.
    assert W.owner_is_silent("m2:202:bb", listed) and not W.owner_is_silent("m1:101:aa7f", listed)
    assert not W.owner_is_silent("m9:202:bb", listed)

    # The threshold is the caller's: with a longer one b is still live.
    assert len((await W.list_workers(sessions, cid, now=later, silent_after=timedelta(minutes=6))).live) == 2


async def test_campaigns_separate_and_stopped_rows_forgotten(sessions: async_sessionmaker[AsyncSession]) -> None:
    c1, c2 = await new_campaign(sessions, "c1"), await new_campaign(sessions, "c2")
    w1 = await W.register(sessions, campaign_id=c1, kind="tick", host="h", pid=1, owner="h:1:x", now=T0)
    await W.register(sessions, campaign_id=c2, kind="run", host="h", pid=2, owner="h:2:y", now=T0)
    assert [w.pid for w in (await W.list_workers(sessions, c1, now=T0)).live] == [1]
    assert [w.pid for w in (await W.list_workers(sessions, c2, now=T0)).live] == [2]
    await W.stop(sessions, w1, T0)
    # A cron tick every 5 minutes for a week must not leave 2,000 rows behind.
    for i in range(1, 4):
        wid = await W.register(sessions, campaign_id=c1, kind="tick", host="h", pid=10 + i, owner=f"h:{i}",
                               now=T0 + W.KEEP_STOPPED * i)
        await W.stop(sessions, wid, T0 + W.KEEP_STOPPED * i)
    async with sessions() as s:
        left = (await s.execute(select(func.count()).select_from(Worker).where(Worker.campaign_id == c1))).scalar_one()
    assert left == 2            # the last stopped one (within KEEP_STOPPED) and the newest
    assert not await W.heartbeat(sessions, w1, T0)            # its row is gone: the caller re-registers


async def test_workers_json_shape(sessions: async_sessionmaker[AsyncSession]) -> None:
    cid = await new_campaign(sessions)
    await W.register(sessions, campaign_id=cid, kind="run", host="m1", pid=7, owner="m1:7:z", now=T0)
    got = W.workers_json(await W.list_workers(sessions, cid, now=T0 + timedelta(hours=1)))
    assert got == {"live": [], "silent": [{"worker_id": 1, "kind": "run", "host": "m1", "pid": 7, "owner": "m1:7:z",
                                           "started_at": T0.isoformat(), "heartbeat_at": T0.isoformat(),
                                           "last_pass_at": None}]}
