"""A running process's presence in the `worker` table: registered on start, a heartbeat every
HEARTBEAT_EVERY from a background task (independent of passes, which can last an hour at a low rate
limit), the last pass recorded by the caller, stopped on exit.

The daemon (kind "run") and `probe tick` (kind "tick", probe.service.tick.run_pass) wrap their work
in it:

    async with worker_presence(service.sessions, campaign_id, "run") as me:
        ...                      # after each pass:
        await me.passed()
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from probe.errors import StoreError
from probe.service.context import wall_clock
from probe.store import workers as W
from probe.store.engine import Db

log = logging.getLogger("probe.service")


@dataclass
class Presence:
    db: Db
    #: None while the process could not enrol (the database was away when it started): the
    #: heartbeat enrols it once the database answers.
    worker_id: int | None
    clock: Callable[[], datetime]
    enrol: Callable[[], Awaitable[int]]

    async def passed(self) -> None:
        """Record a finished pass (and a heartbeat)."""
        await self.beat(passed=True)

    async def beat(self, *, passed: bool = False) -> None:
        try:
            if self.worker_id is None or not await W.heartbeat(self.db, self.worker_id, self.clock(),
                                                                 passed=passed):
                # Not enrolled yet, or our row was pruned (a long outage): come back.
                self.worker_id = await self.enrol()
                if passed:
                    await W.heartbeat(self.db, self.worker_id, self.clock(), passed=True)
        except (StoreError, SQLAlchemyError, OSError) as exc:
            # The database is away (restart, network, SQLite busy): keep going; status shows us silent meanwhile.
            log.warning("could not record this worker in the worker table: %s", exc)


@asynccontextmanager
async def worker_presence(db: Db, campaign_id: int | None, kind: W.Kind, *,
                          clock: Callable[[], datetime] = wall_clock,
                          every: timedelta = W.HEARTBEAT_EVERY,
                          sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                          owner: str | None = None) -> AsyncIterator[Presence]:
    host, pid = socket.gethostname(), os.getpid()
    owner = owner or f"{host}:{pid}"

    async def enrol() -> int:
        return await W.register(db, campaign_id=campaign_id, kind=kind, host=host, pid=pid, owner=owner,
                                now=clock())

    # A daemon started while the database restarts must not die of it: its passes wait for the
    # database anyway, and the heartbeat enrols it once the database answers.
    me = Presence(db, None, clock, enrol)
    await me.beat()

    async def beat() -> None:
        while True:
            await sleep(every.total_seconds())
            await me.beat()

    task = asyncio.create_task(beat(), name=f"probe-heartbeat-{pid}")
    try:
        yield me
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        if me.worker_id is not None:
            try:
                await asyncio.shield(W.stop(db, me.worker_id, clock()))
            except (StoreError, SQLAlchemyError, OSError) as exc:
                log.warning("could not record this worker's stop: %s", exc)
