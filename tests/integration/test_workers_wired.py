"""Several workers on one PostgreSQL database, as DESIGN.md "Several workers" promises, at the size of
the default suite (the full sizes are in test_workers_pg.py, behind `-m slow`):

- `smtp.rate_limit` holds for all workers together (the token bucket in the database), not per process;
- one IMAP session on the mailbox at a time; when its holder is SIGKILLed another worker takes over and
  a reply that arrived after the kill is recorded once;
- `probe run` and `probe tick` are listed by `probe status` while they run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.db import pg_database, psql
from tests.integration.test_replies import human_reply, imap_section
from tests.integration.test_workers_pg import (
    CONCURRENCY,
    WORKERS,
    busiest_window,
    send_states,
    timed_smtp,  # noqa: F401 - fixture
    )
from tests.system.test_cli_campaign import PROBE, probe

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(600)]


@pytest.fixture
def pg_url(_pg_template: str) -> Iterator[str]:
    with pg_database(_pg_template) as url:
        yield url


def start(config: Path, log: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("wb") as err:
        return subprocess.Popen([*PROBE, "-v", *args, str(config)], stdout=subprocess.DEVNULL, stderr=err,
                                stdin=subprocess.DEVNULL, env=env)


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def test_rate_limit_is_shared_by_four_ticks(campaign_factory, timed_smtp, pg_url, tmp_path):  # noqa: F811
    """150 sends at 600/min (10/s) by 4 concurrent `probe tick`s: per process they would go at 40/s,
    all 150 within 4 s; together the bucket keeps any 10 s window at or below 110 (burst 1: ≤ 101)."""
    count = 150
    database = pg_url.rsplit("/", 1)[1]
    targets = [{"email": f"r{i}@d{i % 5}.example.com", "prenom": "P", "nom": "N", "secteur": "x"}
               for i in range(count)]
    camp = campaign_factory(smtp_port=timed_smtp.port, db_url=pg_url, targets=targets, sections={
        "schedule": {"reminders": [], "close_after": "7d"}, "templates": {"reminders": []},
        "smtp": {"concurrency": CONCURRENCY, "rate_limit": "600/min"}})
    assert probe("launch", camp.config).returncode == 0
    ticks = [start(camp.config, tmp_path / f"tick{i}.log", "tick", "--now", "2015-09-28T09:30:00")
             for i in range(WORKERS)]
    try:
        for t in ticks:
            t.wait(timeout=300)
    finally:
        stop_all(ticks)
    assert send_states(database) == {"sent": count}
    times = sorted(timed_smtp.handler.times)
    assert len(times) == count
    assert busiest_window(times, 10.0) <= 110
    # The four shared the work (each took tokens from the one bucket), in about count / rate seconds.
    assert times[-1] - times[0] >= (count - 2) / 10.0 - 1.0


def mailbox_sessions(log_text: str, user: str) -> int:
    """The most IMAP sessions of `user` open at once, from Dovecot's log (Login … session=<id>, then
    imap(user)<pid><id>: Disconnected)."""
    open_now: set[str] = set()
    most = 0
    for line in log_text.splitlines():
        login = re.search(rf"Login: user=<{re.escape(user)}>.*session=<([^>]+)>", line)
        if login:
            open_now.add(login.group(1))
            most = max(most, len(open_now))
            continue
        gone = re.search(rf"imap\({re.escape(user)}\)<\d+><([^>]+)>: (?:Info: )?(Disconnected|Logged out)", line)
        if gone:
            open_now.discard(gone.group(1))
    return most


def poller_of(logs: list[Path]) -> list[int]:
    return [i for i, log in enumerate(logs) if "this process polls" in log.read_text(errors="replace")]


def wait_for(check, timeout_s: float, what: str):  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout_s
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.mark.dovecot
def test_one_imap_poller_among_four_workers_and_takeover_after_sigkill(campaign_factory, smtp_server, pg_url,
                                                                       dovecot_user, dovecot, tmp_path):
    database = pg_url.rsplit("/", 1)[1]
    targets = [{"email": f"dir{i}@client{i}.example.com", "prenom": "P", "nom": "N", "secteur": "x"}
               for i in range(4)]
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=pg_url, targets=targets,
                            imap=imap_section(dovecot_user) | {"poll_every": "2s"},
                            sections={"schedule": {"reminders": [], "close_after": "7d", "tick_every": "1s"},
                                      "templates": {"reminders": []}})
    env = dict(os.environ, PROBE_TEST_IMAP_PASSWORD=dovecot_user.password)
    assert probe("launch", camp.config, env=env).returncode == 0
    logs = [tmp_path / f"run{i}.log" for i in range(WORKERS)]
    runs = [start(camp.config, logs[i], "run", "--keep-running", env=env) for i in range(WORKERS)]
    try:
        sent = {r.rcpt_tos[0]: r.message for r in smtp_server.handler.wait_for(4, timeout_s=60)}
        (holder,) = wait_for(lambda: poller_of(logs), 30, "a worker to take the mailbox")
        status = json.loads(probe("status", camp.config, "--format", "json", env=env).stdout)
        assert len(status["workers"]["live"]) == WORKERS
        runs[holder].send_signal(signal.SIGKILL)
        runs[holder].wait(timeout=30)
        # A reply arrives after the kill (straight into the maildir: no IMAP session of the test's own).
        dovecot_user.write_maildir([human_reply(sent[targets[0]["email"]], "Oui, volontiers.", mid="after-kill")])
        wait_for(lambda: [i for i in poller_of(logs) if i != holder], 30, "another worker to take over")
        wait_for(lambda: psql("SELECT count(*) FROM inbound_message", database=database).strip() == "1", 30,
                 "the reply to be recorded")
        answered = psql("SELECT count(*) FROM target WHERE state = 'answered'", database=database).strip()
    finally:
        stop_all(runs)
    assert answered == "1"
    assert psql("SELECT count(*) FROM inbound_message", database=database).strip() == "1"
    takers = [i for i in poller_of(logs) if i != holder]
    assert len(takers) == 1, takers
    log_text = (dovecot.root / "dovecot.log").read_text(errors="replace")
    user = dovecot_user.user
    mine = [line for line in log_text.splitlines() if f"<{user}>" in line or f"({user})" in line]
    # The test's own look at INBOX when the user was created comes before the workers start.
    assert mailbox_sessions(log_text, dovecot_user.user) == 1, "\n".join(mine)
