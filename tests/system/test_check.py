"""`probe check CONFIG`: logs in to SMTP (aiosmtpd with AUTH) and IMAP (Dovecot), sends nothing, and
names the key to fix when an account does not work (exit 1; exit 2 for a bad config)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

import probe.cli
from tests.fixtures.campaign import make_campaign
from tests.fixtures.smtp_server import RecordingHandler, SmtpServer, free_port

SMTP_USER, SMTP_PASSWORD = "redaction", "s3cret"


def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(), SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def auth_smtp() -> Iterator[SmtpServer]:
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, authenticator=authenticate,
                            auth_require_tls=False)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler)
    finally:
        controller.stop()


@pytest.fixture
def probe_cli(capsys: pytest.CaptureFixture[str]):
    def run(*argv: str | Path) -> tuple[int, str, str]:
        code = probe.cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def _campaign(tmp_path: Path, smtp: SmtpServer, imap_port: int, imap_user: str, **smtp_keys) -> Path:
    imap = {"host": "127.0.0.1", "port": imap_port, "security": "none", "username": imap_user,
            "password_env": "PROBE_IMAP_PASSWORD", "folder": "INBOX", "timeout": "5s"}
    smtp_section = {"port": smtp.port, "username": SMTP_USER, "password_env": "PROBE_SMTP_PASSWORD",
                    "timeout": "5s", **smtp_keys}
    return make_campaign(tmp_path, smtp_port=smtp.port, db_url="sqlite:///probe.db", imap=imap,
                         sections={"smtp": smtp_section}).config


def test_check_logs_in_to_both_and_sends_nothing(tmp_path, auth_smtp, dovecot_user, probe_cli, monkeypatch):
    monkeypatch.setenv("PROBE_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("PROBE_IMAP_PASSWORD", dovecot_user.password)
    config = _campaign(tmp_path, auth_smtp, dovecot_user.port, dovecot_user.user)
    code, out, err = probe_cli("check", config)
    assert code == 0, out + err
    smtp_line, imap_line = out.splitlines()[:2]
    assert smtp_line.startswith("ok") and "logged in" in smtp_line and "nothing sent" in smtp_line
    assert imap_line.startswith("ok") and "folder 'INBOX'" in imap_line
    assert auth_smtp.handler.received == []
    assert not (tmp_path / "probe.db").exists(), "check opens no database"


def test_check_names_the_key_for_a_wrong_smtp_password(tmp_path, auth_smtp, dovecot_user, probe_cli,
                                                       monkeypatch):
    monkeypatch.setenv("PROBE_SMTP_PASSWORD", "wrong")
    monkeypatch.setenv("PROBE_IMAP_PASSWORD", dovecot_user.password)
    code, out, _ = probe_cli("check", _campaign(tmp_path, auth_smtp, dovecot_user.port, dovecot_user.user))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].startswith("FAILED") and "refused the login" in lines[0]
    assert "smtp.username" in lines[1] and "smtp.password_env" in lines[1]
    assert any(line.startswith("ok") and "IMAP" in line for line in lines), "the IMAP check still ran"


def test_check_names_the_key_for_a_wrong_imap_password(tmp_path, auth_smtp, dovecot_user, probe_cli,
                                                       monkeypatch):
    monkeypatch.setenv("PROBE_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("PROBE_IMAP_PASSWORD", "wrong-password")
    code, out, _ = probe_cli("check", _campaign(tmp_path, auth_smtp, dovecot_user.port, dovecot_user.user))
    assert code == 1
    imap_lines = out.splitlines()[1:3]
    assert imap_lines[0].startswith("FAILED") and "login refused" in imap_lines[0]
    assert "imap.username" in imap_lines[1] and "imap.password_env" in imap_lines[1]


def test_check_names_host_and_port_for_closed_ports(tmp_path, auth_smtp, probe_cli, monkeypatch):
    monkeypatch.setenv("PROBE_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("PROBE_IMAP_PASSWORD", "x")
    closed_smtp, closed_imap = free_port(), free_port()
    config = _campaign(tmp_path, SmtpServer("127.0.0.1", closed_smtp, auth_smtp.handler), closed_imap, "nobody")
    code, out, _ = probe_cli("check", config)
    assert code == 1
    assert out.count("FAILED") == 2
    assert "smtp.host" in out and "smtp.port" in out
    assert "imap.host and imap.port" in out and "imap.timeout" not in out


def test_check_with_a_missing_password_variable_is_a_bad_config(tmp_path, auth_smtp, probe_cli, monkeypatch):
    monkeypatch.delenv("PROBE_SMTP_PASSWORD", raising=False)
    monkeypatch.setenv("PROBE_IMAP_PASSWORD", "x")
    code, _, err = probe_cli("check", _campaign(tmp_path, auth_smtp, free_port(), "nobody"))
    assert code == 2
    assert "PROBE_SMTP_PASSWORD" in err and "Traceback" not in err
