"""A running process's presence in the `worker` table: registered on start, a heartbeat every
HEARTBEAT_EVERY from a background task (independent of passes, which can last an hour at a low rate
limit), the last pass recorded by the caller, stopped on exit.

Not yet wired (issue 16): the daemon and `probe tick` should wrap their work in it:

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

from probe.service.context import wall_clock
from probe.store import workers as W
from probe.store.engine import Db

log = logging.getLogger("probe.service")


@dataclass
class Presence:
    db: Db
    worker_id: int
    clock: Callable[[], datetime]

    async def passed(self) -> None:
        """Record a finished pass (and a heartbeat)."""
        try:
            await W.heartbeat(self.db, self.worker_id, self.clock(), passed=True)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("could not record the pass in the worker table: %s", exc)


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

    me = Presence(db, await enrol(), clock)

    async def beat() -> None:
        while True:
            await sleep(every.total_seconds())
            try:
                if not await W.heartbeat(db, me.worker_id, clock()):
                    me.worker_id = await enrol()      # our row was pruned (a long outage): come back
            except (SQLAlchemyError, OSError) as exc:
                # The database is away (restart, network): keep beating; status shows us silent meanwhile.
                log.warning("worker heartbeat failed: %s", exc)

    task = asyncio.create_task(beat(), name=f"probe-heartbeat-{me.worker_id}")
    try:
        yield me
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        try:
            await asyncio.shield(W.stop(db, me.worker_id, clock()))
        except (SQLAlchemyError, OSError) as exc:
            log.warning("could not record this worker's stop: %s", exc)
