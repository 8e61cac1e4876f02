"""What the reliability tests share: the CLI as a subprocess, a foreign SQLite lock, DB reads."""

from __future__ import annotations

import os
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


class LoggingSmtpServer:
    """tests/reliability/smtp_log_server.py in its own process; `accepted()` reads its log."""

    def __init__(self, root: Path, *, faults: int | None = None, timeout_s: float = 2.0) -> None:
        from tests.fixtures.smtp_server import free_port

        self.port = free_port()
        self.log = root / "smtp-accepted.log"
        self.log.touch()
        args = [sys.executable, "-m", "tests.reliability.smtp_log_server", str(self.port), str(self.log),
                "--timeout-s", str(timeout_s)]
        if faults is not None:
            args += ["--faults", str(faults)]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                     cwd=Path(__file__).resolve().parents[2])
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready", "the SMTP log server did not start"

    def lines(self) -> list[list[str]]:
        return [line.split("\t") for line in self.log.read_text(encoding="utf-8").splitlines() if line]

    def accepted(self) -> list[tuple[str, str]]:
        """(Message-ID, recipient) of every message the server accepted, in order."""
        return [(f[1], f[2].lower()) for f in self.lines() if f[0] == "accepted"]

    def faults(self) -> list[str]:
        return [f[1] for f in self.lines() if f[0] == "fault"]

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


_SESSION = """
import contextlib, io, json, sys
from probe.cli import main
results = []
for argv in json.loads(sys.argv[1]):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    results.append([code, out.getvalue(), err.getvalue()])
sys.__stdout__.write(json.dumps(results))
"""


def probe_session(commands: list[list[str | Path]], *, env: dict[str, str] | None = None,
                  umask: int | None = None, timeout: float = 180) -> list[subprocess.CompletedProcess[str]]:
    """Several probe commands run one after the other through the CLI's main(), in ONE process:
    the same code paths as `probe …` at a fraction of the start-up cost (a 2-core machine)."""
    import json

    argvs = [[str(a) for a in argv] for argv in commands]
    preexec = (lambda: os.umask(umask)) if umask is not None else None
    done = subprocess.run([sys.executable, "-c", _SESSION, json.dumps(argvs)], capture_output=True, text=True,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL, preexec_fn=preexec)
    assert done.returncode == 0, done.stderr
    return [subprocess.CompletedProcess(argv, code, out, err)
            for argv, (code, out, err) in zip(argvs, json.loads(done.stdout), strict=True)]
