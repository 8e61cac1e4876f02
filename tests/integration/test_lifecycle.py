"""The lifecycle rules against a real SMTP server (aiosmtpd) on SQLite and PostgreSQL (DESIGN.md "The
state that matters"): account faults are loud and free, waves follow the target, a refused message
leaves its target undelivered, the first clear answer decides, resolve stays in its campaign."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from probe.config import load_config
from probe.core.model import Answer, SendState, TargetState
from probe.service.wiring import open_service
from probe.store.sends import ResolveRefused, resolve_send
from probe.store.status import status_summary
from probe.store.tables import InboundMessage, Send, Target
from tests.fixtures.smtp_server import RecordingHandler, free_port
from tests.integration.test_dispatch import T0, reply_to, sends_by_target, target_state

TWO = [{"email": f"t{i}@client.example.com", "prenom": f"P{i}", "nom": f"N{i}", "secteur": "x"} for i in (1, 2)]


@contextmanager
def smtp_up(port: int, handler: RecordingHandler) -> Iterator[None]:
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield
    finally:
        controller.stop()


async def test_smtp_down_for_14_hours_costs_nothing_and_waves_follow_each_target(campaign_factory, db_url):
    port = free_port()   # nothing listens there until the server "comes back"
    handler = RecordingHandler()
    camp = campaign_factory(smtp_port=port, db_url=db_url, targets=TWO)
    settings = load_config(camp.config)
    async with open_service(settings) as service:
        await service.launch(T0 - timedelta(days=1))
        now = T0
        down_until = T0 + timedelta(hours=14)
        while now < down_until:
            result = await service.tick(now)
            # Every pass while down: the fault is reported (tick exits 1 on it), nothing sent.
            assert result.dispatched.account_fault is not None and result.sent == 0
            assert "smtp.host" in str(result.dispatched.account_fault)
            now += timedelta(minutes=30)
        sends = await sends_by_target(service)
        assert all(s.attempts == 0 and s.state is SendState.SCHEDULED for ss in sends.values() for s in ss)
        status = await status_summary(service.sessions, service.require_campaign(), now=now)
        assert status.smtp_failing_since == T0
        with smtp_up(port, handler):
            back = await service.tick(now)
            assert back.dispatched.account_fault is None and back.sent == 2
            assert {wave for _, wave in back.dispatched.sent_to} == {0}   # initial emails first
            status = await status_summary(service.sessions, service.require_campaign(), now=now)
            assert status.smtp_failing_since is None                       # cleared by the success
            # The reminders were planned for T0+6d; they follow the actual initial send instead.
            assert (await service.tick(T0 + timedelta(days=6, hours=1))).sent == 0
            t = now
            while t < now + timedelta(days=13):
                await service.tick(t)
                t += timedelta(hours=6)
        sends = await sends_by_target(service)
    for target in TWO:
        got = handler.to(target["email"])
        assert len(got) == 3
        assert "Relance" not in got[0].message["Subject"]   # wave 0 first
        mine = sends[target["email"]]
        initial = mine[0].sent_at
        assert initial >= now
        assert mine[1].sent_at - initial >= timedelta(days=6)
        assert mine[2].sent_at - initial >= timedelta(days=12)


async def test_start_a_year_in_the_past_sends_the_initial_wave_only(campaign_factory, smtp_server, db_url):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url,
                            sections={"schedule": {"start": "2014-09-28T09:00:00"}})
    settings = load_config(camp.config)
    async with open_service(settings) as service:
        launched = await service.launch(T0)
        assert launched.start_in_past and launched.next_pass == 5
        first = await service.tick(T0)
        assert first.sent == 5 and {w for _, w in first.dispatched.sent_to} == {0}
        assert (await service.tick(T0 + timedelta(hours=1))).sent == 0
        sends = await sends_by_target(service)
        for mine in sends.values():
            assert mine[1].due_at - mine[0].sent_at == timedelta(days=6)
            assert mine[2].due_at - mine[0].sent_at == timedelta(days=12)
        assert (await service.tick(T0 + timedelta(days=6))).sent == 5
    assert len(smtp_server.handler.received) == 10


@pytest.mark.parametrize(("start", "window", "now", "expected"), [
    ("2014-09-28T09:00:00", None, T0, 4),                                  # due long ago
    ("2015-09-26T10:00:00", "mon-fri 09:00-18:00", T0 - timedelta(days=1), 0),   # a Saturday: due Monday
])
async def test_a_new_campaign_counts_its_next_pass_like_the_stored_sends(campaign_factory, db_url, start, window,
                                                                         now, expected):
    """launch counts a new campaign's next pass from its plan instead of reading the sends back; the
    count over the stored sends (next_pass_sends) agrees, a suppressed address included."""
    from probe.store.campaigns import next_pass_sends
    from probe.store.tables import Suppression

    schedule = {"start": start} | ({"send_window": window} if window else {})
    camp = campaign_factory(smtp_port=free_port(), db_url=db_url, sections={"schedule": schedule})
    settings = load_config(camp.config)
    async with open_service(settings) as service:
        async with service.sessions.begin() as s:
            s.add(Suppression(email=camp.targets[2]["email"], reason="opt-out"))
        launched = await service.launch(now)
        assert launched.start_in_past and launched.result.suppressed == 1
        assert launched.next_pass == expected == await next_pass_sends(service.sessions,
                                                                       service.require_campaign(), now)


async def test_554_to_data_leaves_the_target_undelivered_and_resend_works_once(campaign_factory, smtp_server,
                                                                               db_url):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url, targets=TWO,
                            sections={"smtp": {"concurrency": 1}})
    smtp_server.handler.data_script[:] = ["554 5.7.1 Message rejected as spam"]
    settings = load_config(camp.config)
    async with open_service(settings) as service:
        await service.launch(T0)
        first = await service.tick(T0)
        assert (first.sent, first.failed, first.dispatched.undelivered) == (1, 1, 1)
        refused = TWO[0]["email"]
        assert await target_state(service, refused) is TargetState.UNDELIVERED
        sends = (await sends_by_target(service))[refused]
        assert [s.state for s in sends] == [SendState.FAILED, SendState.CANCELLED, SendState.CANCELLED]
        for day in (6, 12):
            await service.tick(T0 + timedelta(days=day))
        assert smtp_server.handler.to(refused) == []       # no reminder to someone never reached
        cid = service.require_campaign()
        status = await status_summary(service.sessions, cid, now=T0 + timedelta(days=12))
        assert [f.send_id for f in status.failed] == [sends[0].id]
        # The user fixed the wording: resend it; the reminders follow from that send.
        resend_at = T0 + timedelta(days=13)
        from probe.service.dispatch import replanner
        assert await resolve_send(service.sessions, campaign_id=cid, send_id=sends[0].id, sent=False,
                                  note="wording fixed", now=resend_at, replan=replanner(service)) is SendState.FAILED
        with pytest.raises(ResolveRefused):   # only once: it is scheduled now
            await resolve_send(service.sessions, campaign_id=cid, send_id=sends[0].id, sent=False, note="x",
                               now=resend_at)
        assert await target_state(service, refused) is TargetState.PENDING
        again = await service.tick(resend_at)
        assert again.sent == 1 and again.dispatched.sent_to == [(refused, 0)]
        assert await target_state(service, refused) is TargetState.CONTACTED
        sends = (await sends_by_target(service))[refused]
        assert [s.state for s in sends] == [SendState.SENT, SendState.SCHEDULED, SendState.SCHEDULED]
        assert sends[1].due_at == sends[0].sent_at + timedelta(days=6)
        assert (await service.tick(resend_at + timedelta(days=6))).sent == 1
    assert len(smtp_server.handler.to(refused)) == 2


async def test_550_at_rcpt_bounces_the_target(campaign_factory, smtp_server, db_url):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url, targets=TWO)
    smtp_server.handler.rcpt_script[TWO[1]["email"]] = ["550 5.1.1 User unknown"]
    settings = load_config(camp.config)
    async with open_service(settings) as service:
        await service.launch(T0)
        result = await service.tick(T0)
        assert (result.sent, result.dispatched.bounced, result.dispatched.undelivered) == (1, 1, 0)
        assert await target_state(service, TWO[1]["email"]) is TargetState.BOUNCED


async def test_unclear_then_yes_is_yes(campaign_factory, smtp_server, db_url, tmp_path):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url, targets=TWO[:1])
    settings = load_config(camp.config)
    async with open_service(settings) as service:
        await service.launch(T0)
        await service.tick(T0)
        original = smtp_server.handler.wait_for(1)[0]
        question = tmp_path / "q.eml"
        question.write_bytes(reply_to(original, "Quel est le prix exact de cet abonnement ?"))
        await service.import_path(question, T0 + timedelta(hours=2))
        async with service.sessions() as s:
            assert (await s.execute(select(Target.answer))).scalar_one() == Answer.UNCLEAR
        yes = tmp_path / "yes.eml"
        yes.write_bytes(reply_to(original, "OUI"))
        await service.import_path(yes, T0 + timedelta(hours=5))
        async with service.sessions() as s:
            row = (await s.execute(select(Target.state, Target.answer, Target.answered_at))).one()
        assert (row.state, row.answer) == (TargetState.ANSWERED, Answer.YES)
        assert row.answered_at == T0 + timedelta(hours=2)    # the target answered with its first reply
        from probe.store.inbox import changed_answers  # `probe review` lists it
        (changed,) = await changed_answers(service.sessions, service.require_campaign())
        assert (changed.email, changed.first, changed.now) == (TWO[0]["email"], Answer.UNCLEAR, Answer.YES)
        from probe.store.review import review_rows  # the replaced unclear reply is no longer to review
        async with service.sessions() as s:
            assert await review_rows(s, service.require_campaign()) == []
        # A later unclear reply never replaces it.
        again = tmp_path / "again.eml"
        again.write_bytes(reply_to(original, "Et pour la livraison, comment faites-vous ?"))
        await service.import_path(again, T0 + timedelta(hours=8))
        async with service.sessions() as s:
            assert (await s.execute(select(Target.answer))).scalar_one() == Answer.YES


async def test_unclear_yes_unclear_in_one_chunk_end_as_applied_one_by_one(campaign_factory, smtp_server, db_url,
                                                                            tmp_path):
    """The poll writes a chunk's reply effects together (mark_answered_many): unclear, yes, unclear in
    one import must leave what three separate imports leave (test_unclear_then_yes_is_yes)."""
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url, targets=TWO[:1])
    settings = load_config(camp.config)
    async with open_service(settings) as service:
        await service.launch(T0)
        await service.tick(T0)
        original = smtp_server.handler.wait_for(1)[0]
        folder = tmp_path / "replies"
        folder.mkdir()
        for name, text in (("1.eml", "Quel est le prix exact de cet abonnement ?"), ("2.eml", "OUI"),
                           ("3.eml", "Et pour la livraison, comment faites-vous ?")):
            (folder / name).write_bytes(reply_to(original, text))
        result = await service.import_path(folder, T0 + timedelta(hours=2))
        assert result.new_messages == 3
        async with service.sessions() as s:
            row = (await s.execute(select(Target.state, Target.answer, Target.answered_at,
                                          Target.deciding_message_id))).one()
            ids = list((await s.execute(select(InboundMessage.id).order_by(InboundMessage.id))).scalars())
        assert (row.state, row.answer) == (TargetState.ANSWERED, Answer.YES)
        assert row.answered_at == T0 + timedelta(hours=2)
        assert row.deciding_message_id == ids[1]          # the yes decides, not the first or the last
        from probe.store.inbox import changed_answers
        (changed,) = await changed_answers(service.sessions, service.require_campaign())
        assert (changed.first, changed.now, changed.deciding_message_id) == (Answer.UNCLEAR, Answer.YES, ids[1])


async def test_resolve_refuses_another_campaigns_send(campaign_factory, smtp_server, db_url):
    a = load_config(campaign_factory(smtp_port=smtp_server.port, db_url=db_url, targets=TWO, name="a").config)
    b = load_config(campaign_factory(smtp_port=smtp_server.port, db_url=db_url, targets=TWO, name="b").config)
    async with open_service(a) as sa:
        await sa.launch(T0)
        async with sa.sessions() as s, s.begin():
            victim = (await s.execute(select(Send).where(Send.wave == 0).limit(1))).scalar_one()
            victim.state = SendState.UNCERTAIN
        victim_id = victim.id
    async with open_service(b) as sb:
        await sb.launch(T0)
        with pytest.raises(ResolveRefused, match="not a send of this campaign"):
            await resolve_send(sb.sessions, campaign_id=sb.require_campaign(), send_id=victim_id, sent=True,
                               note="x", now=T0)
    async with open_service(a) as sa, sa.sessions() as s:
        assert (await s.execute(select(Send.state).where(Send.id == victim_id))).scalar_one() is SendState.UNCERTAIN


async def test_resend_after_close_after_is_sent_by_the_next_pass(campaign_factory, smtp_server, db_url):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url, targets=TWO[:1],
                            sections={"schedule": {"close_after": "2d"}})
    settings = load_config(camp.config)
    async with open_service(settings) as service:
        await service.launch(T0)
        await service.tick(T0)
        for day in (6, 12):
            await service.tick(T0 + timedelta(days=day))
        closed = await service.tick(T0 + timedelta(days=15))
        assert closed.closed == 1
        email = TWO[0]["email"]
        assert await target_state(service, email) is TargetState.CLOSED
        reminder = (await sends_by_target(service))[email][2]
        async with service.sessions() as s, s.begin():   # as if its pass had died mid-DATA
            row = (await s.execute(select(Send).where(Send.id == reminder.id))).scalar_one()
            row.state = SendState.UNCERTAIN
        at = T0 + timedelta(days=16)
        await resolve_send(service.sessions, campaign_id=service.require_campaign(), send_id=reminder.id,
                           sent=False, note="not in the log", now=at)
        assert await target_state(service, email) is TargetState.CONTACTED    # reopened for it
        # An uncertain or rescheduled send keeps the target open: the close pass leaves it alone.
        result = await service.tick(at)
        assert result.sent == 1 and result.dispatched.sent_to == [(email, 2)]
    assert len(smtp_server.handler.to(email)) == 4


async def test_temporary_failures_stop_at_retry_for_and_the_target_is_undelivered(campaign_factory, smtp_server,
                                                                                  db_url):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url, targets=TWO[:1],
                            sections={"smtp": {"retry_for": "2h", "max_attempts": 50}})
    email = TWO[0]["email"]
    smtp_server.handler.rcpt_script[email] = ["451 4.3.0 Try again later"] * 50
    settings = load_config(camp.config)
    async with open_service(settings) as service:
        await service.launch(T0)
        now, tries = T0, 0
        while now <= T0 + timedelta(hours=3):
            result = await service.tick(now)
            tries += result.retried + result.failed
            now += timedelta(minutes=5)
        sends = (await sends_by_target(service))[email]
        assert sends[0].state is SendState.FAILED and "451" in sends[0].last_error
        # Tries at 0, 5, 15, 35, 75 min (backoff 5, 10, 20, 40), then the last one at the end of the
        # 2 h window (not at 155 min), which fails the send.
        assert sends[0].attempts == tries == 6
        assert await target_state(service, email) is TargetState.UNDELIVERED
        assert [s.state for s in sends[1:]] == [SendState.CANCELLED, SendState.CANCELLED]


async def test_a_bounce_for_wave_1_cancels_a_claimed_wave_2(campaign_factory, smtp_server, db_url, tmp_path):
    from probe.adapters.smtp import SmtpSender
    from probe.service.dispatch import DispatchResult, send_claimed
    from probe.store.inbox import mark_bounced
    from probe.store.sends import claim_due

    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url, targets=TWO[:1])
    settings = load_config(camp.config)
    async with open_service(settings) as service:
        await service.launch(T0)
        for day in (0, 6):
            await service.tick(T0 + timedelta(days=day))
        cid = service.require_campaign()
        at = T0 + timedelta(days=12)
        (wave2,) = await claim_due(service.sessions, campaign_id=cid, now=at, owner="me:1", lease_until=at,
                                   domain=service.message_id_domain)
        assert wave2.wave == 2
        # The DSN for wave 1 arrives while wave 2 is claimed: the bounce wins.
        assert await mark_bounced(service.sessions, target_id=wave2.target_id, now=at)
        result = DispatchResult()
        sender = SmtpSender(service.smtp_account())
        await send_claimed(service, sender, wave2, "me:1", at, "redaction@en-contact.example.com", result, [], [])
        await sender.close()
        assert result.cancelled == 1 and result.sent == 0
        sends = (await sends_by_target(service))[TWO[0]["email"]]
        assert [s.state for s in sends] == [SendState.SENT, SendState.SENT, SendState.CANCELLED]
    assert len(smtp_server.handler.to(TWO[0]["email"])) == 2


async def test_a_relaunch_with_new_offsets_keeps_reminders_on_the_actual_initial(campaign_factory, smtp_server,
                                                                                 db_url):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url, targets=TWO[:1])
    async with open_service(load_config(camp.config)) as service:
        await service.launch(T0)
        await service.tick(T0 + timedelta(days=1, hours=2))     # the initial email went out late
    text = camp.config.read_text(encoding="utf-8").replace('reminders = ["6d", "12d"]', 'reminders = ["7d", "14d"]')
    camp.config.write_text(text, encoding="utf-8")
    async with open_service(load_config(camp.config)) as service:
        relaunched = await service.launch(T0 + timedelta(days=2))
        assert relaunched.result.sends_rescheduled == 2
        sends = (await sends_by_target(service))[TWO[0]["email"]]
    initial = sends[0].sent_at
    assert initial == T0 + timedelta(days=1, hours=2)
    assert (sends[1].due_at - initial, sends[2].due_at - initial) == (timedelta(days=7), timedelta(days=14))


async def test_421_at_the_greeting_is_an_account_fault(campaign_factory, db_url):
    import asyncio

    async def busy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"421 4.3.2 Service not available, closing channel\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(busy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    camp = campaign_factory(smtp_port=port, db_url=db_url, targets=TWO)
    try:
        async with open_service(load_config(camp.config)) as service:
            await service.launch(T0)
            for minutes in (0, 30):
                result = await service.tick(T0 + timedelta(minutes=minutes))
                assert result.dispatched.account_fault is not None and result.sent == 0
                assert "421" in str(result.dispatched.account_fault)
            sends = await sends_by_target(service)
    finally:
        server.close()
        await server.wait_closed()
    assert all((s.state, s.attempts) == (SendState.SCHEDULED, 0) for mine in sends.values() for s in mine)
