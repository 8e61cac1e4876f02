"""Test before real people: `validate --show N` prints the rendered messages; `send-test` sends one
target's messages to your own address through the campaign's SMTP account (aiosmtpd), recorded as
tests that no figure counts."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import probe.cli
from tests.fixtures.campaign import make_campaign

INITIAL = "Subject: Bonjour {{ prenom }} : OUI ou NON ?\nReply-To: redaction@en-contact.example.com\n\n" \
          "Bonjour {{ prenom }} {{ nom }}, répondez OUI ou NON.\n"
REMINDER = "Subject: Relance {{ wave }} pour {{ prenom }}\n\nToujours OUI ou NON, {{ prenom }} ?\n"


@pytest.fixture
def probe_cli(capsys: pytest.CaptureFixture[str]):
    def run(*argv: str | Path) -> tuple[int, str, str]:
        code = probe.cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def config(tmp_path: Path, smtp_server) -> Path:
    return make_campaign(tmp_path / "c", smtp_port=smtp_server.port, db_url="sqlite:///probe.db",
                         initial=INITIAL, reminder=REMINDER,
                         sections={"schedule": {"start": "2027-01-11T09:00:00"}}).config


def test_validate_show_prints_every_wave_of_n_targets(config: Path, probe_cli) -> None:
    code, out, err = probe_cli("validate", config, "--show", "2", "--now", "2027-01-04T10:00:00")
    assert code == 0, err
    blocks = out.split("\n===== ")[1:]
    assert len(blocks) == 6, "2 targets × 3 waves"
    first = blocks[0]
    assert first.startswith("directeur1@client1.example.com (targets line 2) — initial, due Mon 2027-01-11 09:00 CET")
    assert "\nFrom: Rédaction <redaction@en-contact.example.com>\n" in first
    assert "\nTo: directeur1@client1.example.com\n" in first
    assert "\nSubject: Bonjour Prénom1 : OUI ou NON ?\n" in first
    assert "\nReply-To: redaction@en-contact.example.com\n" in first
    assert "Bonjour Prénom1 Nom1, répondez OUI ou NON." in first, "the body decoded, as the target reads it"
    assert "reminder 1, due Sun 2027-01-17 09:00 CET" in blocks[1]
    assert "Subject: Relance 1 pour Prénom1" in blocks[1] and "In-Reply-To: " in blocks[1]
    assert "directeur2@client2.example.com" in blocks[3] and "Prénom3" not in out


def test_validate_without_show_prints_no_message(config: Path, probe_cli) -> None:
    code, out, _ = probe_cli("validate", config)
    assert code == 0 and "=====" not in out and "Subject:" not in out


def test_send_test_sends_one_targets_waves_to_me_and_counts_nothing(config: Path, probe_cli,
                                                                    smtp_server) -> None:
    assert probe_cli("db", "upgrade", config)[0] == 0   # send-test records tests; it never migrates
    code, out, err = probe_cli("send-test", config, "--to", "me@newsroom.example")
    assert code == 0, err
    received = smtp_server.handler.wait_for(3)
    assert all(r.rcpt_tos == ["me@newsroom.example"] for r in received), "only to my own address"
    subjects = [r.message["Subject"] for r in received]
    assert subjects == ["Bonjour Prénom1 : OUI ou NON ?", "Relance 1 pour Prénom1", "Relance 2 pour Prénom1"]
    assert all(r.message["X-Probe-Test"] for r in received)
    ids = [r.message["Message-ID"] for r in received]
    assert all(i.startswith("<probe-test.") for i in ids), "a reply to a test matches no target"
    assert received[2].message["References"].split() == ids[:2], "threaded like the real waves"
    assert out.count("sent: ") == 3 and "250 " in out
    with sqlite3.connect(config.parent / "probe.db") as db:
        rows = db.execute("SELECT target_email, wave, to_address, message_id FROM test_send ORDER BY wave").fetchall()
    assert rows == [("directeur1@client1.example.com", w, "me@newsroom.example", ids[w]) for w in range(3)]
    # Launched afterwards, the campaign has sent nothing and its report counts nothing.
    assert probe_cli("launch", config, "--now", "2027-01-04T10:00:00")[0] == 0
    code, out, _ = probe_cli("report", config, "--format", "json", "--now", "2027-01-04T10:00:00")
    report = json.loads(out)
    assert report["sent"] == {"0": 0, "1": 0, "2": 0} and report["uncertain"] == 0
    code, out, _ = probe_cli("status", config, "--format", "json", "--now", "2027-01-04T10:00:00")
    assert json.loads(out)["sends"]["sent"] == 0
    # GDPR: purge erases the tests too (they name a target and the user's own address).
    code, out, err = probe_cli("purge", config, "--yes")
    assert code == 0 and "3 test sends" in out, err
    with sqlite3.connect(config.parent / "probe.db") as db:
        assert db.execute("SELECT count(*) FROM test_send").fetchone()[0] == 0


def test_send_test_before_any_launch_sends_unrecorded_and_migrates_nothing(config: Path, probe_cli,
                                                                           smtp_server) -> None:
    code, out, err = probe_cli("send-test", config, "--to", "me@newsroom.example", "--wave", "0")
    assert code == 0, err
    (only,) = smtp_server.handler.wait_for(1)
    assert only.rcpt_tos == ["me@newsroom.example"] and out.count("sent: ") == 1
    assert "not recorded" in err and "probe launch" in err
    with sqlite3.connect(config.parent / "probe.db") as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "alembic_version" not in tables and "test_send" not in tables


def test_send_test_of_one_wave_for_a_chosen_target(config: Path, probe_cli, smtp_server) -> None:
    code, _, err = probe_cli("send-test", config, "--to", "me@newsroom.example", "--wave", "2",
                             "--target", "DIRECTEUR3@client3.example.com")
    assert code == 0, err
    (only,) = smtp_server.handler.wait_for(1)
    assert only.message["Subject"] == "Relance 2 pour Prénom3"
    assert only.rcpt_tos == ["me@newsroom.example"]


@pytest.mark.parametrize(("argv", "message"), [
    (["--to", "not an address"], "--to"),
    (["--to", "me@newsroom.example", "--wave", "3"], "waves 0 to 2"),
    (["--to", "me@newsroom.example", "--target", "nobody@else.example"], "not in the targets file"),
])
def test_send_test_bad_arguments_are_exit_2(config: Path, probe_cli, smtp_server, argv, message) -> None:
    code, _, err = probe_cli("send-test", config, *argv)
    assert code == 2 and message in err and "Traceback" not in err
    assert smtp_server.handler.received == []


def test_send_test_to_a_dead_server_names_the_key(tmp_path: Path, probe_cli) -> None:
    from tests.fixtures.smtp_server import free_port

    config = make_campaign(tmp_path / "d", smtp_port=free_port(), db_url="sqlite:///probe.db").config
    code, _, err = probe_cli("send-test", config, "--to", "me@newsroom.example")
    assert code == 1 and "smtp.host" in err


def test_send_test_records_its_tests_on_every_engine(tmp_path: Path, smtp_server, db_url, probe_cli) -> None:
    import asyncio

    import sqlalchemy as sa

    from probe.store.engine import make_engine

    config = make_campaign(tmp_path / "e", smtp_port=smtp_server.port, db_url=db_url).config
    assert probe_cli("db", "upgrade", config)[0] == 0
    code, _, err = probe_cli("send-test", config, "--to", "me@newsroom.example", "--wave", "0")
    assert code == 0, err

    async def rows() -> list[tuple[str, int, str]]:
        engine = make_engine(db_url)
        try:
            async with engine.connect() as conn:
                result = await conn.execute(sa.text("SELECT target_email, wave, to_address FROM test_send"))
                return [tuple(r) for r in result]
        finally:
            await engine.dispose()

    assert asyncio.run(rows()) == [("directeur1@client1.example.com", 0, "me@newsroom.example")]
