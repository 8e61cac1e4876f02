"""Global rate limits on both engines: one token bucket per key in the database, shared by every task
and every process. Time is injected: a virtual clock that only moves when every taker is waiting, so
the tests are exact and never sleep, while the database calls themselves run truly concurrently."""

from __future__ import annotations

import asyncio
import heapq
import math
import multiprocessing as mp
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from probe.store import ratelimit as R
from probe.store.engine import make_engine, make_sessionmaker

RATE = 600 / 60          # rate_limit = "600/min"
BURST = 10.0
WINDOW_S = 10.0
ALLOWED = 100            # 600/min over 10 s
CEILING = 110            # the bound: no 10 s window above 110
RUN_S = 20.0


def busiest_window(grants: list[float]) -> int:
    """The most grants in any half-open window [g, g + 10 s) starting at a grant."""
    times = sorted(grants)
    best, j = 0, 0
    for i, start in enumerate(times):
        while j < len(times) and times[j] < start + WINDOW_S:
            j += 1
        best = max(best, j - i)
    return best


class VirtualClock:
    """Shared time for asyncio tasks: advances to the earliest wake-up once every live task sleeps."""

    def __init__(self, tasks: int) -> None:
        self.now = 0.0
        self.active = tasks
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0

    async def sleep(self, delay: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._sleepers, (self.now + delay, self._seq, fut))
        self._advance()
        await fut

    def leave(self) -> None:
        self.active -= 1
        self._advance()

    def _advance(self) -> None:
        if not self._sleepers or len(self._sleepers) < self.active:
            return
        self.now = max(self.now, self._sleepers[0][0])
        while self._sleepers and self._sleepers[0][0] <= self.now:
            heapq.heappop(self._sleepers)[2].set_result(None)


async def test_take_refills_by_time_and_says_how_long_to_wait(sessions: async_sessionmaker[AsyncSession]) -> None:
    key = R.smtp_key("Redaction@En-Contact.example", "smtp.example")
    assert key == "smtp:redaction@en-contact.example"
    assert [await R.take(sessions, key, 10.0, 2, now_s=100.0) for _ in range(2)] == [0.0, 0.0]   # the burst
    assert await R.take(sessions, key, 10.0, 2, now_s=100.0) == pytest.approx(0.1)
    assert await R.take(sessions, key, 10.0, 2, now_s=100.05) == pytest.approx(0.05)
    assert await R.take(sessions, key, 10.0, 2, now_s=100.1) == 0.0
    # A taker whose clock is 5.1 s behind the bucket (empty at 100.1, next token at 100.2) waits 5.2 s.
    assert await R.take(sessions, key, 10.0, 2, now_s=95.0) == pytest.approx(5.2)
    # Long idle: refilled to the burst, not beyond.
    assert [await R.take(sessions, key, 10.0, 2, now_s=1000.0) for _ in range(3)][2] > 0
    # A changed config applies at once: 1/s now.
    assert await R.take(sessions, key, 1.0, 1, now_s=1000.0) == pytest.approx(1.0)
    # Keys are independent; the database clock is used when no time is given.
    assert await R.take(sessions, R.domain_key("x@Example.ORG"), 1.0, 1) == 0.0
    assert await R.take(sessions, "domain:example.org", 1.0, 1) > 0.5


async def test_four_tasks_share_one_limit(sessions: async_sessionmaker[AsyncSession]) -> None:
    clock = VirtualClock(tasks=4)
    grants: list[float] = []

    async def worker() -> None:
        try:
            while clock.now < RUN_S:
                now = clock.now
                wait = await R.take(sessions, "smtp:shared", RATE, BURST, now_s=now)
                if wait == 0:
                    grants.append(now)
                else:
                    await clock.sleep(wait)
        finally:
            clock.leave()

    await asyncio.gather(*(worker() for _ in range(4)))
    assert busiest_window(grants) <= CEILING, f"{busiest_window(grants)} grants in 10 s"
    # Each task alone would be allowed 100 in 10 s: a per-process limit would show about 400 here.
    # And the limit is shared, not split: together they use (nearly) all of it.
    assert len(grants) >= BURST + RATE * RUN_S - 5
    assert busiest_window([g for g in grants if g >= WINDOW_S]) >= ALLOWED - 1


def _advance(cond: Any, now: Any, wakes: Any, active: Any) -> None:
    sleeping = [w for w in wakes if not math.isnan(w)]
    if not sleeping or len(sleeping) < active.value:
        return
    now.value = max(now.value, min(sleeping))
    for i, w in enumerate(wakes):
        if not math.isnan(w) and w <= now.value:
            wakes[i] = math.nan
    cond.notify_all()


def _process_worker(url: str, idx: int, cond: Any, now: Any, wakes: Any, active: Any, out: Any) -> None:
    asyncio.run(_process_loop(url, idx, cond, now, wakes, active, out))


async def _process_loop(url: str, idx: int, cond: Any, now: Any, wakes: Any, active: Any, out: Any) -> None:
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    grants: list[float] = []
    try:
        while True:
            with cond:
                t = now.value
            if t >= RUN_S:
                break
            wait = await R.take(sessions, "smtp:shared", RATE, BURST, now_s=t)
            if wait == 0:
                grants.append(t)
                continue
            with cond:      # sleep on the shared virtual clock
                wakes[idx] = t + wait
                _advance(cond, now, wakes, active)
                while not math.isnan(wakes[idx]):
                    if not cond.wait(timeout=60):
                        raise TimeoutError("virtual clock stalled")
    finally:
        with cond:
            active.value -= 1
            _advance(cond, now, wakes, active)
        await engine.dispose()
        out.put(grants)


@pytest.mark.timeout(240)
def test_four_processes_share_one_limit(db_url: str) -> None:
    ctx = mp.get_context("spawn")
    cond = ctx.Condition()
    now = ctx.Value("d", 0.0, lock=False)
    wakes = ctx.Array("d", [math.nan] * 4, lock=False)
    active = ctx.Value("i", 4, lock=False)
    out = ctx.Queue()
    procs = [ctx.Process(target=_process_worker, args=(db_url, i, cond, now, wakes, active, out)) for i in range(4)]
    for p in procs:
        p.start()
    per_process = [out.get(timeout=200) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    grants = [g for got in per_process for g in got]
    assert sum(1 for got in per_process if got) >= 2           # really shared between processes
    assert busiest_window(grants) <= CEILING, f"{busiest_window(grants)} grants in 10 s"
    assert len(grants) >= BURST + RATE * RUN_S - 5
