"""IMAP faults on the real Dovecot fixture, through `probe tick`: every reply recorded once (issue 12).

- Dovecot killed by pid (SIGKILL, master and children) while a tick is fetching, then restarted:
  the tick ends with exit 1 and the cause; the next tick reads what was left, nothing twice.
- Messages expunged by another client between the tick's SEARCH and its FETCH of later batches:
  the tick goes on without them, exit 0.
- The folder deleted and recreated (a new UIDVALIDITY) with the same messages in it: the tick
  reads the folder again and stores nothing twice (Message-ID + content hash)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.fixtures.dovecot import _descendants
from tests.reliability.conftest import targets
from tests.reliability.helpers import PROBE, probe, probe_session, sqlite_path
from tests.reliability.test_sigkill_storm import wait_for

FOLDER = "Replies"
pytestmark = pytest.mark.dovecot


def replies(sent: list, count: int) -> list[bytes]:
    out = []
    for i in range(count):
        original = sent[i % len(sent)].message
        msg = EmailMessage()
        msg["From"] = original["To"]
        msg["To"] = "redaction@en-contact.example.com"
        msg["Subject"] = "Re: " + str(original["Subject"])
        msg["Message-ID"] = f"<reply{i}@client.example.com>"
        msg["In-Reply-To"] = original["Message-ID"]
        msg.set_content(("OUI" if i % 3 else "NON, merci") + f"\n\nréponse {i}\n" + "texte de remplissage\n" * 40)
        out.append(bytes(msg))
    return out


def stored(db_file: Path) -> tuple[int, int]:
    """(messages stored, distinct Message-IDs among them)."""
    with sqlite3.connect(db_file) as conn:
        return conn.execute("SELECT count(*), count(DISTINCT message_id_header) FROM inbound_message").fetchone()


def kill_dovecot(dovecot) -> None:
    proc = dovecot.proc
    for pid in [proc.pid, *_descendants(proc.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(10)


@pytest.fixture
def campaign(campaign_factory, smtp_server, dovecot_user, sqlite_url):
    imap = {"host": dovecot_user.host, "port": dovecot_user.port, "security": "none",
            "username": dovecot_user.user, "password_env": "PROBE_REL_IMAP_PW", "folder": FOLDER,
            "timeout": "5s"}
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=sqlite_url, targets=targets(10), imap=imap)
    dovecot_user.create_folder(FOLDER)
    env = {**os.environ, "PROBE_REL_IMAP_PW": dovecot_user.password}
    launched, ticked = probe_session([["launch", camp.config], ["tick", camp.config, "--now", "2015-09-28T09:00"]],
                                     env=env)
    assert launched.returncode == 0 and ticked.returncode == 0, ticked.stderr
    return camp, env, smtp_server.handler.wait_for(10), sqlite_path(sqlite_url)


def tick(camp, env, *, verbose: bool = True) -> subprocess.Popen[str]:
    args = [*PROBE, "tick", str(camp.config), "--now", "2015-09-28T12:00", *(["-v"] if verbose else [])]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, env=env)


def test_dovecot_killed_during_a_fetch_then_every_reply_once(campaign, dovecot_user):
    camp, env, sent, db_file = campaign
    raws = replies(sent, 600)     # poll chunks of 25, 50, 100, 200, 225: the kill lands in one
    dovecot_user.append_many(raws, FOLDER)
    running = tick(camp, env)
    wait_for(lambda: stored(db_file)[0] > 0 or running.poll() is not None, 60, "the first reply stored")
    kill_dovecot(dovecot_user.server)
    _, err = running.communicate(timeout=60)
    partial = stored(db_file)[0]
    dovecot_user.server.start()
    assert running.returncode == 1, err                      # a problem found, said plainly
    assert "Traceback" not in err and "internal error" not in err, err
    assert "imap" in err.lower()
    assert 0 < partial < len(raws), partial                   # the kill did land mid-fetch
    r = probe("tick", camp.config, "--now", "2015-09-28T13:00", env=env)
    assert r.returncode == 0, r.stderr
    assert stored(db_file) == (len(raws), len(raws))          # every reply once


def test_messages_expunged_between_search_and_fetch(campaign, dovecot_user):
    camp, env, sent, db_file = campaign
    raws = replies(sent, 600)     # the last 40 are in the poll's last chunk (25, 50, 100, 200, 225)
    uids = dovecot_user.append_many(raws, FOLDER)
    running = tick(camp, env)
    wait_for(lambda: stored(db_file)[0] > 0 or running.poll() is not None, 60, "the first reply stored")
    gone = uids[-40:]
    with dovecot_user.server.client(dovecot_user.mail_user) as imap:   # another client: the user's mail app
        imap.select(FOLDER)
        imap.uid("STORE", f"{gone[0]}:{gone[-1]}", "+FLAGS.SILENT", r"(\Deleted)")
        imap.expunge()
    _, err = running.communicate(timeout=60)
    assert running.returncode == 0, err
    assert "vanished before they could be read" in err, err[-2000:]
    count, distinct = stored(db_file)
    assert count == distinct and len(raws) - len(gone) <= count < len(raws)
    r = probe("tick", camp.config, "--now", "2015-09-28T13:00", env=env)   # nothing new, nothing twice
    assert r.returncode == 0 and stored(db_file) == (count, distinct)


def test_folder_recreated_with_a_new_uidvalidity_stores_nothing_twice(campaign, dovecot_user):
    camp, env, sent, db_file = campaign
    raws = replies(sent, 40)
    dovecot_user.append_many(raws, FOLDER)
    r = probe("tick", camp.config, "--now", "2015-09-28T12:00", env=env)
    assert r.returncode == 0, r.stderr
    assert stored(db_file) == (40, 40)
    dovecot_user.delete_folder(FOLDER)
    dovecot_user.create_folder(FOLDER)
    dovecot_user.append_many(raws + replies(sent, 45)[40:], FOLDER)   # the same 40, and 5 new ones
    r = probe("tick", camp.config, "--now", "2015-09-28T13:00", "-v", env=env)
    assert r.returncode == 0, r.stderr
    assert "UIDVALIDITY changed" in r.stderr
    assert stored(db_file) == (45, 45)
