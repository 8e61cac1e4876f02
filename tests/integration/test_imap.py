"""ImapMailbox against a real Dovecot (tests/fixtures/dovecot.py), plus its pure protocol parsers."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from probe.adapters.imap import FetchedMessage, FolderState, ImapAccount, ImapMailbox
from probe.adapters.imap_wire import (
    imap_utf7,
    mailbox_arg,
    parse_fetch,
    parse_internaldate,
    parse_search,
    parse_select,
    uid_set,
)
from probe.errors import ImapError
from tests.fixtures.dovecot import DovecotServer, DovecotUser, free_port

pytestmark = pytest.mark.dovecot


def message(i: int, *, subject: str = "Réponse", size: int = 0) -> bytes:
    return (f"From: Person {i} <p{i}@example.org>\r\nTo: probe@example.org\r\n"
            f"Subject: {subject} {i}\r\nMessage-ID: <m{i}@example.org>\r\n"
            f"Date: Mon, 23 Nov 2026 10:00:00 +0100\r\n\r\nHello {i}\r\n{'x' * size}\r\n").encode()


async def collect(mb: ImapMailbox, after_uid: int, known: int | None
                  ) -> tuple[list[FolderState], list[list[FetchedMessage]]]:
    states, batches = [], []
    async for state, batch in mb.fetch_new(after_uid, known):
        states.append(state)
        batches.append(batch)
    return states, batches


def flat(batches: list[list[FetchedMessage]]) -> list[FetchedMessage]:
    return [m for b in batches for m in b]


async def test_connect_logs_in_and_selects(dovecot_user: DovecotUser) -> None:
    async with ImapMailbox(dovecot_user.account()) as mb:
        state = mb.last_state
        assert state is not None and state.uidvalidity > 0 and state.exists == 0
        assert await mb.connect() == state  # a second connect re-selects on the same connection


async def test_fetch_new_returns_appended_messages_with_internaldate(dovecot_user: DovecotUser) -> None:
    when = datetime(2026, 11, 20, 8, 30, 5, tzinfo=timezone(timedelta(hours=-7)))
    raws = [message(i) for i in range(3)]
    uids = [dovecot_user.append(raw, date=when + timedelta(minutes=i)) for i, raw in enumerate(raws)]
    async with ImapMailbox(dovecot_user.account()) as mb:
        states, batches = await collect(mb, 0, None)
    got = flat(batches)
    assert [m.uid for m in got] == uids
    assert [m.raw for m in got] == raws  # bytes exactly as stored
    assert [m.internaldate for m in got] == [when + timedelta(minutes=i) for i in range(3)]
    assert all(m.internaldate is not None and m.internaldate.tzinfo is not None for m in got)
    assert states[-1].exists == 3


async def test_cursor_at_last_uid_yields_one_empty_batch_then_only_newer(dovecot_user: DovecotUser) -> None:
    first = dovecot_user.append(message(1))
    async with ImapMailbox(dovecot_user.account()) as mb:
        states, batches = await collect(mb, first, None)
        assert batches == [[]] and states[0].uidnext is None  # polled with NOOP: UIDNEXT unknown
        second = dovecot_user.append(message(2))
        _, batches = await collect(mb, first, states[0].uidvalidity)
        assert [m.uid for m in flat(batches)] == [second]
        _, batches = await collect(mb, second, states[0].uidvalidity)
        assert batches == [[]]


async def test_empty_folder_yields_its_state(dovecot_user: DovecotUser) -> None:
    async with ImapMailbox(dovecot_user.account()) as mb:
        states, batches = await collect(mb, 0, None)
    assert batches == [[]] and states[0].uidvalidity > 0


async def test_fetches_in_batches_of_batch_size(dovecot_user: DovecotUser) -> None:
    uids = dovecot_user.append_many([message(i) for i in range(5)])
    async with ImapMailbox(dovecot_user.account(), batch_size=2) as mb:
        _, batches = await collect(mb, 0, None)
    assert [[m.uid for m in b] for b in batches] == [uids[0:2], uids[2:4], uids[4:5]]


async def test_messages_stay_unseen_and_flags_are_reported(dovecot_user: DovecotUser) -> None:
    unread = dovecot_user.append(message(1))
    read = dovecot_user.append(message(2), flags="\\Seen \\Flagged")
    async with ImapMailbox(dovecot_user.account()) as mb:
        _, batches = await collect(mb, 0, None)
    by_uid = {m.uid: m for m in flat(batches)}
    assert "\\Seen" not in by_uid[unread].flags
    assert {"\\Seen", "\\Flagged"} <= set(by_uid[read].flags)
    flags = dovecot_user.flags()
    assert "\\Seen" not in flags[unread]


async def test_ten_new_in_ten_thousand_fetches_only_ten(dovecot_user: DovecotUser) -> None:
    started = time.monotonic()
    dovecot_user.write_maildir([message(i, subject="filler") for i in range(10_000)])
    async with ImapMailbox(dovecot_user.account()) as mb:
        state = await mb.connect()
        assert state.exists == 10_000
        cursor = (state.uidnext or 1) - 1
        t0 = time.perf_counter()
        _, batches = await collect(mb, cursor, state.uidvalidity)
        nothing_ms = (time.perf_counter() - t0) * 1000
        assert batches == [[]]
        new = dovecot_user.append_many([message(i) for i in range(10)])
        t0 = time.perf_counter()
        _, batches = await collect(mb, cursor, state.uidvalidity)
        ten_ms = (time.perf_counter() - t0) * 1000
    assert [m.uid for m in flat(batches)] == new
    # The server's own account of what it sent this session (logged at logout): 10 bodies, not 10,000.
    log_line = await wait_for_logout_line(dovecot_user)
    assert re.search(r"\bbody_count=10\b", log_line), log_line
    print(f"\npoll cost on 10,000 messages: nothing new {nothing_ms:.1f} ms, 10 new {ten_ms:.1f} ms "
          f"(fill + test {time.monotonic() - started:.1f} s)")


async def wait_for_logout_line(user: DovecotUser) -> str:
    log = user.server.root / "dovecot.log"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for line in reversed(log.read_text(errors="replace").splitlines()):
            if f"imap({user.user})" in line and "Logged out" in line and "body_count=10 " in line + " ":
                return line
        await asyncio.sleep(0.05)
    lines = [ln for ln in log.read_text().splitlines() if f"imap({user.user})" in ln]
    raise AssertionError(f"no logout line for {user.user}: {lines[-5:]}")


async def test_uidvalidity_change_resyncs_from_uid_one(dovecot_user: DovecotUser) -> None:
    dovecot_user.create_folder("Replies")
    dovecot_user.append_many([message(1), message(2)], folder="Replies")
    account = dovecot_user.account("Replies")
    async with ImapMailbox(account) as mb:
        states, batches = await collect(mb, 0, None)
    old_validity, cursor = states[-1].uidvalidity, flat(batches)[-1].uid
    dovecot_user.delete_folder("Replies")
    dovecot_user.create_folder("Replies")
    again = dovecot_user.append_many([message(1), message(2), message(3)], folder="Replies")
    async with ImapMailbox(account) as mb:
        states, batches = await collect(mb, cursor, old_validity)
    assert states[-1].uidvalidity != old_validity
    assert [m.uid for m in flat(batches)] == again  # every message, from UID 1, for the caller to dedupe
    assert again[0] == 1


async def test_folder_deleted_under_an_open_connection(dovecot_user: DovecotUser) -> None:
    """Dovecot keeps serving the old view of a deleted folder: the periodic re-SELECT notices."""
    dovecot_user.create_folder("Replies")
    dovecot_user.append(message(1), folder="Replies")
    async with ImapMailbox(dovecot_user.account("Replies"), reselect_every_s=0) as mb:
        states, batches = await collect(mb, 0, None)
        old_validity = states[-1].uidvalidity
        dovecot_user.delete_folder("Replies")
        dovecot_user.create_folder("Replies")
        uid = dovecot_user.append(message(2), folder="Replies")
        states, batches = await collect(mb, 1, old_validity)
    assert states[-1].uidvalidity != old_validity
    assert [m.uid for m in flat(batches)] == [uid] == [1]


async def test_server_restarted_between_polls(dovecot_user: DovecotUser) -> None:
    server = dovecot_user.server
    first = dovecot_user.append(message(1))
    mb = ImapMailbox(dovecot_user.account(timeout_s=5))
    try:
        states, batches = await collect(mb, 0, None)
        validity, cursor = states[-1].uidvalidity, first
        server.stop()
        t0 = time.monotonic()
        with pytest.raises(ImapError) as lost:  # the old connection is dead
            await collect(mb, cursor, validity)
        with pytest.raises(ImapError) as refused:  # and nobody answers yet
            await collect(mb, cursor, validity)
        assert time.monotonic() - t0 < 5
        assert "connection refused" in str(refused.value)
        assert f"{server.host}:{server.port}" in str(refused.value)
        assert dovecot_user.user in str(lost.value)
        server.start()
        new = dovecot_user.append_many([message(2), message(3)])
        states, batches = await collect(mb, cursor, validity)  # reconnects by itself
        assert [m.uid for m in flat(batches)] == new  # nothing missed, nothing doubled
        assert states[-1].uidvalidity == validity
    finally:
        server.start()
        await mb.close()


async def test_server_stopped_during_a_fetch_fails_fast_then_resumes(dovecot_user: DovecotUser) -> None:
    server = dovecot_user.server
    uids = dovecot_user.append_many([message(i) for i in range(3)])
    mb = ImapMailbox(dovecot_user.account(timeout_s=5), batch_size=1)
    stored: list[int] = []
    validity = None
    try:
        t0 = time.monotonic()
        with pytest.raises(ImapError):
            async for state, batch in mb.fetch_new(0, None):
                validity = state.uidvalidity
                stored.extend(m.uid for m in batch)  # the caller stores and advances per batch
                server.stop()
        assert time.monotonic() - t0 < 15  # stop() itself takes ~1 s; the error comes without a timeout
        assert stored == uids[:1]
        server.start()
        _, batches = await collect(mb, stored[-1], validity)
        stored.extend(m.uid for m in flat(batches))
        assert stored == uids
    finally:
        server.start()
        await mb.close()


async def test_frozen_server_gives_a_bounded_error_not_a_hang(dovecot_user: DovecotUser) -> None:
    server = dovecot_user.server
    uid = dovecot_user.append(message(1))
    mb = ImapMailbox(dovecot_user.account(timeout_s=1))
    try:
        await mb.connect()
        t0 = time.monotonic()
        with server.frozen(), pytest.raises(ImapError) as err:
            await collect(mb, 0, None)
        assert time.monotonic() - t0 < 6  # 1 s command timeout, 4 s for a FETCH, plus slack
        assert "within" in str(err.value) and not mb.connected
        _, batches = await collect(mb, 0, None)  # a fresh connection once the server answers again
        assert [m.uid for m in flat(batches)] == [uid]
    finally:
        await mb.close()


async def test_idle_wakes_up_on_a_new_message(dovecot_user: DovecotUser) -> None:
    async with ImapMailbox(dovecot_user.account()) as mb:
        assert mb._client is not None and mb._client.has_capability("IDLE")
        t0 = time.monotonic()
        waiting = asyncio.create_task(mb.wait_for_news(30))
        await asyncio.to_thread(dovecot_user.append, message(1))
        assert await asyncio.wait_for(waiting, 10) is True
        assert time.monotonic() - t0 < 5
        _, batches = await collect(mb, 0, None)  # the connection is usable after IDLE
        assert len(flat(batches)) == 1


async def test_idle_times_out_quietly_and_stays_usable(dovecot_user: DovecotUser) -> None:
    async with ImapMailbox(dovecot_user.account()) as mb:
        t0 = time.monotonic()
        assert await mb.wait_for_news(0.5) is False
        assert 0.4 < time.monotonic() - t0 < 3
        uid = dovecot_user.append(message(1))
        _, batches = await collect(mb, 0, None)
        assert [m.uid for m in flat(batches)] == [uid]


async def test_idle_raises_when_the_server_goes_away(dovecot_user: DovecotUser) -> None:
    server = dovecot_user.server
    mb = ImapMailbox(dovecot_user.account())
    try:
        await mb.connect()
        waiting = asyncio.create_task(mb.wait_for_news(60))
        await asyncio.to_thread(server.stop)
        t0 = time.monotonic()
        with pytest.raises(ImapError):
            await asyncio.wait_for(waiting, 10)
        assert time.monotonic() - t0 < 5 and not mb.connected
    finally:
        server.start()
        await mb.close()


async def test_without_idle_noop_polling_sees_new_mail(dovecot_user: DovecotUser) -> None:
    async with ImapMailbox(dovecot_user.account(), use_idle=False, noop_every_s=0.1) as mb:
        assert await mb.wait_for_news(0.3) is False
        waiting = asyncio.create_task(mb.wait_for_news(30))
        await asyncio.to_thread(dovecot_user.append, message(1))
        assert await asyncio.wait_for(waiting, 10) is True


async def test_login_refused_names_the_account_not_the_password(dovecot_user: DovecotUser) -> None:
    good = dovecot_user.account()
    bad = ImapAccount(host=good.host, port=good.port, security="none", username=good.username,
                      password="wrong-Pa55word", timeout_s=5)
    with pytest.raises(ImapError) as err:
        await ImapMailbox(bad).connect()
    text = str(err.value)
    assert good.username in text and f"{good.host}:{good.port}" in text and "login refused" in text
    assert "wrong-Pa55word" not in text and "wrong-Pa55word" not in repr(bad)
    assert err.value.hint and "password" in err.value.hint


async def test_nothing_listening_is_a_clear_error() -> None:
    account = ImapAccount(host="127.0.0.1", port=free_port(), security="none", username="u",
                          password="p", timeout_s=5)
    with pytest.raises(ImapError, match="connection refused"):
        await ImapMailbox(account).connect()


async def test_tls_against_a_plain_port_fails_with_a_hint(dovecot_user: DovecotUser) -> None:
    plain = dovecot_user.account(timeout_s=3)
    account = ImapAccount(host=plain.host, port=plain.port, security="tls", username=plain.username,
                          password=plain.password, timeout_s=3)
    t0 = time.monotonic()
    with pytest.raises(ImapError) as err:
        await ImapMailbox(account).connect()
    assert time.monotonic() - t0 < 5
    assert "TLS" in str(err.value) or "greeting" in str(err.value)


async def test_missing_folder_is_named(dovecot_user: DovecotUser) -> None:
    with pytest.raises(ImapError, match="Nope"):
        await ImapMailbox(dovecot_user.account("Nope")).connect()


async def test_append_keeps_a_seen_copy_with_its_date(dovecot_user: DovecotUser) -> None:
    dovecot_user.create_folder("Sent")
    when = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    async with ImapMailbox(dovecot_user.account()) as mb:
        await mb.append(message(7), "Sent", date=when)
        with pytest.raises(ImapError, match="create the folder"):
            await mb.append(message(8), "Missing")
    async with ImapMailbox(dovecot_user.account("Sent")) as mb:
        _, batches = await collect(mb, 0, None)
    [copy] = flat(batches)
    assert copy.raw == message(7) and copy.internaldate == when and "\\Seen" in copy.flags


async def test_folder_names_with_spaces_and_accents(dovecot_user: DovecotUser) -> None:
    name = "Éléments envoyés"
    dovecot_user.create_folder(imap_utf7(name))
    uid = dovecot_user.append(message(1), folder=imap_utf7(name))
    async with ImapMailbox(dovecot_user.account(name)) as mb:
        _, batches = await collect(mb, 0, None)
    assert [m.uid for m in flat(batches)] == [uid]


async def test_close_is_idempotent_and_reconnect_works(dovecot_user: DovecotUser) -> None:
    mb = ImapMailbox(dovecot_user.account())
    await mb.connect()
    await mb.close()
    await mb.close()
    assert not mb.connected
    assert (await mb.connect()).exists == 0
    await mb.close()


def test_fixture_serves_several_independent_users(dovecot: DovecotServer) -> None:
    a, b = dovecot.add_user(), dovecot.add_user()
    dovecot.append(message(1), user=a)
    assert dovecot.flags(user=a).keys() == {1} and dovecot.flags(user=b) == {}


# -- pure parsers ----------------------------------------------------------------------------


def test_parse_fetch_uid_after_literal_and_unsolicited_lines() -> None:
    lines = [
        b"3 FETCH (FLAGS (\\Seen))",  # unsolicited flag change: no literal, skipped
        b"1 FETCH (BODY[] {5}", bytearray(b"hello"),
        b' UID 11 FLAGS (\\Seen) INTERNALDATE " 7-Jul-1996 02:44:25 -0700")',
        b'2 FETCH (UID 12 FLAGS () INTERNALDATE "17-Jul-1996 02:44:25 +0000" BODY[] {3}', bytearray(b"abc"), b")",
        b"Fetch completed.",
    ]
    got = parse_fetch(lines)
    assert [(m.uid, m.raw, m.flags) for m in got] == [(11, b"hello", ("\\Seen",)), (12, b"abc", ())]
    assert got[0].internaldate == datetime(1996, 7, 7, 2, 44, 25, tzinfo=timezone(timedelta(hours=-7)))
    assert isinstance(got[0].raw, bytes)


def test_parse_internaldate_and_search_and_sets() -> None:
    assert parse_internaldate("17-Jul-1996 02:44:25 -0700") == datetime(
        1996, 7, 17, 9, 44, 25, tzinfo=UTC)
    assert parse_internaldate("garbage") is None
    assert parse_internaldate("31-Feb-2020 00:00:00 +0000") is None
    assert parse_search([b"SEARCH 5 9 7", b"Search completed."], 6) == [7, 9]
    assert parse_search([b"5", b"done"], 5) == []  # `UID 6:*` returns the last UID anyway
    assert uid_set([1, 2, 3, 7, 9, 10]) == "1:3,7,9:10"
    assert imap_utf7("Éléments envoyés") == "&AMk-l&AOk-ments envoy&AOk-s"
    assert imap_utf7("A&B") == "A&-B"
    assert mailbox_arg("INBOX") == "INBOX"
    assert mailbox_arg("Sent Items") == '"Sent Items"'
    assert mailbox_arg('a"b') == '"a\\"b"'
    assert parse_select([b"FLAGS ()", b"3 EXISTS", b"OK [UIDVALIDITY 77] ok", b"OK [UIDNEXT 9] ok",
                         b"[READ-WRITE] Select completed."]) == FolderState(77, 9, 3)
    assert parse_select([b"3 EXISTS", b"done"]) is None


def test_account_repr_hides_the_password(tmp_path: Path) -> None:
    account = ImapAccount("h", 993, "tls", "me", "s3cret", ca_file=tmp_path / "ca.pem")
    assert "s3cret" not in repr(account)


async def test_tls_with_the_ca_file(dovecot_user: DovecotUser) -> None:
    uid = dovecot_user.append(message(1))
    async with ImapMailbox(dovecot_user.account(tls=True)) as mb:
        _, batches = await collect(mb, 0, None)
    assert [m.uid for m in flat(batches)] == [uid]


async def test_tls_untrusted_certificate_names_the_fix(dovecot_user: DovecotUser) -> None:
    account = replace(dovecot_user.account(tls=True), ca_file=None)
    with pytest.raises(ImapError) as err:
        await ImapMailbox(account).connect()
    assert "not trusted" in str(err.value) and "ca_file" in (err.value.hint or "")
    insecure = replace(account, tls_verify=False)  # allowed for test servers only
    async with ImapMailbox(insecure) as mb:
        assert mb.connected


async def test_plain_client_on_the_tls_port_times_out_boundedly(dovecot_user: DovecotUser) -> None:
    account = replace(dovecot_user.account(tls=True), security="none", timeout_s=1)
    t0 = time.monotonic()
    with pytest.raises(ImapError, match="greeting"):
        await ImapMailbox(account).connect()
    assert time.monotonic() - t0 < 4


async def test_overlapping_calls_are_refused_and_close_cuts_idle(dovecot_user: DovecotUser) -> None:
    mb = ImapMailbox(dovecot_user.account())
    await mb.connect()
    waiting = asyncio.create_task(mb.wait_for_news(30))
    await asyncio.sleep(0)  # one turn: the task runs up to its first IMAP call (IDLE)
    assert mb._in_call
    with pytest.raises(RuntimeError, match="overlap"):
        await collect(mb, 0, None)
    await mb.close()
    with pytest.raises(ImapError):
        await asyncio.wait_for(waiting, 5)
    assert not mb.connected


async def test_missing_password_is_refused_before_connecting() -> None:
    account = ImapAccount(host="127.0.0.1", port=free_port(), security="none", username="me", password=None)
    with pytest.raises(ImapError, match="no password") as err:
        await ImapMailbox(account).connect()
    assert "password_env" in (err.value.hint or "")


async def test_new_mail_announced_during_another_command_still_wakes_the_wait(
        dovecot_user: DovecotUser) -> None:
    first = dovecot_user.append(message(1))
    async with ImapMailbox(dovecot_user.account()) as mb:
        await collect(mb, 0, None)
        uid = dovecot_user.append(message(2))
        # Dovecot announces the new message at the end of whatever command comes next (here a UID
        # FETCH); aioimaplib drops untagged lines during a FETCH, and the server never repeats them.
        assert mb._client is not None
        await mb._bounded(mb._client.uid("fetch", str(first), "(FLAGS)"), "UID FETCH")
        # (Dovecot's IDLE would still say "* 2 RECENT" here, but not when another client, such as
        # the journalist's own, took the \Recent flag first: only the noted EXISTS is reliable.)
        assert mb._news
        t0 = time.monotonic()
        assert await mb.wait_for_news(10) is True
        assert time.monotonic() - t0 < 1
        _, batches = await collect(mb, first, None)
        assert [m.uid for m in flat(batches)] == [uid]
        assert await mb.wait_for_news(0.3) is False  # consumed by that poll: no endless wake-ups


async def test_idle_reports_mail_that_came_between_poll_and_idle(dovecot_user: DovecotUser) -> None:
    async with ImapMailbox(dovecot_user.account()) as mb:
        await collect(mb, 0, None)
        dovecot_user.append(message(1))  # no command in flight: announced when IDLE starts
        t0 = time.monotonic()
        assert await mb.wait_for_news(10) is True
        assert time.monotonic() - t0 < 2
