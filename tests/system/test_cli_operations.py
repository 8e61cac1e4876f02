"""Operating a campaign: importing replies from files, settling uncertain sends, health, purge."""

from __future__ import annotations

import json
import mailbox
import sqlite3

from tests.fixtures.campaign import CampaignDir
from tests.system.test_cli_campaign import probe


def reply(original, text: str, mid: str) -> bytes:
    return (f"From: {original['To']}\r\nTo: {original['From']}\r\nSubject: RE: {original['Subject']}\r\n"
            f"Message-ID: <{mid}@client.example.com>\r\nIn-Reply-To: {original['Message-ID']}\r\n"
            f"Date: Tue, 29 Sep 2015 10:00:00 +0200\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
            ).encode()


def test_import_an_mbox_twice_stores_each_message_once(campaign_factory, smtp_server, tmp_path):
    camp: CampaignDir = campaign_factory(smtp_port=smtp_server.port, db_url=f"sqlite:///{tmp_path}/p.db")
    assert probe("launch", camp.config).returncode == 0
    assert probe("tick", camp.config, "--now", "2015-09-28T09:00").returncode == 0
    received = smtp_server.handler.wait_for(5)
    box = mailbox.mbox(tmp_path / "replies.mbox")
    box.add(reply(received[0].message, "Oui, d'accord.", "m1"))
    box.add(reply(received[1].message, "Non merci.", "m2"))
    box.add(b"From: spam@nowhere.example.net\r\nSubject: Promo\r\n\r\nBuy now\r\n")
    box.flush()
    r = probe("import", camp.config, tmp_path / "replies.mbox")
    assert r.returncode == 0, r.stderr
    assert "imported 3 messages" in r.stdout and "1 matched no target" in r.stdout
    r = probe("import", camp.config, tmp_path / "replies.mbox")
    assert r.returncode == 0 and "imported 0 messages" in r.stdout and "3 already stored" in r.stdout
    status = json.loads(probe("status", camp.config, "--format", "json").stdout)
    assert status["targets"]["answered"] == 2
    r = probe("import", camp.config, tmp_path / "nothing-here")
    assert r.returncode == 2 and "nothing-here" in r.stderr


def test_resolve_an_uncertain_send(campaign_factory, smtp_server, tmp_path):
    db = tmp_path / "p.db"
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=f"sqlite:///{db}")
    assert probe("launch", camp.config).returncode == 0
    # A pass that died mid-send leaves this behind: a claimed send, handed to SMTP (wire_at), whose
    # lease has expired.
    with sqlite3.connect(db) as con:
        con.execute("UPDATE send SET state='claimed', lease_owner='elsewhere:1:x', "
                    "lease_expires_at='2000-01-01 00:00:00.000000', wire_at='2000-01-01 00:00:00.000000' "
                    "WHERE wave=0 AND id=1")
    r = probe("tick", camp.config, "--now", "2015-09-28T09:00")
    assert r.returncode == 1 and "uncertain" in r.stderr
    assert len(smtp_server.handler.wait_for(4)) == 4          # the uncertain one is not resent
    status = probe("status", camp.config)
    assert status.returncode == 1 and "send 1 " in status.stdout
    r = probe("resolve", camp.config, "1", "--resend", "--note", "not in the server's log")
    assert r.returncode == 0, r.stderr
    assert probe("tick", camp.config, "--now", "2015-09-28T09:05").returncode == 0
    assert len(smtp_server.handler.wait_for(5)) == 5
    assert probe("status", camp.config).returncode == 0
    r = probe("resolve", camp.config, "1", "--sent")
    assert r.returncode == 2                                   # no longer uncertain


def test_health_and_purge(campaign_factory, smtp_server, tmp_path):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=f"sqlite:///{tmp_path}/p.db")
    assert probe("launch", camp.config).returncode == 0
    assert probe("status", camp.config, "--health").returncode == 1     # no pass yet
    assert probe("tick", camp.config, "--now", "2015-09-28T09:00").returncode == 0
    assert probe("status", camp.config, "--health").returncode == 0
    assert probe("purge", camp.config).returncode == 2                  # --yes is required
    r = probe("purge", camp.config, "--yes")
    assert r.returncode == 0 and "5 targets" in r.stdout
    r = probe("status", camp.config)
    assert r.returncode == 2 and "probe launch" in r.stderr


def test_hostile_messages_are_stored_and_listed_not_fatal(campaign_factory, smtp_server, db_url, tmp_path):
    """NUL bytes, a huge subject, broken MIME and bad charsets: imported on both engines, nothing lost."""
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url)
    assert probe("launch", camp.config).returncode == 0
    folder = tmp_path / "hostile"
    folder.mkdir()
    (folder / "nul.eml").write_bytes(b"From: a\x00b@x.example\r\nSubject: Re: OUI\x00 ou NON\r\n\r\nOui\x00 merci\r\n")
    (folder / "huge.eml").write_bytes(b"Subject: " + b"=?utf-8?q?a?= " * 50_000 + b"\r\n\r\nbody\r\n")
    (folder / "mime.eml").write_bytes(b"Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\n"
                                      b"Content-Type: text/plain; charset=no-such-charset\r\n\r\n\xff\xfe\r\n")
    (folder / "surrogates.eml").write_bytes(b"Subject: \xed\xa0\x80 Re: hello\r\nFrom: s@x.example\r\n\r\n"
                                            b"\xed\xa0\x80\r\n")
    r = probe("import", camp.config, folder)
    assert r.returncode == 0, r.stderr
    assert "imported 4 messages" in r.stdout
