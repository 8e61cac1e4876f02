"""Wake-ups between processes: "new due sends" or "a new reply" without waiting a full tick_every.

PostgreSQL: `notify` is `pg_notify(channel, payload)` in the caller's transaction (delivered when it
commits); `Listener` LISTENs on a dedicated asyncpg connection (asyncpg's `add_listener`). If that
connection breaks, `wait` reconnects and returns True (better one pass too many than a missed send:
a NOTIFY sent while nobody listened is lost); a failed reconnect raises.

SQLite (several processes on one machine): `notify` bumps a counter row in `wakeup_signal` and
`Listener.wait` polls it every `poll_s`: the same contract with a short poll.

A wake-up is only a hint: the woken process still reads the database, so a lost or duplicate
notification costs a pass, never correctness.

    async with Listener(engine, CHANNEL_SENDS, CHANNEL_REPLIES) as wake:   # one or more channels
        while running:
            await wake.wait(timeout_s=tick_every)   # True: notified; False: timeout
            await run_pass(...)

Transactions: see probe.store.engine.Db.
"""

from __future__ import annotations

import asyncio
import logging
import re
from types import TracebackType
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from probe.store.engine import Db, make_sessionmaker, transaction, upsert_insert
from probe.store.tables import WakeupSignal

log = logging.getLogger("probe.store")

#: Sends became due (launch, a retry scheduled, a resend resolved).
CHANNEL_SENDS = "probe_sends"
#: A message arrived (import, another process's poll): recompute what to cancel.
CHANNEL_REPLIES = "probe_replies"

_CHANNEL = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _check(channel: str) -> str:
    # LISTEN takes an identifier: keep channel names to plain lowercase identifiers.
    if not _CHANNEL.fullmatch(channel):
        raise ValueError(f"channel {channel!r} must be a lowercase identifier of at most 63 characters")
    return channel


async def notify(db: Db, channel: str, payload: str = "") -> None:
    """Wake the listeners of `channel` once the transaction commits."""
    _check(channel)
    async with transaction(db) as s:
        if s.bind is not None and s.bind.dialect.name == "postgresql":
            await s.execute(text("SELECT pg_notify(:ch, :payload)"), {"ch": channel, "payload": payload})
            return
        bumped = await s.execute(update(WakeupSignal).where(WakeupSignal.channel == channel)
                                 .values(serial=WakeupSignal.serial + 1).returning(WakeupSignal.serial))
        if bumped.first() is None:
            await s.execute(upsert_insert(s, WakeupSignal).values(channel=channel, serial=1)
                            .on_conflict_do_update(index_elements=["channel"],
                                                   set_={"serial": WakeupSignal.serial + 1}))


class Listener:
    """Waits for `notify(channel)` from any process; see the module docstring."""

    def __init__(self, engine: AsyncEngine, channel: str, *more: str, poll_s: float = 1.0) -> None:
        self.engine = engine
        #: One connection LISTENs on every channel: a notification on any of them wakes `wait`.
        self.channels = tuple(_check(c) for c in (channel, *more))
        self.channel = self.channels[0]
        self.poll_s = poll_s
        self.pg = engine.dialect.name == "postgresql"
        self._event = asyncio.Event()
        self._conn: AsyncConnection | None = None
        self._driver: Any = None
        self._serial: tuple[int, ...] | None = None
        self._conn_lost = False
        self.payloads: list[str] = []     # PostgreSQL: the payloads the last True `wait` returned for
        self._pending: list[str] = []

    async def __aenter__(self) -> Listener:
        await self._open()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def _open(self) -> None:
        if not self.pg:
            if self._serial is None:
                self._serial = await self._read_serial()
            return
        if self._conn is not None:
            return
        conn = await self.engine.connect()
        try:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            if driver is None:   # pragma: no cover - asyncpg always has one
                raise RuntimeError("the PostgreSQL connection has no driver connection to listen on")
            for channel in self.channels:
                await driver.add_listener(channel, self._on_notify)
            driver.add_termination_listener(self._on_lost)
        except BaseException:
            await conn.close()
            raise
        self._conn, self._driver = conn, driver

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self._pending.append(payload)
        self._event.set()

    def _on_lost(self, conn: Any) -> None:
        if conn is not self._driver:        # our own close in _discard, or an older connection
            return
        log.warning("LISTEN connection for %s lost; waking up and reconnecting", ", ".join(self.channels))
        self._conn_lost = True
        self._event.set()

    async def _read_serial(self) -> tuple[int, ...]:
        async with transaction(make_sessionmaker(self.engine)) as s:
            got = {channel: serial for channel, serial in await s.execute(
                select(WakeupSignal.channel, WakeupSignal.serial).where(WakeupSignal.channel.in_(self.channels)))}
        return tuple(int(got.get(c) or 0) for c in self.channels)

    async def wait(self, timeout_s: float) -> bool:
        """Until a notification (True) or `timeout_s` (False). Notifications since the last wait count."""
        if not self.pg:
            return await self._poll(timeout_s)
        if not self._conn_lost:
            await self._open()
            try:
                await asyncio.wait_for(self._event.wait(), timeout_s)
            except TimeoutError:
                return False
        self._event.clear()
        self.payloads, self._pending = self._pending, []
        if self._conn_lost:
            # Listen again before returning, so whatever the caller commits next wakes us. A reconnect
            # that fails (database down) raises: the caller's pass would fail anyway and backs off.
            self._conn_lost = False
            await self._discard()
            await self._open()
        return True

    async def _poll(self, timeout_s: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        if self._serial is None:
            self._serial = await self._read_serial()
        while True:
            serial = await self._read_serial()
            if serial != self._serial:
                self._serial = serial
                return True
            left = deadline - loop.time()
            if left <= 0:
                return False
            await asyncio.sleep(min(self.poll_s, left))

    async def _discard(self) -> None:
        # Closing the connection ends its LISTEN; invalidated so the pool never hands it out again.
        conn, self._conn, self._driver = self._conn, None, None
        if conn is None:
            return
        try:
            await conn.invalidate()
            await conn.close()
        except (DBAPIError, SQLAlchemyError, OSError):
            pass

    async def close(self) -> None:
        await self._discard()
