"""Wake-up between processes on PostgreSQL (issue 16): a `probe run` daemon whose next tick is an hour
away notices another process's news at once through LISTEN/NOTIFY: a `probe resolve --resend` (a due
send: it goes out now) and a reply recorded by `probe import` (the target is answered, its reminder
cancelled: a daemon without --keep-running sees the campaign closed and stops). The other process is
a second Service with its own engine, i.e. its own database connections, as the CLI commands have.
Every wait below is on an observable event with a deadline, never on a sleep; without the wake-up the
daemon would sit until its next tick (an hour) and the deadlines fail the test."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from probe.config import load_config
from probe.core.model import SendState
from probe.service.clock import Clock
from probe.service.daemon import Daemon
from probe.service.dispatch import replanner
from probe.service.wiring import open_service
from probe.store.sends import resolve_send
from probe.store.tables import Send
from tests.fixtures.db import pg_database
from tests.integration.test_replies import human_reply

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]

T0 = datetime(2015, 9, 28, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))
ONE_TARGET = [{"email": "wake@client.example.com", "prenom": "W", "nom": "K", "secteur": "x"}]


@pytest.fixture
def pg_url(_pg_template: str):
    with pg_database(_pg_template) as url:
        yield url


def one_target_campaign(campaign_factory, smtp_server, pg_url: str, reminders: list[str]):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=pg_url, targets=ONE_TARGET, sections={
        # An hour between ticks in real time (speed 1): only a wake-up can explain a prompt pass.
        "schedule": {"tick_every": "1h", "reminders": reminders, "close_after": "7d"},
        "templates": {"reminders": [f"templates/reminder{i + 1}.txt.j2" for i in range(len(reminders))]}})
    return load_config(camp.config)


async def start(daemon: Daemon) -> asyncio.Task[int]:
    task = asyncio.create_task(daemon.run(install_signals=False))
    async with asyncio.timeout(20):
        await daemon.listening.wait()
        while daemon.passes < 1:  # noqa: ASYNC110 - the first (ticker's) pass is recorded
            await asyncio.sleep(0.02)
    return task


async def test_a_resend_from_another_process_goes_out_without_waiting_for_the_tick(
        campaign_factory, smtp_server, pg_url):
    settings = one_target_campaign(campaign_factory, smtp_server, pg_url, reminders=[])
    async with open_service(settings) as service:
        await service.launch(T0)
    async with open_service(settings) as service, open_service(settings) as other:
        daemon = Daemon(service, Clock(T0 + timedelta(minutes=1), 1.0))
        task = await start(daemon)
        try:
            first = (await asyncio.to_thread(smtp_server.handler.wait_for, 1))[0].message
            # As if a worker had died with this send on the wire: a person says "send it again".
            async with other.sessions.begin() as s:
                send_id = (await s.execute(update(Send).values(state=SendState.UNCERTAIN)
                                           .returning(Send.id))).scalar_one()
            assert daemon.wakeups == 0
            await resolve_send(other.sessions, campaign_id=other.require_campaign(), send_id=send_id, sent=False,
                               note="resend", now=T0 + timedelta(minutes=1), replan=replanner(other))
            again = (await asyncio.to_thread(smtp_server.handler.wait_for, 2, 20.0))[1].message
            assert again["Message-ID"] == first["Message-ID"]          # the same send, sent again
            assert daemon.wakeups >= 1
            assert not task.done()
        finally:
            daemon.request_stop()
            assert await asyncio.wait_for(task, 30) == 0


async def test_a_reply_imported_elsewhere_wakes_the_daemon_which_stops_when_all_is_settled(
        campaign_factory, smtp_server, pg_url, tmp_path: Path):
    settings = one_target_campaign(campaign_factory, smtp_server, pg_url, reminders=["6d"])
    async with open_service(settings) as service:
        await service.launch(T0)
    async with open_service(settings) as service, open_service(settings) as other:
        daemon = Daemon(service, Clock(T0 + timedelta(minutes=1), 1.0), keep_running=False)
        task = await start(daemon)
        try:
            original = (await asyncio.to_thread(smtp_server.handler.wait_for, 1))[0].message
            assert not task.done()                      # the reminder (in 6 days) keeps the campaign open
            reply = tmp_path / "reply.eml"
            reply.write_bytes(human_reply(original, "OUI", mid="wake1"))
            imported = await other.import_path(reply, T0 + timedelta(hours=1))
            assert imported.new_messages == 1 and imported.unmatched == 0
            # The daemon's pass after the wake-up finds nothing left to do and ends `probe run`.
            assert await asyncio.wait_for(task, 20) == 0
            assert daemon.closed and daemon.wakeups >= 1
            assert len(smtp_server.handler.received) == 1          # the cancelled reminder never went out
        finally:
            daemon.request_stop()
            if not task.done():
                await asyncio.wait_for(task, 30)
