"""`probe resolve CONFIG --auto` as a user runs it: sends made uncertain by killing `probe tick` while
the SMTP server holds DATA, copies of some of them in the account's Sent folder (as Gmail and
Outlook file them), real Dovecot, real aiosmtpd, SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from probe.cli import main
from probe.config import load_config
from probe.core.model import SendState
from probe.service.wiring import open_service
from probe.store.sends import claim_due, expire_leases
from probe.store.tables import Send, Target
from tests.fixtures.dovecot import SENT_SPECIAL_USE, DovecotUser
from tests.fixtures.smtp_server import RecordingHandler, SmtpServer, free_port
from tests.system.test_cli_campaign import PROBE

pytestmark = pytest.mark.dovecot

PARIS = ZoneInfo("Europe/Paris")
PW_ENV = "PROBE_TEST_IMAP_PASSWORD"
TARGETS = [{"email": f"d{i}@client{i}.example.com", "prenom": "A", "nom": "B", "secteur": "x"} for i in range(4)]


@dataclass
class CountingHandler(RecordingHandler):
    """RecordingHandler that also keeps every message whose DATA it got, answered or not.

    aiosmtpd calls handle_DATA once the whole message is in; a client killed while the server holds
    the answer leaves a message the server has (a provider would file it in Sent) and no reply.
    """

    data_in: list[tuple[str, bytes]] = field(default_factory=list)   # (recipient, the bytes received)
    _data_cond: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._data_cond:
            self.data_in.append((envelope.rcpt_tos[0], bytes(envelope.original_content or envelope.content)))
            self._data_cond.notify_all()
        return await super().handle_DATA(server, session, envelope)

    @property
    def data_count(self) -> int:
        return len(self.data_in)

    def data_to(self, address: str) -> int:
        """How many messages reached this server for `address` (answered or not)."""
        return sum(1 for rcpt, _ in self.data_in if rcpt.lower() == address.lower())

    def wait_data(self, count: int, timeout_s: float = 30) -> bool:
        with self._data_cond:
            return self._data_cond.wait_for(lambda: self.data_count >= count, timeout=timeout_s)


@pytest.fixture
def counting_smtp() -> Iterator[SmtpServer]:
    handler = CountingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler)
    finally:
        if handler.block_data is not None:
            handler.block_data.set()
        controller.stop()


def imap_section(user: DovecotUser, **extra: Any) -> dict[str, Any]:
    return {"host": user.host, "port": user.port, "security": "none",
            "username": user.user, "password_env": PW_ENV, "folder": "INBOX"} | extra


def kill_tick_in_data(camp: Any, smtp: SmtpServer, now: str, count: int, env: dict[str, str]) -> None:
    """`probe tick` SIGKILLed while the server holds the DATA of `count` sends: every one of those
    messages reached the server (its Sent copy would exist), none got its answer."""
    handler = smtp.handler
    assert isinstance(handler, CountingHandler)
    handler.block_data = threading.Event()
    tick = subprocess.Popen([*PROBE, "tick", str(camp.config), "--now", now], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    try:
        if not handler.wait_data(count):
            tick.kill()
            out, err = tick.communicate(timeout=10)
            raise AssertionError(f"the tick never reached DATA for every send: {handler.data_count}; "
                                 f"{out.decode()} {err.decode()}")
        os.kill(tick.pid, signal.SIGKILL)
        tick.wait(10)
    finally:
        if tick.poll() is None:
            tick.kill()
            tick.wait(10)
        handler.block_data.set()


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    """`probe ARGS…` in this process (the commands as a user runs them, without the interpreter's start-up)."""
    def run(*args: Any) -> Ran:
        capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return Ran(code, out, err)
    return run


def status_json(cli: Any, camp: Any) -> dict[str, Any]:
    r = cli("status", camp.config, "--format", "json")
    assert r.returncode in (0, 1), r.stderr
    return json.loads(r.stdout)


async def sends_of(config: Any) -> dict[tuple[str, int], tuple[SendState, datetime | None, datetime]]:
    settings = load_config(config)
    async with open_service(settings) as service, service.sessions() as s:
        rows = await s.execute(select(Target.email, Send.wave, Send.state, Send.sent_at, Send.due_at)
                               .join(Target, Target.id == Send.target_id))
        return {(r.email, r.wave): (SendState(r.state), r.sent_at, r.due_at) for r in rows}


def test_auto_settles_the_sends_found_in_sent_and_lists_the_rest(campaign_factory, counting_smtp, db_url,
                                                                 dovecot_sent_user, cli, monkeypatch):
    env = os.environ | {PW_ENV: dovecot_sent_user.password}
    monkeypatch.setenv(PW_ENV, dovecot_sent_user.password)
    camp = campaign_factory(smtp_port=counting_smtp.port, db_url=db_url, targets=TARGETS,
                            imap=imap_section(dovecot_sent_user),   # no folder key: found by its \Sent flag
                            sections={"smtp": {"concurrency": 4}})
    dovecot_sent_user.create_folder(SENT_SPECIAL_USE)
    assert cli("launch", camp.config).returncode == 0
    # The pass runs two hours after the initial emails were due: the reminders must follow from then.
    kill_tick_in_data(camp, counting_smtp, "2015-09-28T11:00", 4, env)
    handler = counting_smtp.handler
    raws = dict(handler.data_in)
    assert len(raws) == 4
    r = cli("tick", camp.config, "--now", "2015-09-28T11:00")
    assert r.returncode == 1 and "uncertain" in r.stderr, r.stderr

    r = cli("status", camp.config)
    assert r.returncode == 1
    assert "UNCERTAIN sends (4 left to settle)" in r.stdout and f"probe resolve {camp.config} --auto" in r.stdout
    before = {u["email"]: u for u in status_json(cli, camp)["uncertain"]}
    assert set(before) == {t["email"] for t in TARGETS}

    # The provider filed copies of the first two in Sent (the exact bytes the server received).
    for t in TARGETS[:2]:
        dovecot_sent_user.append(raws[t["email"]], SENT_SPECIAL_USE)
    r = cli("resolve", camp.config, "--auto", "--now", "2015-09-28T12:00")
    assert r.returncode == 1, r.stderr + r.stdout          # two are still uncertain
    assert f"'{SENT_SPECIAL_USE}'" in r.stdout and "2 uncertain sends settled as sent; 2 still uncertain" in r.stdout
    for t in TARGETS[2:]:   # the rest are listed with their ids and Message-IDs
        u = before[t["email"]]
        assert f"send {u['send_id']}  wave 0  {t['email']}  {u['message_id']}" in r.stdout
    left = {u["email"] for u in status_json(cli, camp)["uncertain"]}
    assert left == {t["email"] for t in TARGETS[2:]}

    sends = asyncio.run(sends_of(camp.config))
    sent_at = datetime(2015, 9, 28, 11, 0, tzinfo=PARIS)   # the Date the pass wrote, not the due time
    for t in TARGETS[:2]:
        state, when, _ = sends[(t["email"], 0)]
        assert state is SendState.SENT and when == sent_at
        assert sends[(t["email"], 1)][2] == sent_at + timedelta(days=6)   # the reminder replanned from it
    for t in TARGETS[2:]:
        assert sends[(t["email"], 0)][0] is SendState.UNCERTAIN

    # Reminders: none at the launch plan's 09:00; at 11:00 only the two settled targets get theirs.
    # Nothing is ever resent to the targets still uncertain.
    assert cli("tick", camp.config, "--now", "2015-10-04T10:00").returncode == 0
    assert len(handler.data_in) == 4 and handler.received == []
    assert cli("tick", camp.config, "--now", "2015-10-04T11:00").returncode == 0
    assert [len(handler.to(t["email"])) for t in TARGETS] == [1, 1, 0, 0]   # wave 1, answered this time
    assert [handler.data_to(t["email"]) for t in TARGETS] == [2, 2, 1, 1]   # no initial email twice

    # The last two copies arrive: nothing is left, exit 0; and again: still 0, nothing touched.
    for t in TARGETS[2:]:
        dovecot_sent_user.append(raws[t["email"]], SENT_SPECIAL_USE)
    r = cli("resolve", camp.config, "--auto", "--now", "2015-10-04T12:00")
    assert r.returncode == 0, r.stderr + r.stdout
    assert "2 uncertain sends settled as sent; 0 still uncertain" in r.stdout
    r = cli("resolve", camp.config, "--auto", "--now", "2015-10-04T12:00")
    assert r.returncode == 0 and "0 uncertain sends settled as sent; 0 still uncertain" in r.stdout
    assert status_json(cli, camp)["uncertain"] == []
    assert [handler.data_to(t["email"]) for t in TARGETS] == [2, 2, 1, 1]   # resolving sent nothing


def test_configured_search_folder_is_the_only_one_searched(campaign_factory, counting_smtp, db_url,
                                                           dovecot_sent_user, cli, monkeypatch):
    env = os.environ | {PW_ENV: dovecot_sent_user.password}
    monkeypatch.setenv(PW_ENV, dovecot_sent_user.password)
    camp = campaign_factory(smtp_port=counting_smtp.port, db_url=db_url, targets=TARGETS[:2],
                            imap=imap_section(dovecot_sent_user, sent_search_folder="Éléments envoyés"),
                            sections={"smtp": {"concurrency": 2}})
    assert cli("launch", camp.config).returncode == 0
    kill_tick_in_data(camp, counting_smtp, "2015-09-28T09:00", 2, env)
    raws = dict(counting_smtp.handler.data_in)
    assert cli("tick", camp.config, "--now", "2015-09-28T09:00").returncode == 1
    from probe.adapters.imap_wire import imap_utf7

    dovecot_sent_user.append(raws[TARGETS[0]["email"]], imap_utf7("Éléments envoyés"))
    dovecot_sent_user.append(raws[TARGETS[1]["email"]], SENT_SPECIAL_USE)   # flagged \Sent, but not asked for
    r = cli("resolve", camp.config, "--auto", "--now", "2015-09-28T10:00")
    assert r.returncode == 1, r.stderr + r.stdout
    assert "searched 'Éléments envoyés'\n" in r.stdout and "1 uncertain sends settled as sent; 1 still" in r.stdout
    assert [u["email"] for u in status_json(cli, camp)["uncertain"]] == [TARGETS[1]["email"]]


def test_no_sent_folder_to_search_is_exit_2_naming_the_key(campaign_factory, counting_smtp, tmp_path,
                                                           dovecot_sent_user, cli, monkeypatch):
    """A fresh account has no \\Sent folder yet: nothing to search is a config problem, said as such.
    (The refusal comes before any write: one engine is enough.)"""
    monkeypatch.setenv(PW_ENV, dovecot_sent_user.password)
    camp = campaign_factory(smtp_port=counting_smtp.port, db_url=f"sqlite:///{tmp_path / 'p.db'}",
                            targets=TARGETS[:1],
                            imap=imap_section(dovecot_sent_user))
    assert cli("launch", camp.config).returncode == 0
    asyncio.run(make_uncertain(camp.config))
    r = cli("resolve", camp.config, "--auto")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "imap.sent_search_folder" in r.stderr and "fix:" in r.stderr
    assert len(status_json(cli, camp)["uncertain"]) == 1


async def make_uncertain(config: Any) -> None:
    """A claim by a process that died (its pid no longer exists), expired as the next pass does."""
    settings = load_config(config)
    now = datetime(2015, 9, 28, 9, 0, tzinfo=PARIS)
    async with open_service(settings) as service:
        dead = "somehost:999999999:dead"
        claimed = await claim_due(service.sessions, campaign_id=service.require_campaign(), now=now, owner=dead,
                                  lease_until=service.wall_clock() + timedelta(minutes=5),
                                  domain=service.message_id_domain, limit=10)
        assert claimed
        # The dead pass had handed them to SMTP (in DATA): only such claims become uncertain.
        async with service.sessions.begin() as session:
            await session.execute(update(Send).where(Send.id.in_([c.send_id for c in claimed]))
                                  .values(wire_at=service.wall_clock()))
        assert await expire_leases(service.sessions, campaign_id=service.require_campaign(),
                                   wall_now=service.wall_clock(), dead_owners=[dead]) == len(claimed)


def test_without_imap_status_does_not_suggest_auto_and_auto_is_exit_2(campaign_factory, counting_smtp, tmp_path,
                                                                     capsys):
    # Nothing here depends on the engine (the config is refused before the database is written): SQLite.
    camp = campaign_factory(smtp_port=counting_smtp.port, db_url=f"sqlite:///{tmp_path / 'p.db'}",
                            targets=TARGETS[:2])
    assert main(["launch", str(camp.config)]) == 0
    asyncio.run(make_uncertain(camp.config))
    capsys.readouterr()
    assert main(["status", str(camp.config)]) == 1
    out = capsys.readouterr().out
    assert "UNCERTAIN sends (2 left to settle)" in out and "--auto" not in out
    assert main(["resolve", str(camp.config), "--auto"]) == 2
    err = capsys.readouterr().err
    assert "[imap]" in err and "fix: add an [imap] section" in err and "Traceback" not in err
    assert main(["status", str(camp.config), "--format", "json"]) == 1
    assert len(json.loads(capsys.readouterr().out)["uncertain"]) == 2   # nothing was touched


def test_resolve_arguments(campaign_factory, counting_smtp, tmp_path, capsys):
    camp = campaign_factory(smtp_port=counting_smtp.port, db_url=f"sqlite:///{tmp_path / 'p.db'}")
    assert main(["resolve", str(camp.config), "3", "--auto"]) == 2
    assert "takes no SEND_ID" in capsys.readouterr().err
    assert main(["resolve", str(camp.config), "--sent"]) == 2
    err = capsys.readouterr().err
    assert "SEND_ID" in err and "probe status" in err
    with pytest.raises(SystemExit) as exit_:
        main(["resolve", str(camp.config), "--auto", "--sent"])
    assert exit_.value.code == 2
