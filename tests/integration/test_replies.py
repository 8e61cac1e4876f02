"""Replies end to end: aiosmtpd out, Dovecot in, on SQLite and PostgreSQL. Replies are APPENDed to a
real mailbox with the Message-IDs the SMTP server actually received; each must stop exactly the
right reminders, be matched by the right method, be stored once, and stay unread on the server."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from probe.config import load_config
from probe.core.model import Answer, MatchMethod, MessageKind, TargetState
from probe.errors import ImapError
from probe.service.clock import Clock
from probe.service.daemon import Daemon
from probe.service.wiring import open_service
from probe.store.tables import InboundMessage, Target
from tests.fixtures.db import run_upgrade

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2015, 9, 28, 9, 0, tzinfo=PARIS)
OUR = "redaction@en-contact.example.com"


def imap_section(user) -> dict:
    return {"host": user.host, "port": user.port, "security": "none", "username": user.user,
            "password_env": "PROBE_TEST_IMAP_PASSWORD", "folder": "INBOX"}


@pytest.fixture
def imap_env(monkeypatch, dovecot_user):
    monkeypatch.setenv("PROBE_TEST_IMAP_PASSWORD", dovecot_user.password)
    return dovecot_user


def human_reply(original, body: str, *, sender: str | None = None, threaded: bool = True,
                subject: str | None = None, mid: str = "r1") -> bytes:
    headers = [f"From: {sender or original['To']}", f"To: {OUR}",
               f"Subject: {subject or 'RE: ' + str(original['Subject'])}",
               f"Message-ID: <{mid}@client.example.com>", "Date: Tue, 29 Sep 2015 10:00:00 +0200",
               "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
               "Content-Transfer-Encoding: 8bit"]
    if threaded:
        headers += [f"In-Reply-To: {original['Message-ID']}", f"References: {original['Message-ID']}"]
    quote = "\r\n".join(["", "De : Rédaction <redaction@en-contact.example.com>",
                         "Envoyé : lundi 28 septembre 2015 09:00", f"À : {original['To']}",
                         f"Objet : {original['Subject']}", "", "Répondez simplement OUI ou NON."])
    return ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n" + quote + "\r\n").encode()


def dsn(original, final_recipient: str) -> bytes:
    return f"""From: Mail Delivery System <MAILER-DAEMON@mx.client.example.com>\r
