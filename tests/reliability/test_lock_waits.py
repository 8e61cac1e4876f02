"""SQLite's write lock held by someone else is a wait, not a crash (issue 12).

A foreign client (the sqlite3 module, not probe) holds BEGIN IMMEDIATE for longer than one of
SQLite's own busy waits (probe's per-attempt step, 1 s, stands for the old single 10 s
busy_timeout): the pass waits, says so on stderr, and completes with nothing sent twice. When the
budget (`database.busy_timeout`) is spent the pass ends cleanly with exit 1 and a sentence."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from typing import Any

import pytest

from probe.store.locks import STEP_MS
from tests.fixtures.smtp_server import RecordingHandler
from tests.reliability.conftest import targets
from tests.reliability.helpers import (
    PROBE,
    foreign_write_lock,
    hold_lock_in_thread,
    probe,
    send_states,
    sqlite_path,
)

NOW = "2015-09-28T09:00"


class LockOnDataHandler(RecordingHandler):
    """On the Nth DATA, another client takes the database's write lock for hold_s: mid-pass."""

    def __init__(self, db_file: Any, at: int, hold_s: float) -> None:
        super().__init__()
        self.db_file, self.at, self.hold_s = db_file, at, hold_s
        self.seen = 0
        self.locker: threading.Thread | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.seen += 1
        if self.seen == self.at:
            _, self.locker = await asyncio.to_thread(hold_lock_in_thread, self.db_file, self.hold_s)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.parametrize("hold_s", [pytest.param(5.0, id="5s"), pytest.param(15.0, id="15s", marks=pytest.mark.slow)])
def test_lock_held_mid_pass_is_waited_for(campaign_factory, sqlite_url, hold_s):
    from aiosmtpd.controller import Controller

    from tests.fixtures.smtp_server import free_port

    assert hold_s * 1000 > 2 * STEP_MS   # longer than one busy wait: the old code died here
    db_file = sqlite_path(sqlite_url)
    handler = LockOnDataHandler(db_file, at=3, hold_s=hold_s)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        rows = targets(8)
        camp = campaign_factory(smtp_port=port, db_url=sqlite_url, targets=rows,
                                sections={"smtp": {"concurrency": 2}})
        assert probe("launch", camp.config).returncode == 0
        r = probe("tick", camp.config, "--now", NOW)
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr and "internal error" not in r.stderr
        assert "waits for the database lock" in r.stderr and "probe tick" in r.stderr
        assert handler.locker is not None
        handler.locker.join(30)
    finally:
        controller.stop()
    for row in rows:
        assert len(handler.to(row["email"])) == 1, row["email"]
    assert send_states(db_file) == {"sent": 8, "scheduled": 16}


def test_lock_held_past_the_budget_ends_the_pass_cleanly(campaign_factory, smtp_server, sqlite_url):
    db_file = sqlite_path(sqlite_url)
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=sqlite_url, targets=targets(3),
                            sections={"database": {"busy_timeout": "2s"}})
    assert probe("launch", camp.config).returncode == 0
    with foreign_write_lock(db_file):
        r = probe("tick", camp.config, "--now", NOW)
    assert r.returncode == 1, r.stderr
    assert "the database is busy: another probe command holds it" in r.stderr
    assert "busy_timeout" in r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    assert smtp_server.handler.received == []
    # Nothing was claimed in doubt: the next pass sends everything, once.
    assert probe("tick", camp.config, "--now", NOW).returncode == 0
    assert len(smtp_server.handler.received) == 3
    assert send_states(db_file)["sent"] == 3


@pytest.mark.parametrize("ticks, count", [pytest.param(10, 40, id="10x40"),
                                          pytest.param(30, 60, id="30x60", marks=pytest.mark.slow)])
def test_overlapping_ticks_send_everything_once(campaign_factory, smtp_server, sqlite_url, ticks, count):
    rows = targets(count)
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=sqlite_url, targets=rows,
                            sections={"smtp": {"concurrency": 2}})
    assert probe("launch", camp.config).returncode == 0
    procs = [subprocess.Popen([*PROBE, "tick", str(camp.config), "--now", NOW], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
             for _ in range(ticks)]
    results = [(p.wait(180), *p.communicate()) for p in procs]
    crashed = [err for code, _, err in results if code != 0]
    assert crashed == [], crashed[:2]
    for row in rows:
        assert len(smtp_server.handler.to(row["email"])) == 1, row["email"]
    assert send_states(sqlite_path(sqlite_url)) == {"sent": count, "scheduled": 2 * count}


class SlowFirstDataHandler(RecordingHandler):
    """The first DATA takes 4 s; as it starts, another client takes the write lock for 2 s."""

    def __init__(self, db_file: Any) -> None:
        super().__init__()
        self.db_file = db_file
        self.first: str | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.first is None:
            self.first = envelope.rcpt_tos[0]
            await asyncio.to_thread(hold_lock_in_thread, self.db_file, 2.0)
            await asyncio.sleep(4.0)   # the slow server is the situation under test
        return await super().handle_DATA(server, session, envelope)


def test_busy_pass_records_what_it_already_sent_first(campaign_factory, sqlite_url):
    from aiosmtpd.controller import Controller

    from tests.fixtures.smtp_server import free_port

    db_file = sqlite_path(sqlite_url)
    handler = SlowFirstDataHandler(db_file)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        camp = campaign_factory(smtp_port=port, db_url=sqlite_url, targets=targets(6),
                                sections={"smtp": {"concurrency": 2}, "database": {"busy_timeout": "1s"}})
        assert probe("launch", camp.config).returncode == 0
        r = probe("tick", camp.config, "--now", NOW)
    finally:
        controller.stop()
    assert r.returncode == 1 and "the database is busy" in r.stderr, r.stderr
    assert handler.first is not None and len(handler.to(handler.first)) == 1   # the server accepted it
    import sqlite3
    with sqlite3.connect(db_file) as conn:
        state = conn.execute("SELECT s.state FROM send s JOIN target t ON t.id = s.target_id "
                             "WHERE s.wave = 0 AND t.email = ?", (handler.first.lower(),)).fetchone()[0]
    assert state == "sent", f"the send the server accepted is {state!r}"
