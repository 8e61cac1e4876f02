"""The SMTP adapter against a real aiosmtpd server: TLS verified by default (implicit and STARTTLS,
with a CA minted per run), AUTH, and every server answer mapped to an outcome with its reply line."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from probe.adapters.smtp import OutcomeKind, SmtpAccount, SmtpSender
from probe.errors import SmtpError
from tests.fixtures.smtp_server import RecordingHandler, free_port


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return context


def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"redaction", b"s3cret")
    return AuthResult(success=ok, handled=False)   # handled=False: the server answers 535 itself


def start(handler: RecordingHandler, **kwargs) -> tuple[Controller, int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return controller, port


@pytest.fixture
def starttls_server(ca: trustme.CA) -> Iterator[tuple[RecordingHandler, int]]:
    handler = RecordingHandler()
    controller, port = start(handler, tls_context=server_context(ca), require_starttls=True,
                             authenticator=authenticate, auth_require_tls=True)
    yield handler, port
    controller.stop()


@pytest.fixture
def implicit_tls_server(ca: trustme.CA) -> Iterator[tuple[RecordingHandler, int]]:
    handler = RecordingHandler()
    controller, port = start(handler, ssl_context=server_context(ca))
    yield handler, port
    controller.stop()


def message() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "redaction@en-contact.example.com"
    msg["To"] = "directeur@client.example.com"
    msg["Subject"] = "OUI ou NON ?"
    msg["Message-ID"] = "<probe.abcdefghijklmnopqrstuvwx.0@en-contact.example.com>"
    msg.set_content("Répondez simplement OUI ou NON.")
    return msg


async def send(account: SmtpAccount) -> tuple[OutcomeKind, str]:
    sender = SmtpSender(account)
    try:
        outcome = await sender.send(message(), sender="redaction@en-contact.example.com",
                                    recipient="directeur@client.example.com")
        return outcome.kind, outcome.reply
    finally:
        await sender.close()


async def test_starttls_with_auth_and_the_reply_line_kept(starttls_server, ca_file):
    handler, port = starttls_server
    account = SmtpAccount(host="127.0.0.1", port=port, security="starttls", username="redaction",
                          password="s3cret", ca_file=ca_file, local_hostname="probe.example.com")
    kind, reply = await send(account)
    assert kind is OutcomeKind.SENT
    assert reply == handler.received[0].reply and reply.startswith("250 2.0.0 Ok: queued as Q")
    assert "OUI ou NON" in handler.received[0].message.get_content()


async def test_implicit_tls(implicit_tls_server, ca_file):
    handler, port = implicit_tls_server
    kind, _ = await send(SmtpAccount(host="127.0.0.1", port=port, security="tls", ca_file=ca_file))
    assert kind is OutcomeKind.SENT and len(handler.received) == 1


async def test_an_untrusted_certificate_is_refused_by_default(starttls_server, implicit_tls_server):
    for port, security in ((starttls_server[1], "starttls"), (implicit_tls_server[1], "tls")):
        with pytest.raises(SmtpError, match=r"TLS|certificate"):
            await send(SmtpAccount(host="127.0.0.1", port=port, security=security))
    assert starttls_server[0].received == [] and implicit_tls_server[0].received == []


async def test_verification_off_only_when_the_config_says_so(implicit_tls_server):
    kind, _ = await send(SmtpAccount(host="127.0.0.1", port=implicit_tls_server[1], security="tls",
                                     tls_verify=False))
    assert kind is OutcomeKind.SENT


async def test_a_wrong_password_is_an_smtp_error_naming_the_account_not_the_password(starttls_server, ca_file):
    _, port = starttls_server
    with pytest.raises(SmtpError) as caught:
        await send(SmtpAccount(host="127.0.0.1", port=port, security="starttls", username="redaction",
                               password="wrong-password", ca_file=ca_file))
    assert "redaction" in str(caught.value) and "wrong-password" not in str(caught.value)


@pytest.mark.parametrize(("script", "expected"), [
    ({"rcpt": "450 4.2.1 Mailbox busy, try later"}, OutcomeKind.TEMPORARY),
    ({"rcpt": "451 4.7.1 Greylisted"}, OutcomeKind.TEMPORARY),
    ({"rcpt": "550 5.1.1 User unknown"}, OutcomeKind.REFUSED_RECIPIENT),
    ({"rcpt": "553 5.1.3 Bad address syntax"}, OutcomeKind.REFUSED_RECIPIENT),
    ({"data": "452 4.3.1 Insufficient system storage"}, OutcomeKind.TEMPORARY),
    ({"data": "554 5.7.1 Message rejected as spam"}, OutcomeKind.REFUSED_MESSAGE),
])
async def test_server_answers_map_to_outcomes(smtp_server, script, expected):
    if "rcpt" in script:
        smtp_server.handler.rcpt_script["directeur@client.example.com"] = [script["rcpt"]]
    else:
        smtp_server.handler.data_script.append(script["data"])
    kind, reply = await send(SmtpAccount(host="127.0.0.1", port=smtp_server.port, security="none"))
    assert kind is expected
    assert reply == script.get("rcpt", script.get("data"))
    assert smtp_server.handler.received == []


async def test_a_dead_server_is_a_temporary_outcome():
    kind, reply = await send(SmtpAccount(host="127.0.0.1", port=free_port(), security="none", timeout_s=5))
    assert kind is OutcomeKind.TEMPORARY and "connection" in reply


async def test_one_connection_carries_many_messages(smtp_server):
    sender = SmtpSender(SmtpAccount(host="127.0.0.1", port=smtp_server.port, security="none"))
    try:
        for _ in range(5):
            outcome = await sender.send(message(), sender="a@example.com", recipient="b@example.com")
            assert outcome.kind is OutcomeKind.SENT
    finally:
        await sender.close()
    assert len(smtp_server.handler.received) == 5
