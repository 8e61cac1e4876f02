"""SMTP faults at random (seeded) through `probe run`: 421/451 at RCPT and DATA, connections
dropped at MAIL and mid-DATA, replies lost after delivery, stalls past the client's timeout,
permanent 550/554. The server's own log (another process) is the truth (issue 12).

Expected: transient faults are retried until the message goes through, once; a fault during DATA
leaves the send uncertain (never resent silently) until the user settles it from the server's
log; 550 makes the target bounced, 554 makes it undelivered, and neither gets a reminder."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tests.reliability.helpers import PROBE, LoggingSmtpServer, probe, probe_session, send_states, sqlite_path
from tests.reliability.test_sigkill_storm import resolve_all, uncertain_count, wait_for, wave_of

WAVES = 3
NORMAL = 40


def fault_targets() -> list[dict[str, str]]:
    rows = [{"email": f"d{i}@client{i % 7}.example.com", "prenom": "P", "nom": "N", "secteur": "x"}
            for i in range(NORMAL)]
    rows += [{"email": f"dead{i}@gone.example.com", "prenom": "P", "nom": "N", "secteur": "x"} for i in range(3)]
    rows += [{"email": f"spam{i}@strict.example.com", "prenom": "P", "nom": "N", "secteur": "x"} for i in range(3)]
    return rows


def target_states(db_file: Path) -> dict[str, str]:
    with sqlite3.connect(db_file) as conn:
        return dict(conn.execute("SELECT email, state FROM target").fetchall())


def settled(db_file: Path) -> bool:
    """Nothing left to send except what waits behind an uncertain send."""
    with sqlite3.connect(db_file) as conn:
        return conn.execute(
            "SELECT count(*) FROM send s WHERE s.state IN ('scheduled', 'retry', 'claimed') AND NOT EXISTS "
            "(SELECT 1 FROM send u WHERE u.target_id = s.target_id AND u.wave < s.wave "
            "AND u.state = 'uncertain')").fetchone()[0] == 0


@pytest.mark.timeout(480)   # its own waits are bounded (240 s each); a loaded machine needs more than 120 s
def test_smtp_faults_are_retried_settled_or_refused_and_never_doubled(campaign_factory, sqlite_url, tmp_path):
    server = LoggingSmtpServer(tmp_path, faults=2015, timeout_s=2.0)
    db_file = sqlite_path(sqlite_url)
    rows = fault_targets()
    speed = 12 * 86400 / 4.0
    try:
        camp = campaign_factory(smtp_port=server.port, db_url=sqlite_url, targets=rows,
                                # At ×259200 five campaign days are two seconds of daemon: the retry
                                # window (smtp.retry_for) would close before the faults clear.
                                sections={"smtp": {"concurrency": 4, "timeout": "2s", "max_attempts": 8,
                                                   "retry_for": "3650d"},
                                          "schedule": {"close_after": "90d", "tick_every": "1m"}})
        assert probe("launch", camp.config, "--now", "2015-09-27T12:00").returncode == 0
        log_path = tmp_path / "daemon.log"   # a file, not a pipe nobody reads (it would block the daemon)
        with log_path.open("ab") as log:
            run = subprocess.Popen([*PROBE, "run", str(camp.config), "--now", "2015-09-28T09:00", "--speed",
                                    str(speed)], stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL)
        try:
            wait_for(lambda: settled(db_file), 240, "every send tried")
            uncertain_before = uncertain_count(db_file)
            decisions: list[tuple[int, bool]] = []
            # Settle from the server's log, as a user would; a resent message can meet another fault
            # mid-DATA and be uncertain again, so settle until nothing is left (a few rounds at most).
            for _ in range(6):
                status = probe("status", camp.config, "--format", "json")
                uncertain = json.loads(status.stdout)["uncertain"]
                if not uncertain:
                    break
                delivered = {mid for mid, _ in server.accepted()}
                round_ = [(u["send_id"], u["message_id"] in delivered) for u in uncertain]
                resolve_all(camp.config, round_)
                decisions += round_
                wait_for(lambda: settled(db_file), 120, "the settled sends tried")
            wait_for(lambda: uncertain_count(db_file) == 0 and settled(db_file)
                     and send_states(db_file).get("sent", 0) == NORMAL * WAVES, 120, "the settled sends")
        finally:
            run.send_signal(signal.SIGTERM)
            run.wait(60)
        assert run.returncode == 0, log_path.read_text()[-3000:]
        faults = Counter(server.faults())
        accepted = server.accepted()
    finally:
        server.close()

    print(f"\nSMTP faults injected: {sum(faults.values())} {dict(faults)}; uncertain {uncertain_before}, "
          f"resent {sum(1 for _, sent in decisions if not sent)}; {len(accepted)} accepted")
    for kind in ("421-rcpt", "451-rcpt", "451-data", "drop-mid-data", "reply-lost", "stall", "550-rcpt",
                 "554-data"):
        assert faults[kind] >= 1, f"the seed injected no {kind}: {dict(faults)}"
    per_wave = Counter((rcpt, wave_of(mid)) for mid, rcpt in accepted)
    assert {k: n for k, n in per_wave.items() if n > 1} == {}, "a message was delivered twice"
    normal = [r["email"] for r in rows[:NORMAL]]
    assert [(e, w) for e in normal for w in range(WAVES) if per_wave[(e, w)] != 1] == []   # nothing lost
    states = target_states(db_file)
    assert all(states[r["email"]] == "bounced" for r in rows if r["email"].startswith("dead"))
    refused = [r["email"] for r in rows if r["email"].startswith(("dead", "spam"))]
    assert not any(rcpt in refused for _, rcpt in accepted)        # nothing reached a refused address
    assert faults["550-rcpt"] == 3                                 # no reminder tried after a bounce
    states = send_states(db_file)
    assert states["sent"] == NORMAL * WAVES and states.get("uncertain", 0) == 0
    assert states["failed"] + states.get("cancelled", 0) == 6 * WAVES, states


def test_554_to_the_initial_email_gets_no_reminder(campaign_factory, smtp_server, sqlite_url):
    """DESIGN: the message itself refused → the target is undelivered and gets no reminder."""
    smtp_server.handler.data_script = ["554 5.7.1 message refused"] * 3
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=sqlite_url,
                            targets=[{"email": "spam0@strict.example.com", "prenom": "P", "nom": "N", "secteur": "x"}],
                            sections={"schedule": {"close_after": "90d"}})
    results = probe_session([["launch", camp.config, "--now", "2015-09-27T12:00"],
                             *(["tick", camp.config, "--now", now]
                               for now in ("2015-09-28T09:00", "2015-10-05T09:00", "2015-10-11T09:00"))])
    assert results[0].returncode == 0
    assert len(smtp_server.handler.data_script) == 2, "a reminder was tried after the initial email was refused"
