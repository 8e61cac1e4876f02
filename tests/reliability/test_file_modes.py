"""What probe writes is the owner's alone: database 0600, exports and raw messages 0600 in 0700
folders — even when the user's umask would let everyone read them (issue 12)."""

from __future__ import annotations

import os
import stat
from email.message import EmailMessage
from pathlib import Path

from tests.reliability.conftest import targets
from tests.reliability.helpers import probe_session


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def reply(to: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = to, "redaction@en-contact.example.com", "Re: Votre abonnement"
    msg["Message-ID"] = "<r1@client.example.com>"
    msg.set_content("OUI\n")
    return bytes(msg)


def test_database_exports_and_raw_messages_are_owner_only(campaign_factory, smtp_server, tmp_path):
    db = tmp_path / "db" / "probe.db"
    db.parent.mkdir()
    rows = targets(2)
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=f"sqlite:///{db}", targets=rows)
    (camp.path / "reply.eml").write_bytes(reply(rows[0]["email"]))
    out = tmp_path / "evidence"
    results = probe_session([["launch", camp.config], ["tick", camp.config, "--now", "2015-09-28T09:00"],
                             ["import", camp.config, camp.path / "reply.eml"],
                             ["export", camp.config, "--output", out],
                             ["report", camp.config, "--format", "csv", "--output", tmp_path / "report.csv"]],
                            umask=0)   # started from a shell whose umask is 000
    for r in results:
        assert r.returncode == 0, (r.args, r.stderr)

    for path in [db, *db.parent.glob("probe.db-*")]:
        assert mode(path) == 0o600, (path, oct(mode(path)))
    assert mode(out) == 0o700 and mode(out / "raw") == 0o700
    files = [p for p in out.rglob("*") if p.is_file()]
    assert any(p.suffix == ".eml" for p in files), files   # a raw message was written
    for path in [*files, tmp_path / "report.csv"]:
        assert mode(path) == 0o600, (path, oct(mode(path)))


def test_upgrade_creates_an_owner_only_database_whatever_the_umask(tmp_path):
    from tests.fixtures.db import run_upgrade

    db = tmp_path / "lib.db"
    previous = os.umask(0)
    try:
        run_upgrade(f"sqlite:///{db}")
    finally:
        os.umask(previous)
    assert mode(db) == 0o600
