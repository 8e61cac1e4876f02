"""The password never shows: not in a repr, a log line, an error message or the database (issue 12).

A failing login, on a real aiosmtpd with AUTH and on the real Dovecot fixture, with a distinctive
password (a space and a quote in it, a username with a space), run with --debug -v so every
library logs its wire traffic; then every byte probe printed, every file it wrote and the
database (WAL included) is searched for the password and for its base64 form."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from probe.adapters.smtp import SmtpAccount
from probe.logs import RedactSecrets, redact, register_secret
from tests.fixtures.smtp_server import RecordingHandler, free_port
from tests.reliability.conftest import targets
from tests.reliability.helpers import probe, probe_session

PASSWORD = 'Xyzzy "pw" 7Q-sekr3t'
WRONG = 'Plugh "pw" 9Z-sekr3t'


def forms(secret: str) -> list[bytes]:
    quoted = secret.replace("\\", "\\\\").replace('"', '\\"')
    return [secret.encode(), quoted.encode(), base64.b64encode(secret.encode()),
            b"7Q-sekr3t" if "7Q" in secret else b"9Z-sekr3t"]


def leaks(secret: str, *blobs: bytes) -> list[bytes]:
    return [f for f in forms(secret) for blob in blobs if f in blob]


def everything_written(root: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    return AuthResult(success=False, handled=False)   # every login refused: 535


@pytest.fixture
def auth_smtp() -> Iterator[int]:
    port = free_port()
    controller = Controller(RecordingHandler(), hostname="127.0.0.1", port=port, authenticator=authenticate,
                            auth_require_tls=False)
    controller.start()
    yield port
    controller.stop()


def test_smtp_account_repr_hides_the_password():
    account = SmtpAccount("smtp.example.org", 587, "starttls", "a b", PASSWORD)
    assert PASSWORD not in repr(account) and PASSWORD not in str(account)
    assert "7Q-sekr3t" not in repr(account)


def test_redaction_is_by_value_wherever_it_appears():
    register_secret(PASSWORD)
    lines = [f'A001 LOGIN "a b" "{PASSWORD.replace(chr(34), chr(92) + chr(34))}"',
             f"connect failed for a b / {PASSWORD}",
             f"AUTH LOGIN {base64.b64encode(PASSWORD.encode()).decode()}",
             f"{base64.b64encode(PASSWORD.encode()).decode()}"]
    for line in lines:
        assert not leaks(PASSWORD, redact(line).encode()), line
    assert redact('LOGIN "a b" "other"') == 'LOGIN "a b" ********'   # by shape, a quoted username kept whole
    import logging
    record = logging.LogRecord("aioimaplib", logging.DEBUG, __file__, 1, "sent %r", (lines[0],), None)
    RedactSecrets().filter(record)
    assert "7Q-sekr3t" not in record.getMessage()


def test_failing_smtp_login_leaks_the_password_nowhere(campaign_factory, sqlite_url, auth_smtp, tmp_path):
    camp = campaign_factory(smtp_port=auth_smtp, db_url=sqlite_url, targets=targets(2),
                            sections={"smtp": {"username": "a b", "password_env": "PROBE_REL_SMTP_PW"}})
    env = {**os.environ, "PROBE_REL_SMTP_PW": PASSWORD}
    results = probe_session([["launch", camp.config], ["tick", camp.config, "--now", "2015-09-28T09:00", "-v"],
                             ["export", camp.config, "--output", camp.path / "export"]], env=env)
    assert results[0].returncode == 0
    outputs = [(r.stdout + r.stderr).encode() for r in results]
    r = probe("tick", camp.config, "--now", "2015-09-28T10:00", "--debug", env=env)   # tracebacks on
    outputs.append((r.stdout + r.stderr).encode())
    outputs = outputs[1:]
    assert b"535" in outputs[0] or b"smtp" in outputs[0].lower(), outputs[0]   # the login did fail
    assert b"smtp.username" in outputs[0] or b"smtp" in outputs[0]
    written = everything_written(camp.path) + everything_written(Path(sqlite_url.removeprefix("sqlite:///")).parent)
    assert leaks(PASSWORD, *outputs, written) == []


@pytest.mark.dovecot
def test_failing_imap_login_leaks_the_password_nowhere(campaign_factory, sqlite_url, smtp_server, dovecot_user):
    imap = {"host": dovecot_user.host, "port": dovecot_user.port, "security": "none", "username": "a b",
            "password_env": "PROBE_REL_IMAP_PW", "folder": "INBOX"}
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=sqlite_url, targets=targets(2), imap=imap)
    env = {**os.environ, "PROBE_REL_IMAP_PW": WRONG}
    results = probe_session([["launch", camp.config], ["tick", camp.config, "--now", "2015-09-28T09:00", "-v"],
                             ["status", camp.config]], env=env)
    assert results[0].returncode == 0
    outputs = [(r.stdout + r.stderr).encode() for r in results]
    r = probe("tick", camp.config, "--now", "2015-09-28T10:00", "--debug", env=env)   # tracebacks on
    outputs.insert(1, (r.stdout + r.stderr).encode())
    outputs = outputs[1:]
    assert b"imap" in outputs[0].lower(), outputs[0]
    written = everything_written(camp.path) + everything_written(Path(sqlite_url.removeprefix("sqlite:///")).parent)
    assert leaks(WRONG, *outputs, written) == []
    assert b"LOGIN" in outputs[1] or b"login" in outputs[1].lower()   # the debug run did show the exchange
