"""The demo's embedded mail servers, both in this process on loopback ports chosen by the OS.

- SMTP: aiosmtpd served with `loop.create_server` (its threaded Controller cannot take port 0); every
  message is recorded with its envelope, so the simulated directors react to what probe really sent.
- IMAP: pymap's in-memory backend, a real IMAP server (LOGIN, SELECT, UID SEARCH/FETCH, APPEND with an
  INTERNALDATE, IDLE), so probe's poller talks to it exactly as to a provider's server.

Nothing here starts a process: when the event loop closes the servers, nothing is left behind.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import mailbox
import re
from argparse import Namespace
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aioimaplib
from aiosmtpd.smtp import SMTP as SmtpProtocol
from aiosmtpd.smtp import Envelope, Session

LOOPBACK = "127.0.0.1"
_SERVER_NAME = "mail.demo.example"   # fixed, so neither server asks DNS for this host's FQDN


@dataclass(frozen=True)
class Received:
    """One message the SMTP server accepted: the envelope as given, the bytes as sent."""

    number: int
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes

    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class SmtpRecorder:
    """aiosmtpd handler: accepts every recipient and records every message in arrival order."""

    received: list[Received] = field(default_factory=list)
    on_message: Callable[[Received], None] | None = None

    async def handle_DATA(self, server: SmtpProtocol, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        item = Received(len(self.received) + 1, envelope.mail_from or "", tuple(envelope.rcpt_tos), raw)
        self.received.append(item)
        if self.on_message is not None:
            self.on_message(item)
        return f"250 2.0.0 Ok: queued as DEMO{item.number:05d}"


async def close_server(server: asyncio.Server | None) -> None:
    """Stop listening and wait until every connection of that server is closed."""
    if server is not None:
        server.close()
        await server.wait_closed()


class DemoSmtpServer:
    """`async with DemoSmtpServer() as smtp:` → smtp.port, smtp.recorder.received."""

    def __init__(self) -> None:
        self.recorder = SmtpRecorder()
        self.port = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> DemoSmtpServer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SmtpProtocol(self.recorder, hostname=_SERVER_NAME, ident="probe demo SMTP",
                                 decode_data=False, enable_SMTPUTF8=True),
            LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await close_server(self._server)
        self._server = None


def _pymap_config_class() -> Any:
    # Imported late: pymap is only needed when the demo runs, and its import is not free.
    from pymap.backend.dict import Config

    class DemoConfig(Config):
        @property
        def greeting(self) -> bytes:
            return b"Server ready " + _SERVER_NAME.encode("ascii")

    return DemoConfig


class DemoImapServer:
    """pymap with its in-memory backend and one user; `async with DemoImapServer(user, pw) as imap:`."""

    def __init__(self, user: str, password: str) -> None:
        self.user = user
        self.password = password
        self.port = 0
        self._server: asyncio.Server | None = None
        self._config: Any = None    # kept alive with the server (pymap reads it per connection)

    async def __aenter__(self) -> DemoImapServer:
        from proxyprotocol.reader import ProxyProtocolReader
        from pymap.backend.dict import DictBackend, Login
        from pymap.concurrent import Subsystem
        from pymap.imap import IMAPServer
        from pysasl.hashing import Cleartext

        args = Namespace(passlib_cfg=None, proxy_protocol=None, debug=False, inherited_sockets=None)
        # cpu_subsystem=asyncio: pymap would otherwise start a thread pool (and a spare event loop).
        # Cleartext: the default 500,000 PBKDF2 rounds cost ~0.8 s per login, and probe logs in at
        # every pass; this password is random, lives in memory only, for one run on loopback.
        config = _pymap_config_class()(
            args, host=LOOPBACK, port=0, demo_data=False, demo_user=self.user,
            demo_password=self.password, tls_enabled=False, invalid_user_sleep=0.0,
            reject_dnsbl=False, cpu_subsystem=Subsystem.for_asyncio(), hash_context=Cleartext())
        login = Login(config)
        await DictBackend._add_demo_user(config, login)
        backend = DictBackend(login, config)
        config.apply_context()
        self._config = config
        handler = ProxyProtocolReader(config.proxy_protocol).get_callback(IMAPServer(backend.login, config))
        self._server = await asyncio.start_server(handler, host=LOOPBACK, port=0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        await close_server(self._server)
        self._server = None
        self._config = None


_FETCH_LINE = re.compile(rb"^\d+ FETCH \(")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')


class ImapClient:
    """A small IMAP client for the demo's own needs (APPEND replies, copy the mailbox out)."""

    def __init__(self, port: int, user: str, password: str) -> None:
        self._port = port
        self._user = user
        self._password = password
        self._imap: aioimaplib.IMAP4 | None = None

    async def __aenter__(self) -> ImapClient:
        imap = aioimaplib.IMAP4(host=LOOPBACK, port=self._port, timeout=15)
        await imap.wait_hello_from_server()
        response = await imap.login(self._user, self._password)
        if response.result != "OK":
            raise RuntimeError(f"demo IMAP login refused: {response.lines}")
        self._imap = imap
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._imap is not None:
            try:
                await self._imap.logout()
            except (TimeoutError, aioimaplib.Abort, OSError):
                pass
            self._imap = None

    async def append(self, raw: bytes, when: datetime, folder: str = "INBOX") -> None:
        """APPEND with INTERNALDATE = when: the time the simulated director sent it."""
        assert self._imap is not None
        response = await self._imap.append(raw, mailbox=folder, date=when)
        if response.result != "OK":
            raise RuntimeError(f"demo IMAP APPEND refused: {response.lines}")

    async def fetch_all(self, folder: str = "INBOX") -> list[tuple[bytes, bytes]]:
        """Every message of folder as (INTERNALDATE text, raw bytes), in UID order."""
        assert self._imap is not None
        selected = await self._imap.select(folder)
        if selected.result != "OK":
            raise RuntimeError(f"demo IMAP SELECT refused: {selected.lines}")
        response = await self._imap.uid("fetch", "1:*", "(UID INTERNALDATE BODY.PEEK[])")
        out: list[tuple[bytes, bytes]] = []
        lines = response.lines
        for i, line in enumerate(lines[:-1]):
            if isinstance(line, bytes) and _FETCH_LINE.match(line) and isinstance(lines[i + 1], bytearray):
                found = _INTERNALDATE.search(line)
                out.append((found.group(1) if found else b"", bytes(lines[i + 1])))
        return out


def write_mbox(messages: list[tuple[bytes, bytes]], path: Path) -> int:
    """The mailbox as an mbox file (`probe import CONFIG PATH` reads it back). Returns the count."""
    path.parent.mkdir(parents=True, exist_ok=True)
    box = mailbox.mbox(str(path), create=True)
    try:
        box.lock()
        for _date, raw in messages:
            box.add(mailbox.mboxMessage(raw))
        box.flush()
        box.unlock()
    finally:
        box.close()
    return len(messages)
