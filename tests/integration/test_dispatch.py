"""Dispatch against a real SMTP server (aiosmtpd) on SQLite and PostgreSQL: the founding case's
sends, reminders that stop, retries, bounces, time zones, and never the same message twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

from sqlalchemy import select

from probe.config import load_config
from probe.core.model import SendState, TargetState
from probe.service.wiring import open_service
from probe.store.tables import Send, Target
from tests.fixtures.campaign import CampaignDir

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2015, 9, 28, 9, 0, tzinfo=PARIS)


def local(dt: datetime) -> datetime:
    return dt.astimezone(PARIS)


async def sends_by_target(service) -> dict[str, list[Send]]:
    async with service.sessions() as session:
        rows = (await session.execute(select(Target.email, Send).join(Send, Send.target_id == Target.id)
                                      .order_by(Send.wave))).all()
    out: dict[str, list[Send]] = {}
    for email, send in rows:
        out.setdefault(email, []).append(send)
    return out


async def target_state(service, email: str) -> TargetState:
    async with service.sessions() as session:
        return (await session.execute(select(Target.state).where(Target.email == email))).scalar_one()


def reply_to(received, text: str) -> bytes:
    """A person's reply to a message the SMTP server received, threaded by In-Reply-To."""
    original = received.message
    return (f"From: {original['To']}\r\nTo: {original['From']}\r\nSubject: RE: {original['Subject']}\r\n"
            f"Message-ID: <reply-{abs(hash(text))}@client.example.com>\r\n"
            f"In-Reply-To: {original['Message-ID']}\r\nReferences: {original['Message-ID']}\r\n"
            f"Date: Tue, 29 Sep 2015 10:00:00 +0200\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{text}\r\n\r\nLe 28 sept. 2015 à 09:00, Rédaction a écrit :\r\n> Répondez simplement OUI ou NON.\r\n"
            ).encode()


async def test_founding_flow_initial_then_reminders_only_to_the_silent(campaign_factory, smtp_server, db_url,
                                                                       tmp_path):
    camp: CampaignDir = campaign_factory(smtp_port=smtp_server.port, db_url=db_url)
    settings = load_config(camp.config)
    async with open_service(settings) as service:
        launched = await service.launch(T0 - timedelta(days=1))
        assert launched.result.targets_added == 5 and launched.result.sends_planned == 15
        again = await service.launch(T0 - timedelta(days=1))
        assert again.result.targets_added == 0 and again.result.sends_planned == 0

        # Before the start: nothing is due.
        assert (await service.tick(T0 - timedelta(minutes=1))).sent == 0
        first = await service.tick(T0)
        assert first.sent == 5
        received = smtp_server.handler.wait_for(5)
        assert sorted(r.rcpt_tos[0] for r in received) == sorted(t["email"] for t in camp.targets)
        # The stored proof is the server's own reply line, queue id included.
        by_target = await sends_by_target(service)
        for r in received:
            sent = by_target[r.rcpt_tos[0].lower()][0]
            assert sent.state is SendState.SENT and sent.smtp_reply == r.reply
            assert r.message["Message-ID"] == sent.message_id

        # Target 1 answers OUI, target 2 bounces (a DSN naming it); both are imported before reminder 1.
        answer = tmp_path / "answer.eml"
        answer.write_bytes(reply_to(smtp_server.handler.to(camp.targets[0]["email"])[0], "Oui, avec plaisir."))
        imported = await service.import_path(answer, T0 + timedelta(days=1))
        assert imported.new_messages == 1
        assert await target_state(service, camp.targets[0]["email"]) is TargetState.ANSWERED

        # A second tick at the same time sends nothing more.
        assert (await service.tick(T0 + timedelta(days=1))).sent == 0
        second = await service.tick(T0 + timedelta(days=6))
        assert second.sent == 4
        third = await service.tick(T0 + timedelta(days=12))
        assert third.sent == 4
        received = smtp_server.handler.wait_for(13)
        assert len(smtp_server.handler.to(camp.targets[0]["email"])) == 1
        for target in camp.targets[1:]:
            mails = smtp_server.handler.to(target["email"])
            assert len(mails) == 3
            # Reminders thread to the initial message.
            assert mails[1].message["In-Reply-To"] == mails[0].message["Message-ID"]
        # Reminders go out at 09:00 Paris time.
        by_target = await sends_by_target(service)
        for email, sends in by_target.items():
            assert [local(s.due_at).hour for s in sends] == [9, 9, 9]
            if email == camp.targets[0]["email"]:
                assert [s.state for s in sends] == [SendState.SENT, SendState.CANCELLED, SendState.CANCELLED]


async def test_421_then_success_is_one_delivery(campaign_factory, smtp_server, db_url):
    targets = [{"email": "once@client.example.com", "prenom": "A", "nom": "B", "secteur": "x"}]
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url, targets=targets)
    smtp_server.handler.rcpt_script["once@client.example.com"] = ["421 4.7.0 Try again later"]
    settings = load_config(camp.config)
    async with open_service(settings) as service:
        await service.launch(T0)
        first = await service.tick(T0)
        assert (first.sent, first.retried) == (0, 1)
        sends = (await sends_by_target(service))["once@client.example.com"]
        assert sends[0].state is SendState.RETRY and sends[0].attempts == 1 and "421" in sends[0].last_error
        assert sends[0].due_at > T0
        # Not due again yet: nothing sent.
        assert (await service.tick(T0 + timedelta(minutes=1))).sent == 0
        later = await service.tick(T0 + timedelta(hours=1))
        assert later.sent == 1
    assert len(smtp_server.handler.wait_for(1)) == 1
    assert len(smtp_server.handler.to("once@client.example.com")) == 1


