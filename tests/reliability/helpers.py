"""What the reliability tests share: the CLI as a subprocess, a foreign SQLite lock, DB reads."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PROBE = [sys.executable, "-m", "probe"]


def probe(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 120,
          cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PROBE, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=env, stdin=subprocess.DEVNULL, cwd=cwd)


def sqlite_path(db_url: str) -> Path:
    assert db_url.startswith("sqlite:///"), db_url
    return Path(db_url.removeprefix("sqlite:///"))


def send_states(db_file: Path) -> dict[str, int]:
    with sqlite3.connect(db_file) as conn:
        return dict(conn.execute("SELECT state, count(*) FROM send GROUP BY state").fetchall())


@contextmanager
def foreign_write_lock(db_file: Path) -> Iterator[sqlite3.Connection]:
    """Another client (not probe) holding SQLite's write lock: BEGIN IMMEDIATE until the block ends."""
    conn = sqlite3.connect(db_file, isolation_level=None, timeout=30)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()


def hold_lock_in_thread(db_file: Path, hold_s: float) -> tuple[threading.Event, threading.Thread]:
    """Take the write lock now and release it after hold_s in a thread; the event is set once held."""
    held = threading.Event()

    def run() -> None:
        with foreign_write_lock(db_file):
            held.set()
            threading.Event().wait(hold_s)   # the hold itself is what is tested, not a synchronisation

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert held.wait(30)
    return held, thread
