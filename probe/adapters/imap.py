"""Read a mailbox over IMAP with aioimaplib, without ever changing it.

No database and no classification here: `ImapMailbox` hands raw messages and the folder's
UIDVALIDITY to the caller, which stores them and keeps the cursor (UIDVALIDITY, last UID).

aioimaplib hangs in several known ways (LIBRARIES.md §2): a lost connection does not fail pending
commands, IDLE hangs on BYE, a response of ~1000 lines kills the parser, a cancelled command can
block the next one. Hence:
  - every call runs under a watchdog (`_bounded`) that also fires when the connection drops;
  - bodies are fetched in chunks of at most `batch_size` UIDs and `batch_bytes` bytes (sizes from
    a `UID FETCH (UID RFC822.SIZE)` first), read by an iterative replacement of aioimaplib's
    recursive response parser (`_fast_parser`), so a chunk of hundreds of messages neither
    overflows the stack nor costs time quadratic in its length;
  - after any timeout, Abort, CommandTimeout or lost connection the client is thrown away and
    ImapError is raised. The next call on the same ImapMailbox connects afresh; backing off and
    logging the retry is the caller's job.
Only `BODY.PEEK[]` is fetched, so nothing is marked \\Seen: it is the journalist's mailbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, TypeVar

import aioimaplib

from probe.adapters.imap_wire import (
    EXISTS_LINE,
    FetchedMessage,
    FolderState,
    ListedFolder,
    has_news,
    header_search,
    mailbox_arg,
    parse_fetch,
    parse_list,
    parse_search,
    parse_select,
    parse_sizes,
    searchable_id,
    uid_set,
)
from probe.adapters.tls import tls_context
from probe.errors import ImapError

__all__ = ["FetchedMessage", "FolderState", "ImapAccount", "ImapMailbox", "ListedFolder"]

T = TypeVar("T")

IDLE_RENEW_S = 25 * 60  # RFC 2177: re-issue IDLE at least every 29 minutes (servers drop idle clients at 30)
NOOP_EVERY_S = 5.0
RESELECT_EVERY_S = 600.0  # safety net: notices a folder deleted and recreated under an open connection
FETCH_ITEMS = "(UID FLAGS INTERNALDATE BODY.PEEK[])"
HEADER_ITEMS = "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID DATE)])"
SIZE_ITEMS = "(UID RFC822.SIZE)"
BATCH_SIZE = 500               # messages per body FETCH (and per store transaction of the poll)
FIRST_BATCH = 25               # the first chunk of a poll; each next one doubles, up to BATCH_SIZE
BATCH_BYTES = 16 * 1024 * 1024  # and at most this many bytes of them, unless one message is larger
SIZE_BATCH = 2000              # UIDs per RFC822.SIZE FETCH (a short line each)
SEARCH_BATCH = 20      # Message-IDs per UID SEARCH (an OR tree: a short command line on any server)
HEADER_BATCH = 100     # header-only FETCHes are ~3 lines a message: far below aioimaplib's ~1000 (#118)
_LOG = logging.getLogger("probe.imap")


@dataclass(frozen=True)
class ImapAccount:
    host: str
    port: int
    security: Literal["tls", "none"]
    username: str
    password: str | None = field(repr=False)  # never in logs or tracebacks
    folder: str = "INBOX"
    tls_verify: bool = True
    ca_file: Path | None = None
    timeout_s: float = 30.0


class _ConnectionLost(Exception):
    pass


class ImapMailbox:
    """One connection to one account's folder; reusable across polls, reconnects on the next call.

    Calls are sequential: one task at a time (an overlapping call raises RuntimeError; close() is
    always allowed and cuts the connection). Cancelling a call drops the connection too, since
    aioimaplib's state after a cancellation cannot be trusted.
    """

    def __init__(self, account: ImapAccount, *, batch_size: int = BATCH_SIZE, batch_bytes: int = BATCH_BYTES,
                 logger: logging.Logger = _LOG,
                 use_idle: bool = True, noop_every_s: float = NOOP_EVERY_S,
                 reselect_every_s: float = RESELECT_EVERY_S) -> None:
        self.account = account
        self.batch_size = max(1, batch_size)
        self.batch_bytes = max(1, batch_bytes)
        self.log = logger
        self.use_idle = use_idle
        self.noop_every_s = noop_every_s
        self.reselect_every_s = reselect_every_s
        self._selected_at = 0.0
        self._in_call = False
        self._news = False  # the server announced new mail since the last UID SEARCH
        self.last_state: FolderState | None = None
        self._client: aioimaplib.IMAP4 | None = None
        self._lost: asyncio.Future[None] | None = None

    # -- public API ----------------------------------------------------------------------------

    async def connect(self) -> FolderState:
        """Connect, LOGIN and SELECT the folder (a fresh connection if the old one is gone)."""
        if self._client is None:
            await self._open()
        return await self._select()

    async def fetch_new(self, after_uid: int, known_uidvalidity: int | None
                        ) -> AsyncIterator[tuple[FolderState, list[FetchedMessage]]]:
        """Yield (state, batch) for every message with UID > after_uid, oldest first.

        Always yields at least once (an empty batch when nothing is new) so the caller learns the
        folder state. If UIDVALIDITY differs from known_uidvalidity, every UID the caller stored is
        void: everything is yielded again from UID 1 and the caller dedupes.
        """
        now = asyncio.get_running_loop().time()
        fresh = (self._client is None or self.last_state is None
                 or now - self._selected_at >= self.reselect_every_s)
        state = await self.connect() if fresh else await self._refresh()
        if known_uidvalidity is not None and state.uidvalidity != known_uidvalidity:
            self.log.warning("IMAP %s: UIDVALIDITY changed (%s → %s), reading the whole folder again",
                             self._where(), known_uidvalidity, state.uidvalidity)
            after_uid = 0
        # Right after SELECT, UIDNEXT and EXISTS tell that nothing is new; after NOOP they may be
        # stale (aioimaplib drops EXISTS pushed during other commands), so then we always SEARCH.
        if fresh and ((state.uidnext is not None and state.uidnext <= after_uid + 1) or state.exists == 0):
            yield state, []
            return
        self._news = False  # what is announced from now on is newer than this SEARCH's answer
        uids = await self._search_after(after_uid)
        if not uids:
            yield state, []
            return
        for batch in await self._chunks(uids):
            yield state, await self._fetch(batch)

    async def wait_for_news(self, timeout_s: float) -> bool:
        """Wait until the server reports new mail (True) or timeout_s passes (False)."""
        if self._client is None or self.last_state is None:
            await self.connect()
        client = self._client
        assert client is not None
        if self._news:  # announced during an earlier command: IDLE would not repeat it
            return True
        if self.use_idle and client.has_capability("IDLE"):
            return await self._idle(timeout_s)
        return await self._noop_poll(timeout_s)

    async def append(self, raw: bytes, folder: str, *, flags: str = "\\Seen",
                     date: datetime | None = None) -> None:
        """APPEND a message (the optional Sent copy; tests and the demo fill mailboxes with it)."""
        if date is not None and date.tzinfo is None:
            raise ValueError("append(date=...) must be timezone-aware")
        if self._client is None:
            await self._open()
        client = self._client
        assert client is not None
        response = await self._bounded(
            client.append(raw, mailbox=mailbox_arg(folder), flags=flags or None, date=date),
            "APPEND", self.account.timeout_s * 4)
        if response.result != "OK":
            hint = (f"create the folder {folder!r} in the mailbox, or change the configured folder"
                    if b"TRYCREATE" in _text(response) else "check that the folder exists and is writable")
            raise self._error(f"APPEND to {folder!r} refused: {_reply(response)}", hint)

    async def folders(self) -> list[ListedFolder]:
        """Every folder of the account (`LIST "" "*"`), with its attributes."""
        return await self._list('""', '"*"') or []   # None only when a refusal is accepted

    async def special_use_folders(self, flag: str = "\\Sent") -> list[str]:
        """The folders the server marks with an RFC 6154 special-use flag, e.g. `\\Sent`.

        Names vary by provider ("Sent", "Sent Items", "[Gmail]/Sent Mail", "INBOX.Sent"); the
        flag does not. With the SPECIAL-USE capability `LIST (SPECIAL-USE)` returns only the
        flagged folders (short, whatever the account holds); otherwise, or if the server refuses
        that form, a plain LIST, which servers such as Gmail and Dovecot also annotate.
        """
        if self._client is None:
            await self._open()
        client = self._client
        assert client is not None
        wanted = flag.lower()
        listed: list[ListedFolder] | None = None
        if client.has_capability("SPECIAL-USE"):
            listed = await self._list('(SPECIAL-USE) ""', '"*"', refused_ok=True)
        if listed is None:
            listed = await self._list('""', '"*"')
        return [f.name for f in listed or [] if wanted in f.attributes]

    async def find_message_ids(self, folder: str, message_ids: Iterable[str]) -> set[str]:
        """Which of `message_ids` (with <>) are in `folder`: `UID SEARCH HEADER Message-ID`."""
        return set(await self.find_messages(folder, message_ids))

    async def find_messages(self, folder: str, message_ids: Iterable[str]) -> dict[str, datetime | None]:
        """Message-ID → the Date header of its copy in `folder`, for each id found there.

        Read-only: UID SEARCH, then the two header fields with BODY.PEEK. HEADER search is a
        substring match (RFC 3501), so every hit is checked against its fetched Message-ID; an id
        that cannot be written as a quoted string (8-bit, CR/LF) is never found. `folder` is the
        folder's name as the user sees it (as special_use_folders returns it). Afterwards
        the configured folder is no longer selected: the next poll selects it again.
        """
        wanted = {mid.strip() for mid in message_ids if searchable_id(mid.strip())}
        if not wanted:
            return {}
        await self._select_for_search(folder)
        client = self._client
        assert client is not None
        uids: set[int] = set()
        ordered = sorted(wanted)
        for start in range(0, len(ordered), SEARCH_BATCH):
            criteria = header_search("Message-ID", ordered[start:start + SEARCH_BATCH])
            response = await self._bounded(client.uid_search(criteria, charset=None), "UID SEARCH",
                                           self.account.timeout_s * 4)
            if response.result != "OK":
                self._drop()
                raise self._error(f"UID SEARCH in {folder!r} refused: {_reply(response)}",
                                  "run the command again; if this repeats, check the folder")
            uids.update(parse_search(response.lines, 0))
        found: dict[str, datetime | None] = {}
        hits = sorted(uids)
        for start in range(0, len(hits), HEADER_BATCH):
            batch = hits[start:start + HEADER_BATCH]
            response = await self._bounded(client.uid("fetch", uid_set(batch), HEADER_ITEMS),
                                           "UID FETCH", self.account.timeout_s * 4)
            if response.result != "OK":
                self._drop()
                raise self._error(f"UID FETCH in {folder!r} refused: {_reply(response)}",
                                  "run the command again")
            for message in parse_fetch(response.lines):
                mid, date = _id_and_date(message.raw)
                if mid in wanted and (found.get(mid) is None):
                    found[mid] = date
        return found

    async def close(self) -> None:
        """LOGOUT (bounded, errors ignored), then drop the transport."""
        client = self._client
        if client is None:
            return
        if self._in_call:  # another task is inside a call (e.g. IDLE): just cut the connection
            self._drop()
            return
        with contextlib.suppress(Exception):
            await self._bounded(client.logout(), "LOGOUT", min(self.account.timeout_s, 5.0))
        self._drop()

    async def __aenter__(self) -> ImapMailbox:
        await self.connect()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return self._client is not None

    # -- connection ----------------------------------------------------------------------------

    async def _open(self) -> None:
        acc = self.account
        if acc.password is None:
            raise self._error("no password", "set imap.password_env to the variable holding the password")
        loop = asyncio.get_running_loop()
        lost: asyncio.Future[None] = loop.create_future()

        def on_lost(_exc: Exception | None) -> None:
            if not lost.done():
                lost.set_result(None)

        # IMAP4 with an ssl_context (not IMAP4_SSL) because only IMAP4 accepts conn_lost_cb (#107).
        try:
            client = aioimaplib.IMAP4(acc.host, acc.port, timeout=acc.timeout_s, conn_lost_cb=on_lost,
                                      ssl_context=self._ssl_context())
        except (OSError, ssl.SSLError) as exc:
            raise self._error(f"TLS setup failed: {exc}", "check imap.ca_file") from exc
        self._client, self._lost = client, lost
        self._spy_on_exists(client)
        _fast_parser(client.protocol)
        try:
            await self._bounded(client.wait_hello_from_server(), "connect")
        except ImapError as exc:
            cause = exc.__cause__
            if isinstance(cause, ssl.SSLCertVerificationError):
                raise self._error(f"the server's TLS certificate is not trusted ({cause.verify_message})",
                                  "set imap.ca_file to the CA that signed it (tls_verify = false only "
                                  "for a test server)") from cause
            if isinstance(cause, ssl.SSLError):
                raise self._error(f"TLS handshake failed ({cause.reason or cause})",
                                  f"port {acc.port} may not speak implicit TLS: use security = \"tls\" "
                                  "with port 993 (STARTTLS is not supported)") from cause
            if isinstance(cause, ConnectionRefusedError):
                raise self._error("connection refused",
                                  "check imap.host and imap.port, and that the server is running") from cause
            if isinstance(cause, TimeoutError):
                raise self._error(f"no IMAP greeting within {acc.timeout_s:g} s",
                                  "check imap.host, imap.port and imap.security (TLS on a plain port, "
                                  "or plain on a TLS port, waits forever)") from cause
            # Before the greeting nothing was asked of the server: whatever failed (a name that does
            # not resolve, a port nobody listens on, a connection closed at once) is about where
            # probe connects, not about a slow server, so the key to fix is imap.host / imap.port.
            if isinstance(cause, socket.gaierror):
                raise self._error(f"host {acc.host!r} not found ({cause.strerror or cause})",
                                  "check imap.host (the IMAP server's name, e.g. imap.gmail.com) "
                                  "and imap.port") from cause
            why = ("the connection was closed before the greeting" if cause is None or isinstance(
                cause, _ConnectionLost) else f"{type(cause).__name__}: {cause}")
            raise self._error(f"cannot connect ({why})",
                              "check imap.host and imap.port, and that the server is running") from cause
        response = await self._bounded(client.login(aioimaplib.quoted(acc.username), acc.password), "LOGIN")
        if response.result != "OK":
            self._drop()
            raise self._error(f"login refused: {_reply(response)}",
                              "check imap.username and the password in the variable named by "
                              "imap.password_env")

    async def _refresh(self) -> FolderState:
        """NOOP on the selected folder, so that a poll stays O(new messages).

        A re-SELECT makes Dovecot rescan the whole maildir (60-100 ms on 10,000 messages, against
        under 1 ms for NOOP + UID SEARCH). STATUS is no substitute: on the selected folder Dovecot
        answers from the session's view, neither syncing new mail nor seeing a new UIDVALIDITY
        (verified). The view is synced at the end of NOOP, so the UID SEARCH after it sees new mail.
        A folder deleted and recreated under us is only noticed at a (periodic) re-SELECT.
        """
        client = self._client
        last = self.last_state
        assert client is not None and last is not None
        response = await self._bounded(client.noop(), "NOOP")
        exists = last.exists
        for line in response.lines:
            if not isinstance(line, bytes):
                continue
            if line.startswith(b"BYE"):
                self._drop()
                raise self._error(f"the server ended the session: {line.decode(errors='replace')}",
                                  "probe reconnects on the next poll")
            if m := re.match(rb"(\d+) EXISTS\b", line):
                exists = int(m.group(1))
            elif re.match(rb"\d+ EXPUNGE\b", line):
                exists -= 1
        if response.result != "OK":
            self._drop()
            raise self._error(f"NOOP refused: {_reply(response)}", "probe reconnects on the next poll")
        state = FolderState(uidvalidity=last.uidvalidity, uidnext=None, exists=max(exists, 0))
        self.last_state = state
        return state

    async def _select(self) -> FolderState:
        client = self._client
        assert client is not None
        response = await self._bounded(client.select(mailbox_arg(self.account.folder)), "SELECT")
        if response.result != "OK":
            self._drop()  # a failed SELECT leaves no folder selected (RFC 3501), unlike aioimaplib thinks
            raise self._error(f"cannot open folder {self.account.folder!r}: {_reply(response)}",
                              "check imap.folder (names are case-sensitive; a subfolder may be "
                              "written INBOX.Name or INBOX/Name)")
        state = parse_select(response.lines)
        if state is None:
            self._drop()
            raise self._error("SELECT gave no UIDVALIDITY", "this server cannot be polled safely")
        self.last_state = state
        self._news = False  # the EXISTS of a SELECT is the folder's size, not news
        self._selected_at = asyncio.get_running_loop().time()
        self.log.debug("IMAP %s: selected %r: %d messages, UIDVALIDITY %d, UIDNEXT %s", self._where(),
                       self.account.folder, state.exists, state.uidvalidity, state.uidnext)
        return state

    async def _select_for_search(self, folder: str) -> FolderState | None:
        if self._client is None:
            await self._open()
        client = self._client
        assert client is not None
        # From here on the configured folder is not the selected one: make the next poll re-SELECT.
        self.last_state, self._selected_at = None, 0.0
        response = await self._bounded(client.select(mailbox_arg(folder)), "SELECT")
        if response.result != "OK":
            self._drop()
            raise self._error(f"cannot open folder {folder!r}: {_reply(response)}",
                              "check imap.sent_search_folder (or imap.sent_folder): the name as your "
                              "mail client shows it, case-sensitive; a subfolder may be INBOX.Sent")
        return parse_select(response.lines)

    async def _list(self, reference: str, pattern: str, *, refused_ok: bool = False) -> list[ListedFolder] | None:
        if self._client is None:
            await self._open()
        client = self._client
        assert client is not None
        response = await self._bounded(client.list(reference, pattern), "LIST")
        if response.result != "OK":
            if refused_ok:
                return None
            self._drop()
            raise self._error(f"LIST refused: {_reply(response)}", "run the command again")
        return parse_list(response.lines)

    def _spy_on_exists(self, client: aioimaplib.IMAP4) -> None:
        """Note every `* n EXISTS`, whichever command it came with.

        aioimaplib drops untagged lines that arrive during a command other than NOOP or IDLE; the
        server announces new mail only once per session, so a message delivered during our UID
        SEARCH would otherwise wake no IDLE until the next message or the timeout. (A hook on a
        private method: aioimaplib is pinned below 3.)
        """
        protocol = client.protocol
        original = protocol._untagged_response

        def untagged(line: bytes) -> Any:
            if EXISTS_LINE.match(line):
                self._news = True
            return original(line)

        protocol._untagged_response = untagged

    def _ssl_context(self) -> ssl.SSLContext | None:
        acc = self.account
        if acc.security != "tls":
            return None
        return tls_context(acc.tls_verify, acc.ca_file)

    def _drop(self) -> None:
        """Throw the client away: a client that saw a timeout or error can hang on its next command."""
        client, self._client, self._lost = self._client, None, None
        if client is None:
            return
        for task in list(client.tasks) + list(client.protocol.tasks):
            task.cancel()
        transport = client.protocol.transport
        if transport is not None:
            transport.close()
        elif not client._client_task.done():
            client._client_task.cancel()
            client._client_task.add_done_callback(_swallow)

    async def _bounded(self, aw: Awaitable[T], what: str, timeout_s: float | None = None) -> T:
        """Await an aioimaplib call with a watchdog; on timeout or connection loss drop the client.

        asyncio.wait (not wait_for) so a call that ignores cancellation cannot hold us (#128).
        """
        if self._in_call:
            if asyncio.iscoroutine(aw):
                aw.close()
            raise RuntimeError("ImapMailbox calls must not overlap (one task at a time per mailbox)")
        self._in_call = True
        try:
            return await self._watch(aw, what, timeout_s)
        finally:
            self._in_call = False

    async def _watch(self, aw: Awaitable[T], what: str, timeout_s: float | None) -> T:
        lost = self._lost
        task = asyncio.ensure_future(aw)
        waiters: set[asyncio.Future[Any]] = {task} if lost is None else {task, lost}
        limit = self.account.timeout_s if timeout_s is None else timeout_s
        try:
            done, _ = await asyncio.wait(waiters, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            task.add_done_callback(_swallow)
            self._drop()
            raise
        if task in done:
            try:
                return task.result()
            except (aioimaplib.Abort, aioimaplib.CommandTimeout, aioimaplib.Error, OSError,
                    TimeoutError, ssl.SSLError, EOFError, ValueError, RecursionError) as exc:
                self._drop()
                raise self._error(f"{what} failed: {type(exc).__name__}: {exc}",
                                  "probe reconnects on the next poll; if this repeats, check the "
                                  "server and imap.timeout") from exc
        task.cancel()
        task.add_done_callback(_swallow)
        self._drop()
        if lost is not None and lost in done:
            raise self._error(f"connection lost during {what}",
                              "probe reconnects on the next poll") from _ConnectionLost()
        raise self._error(f"no answer to {what} within {limit:g} s",
                          "probe reconnects on the next poll; raise imap.timeout if the server is slow"
                          ) from TimeoutError()

    def _where(self) -> str:
        return f"{self.account.host}:{self.account.port} (account {self.account.username})"

    def _error(self, message: str, hint: str) -> ImapError:
        return ImapError(f"IMAP {self._where()}: {message}", field="imap", hint=hint)

    # -- polling -------------------------------------------------------------------------------

    async def _search_after(self, after_uid: int) -> list[int]:
        client = self._client
        assert client is not None
        response = await self._bounded(client.uid_search("UID", f"{after_uid + 1}:*", charset=None),
                                       "UID SEARCH")
        if response.result != "OK":
            self._drop()
            raise self._error(f"UID SEARCH refused: {_reply(response)}", "probe retries on the next poll")
        return parse_search(response.lines, after_uid)

    async def _chunks(self, uids: list[int]) -> list[list[int]]:
        """`uids` cut into chunks of at most batch_size messages and batch_bytes bytes (a message
        larger than that is a chunk of its own), by their RFC822.SIZE; a UID the server no longer
        sizes (expunged meanwhile) counts as empty, and its FETCH will say it vanished. The first
        chunk is small and each next one twice the size (slow start): the first replies of a big
        backlog are stored, and the cursor moves, within a moment of the poll's start."""
        if len(uids) <= 1:
            return [uids] if uids else []
        client = self._client
        assert client is not None
        sizes: dict[int, int] = {}
        for start in range(0, len(uids), SIZE_BATCH):
            part = uids[start:start + SIZE_BATCH]
            response = await self._bounded(client.uid("fetch", uid_set(part), SIZE_ITEMS),
                                           "UID FETCH", self.account.timeout_s * 4)
            if response.result != "OK":
                self._drop()
                raise self._error(f"UID FETCH refused: {_reply(response)}", "probe retries on the next poll")
            sizes.update(parse_sizes(response.lines))
        chunks: list[list[int]] = []
        current: list[int] = []
        total = 0
        limit = min(FIRST_BATCH, self.batch_size)
        for uid in uids:
            size = sizes.get(uid, 0)
            if current and (len(current) >= limit or total + size > self.batch_bytes):
                chunks.append(current)
                current, total = [], 0
                limit = min(limit * 2, self.batch_size)
            current.append(uid)
            total += size
        if current:
            chunks.append(current)
        return chunks

    async def _fetch(self, uids: list[int]) -> list[FetchedMessage]:
        client = self._client
        if client is None:  # closed between two batches: the UIDs may no longer mean the same messages
            raise self._error("connection closed during a fetch", "probe reconnects on the next poll")
        response = await self._bounded(client.uid("fetch", uid_set(uids), FETCH_ITEMS),
                                       "UID FETCH", self.account.timeout_s * 4)
        if response.result != "OK":
            self._drop()
            raise self._error(f"UID FETCH refused: {_reply(response)}", "probe retries on the next poll")
        wanted = set(uids)
        messages = [m for m in parse_fetch(response.lines) if m.uid in wanted]
        missing = wanted - {m.uid for m in messages}
        if missing:  # expunged between SEARCH and FETCH: nothing left to read
            self.log.info("IMAP %s: UIDs %s vanished before they could be read", self._where(),
                          uid_set(sorted(missing)))
        return sorted(messages, key=lambda m: m.uid)

    async def _idle(self, timeout_s: float) -> bool:
        client = self._client
        assert client is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        queue = client.protocol.idle_queue
        while not queue.empty():  # stale pushes from an earlier IDLE (#27, #30)
            queue.get_nowait()
        while True:
            idle_task = await self._bounded(client.idle_start(timeout=IDLE_RENEW_S), "IDLE")
            news, renew = False, False
            while not news and not renew:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                push = await self._bounded(_next_push(client, remaining), "IDLE wait",
                                           remaining + self.account.timeout_s)
                if push is None:
                    break
                if push == aioimaplib.STOP_WAIT_SERVER_PUSH:
                    renew = True
                news = has_news(push)
            client.idle_done()
            done = await self._bounded(idle_task, "IDLE DONE")
            if done.result != "OK":
                self._drop()
                raise self._error(f"IDLE ended with {_reply(done)}", "probe reconnects on the next poll")
            if news:
                return True
            if not renew or loop.time() >= deadline:
                return False

    def _holds(self, client: aioimaplib.IMAP4) -> bool:
        """Whether `client` is still this mailbox's connection (a reconnect replaces it)."""
        return self._client is client

    async def _noop_poll(self, timeout_s: float) -> bool:
        client = self._client
        assert client is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while True:
            if not self._holds(client):
                raise self._error("connection closed while waiting for mail", "probe reconnects on the next poll")
            response = await self._bounded(client.noop(), "NOOP")
            if has_news(response.lines):
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(self.noop_every_s, remaining))


