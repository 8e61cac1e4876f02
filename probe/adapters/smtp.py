"""Sending one message over SMTP (aiosmtplib), turning every server answer into an outcome.

The transaction is run step by step (MAIL, RCPT, DATA) rather than with send_message(), because the
step at which a connection dies decides whether the message may have been sent: a failure before
DATA is safe to retry, a failure during DATA is *uncertain* and must never be resent silently."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from enum import StrEnum
from pathlib import Path
from typing import Literal

import aiosmtplib

from probe.adapters.tls import tls_context
from probe.errors import SmtpError

log = logging.getLogger("probe.smtp")


class OutcomeKind(StrEnum):
    SENT = "sent"                    # 250 after DATA: the reply line is the proof
    TEMPORARY = "temporary"          # 4xx or a connection problem before DATA: retry later
    REFUSED_RECIPIENT = "refused"    # 5xx to RCPT: the address is dead (the target bounced)
    REFUSED_MESSAGE = "rejected"     # 5xx to MAIL/DATA for this message: failed, the target is not at fault
    UNCERTAIN = "uncertain"          # the connection died during DATA: maybe delivered


@dataclass(frozen=True)
class SendOutcome:
    kind: OutcomeKind
    reply: str            # the server's reply line, e.g. "250 2.0.0 Ok: queued as 4F2A1", or the error


@dataclass(frozen=True)
class SmtpAccount:
    host: str
    port: int
    security: Literal["tls", "starttls", "none"]
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # never in logs or tracebacks
    tls_verify: bool = True
    ca_file: Path | None = None
    timeout_s: float = 60.0
    local_hostname: str | None = None

    def describe(self) -> str:
        who = f" as {self.username}" if self.username else ""
        return f"SMTP {self.host}:{self.port} ({self.security}){who}"


def _reply(code: int, message: str) -> str:
    return f"{code} {message}".strip()


def _refusal(exc: aiosmtplib.SMTPResponseException, permanent: OutcomeKind) -> SendOutcome:
    """5xx is permanent; 4xx, and -1 for a reply that could not be read, are worth a retry."""
    kind = permanent if 500 <= exc.code < 600 else OutcomeKind.TEMPORARY
    return SendOutcome(kind, _reply(exc.code, exc.message))


class SmtpSender:
    """One SMTP connection, reused for many messages; reconnects when the server dropped it."""

    def __init__(self, account: SmtpAccount) -> None:
        self.account = account
        self._client: aiosmtplib.SMTP | None = None

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        a = self.account
        client = aiosmtplib.SMTP(
            hostname=a.host, port=a.port, timeout=a.timeout_s,
            use_tls=a.security == "tls", start_tls=a.security == "starttls",
            tls_context=tls_context(a.tls_verify, a.ca_file) if a.security != "none" else None,
            username=a.username, password=a.password,
            local_hostname=a.local_hostname or "localhost",
        )
        try:
            await client.connect()
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise SmtpError(f"{a.describe()} refused the login: {_reply(exc.code, exc.message)}",
                            field="smtp.username",
                            hint="check smtp.username and the password in the variable named by "
                                 "smtp.password_env") from exc
        except ssl.SSLError as exc:
            raise SmtpError(f"{a.describe()}: TLS failed: {exc}", field="smtp.security",
                            hint="check smtp.security/port (465 = tls, 587 = starttls) or smtp.ca_file"
                            ) from exc
        except aiosmtplib.SMTPException as exc:
            if "certificate" in str(exc).lower():
                raise SmtpError(f"{a.describe()}: TLS failed: {exc}", field="smtp.security",
                                hint="the server's certificate is not trusted: set smtp.ca_file to its CA "
                                     "(or, for a test server only, smtp.tls_verify = false)") from exc
            raise
        self._client = client
        return client

    async def connect(self) -> None:
        """Connect now, so an unusable account is reported before any message is claimed."""
        try:
            await self._connected()
        except (aiosmtplib.SMTPException, OSError) as exc:
            if isinstance(exc, SmtpError):
                raise
            raise SmtpError(f"{self.account.describe()}: cannot connect: {exc}", field="smtp.host",
                            hint="check smtp.host, smtp.port and smtp.security") from exc

    async def send(self, message: EmailMessage | bytes, *, sender: str, recipient: str,
                   before_data: Callable[[], Awaitable[None]] | None = None) -> SendOutcome:
        """`message` as an EmailMessage (a ComposedMessage hands over its bytes as they are) or
        as the CRLF wire bytes already. `before_data` is awaited once the recipient is accepted,
        before DATA: whatever it raises stops the send there (the envelope is reset, nothing was
        handed over) and is raised again."""
        try:
            client = await self._connected()
        except (aiosmtplib.SMTPException, OSError) as exc:
            return SendOutcome(OutcomeKind.TEMPORARY, f"connection failed: {exc}")
        raw = message if isinstance(message, bytes) else message.as_bytes(policy=SMTP_POLICY)
        mail_options = ["BODY=8BITMIME"] if not raw.isascii() and client.supports_extension(
            "8bitmime") else []
        try:
            await client.mail(sender, options=mail_options)
            await client.rcpt(recipient)
        except aiosmtplib.SMTPRecipientRefused as exc:
            await self._reset(client)
            return _refusal(exc, OutcomeKind.REFUSED_RECIPIENT)
        except aiosmtplib.SMTPResponseException as exc:   # MAIL FROM refused, or an odd reply
            await self._reset(client)
            return _refusal(exc, OutcomeKind.REFUSED_MESSAGE)
        except (aiosmtplib.SMTPException, OSError) as exc:
            self._drop()
            return SendOutcome(OutcomeKind.TEMPORARY, f"connection lost before DATA: {exc}")
        if before_data is not None:
            try:
                await before_data()
            except Exception:
                await self._reset(client)
                raise
            except BaseException:   # cancelled: no reply awaited any more, the connection goes
                self._drop()
                raise
        try:
            response = await client.data(raw)
        except aiosmtplib.SMTPResponseException as exc:   # DATA refused (content, policy, size)
            await self._reset(client)
            return _refusal(exc, OutcomeKind.REFUSED_MESSAGE)
        except (aiosmtplib.SMTPException, OSError) as exc:
            self._drop()
            return SendOutcome(OutcomeKind.UNCERTAIN, f"connection lost during DATA: {exc}")
        return SendOutcome(OutcomeKind.SENT, _reply(response.code, response.message))

    async def _reset(self, client: aiosmtplib.SMTP) -> None:
        try:
            if client.is_connected:
                await client.rset()
        except (aiosmtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
        self._client = None

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None and client.is_connected:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()