async def test_550_fails_the_send_bounces_the_target_and_cancels_reminders(campaign_factory, smtp_server, db_url):
    targets = [{"email": "gone@client.example.com", "prenom": "A", "nom": "B", "secteur": "x"},
               {"email": "here@client.example.com", "prenom": "C", "nom": "D", "secteur": "x"}]
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url, targets=targets)
    smtp_server.handler.rcpt_script["gone@client.example.com"] = ["550 5.1.1 <gone@client.example.com>: "
                                                                  "Recipient address rejected: User unknown"]
    settings = load_config(camp.config)
    async with open_service(settings) as service:
        await service.launch(T0)
        result = await service.tick(T0)
        assert (result.sent, result.failed) == (1, 1)
        assert await target_state(service, "gone@client.example.com") is TargetState.BOUNCED
        sends = (await sends_by_target(service))["gone@client.example.com"]
        assert [s.state for s in sends] == [SendState.FAILED, SendState.CANCELLED, SendState.CANCELLED]
        assert sends[0].smtp_reply.startswith("550 5.1.1")
        for day in (6, 12, 20):   # one wave per pass: reminders follow the initial email
            await service.tick(T0 + timedelta(days=day))
    assert smtp_server.handler.to("gone@client.example.com") == []
    assert len(smtp_server.handler.to("here@client.example.com")) == 3


async def test_dst_change_keeps_reminders_at_nine_local(campaign_factory, smtp_server, db_url):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url,
                            sections={"schedule": {"start": "2015-10-20T09:00:00", "reminders": ["6d", "12d"]}})
    settings = load_config(camp.config)
    async with open_service(settings) as service:
        await service.launch(datetime(2015, 10, 19, tzinfo=UTC))
        sends = await sends_by_target(service)
    dues = [s.due_at for s in next(iter(sends.values()))]
    assert [local(d).strftime("%Y-%m-%d %H:%M") for d in dues] == [
        "2015-10-20 09:00", "2015-10-26 09:00", "2015-11-01 09:00"]
    # 09:00 CEST is 07:00 UTC; after the 25 October change 09:00 CET is 08:00 UTC.
    assert [d.astimezone(UTC).hour for d in dues] == [7, 8, 8]


async def test_send_window_moves_a_send_to_the_next_opening(campaign_factory, smtp_server, db_url):
    # Saturday 3 October 2015 at 10:00: outside "mon-fri 09:00-18:00" → Monday 5 October 09:00.
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url,
                            sections={"schedule": {"start": "2015-10-03T10:00:00", "reminders": ["6d", "12d"],
                                                   "send_window": "mon-fri 09:00-18:00"}})
    settings = load_config(camp.config)
    async with open_service(settings) as service:
        await service.launch(datetime(2015, 10, 1, tzinfo=UTC))
        assert (await service.tick(datetime(2015, 10, 4, 12, tzinfo=PARIS))).sent == 0
        assert (await service.tick(datetime(2015, 10, 5, 9, tzinfo=PARIS))).sent == 5


async def test_overlapping_passes_never_send_the_same_message_twice(campaign_factory, smtp_server, db_url):
    targets = [{"email": f"t{i}@client.example.com", "prenom": "A", "nom": "B", "secteur": "x"} for i in range(30)]
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url, targets=targets,
                            sections={"smtp": {"concurrency": 3}})
    settings = load_config(camp.config)
    async with open_service(settings) as one, open_service(settings) as two:
        await one.launch(T0)
        two.campaign_id = one.campaign_id
        results = await asyncio.gather(one.tick(T0), two.tick(T0), one.tick(T0))
    assert sum(r.sent for r in results) == 30
    received = smtp_server.handler.wait_for(30)
    assert sorted(r.rcpt_tos[0] for r in received) == sorted(t["email"] for t in targets)
    ids = [message_from_bytes(r.raw, policy=policy.default)["Message-ID"] for r in received]
    assert len(set(ids)) == 30


async def test_relaunch_without_a_start_keeps_the_first_launch_as_the_start(campaign_factory, smtp_server, db_url):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url)
    text = camp.config.read_text().replace('start = "2015-09-28T09:00:00"\n', "")
    camp.config.write_text(text)
    settings = load_config(camp.config)
    assert settings.schedule.start is None
    async with open_service(settings) as service:
        first = await service.launch(T0)
        again = await service.launch(T0 + timedelta(days=2))
        assert again.result.sends_rescheduled == 0
        assert again.due_times == first.due_times
        assert local(first.due_times[0]) == T0


async def test_rate_limit_spaces_the_sends(campaign_factory, smtp_server, tmp_path):
    # 20/s over 5 sends: the last one cannot leave before 4 intervals (0.2 s) have passed.
    import time

    camp = campaign_factory(smtp_port=smtp_server.port, db_url=f"sqlite:///{tmp_path}/r.db",
                            sections={"smtp": {"rate_limit": "20/s", "concurrency": 4}})
    settings = load_config(camp.config)
    from tests.fixtures.db import run_upgrade

    run_upgrade(settings.database.url)
    async with open_service(settings) as service:
        await service.launch(T0)
        started = time.monotonic()
        assert (await service.tick(T0)).sent == 5
        assert time.monotonic() - started >= 4 / 20
