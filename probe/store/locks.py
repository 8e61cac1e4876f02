"""Waiting for SQLite's write lock: a wait, logged, within a budget — never a crash after 10 s.

SQLite lets one writer at a time hold the database. Every probe transaction starts with
`BEGIN IMMEDIATE` (engine.py), so this is the one place a transaction waits for another process.
SQLite's own busy handler waits `STEP_MS` per attempt; between attempts we log who waits and for
how long, and only when the budget (`database.busy_timeout`) is spent do we give up with
DatabaseBusyError, which the CLI turns into exit 1 and a sentence the user can act on."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from probe.errors import StoreError

log = logging.getLogger("probe.store")

#: SQLite's busy_timeout per attempt (the PRAGMA set on every connection). Short, so the wait is
#: logged and the budget is honoured to within a second; SQLite backs off inside each attempt.
STEP_MS = 1000
#: A wait shorter than this is not worth a line: a pass's own SMTP workers take turns at the lock
#: all the time, and a busy machine stretches a turn past a second.
LOG_AFTER_S = 2.5
#: How often a waiting transaction says again that it still waits.
LOG_EVERY_S = 10.0


class DatabaseBusyError(StoreError):
    """Another process held SQLite's write lock for longer than database.busy_timeout."""

    def __init__(self, where: str, waited_s: float) -> None:
        super().__init__(
            f"the database is busy: another probe command holds it ({where}, waited {waited_s:.0f} s)",
            hint="let the other command finish (probe status lists the running processes), then run this "
                 "one again; or raise [database] busy_timeout")
        self.waited_s = waited_s


def is_locked_error(exc: BaseException) -> bool:
    """SQLite's 'database is locked' / 'database is busy' (SQLITE_BUSY), however the driver wraps it."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    return "database is locked" in text or "database is busy" in text


def who_waits() -> str:
    """This process, as a person reading the log would name it: `probe tick (pid 4242)`."""
    # argv[0] is `probe` or `…/probe/__main__.py`; the subcommand is the first word not an option.
    words = [a for a in sys.argv[1:] if not a.startswith("-")][:1]
    return " ".join(["probe", *words]) + f" (pid {os.getpid()})"


def wait_for_lock(attempt: Callable[[], Any], *, budget_s: float, where: str,
                  clock: Callable[[], float] = time.monotonic) -> Any:
    """Run `attempt` (one BEGIN IMMEDIATE that itself waits STEP_MS) until it gets the lock or the
    budget is spent. Any error other than SQLITE_BUSY goes straight up."""
    started = clock()
    last_log = None
    while True:
        try:
            result = attempt()
        except Exception as exc:
            if not is_locked_error(exc):
                raise
            waited = clock() - started
            if waited >= budget_s:
                log.error("%s gives up waiting for the database lock on %s after %.0f s",
                          who_waits(), where, waited)
                raise DatabaseBusyError(where, waited) from None
            if waited >= LOG_AFTER_S and (last_log is None or waited - last_log >= LOG_EVERY_S):
                last_log = waited
                log.warning("%s waits for the database lock on %s: another probe command holds it "
                            "(waited %.0f s, gives up after %.0f s: database.busy_timeout)",
                            who_waits(), where, waited, budget_s)
            continue
        if last_log is not None:
            log.warning("%s got the database lock on %s after %.0f s", who_waits(), where, clock() - started)
        return result