async def _next_push(client: aioimaplib.IMAP4, timeout_s: float) -> list[Any] | None:
    """The next IDLE push, or None when timeout_s passes quietly (a normal end, not an error)."""
    try:
        return await client.wait_server_push(timeout=timeout_s)
    except TimeoutError:
        return None


def _id_and_date(header: bytes) -> tuple[str | None, datetime | None]:
    """The Message-ID (unfolded) and the Date (aware, or None) of a fetched header block."""
    msg = BytesHeaderParser(policy=compat32).parsebytes(header)
    raw_id = msg.get("Message-ID")
    mid = "".join(str(raw_id).split()) if raw_id is not None else None
    date: datetime | None = None
    raw_date = msg.get("Date")
    if raw_date is not None:
        with contextlib.suppress(TypeError, ValueError, IndexError, OverflowError):
            parsed = parsedate_to_datetime(str(raw_date))
            date = parsed if parsed.tzinfo is not None else None
    return mid, date


def _fast_parser(protocol: Any) -> None:
    """Replace aioimaplib's response reader, on this connection only, by an equivalent loop.

    Stock aioimaplib (LIBRARIES.md §2, #118) reads a received block by recursing once per line,
    copying the rest of the block at every line, and re-scans every line of a FETCH response so far
    at every line (FetchCommand.wait_data): a chunk of a few hundred messages overflows the stack,
    and its cost grows with the square of its length. This is the same state machine
    (`_handle_responses` and `data_received`, same calls into the protocol and its commands), as a
    loop over offsets, with the FETCH check scanning back to the last `n FETCH (` line only.
    A hook on private methods, like _spy_on_exists: aioimaplib is pinned below 3.
    """
    lib = aioimaplib.aioimaplib
    literal_re, incomplete, crlf = lib.literal_data_re, lib.IncompleteRead, lib.CRLF
    fetch_command, fetch_start = lib.FetchCommand, lib.FetchCommand.FETCH_MESSAGE_DATA_RE

    def wait_data(cmd: Any) -> bool:
        if type(cmd) is not fetch_command:
            return bool(cmd.wait_data())
        lines = cmd._resp_lines
        start = 0
        for index in range(len(lines) - 1, -1, -1):
            line = lines[index]
            if isinstance(line, bytes) and fetch_start.match(line):
                start = index
                break
        balance = 0
        for index in range(start, len(lines)):
            line = lines[index]
            if isinstance(line, bytes):
                balance += line.count(b"(") - line.count(b")")
        return balance != 0

    def handle(data: bytes, line_handler: Any, current: Any) -> None:
        pos, end = 0, len(data)
        while True:
            if pos >= end:
                if protocol.pending_sync_command is not None:
                    protocol.pending_sync_command.flush()
                if current is not None and wait_data(current):
                    raise incomplete(current)
                return
            if current is not None and current.wait_literal_data():
                need = current._expected_size - len(current._resp_literal_data)
                current.append_literal_data(data[pos:pos + need])
                pos = min(end, pos + need)
                if current.wait_literal_data():
                    raise incomplete(current)
            eol = data.find(crlf, pos)
            if eol < 0:
                raise incomplete(current, data[pos:])
            line = data[pos:eol]
            pos = eol + 2
            cmd = line_handler(line, current)
            literal = literal_re.match(line)
            if literal:
                if cmd is None:
                    cmd = lib.Command("NIL", "unused")
                cmd.begin_literal_data(int(literal.group("size")))
                current = cmd
            elif cmd is not None and wait_data(cmd):
                current = cmd
            else:
                current = None

    def data_received(d: bytes) -> None:
        if lib.log.isEnabledFor(logging.DEBUG):  # stock formats every block, logged or not
            lib.log.debug("Received : %s", d)
        try:
            handle(protocol.incomplete_line + d, protocol._handle_line, protocol.current_command)
            protocol.incomplete_line = b""
            protocol.current_command = None
        except incomplete as incomplete_read:
            protocol.current_command = incomplete_read.cmd
            protocol.incomplete_line = incomplete_read.data

    protocol._handle_responses = handle
    protocol.data_received = data_received


def _text(response: Any) -> bytes:
    return b" ".join(line for line in response.lines if isinstance(line, bytes))


def _reply(response: Any) -> str:
    last = response.lines[-1] if response.lines else b""
    text = last.decode(errors="replace") if isinstance(last, bytes | bytearray) else str(last)
    return f"{response.result} {text}".strip()


def _swallow(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
