"""Time one IMAP poll (probe.adapters.imap.ImapMailbox.fetch_new) on a 10,000-message mailbox.

    .venv/bin/python benchmarks/imap_poll.py [--messages 10000] [--new 10] [--rounds 7]

Starts its own Dovecot (tests/fixtures/dovecot.py: loopback port, maildir on tmpfs when there is
one), fills INBOX by writing files into the maildir, then times, in the same run, the median of
--rounds polls of each kind:

- probe, nothing new: fetch_new on the open connection (NOOP + UID SEARCH UID n:*);
- probe, N new: the same poll after N messages were APPENDed by another client (+ UID FETCH of
  the N bodies with BODY.PEEK[]);
- probe, first poll: a new ImapMailbox (connect, LOGIN, SELECT, UIDNEXT says nothing new);
- baseline: the same commands with the stdlib's imaplib on one open connection, synchronously.

The APPENDs happen outside the timed part. Prints one line per measure, in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import imaplib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from probe.adapters.imap import ImapMailbox
from tests.fixtures.dovecot import DovecotServer, DovecotUser, dovecot_available


def filler(i: int, tag: str = "filler") -> bytes:
    return (f"From: Sender {i} <s{i}@example.org>\r\nTo: probe@example.org\r\nSubject: {tag} {i}\r\n"
            f"Message-ID: <{tag}{i}@example.org>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\n\r\n"
            f"{'Lorem ipsum dolor sit amet. ' * 20}\r\n").encode()


def ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:8.1f} ms   min {min(samples) * 1000:8.1f} ms"


async def probe_rounds(user: DovecotUser, rounds: int, new: int, add: Callable[[int], None]
                       ) -> tuple[list[float], list[float], list[float]]:
    nothing, some, first = [], [], []
    async with ImapMailbox(user.account()) as mb:
        state = mb.last_state
        assert state is not None
        cursor = (state.uidnext or 1) - 1
        for r in range(rounds):
            t0 = time.perf_counter()
            got = [m async for _, batch in mb.fetch_new(cursor, state.uidvalidity) for m in batch]
            nothing.append(time.perf_counter() - t0)
            assert got == [], got
            await asyncio.to_thread(add, r)
            t0 = time.perf_counter()
            got = [m async for _, batch in mb.fetch_new(cursor, state.uidvalidity) for m in batch]
            some.append(time.perf_counter() - t0)
            assert len(got) == new, len(got)
            cursor = got[-1].uid
    for _ in range(rounds):
        t0 = time.perf_counter()
        async with ImapMailbox(user.account()) as mb:
            got = [m async for _, batch in mb.fetch_new(cursor, state.uidvalidity) for m in batch]
        first.append(time.perf_counter() - t0)
        assert got == []
    return nothing, some, first


def imaplib_rounds(user: DovecotUser, rounds: int, new: int, add: Callable[[int], None]
                   ) -> tuple[list[float], list[float]]:
    nothing, some = [], []
    imap = imaplib.IMAP4(user.host, user.port)
    imap.login(user.user, user.password)
    imap.select("INBOX")
    _, data = imap.uid("SEARCH", "UID", "1:*")
    cursor = max(int(u) for u in data[0].split())

    def poll() -> int:
        nonlocal cursor
        imap.noop()
        _, data = imap.uid("SEARCH", "UID", f"{cursor + 1}:*")
        uids = [int(u) for u in data[0].split() if int(u) > cursor]
        if uids:
            _, fetched = imap.uid("FETCH", ",".join(map(str, uids)), "(UID FLAGS INTERNALDATE BODY.PEEK[])")
            assert sum(isinstance(item, tuple) for item in fetched) == len(uids)
            cursor = max(uids)
        return len(uids)

    for r in range(rounds):
        t0 = time.perf_counter()
        assert poll() == 0
        nothing.append(time.perf_counter() - t0)
        add(r)
        t0 = time.perf_counter()
        assert poll() == new
        some.append(time.perf_counter() - t0)
    imap.logout()
    return nothing, some


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--new", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    if not dovecot_available():
        print("dovecot is not installed: apt-get install -y dovecot-imapd", file=sys.stderr)
        return 2
    shm = Path("/dev/shm")
    root = Path(tempfile.mkdtemp(prefix="probe-dovecot-bench-",
                                 dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None))
    server = DovecotServer(root)
    try:
        server.start()
        t0 = time.perf_counter()
        users = [DovecotUser(server, server.add_user()) for _ in range(2)]
        for user in users:
            user.write_maildir([filler(i) for i in range(args.messages)])
            with server.client(user.mail_user) as imap:  # let Dovecot index them once
                imap.select("INBOX")
        print(f"filled 2 mailboxes with {args.messages} messages in {time.perf_counter() - t0:.1f} s")

        def adder(user: DovecotUser) -> Callable[[int], None]:
            return lambda r: user.append_many([filler(r * 1000 + i, "new") for i in range(args.new)])

        nothing, some, first = asyncio.run(probe_rounds(users[0], args.rounds, args.new, adder(users[0])))
        base_nothing, base_some = imaplib_rounds(users[1], args.rounds, args.new, adder(users[1]))
        n, k = args.messages, args.new
        print(f"probe    nothing new in {n}:       {ms(nothing)}")
        print(f"imaplib  nothing new in {n}:       {ms(base_nothing)}")
        print(f"probe    {k} new in {n}:            {ms(some)}")
        print(f"imaplib  {k} new in {n}:            {ms(base_some)}")
        print(f"probe    first poll (connect+SELECT): {ms(first)}")
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