To: {OUR}\r
Subject: Undelivered Mail Returned to Sender\r
Auto-Submitted: auto-replied\r
Message-ID: <dsn1@mx.client.example.com>\r
Date: Mon, 28 Sep 2015 09:01:00 +0200\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"\r
\r
--BOUNDARY\r
Content-Type: text/plain; charset=us-ascii\r
\r
This is the mail system at host mx.client.example.com.\r
I'm sorry to have to inform you that your message could not be delivered.\r
\r
<{final_recipient}>: host store.client.example.com said: 550 5.1.1 User unknown\r
\r
--BOUNDARY\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; mx.client.example.com\r
\r
Final-Recipient: rfc822; {final_recipient}\r
Action: failed\r
Status: 5.1.1\r
Diagnostic-Code: smtp; 550 5.1.1 <{final_recipient}>: User unknown\r
\r
--BOUNDARY\r
Content-Type: text/rfc822-headers\r
\r
From: {original['From']}\r
To: {original['To']}\r
Subject: {original['Subject']}\r
Message-ID: {original['Message-ID']}\r
\r
--BOUNDARY--\r
""".encode()


def out_of_office(original) -> bytes:
    return (f"From: {original['To']}\r\nTo: {OUR}\r\nSubject: Réponse automatique : {original['Subject']}\r\n"
            f"Auto-Submitted: auto-replied\r\nMessage-ID: <ooo1@client.example.com>\r\n"
            f"In-Reply-To: {original['Message-ID']}\r\nDate: Mon, 28 Sep 2015 09:00:30 +0200\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n"
            "Je suis absent du bureau jusqu'au 12 octobre. Pour toute urgence, contactez le standard.\r\n"
            ).encode()


async def stored(service) -> list[InboundMessage]:
    async with service.sessions() as session:
        return list((await session.execute(select(InboundMessage).order_by(InboundMessage.id))).scalars())


async def states(service) -> dict[str, tuple[TargetState, Answer | None]]:
    async with service.sessions() as session:
        rows = (await session.execute(select(Target.email, Target.state, Target.answer))).all()
    return {email: (state, answer) for email, state, answer in rows}


async def test_replies_stop_exactly_the_right_reminders(campaign_factory, smtp_server, db_url, imap_env):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url, imap=imap_section(imap_env))
    emails = [t["email"] for t in camp.targets]
    settings = load_config(camp.config)
    async with open_service(settings) as service:
        await service.launch(T0)
        assert (await service.tick(T0)).sent == 5
        smtp_server.handler.wait_for(5)
        sent = {e: smtp_server.handler.to(e)[0].message for e in emails}
        day1 = T0 + timedelta(days=1)
        # 0: a threaded OUI; 1: a colleague answers NON for the target, threaded; 2: no threading
        # headers at all, matched by sender; 3: a DSN whose Final-Recipient is an alias, matched by the
        # original's headers; 4: only an out-of-office; and one message nobody can match.
        imap_env.append(human_reply(sent[emails[0]], "OUI, avec plaisir.", mid="a0"), date=day1)
        imap_env.append(human_reply(sent[emails[1]], "Non merci, pas intéressé.", mid="a1",
                                    sender="Assistante <assistante@client2.example.com>"), date=day1)
        imap_env.append(human_reply(sent[emails[2]], "Oui.", threaded=False, mid="a2"), date=day1)
        imap_env.append(dsn(sent[emails[3]], "alias-3@store.client.example.com"), date=T0)
        imap_env.append(out_of_office(sent[emails[4]]), date=T0)
        imap_env.append(b"From: stranger@nowhere.example.net\r\nTo: redaction@en-contact.example.com\r\n"
                        b"Subject: Hello\r\nMessage-ID: <x1@nowhere.example.net>\r\n\r\nUnrelated.\r\n", date=day1)

        reminder = await service.tick(T0 + timedelta(days=6))
        assert reminder.new_messages == 6
        assert reminder.sent == 1          # only the target who sent nothing but an out-of-office
        assert len(smtp_server.handler.to(emails[4])) == 2
        for email in emails[:4]:
            assert len(smtp_server.handler.to(email)) == 1

        st = await states(service)
        assert st[emails[0]] == (TargetState.ANSWERED, Answer.YES)
        assert st[emails[1]] == (TargetState.ANSWERED, Answer.NO)
        assert st[emails[2]] == (TargetState.ANSWERED, Answer.YES)
        assert st[emails[3]][0] is TargetState.BOUNCED
        assert st[emails[4]] == (TargetState.CONTACTED, None)

        rows = await stored(service)
        by_subject = {(r.kind, r.match_method) for r in rows}
        assert (MessageKind.HUMAN_REPLY, MatchMethod.IN_REPLY_TO) in by_subject
        assert (MessageKind.HUMAN_REPLY, MatchMethod.SENDER) in by_subject
        assert (MessageKind.BOUNCE, MatchMethod.BOUNCE_ORIGINAL) in by_subject
        assert (MessageKind.AUTO_REPLY, MatchMethod.IN_REPLY_TO) in by_subject
        unmatched = [r for r in rows if r.target_id is None]
        assert len(unmatched) == 1 and unmatched[0].sender == "stranger@nowhere.example.net"
        assert all(r.raw is not None and r.uidvalidity and r.uid for r in rows)

        # The cursor: a second poll fetches nothing; nothing was marked read on the server.
        again = await service.tick(T0 + timedelta(days=6, hours=1))
        assert again.new_messages == 0
        assert all("\\Seen" not in flags for flags in imap_env.flags().values())


async def test_uidvalidity_change_resyncs_without_duplicates(campaign_factory, smtp_server, db_url, imap_env):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url,
                            imap=imap_section(imap_env) | {"folder": "Replies"})
    settings = load_config(camp.config)
    imap_env.create_folder("Replies")
    async with open_service(settings) as service:
        await service.launch(T0)
        await service.tick(T0)
        original = smtp_server.handler.wait_for(5)[0].message
        reply = human_reply(original, "Oui", mid="u1")
        imap_env.append(reply, "Replies", date=T0 + timedelta(hours=2))
        assert (await service.tick(T0 + timedelta(hours=3))).new_messages == 1
        # The folder is deleted and recreated: a new UIDVALIDITY, the same message in it again.
        imap_env.delete_folder("Replies")
        imap_env.create_folder("Replies")
        imap_env.append(reply, "Replies", date=T0 + timedelta(hours=2))
        imap_env.append(human_reply(original, "Non finalement", mid="u2"), "Replies", date=T0 + timedelta(hours=4))
        result = await service.tick(T0 + timedelta(hours=5))
        assert (result.new_messages, result.polled.duplicates) == (1, 1)
        assert len(await stored(service)) == 2


async def test_server_restart_between_polls_misses_nothing(campaign_factory, smtp_server, db_url, imap_env):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url, imap=imap_section(imap_env))
    settings = load_config(camp.config)
    async with open_service(settings) as service:
        await service.launch(T0)
        await service.tick(T0)
        originals = [r.message for r in smtp_server.handler.wait_for(5)]
        imap_env.append(human_reply(originals[0], "Oui", mid="s1"), date=T0 + timedelta(hours=1))
        imap_env.server.stop()
        try:
            with pytest.raises(ImapError):
                await service.tick(T0 + timedelta(hours=2))
        finally:
            imap_env.server.start()
        imap_env.append(human_reply(originals[1], "Non", mid="s2"), date=T0 + timedelta(hours=3))
        result = await service.tick(T0 + timedelta(hours=4))
        assert result.new_messages == 2
        assert len(await stored(service)) == 2


async def test_daemon_records_a_reply_within_seconds_through_idle(campaign_factory, smtp_server, tmp_path, imap_env):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=f"sqlite:///{tmp_path}/idle.db",
                            imap=imap_section(imap_env) | {"poll_every": "1h"},
                            sections={"schedule": {"tick_every": "1h"}})
    settings = load_config(camp.config)
    run_upgrade(settings.database.url)
    async with open_service(settings) as service:
        await service.launch(T0)
        daemon = Daemon(service, Clock(T0 + timedelta(minutes=1), 1.0))
        task = asyncio.create_task(daemon.run(install_signals=False))
        try:
            original = (await asyncio.to_thread(smtp_server.handler.wait_for, 5))[0].message
            async with asyncio.timeout(10):
                while daemon.passes < 1:  # noqa: ASYNC110 - the first pass (the sending one) is recorded
                    await asyncio.sleep(0.05)
            await asyncio.wait_for(daemon.watching.wait(), 10)
            loop = asyncio.get_running_loop()
            appended_at = loop.time()
            await asyncio.to_thread(imap_env.append, human_reply(original, "OUI", mid="idle1"))
            async with asyncio.timeout(5):
                while True:
                    async with service.sessions() as session:
                        count = (await session.execute(select(func.count()).select_from(InboundMessage))).scalar()
                    if count:
                        break
                    await asyncio.sleep(0.05)
            assert loop.time() - appended_at < 5
        finally:
            daemon.request_stop()
            await asyncio.wait_for(task, 30)


async def test_out_of_office_defers_a_reminder_only_when_switched_on(campaign_factory, smtp_server, db_url, imap_env):
    # "absent jusqu'au 12 octobre": reminder 1 (4 October) waits for the return, reminder 2 (10 October) too.
    for switch in (False, True):
        camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url, imap=imap_section(imap_env),
                                name=f"ooo-{switch}", targets=[{"email": f"absent-{switch}@client.example.com",
                                                               "prenom": "A", "nom": "B", "secteur": "x"}],
                                sections={"schedule": {"defer_after_out_of_office": switch},
                                          "campaign": {"keep_bodies": False}})
        settings = load_config(camp.config)
        async with open_service(settings) as service:
            await service.launch(T0)
            await service.tick(T0)
            original = smtp_server.handler.to(f"absent-{switch}@client.example.com")[0].message
            imap_env.append(out_of_office(original), date=T0 + timedelta(minutes=1))
            await service.tick(T0 + timedelta(hours=1))
            dues = {}
            async with service.sessions() as session:
                from probe.store.tables import Send

                for wave, due in (await session.execute(select(Send.wave, Send.due_at))).all():
                    dues[wave] = due.astimezone(PARIS)
                rows = list((await session.execute(select(InboundMessage))).scalars())
            if switch:
                assert dues[1].date().isoformat() == "2015-10-12" and dues[1].hour == 9
                assert dues[2].date().isoformat() == "2015-10-12"
            else:
                assert dues[1].date().isoformat() == "2015-10-04"
            # keep_bodies = false: the hash and the verdict are kept, the bytes are not.
            ooo = [r for r in rows if r.kind is MessageKind.AUTO_REPLY]
            assert ooo and ooo[-1].raw is None and len(ooo[-1].raw_sha256) == 64
            assert ooo[-1].details["return_date"] == "2015-10-12"


async def test_a_copy_of_each_probe_goes_to_the_sent_folder_when_asked(campaign_factory, smtp_server, db_url,
                                                                       imap_env):
    imap_env.create_folder("Sent")
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url,
                            imap=imap_section(imap_env) | {"sent_folder": "Sent"})
    settings = load_config(camp.config)
    async with open_service(settings) as service:
        await service.launch(T0)
        assert (await service.tick(T0)).sent == 5
        # The copies are not replies: polling INBOX afterwards finds nothing new.
        assert (await service.tick(T0 + timedelta(hours=1))).new_messages == 0
    assert len(imap_env.flags("Sent")) == 5
