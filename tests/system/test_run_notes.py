"""`probe run` says on stderr that it started (campaign, next due send, what it waits for) without
-v, and stops by itself (exit 0) once the campaign is closed, unless --keep-running."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

from tests.system.test_cli_campaign import PROBE, probe

ONE_WAVE = {"schedule": {"reminders": [], "close_after": "0s", "tick_every": "1m"},
            "templates": {"reminders": []}}


def _status(config) -> dict:
    return json.loads(probe("status", config, "--format", "json").stdout)


def _db_state(db: Path) -> tuple[int, str | None]:
    """(closed targets, last pass) read straight from SQLite: cheaper than a `probe status` each time."""
    with sqlite3.connect(db) as conn:
        closed = conn.execute("SELECT count(*) FROM target WHERE state = 'closed'").fetchone()[0]
        last = conn.execute("SELECT last_pass_at FROM campaign").fetchone()[0]
    return int(closed), last


def test_run_says_it_started_and_stops_when_the_campaign_is_closed(campaign_factory, smtp_server, tmp_path):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=f"sqlite:///{tmp_path}/d.db", sections=ONE_WAVE)
    assert probe("launch", camp.config).returncode == 0
    r = subprocess.run([*PROBE, "run", str(camp.config), "--now", "2015-09-28T08:59:30", "--speed", "300"],
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    first = r.stderr.splitlines()[0]
    assert first.startswith("probe run: campaign 'test-campaign' started")
    # "now" or "Mon 2015-09-28 09:00 CEST", depending on how long the start-up took at ×300
    assert re.search(r"next send due: (now|Mon 2015-09-28 09:00 CEST) \(initial to directeur1@client1\.example\.com\)",
                     r.stderr)
    assert "5 sends waiting" in r.stderr and "no [imap]" in r.stderr
    assert "is closed" in r.stderr and "stopped" in r.stderr
    assert r.stdout == ""
    assert len(smtp_server.handler.received) == 5
    assert _status(camp.config)["targets"]["closed"] == 5


def test_keep_running_keeps_polling_a_closed_campaign(campaign_factory, smtp_server, tmp_path):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=f"sqlite:///{tmp_path}/d.db", sections=ONE_WAVE)
    assert probe("launch", camp.config).returncode == 0
    daemon = subprocess.Popen([*PROBE, "run", str(camp.config), "--now", "2015-09-28T08:59:30", "--speed", "300",
                               "--keep-running"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        db = tmp_path / "d.db"
        while _db_state(db)[0] < 5:   # wait on the database, bounded
            assert daemon.poll() is None and time.monotonic() < deadline
        passes_seen = {_db_state(db)[1]}
        while len(passes_seen) < 3:   # two more passes on a closed campaign
            assert time.monotonic() < deadline
            passes_seen.add(_db_state(db)[1])
        assert daemon.poll() is None, "with --keep-running it did not stop by itself"
        daemon.send_signal(signal.SIGTERM)
        _out, err = daemon.communicate(timeout=30)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.returncode == 0
    assert "--keep-running" in err and "stopped." not in err
