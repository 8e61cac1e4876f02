"""SIGKILL storm: `probe run` killed at random moments mid-send, restarted, and the SMTP server's own
log (another process, written before each 250) proves exactly-once delivery (issue 12).

200 targets × 3 waves and 5 kills by default; 500 targets and 20 kills behind -m slow. After the
storm every uncertain send is settled the way a user would — looked up in the server's log:
`resolve --sent` when it is there, `--resend` when not — and the remaining waves are sent. Then:
no target got any wave twice, every target got every wave (nothing lost), and no kill left more
sends in doubt than the SMTP concurrency."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.reliability.conftest import targets
from tests.reliability.helpers import PROBE, LoggingSmtpServer, probe, send_states, sqlite_path

CONCURRENCY = 4
START = datetime(2015, 9, 28, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
WAVES = 3


def wave_of(message_id: str) -> int:
    return int(message_id.strip("<>").split("@")[0].rsplit(".", 1)[1])


def last_sent_at(db_file: Path) -> datetime:
    with sqlite3.connect(db_file) as conn:
        value = conn.execute("SELECT max(sent_at) FROM send WHERE state = 'sent'").fetchone()[0]
    return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else START


def uncertain_count(db_file: Path) -> int:
    with sqlite3.connect(db_file) as conn:
        return conn.execute("SELECT count(*) FROM send WHERE state = 'uncertain'").fetchone()[0]


def claimed(db_file: Path) -> int:
    """Claims a killed run left on the wire (in DATA): the next pass makes them uncertain. Claims
    that never reached DATA go back to the queue by themselves (the window of doubt is DATA)."""
    with sqlite3.connect(db_file) as conn:
        return conn.execute("SELECT count(*) FROM send WHERE state = 'claimed' AND wire_at IS NOT NULL"
                            ).fetchone()[0]


def wait_for(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)   # polling an observable condition with a deadline


def resolve_all(config: Path, decisions: list[tuple[int, bool]]) -> None:
    """`probe resolve CONFIG ID --sent|--resend` for each, through the CLI's main() in one process."""
    script = ("import sys, json\nfrom probe.cli import main\n"
              "for send_id, sent in json.loads(sys.argv[2]):\n"
              "    code = main(['resolve', sys.argv[1], str(send_id), '--sent' if sent else '--resend'])\n"
              "    assert code == 0, (send_id, code)\n")
    done = subprocess.run([sys.executable, "-c", script, str(config), json.dumps(decisions)], capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr


def storm(campaign_factory, sqlite_url: str, tmp_path: Path, *, count: int, kills: int, seed: int) -> dict:
    rng = random.Random(seed)
    server = LoggingSmtpServer(tmp_path)
    db_file = sqlite_path(sqlite_url)
    speed = 12 * 86400 / 3.0   # twelve campaign days in about three seconds of daemon
    try:
        camp = campaign_factory(smtp_port=server.port, db_url=sqlite_url, targets=targets(count),
                                sections={"smtp": {"concurrency": CONCURRENCY},
                                          "schedule": {"close_after": "90d", "tick_every": "1m"}})
        assert probe("launch", camp.config, "--now", "2015-09-27T12:00").returncode == 0
        sim = START
        # The daemons' stderr goes to a file: a pipe nobody reads fills up and blocks the daemon.
        log_path = tmp_path / "daemons.log"
        log = log_path.open("ab")
        in_doubt: list[int] = []
        # Each run is killed after a random number of accepted emails, at most a share of the
        # campaign that leaves every later kill something to interrupt (a fast pass killed after a
        # random *time* could finish the campaign before the last kills, leaving runs with nothing
        # to send but the waves held back behind uncertain ones).
        most = max(1, count * WAVES // (kills + 2))
        for _ in range(kills):
            before = len(server.accepted())
            at = before + rng.randint(1, most)   # the random moment of the kill
            run = subprocess.Popen([*PROBE, "run", str(camp.config), "--now", sim.isoformat(), "--speed", str(speed)],
                                   stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL)
            try:
                wait_for(lambda a=at, r=run: len(server.accepted()) >= a or r.poll() is not None, 60,
                           f"{at - before} sends")
                os.kill(run.pid, signal.SIGKILL)
                run.wait(10)
            finally:
                if run.poll() is None:
                    run.kill()
                    run.wait(10)
            assert run.returncode == -signal.SIGKILL, log_path.read_text()[-3000:]
            in_doubt.append(claimed(db_file))
            # The next run starts where this one's campaign clock was (not where the wall clock
            # says: start-up takes seconds, which are days at this speed).
            sim = max(sim, last_sent_at(db_file))
        # The last run finishes every wave. While it runs, the user settles the doubt the way the
        # docs say — `status` lists the uncertain sends, the server's log tells which arrived — and
        # the daemon sends the resent initial emails and the reminders that waited for them.
        last = subprocess.Popen([*PROBE, "run", str(camp.config), "--now", sim.isoformat(), "--speed", str(speed)],
                                stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL)
        try:
            # its first pass turns the last killed run's claims into uncertain sends
            wait_for(lambda: uncertain_count(db_file) == sum(in_doubt), 60, "the last claims marked uncertain")
            status = probe("status", camp.config, "--format", "json")
            uncertain = json.loads(status.stdout)["uncertain"]
            assert len(uncertain) == sum(in_doubt), status.stdout
            delivered = {mid for mid, _ in server.accepted()}
            decisions = [(u["send_id"], u["message_id"] in delivered) for u in uncertain]
            if decisions:
                resolve_all(camp.config, decisions)
            wait_for(lambda: send_states(db_file).get("sent", 0) == count * WAVES, 240, "every wave sent")
        finally:
            last.send_signal(signal.SIGTERM)
            last.wait(60)
        assert last.returncode == 0, log_path.read_text()[-3000:]
        per_wave = Counter((rcpt, wave_of(mid)) for mid, rcpt in server.accepted())
        return {"per_wave": per_wave, "in_doubt": in_doubt, "uncertain": len(uncertain),
                "resent": sum(1 for _, sent in decisions if not sent), "states": send_states(db_file),
                "emails": [t["email"] for t in targets(count)], "accepted": len(server.accepted())}
    finally:
        server.close()
        if "log" in locals():
            log.close()


@pytest.mark.parametrize("count, kills, seed", [
    pytest.param(200, 5, 12, id="200x5"),
    pytest.param(500, 20, 1212, id="500x20", marks=[pytest.mark.slow, pytest.mark.timeout(900)]),
])
def test_sigkill_storm_sends_every_wave_exactly_once(campaign_factory, sqlite_url, tmp_path, count, kills, seed):
    result = storm(campaign_factory, sqlite_url, tmp_path, count=count, kills=kills, seed=seed)
    print(f"\nstorm {count} targets x {WAVES} waves, {kills} kills: uncertain per kill {result['in_doubt']}, "
          f"{result['uncertain']} uncertain in all, {result['resent']} resent after looking them up, "
          f"{result['accepted']} messages accepted by the server")
    twice = {key: n for key, n in result["per_wave"].items() if n > 1}
    assert twice == {}, f"sent twice: {twice}"
    lost = [(e, w) for e in result["emails"] for w in range(WAVES) if result["per_wave"][(e, w)] == 0]
    assert lost == [], f"never sent: {lost[:10]} ({len(lost)} in all)"
    assert all(n <= CONCURRENCY for n in result["in_doubt"]), result["in_doubt"]
    assert result["states"] == {"sent": count * WAVES}
