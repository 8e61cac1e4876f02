"""Finding our own sent messages over IMAP (for `probe resolve --auto`), against a real Dovecot:
the \\Sent special-use folder is found by its flag whatever its name, Message-IDs are found in the
folder searched and nowhere else, and the mailbox's polling of its own folder is not disturbed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from probe.adapters.imap import ImapMailbox
from probe.adapters.imap_wire import header_search, imap_utf7, imap_utf7_decode, parse_list, searchable_id
from tests.fixtures.dovecot import SENT_SPECIAL_USE, DovecotUser

pytestmark = pytest.mark.dovecot


def sent_copy(i: int, *, date: str = "Mon, 28 Sep 2015 11:00:00 +0200") -> bytes:
    return (f"From: Rédaction <redaction@en-contact.example.com>\r\nTo: d{i}@client.example.com\r\n"
            f"Subject: OUI ou NON ?\r\nMessage-ID: <tok{i}.0@en-contact.example.com>\r\n"
            f"Date: {date}\r\n\r\nBonjour {i}\r\n").encode()


def mid(i: int) -> str:
    return f"<tok{i}.0@en-contact.example.com>"


async def test_the_sent_folder_is_found_by_its_flag_once_it_exists(dovecot_sent_user: DovecotUser) -> None:
    async with ImapMailbox(dovecot_sent_user.account()) as mb:
        assert await mb.special_use_folders("\\Sent") == []   # a new account: nothing flagged yet
    dovecot_sent_user.create_folder(SENT_SPECIAL_USE)
    dovecot_sent_user.create_folder("Sent")                   # a look-alike name without the flag
    async with ImapMailbox(dovecot_sent_user.account()) as mb:
        assert await mb.special_use_folders("\\Sent") == [SENT_SPECIAL_USE]
        names = {f.name for f in await mb.folders()}
        assert {"INBOX", "Sent", SENT_SPECIAL_USE} <= names


async def test_plain_list_is_used_when_the_server_lacks_special_use(dovecot_sent_user: DovecotUser) -> None:
    dovecot_sent_user.create_folder(SENT_SPECIAL_USE)
    async with ImapMailbox(dovecot_sent_user.account()) as mb:
        client = mb._client
        assert client is not None and client.has_capability("SPECIAL-USE")
        client.protocol.capabilities.discard("SPECIAL-USE")   # as a server without RFC 6154's LIST option
        assert await mb.special_use_folders("\\Sent") == [SENT_SPECIAL_USE]


async def test_finds_exactly_the_ids_in_the_folder_across_search_batches(dovecot_sent_user: DovecotUser) -> None:
    dovecot_sent_user.append_many([sent_copy(i) for i in range(30)], SENT_SPECIAL_USE)
    dovecot_sent_user.append(sent_copy(99))          # in INBOX, not in the folder searched
    wanted = [mid(i) for i in range(45)] + [mid(99), "<tök@en-contact.example.com>"]
    async with ImapMailbox(dovecot_sent_user.account()) as mb:
        found = await mb.find_message_ids(SENT_SPECIAL_USE, wanted)
        dated = await mb.find_messages(SENT_SPECIAL_USE, [mid(3)])
    assert found == {mid(i) for i in range(30)}      # 45 ids: three OR-tree searches of 20
    assert dated == {mid(3): datetime(2015, 9, 28, 9, 0, tzinfo=UTC)}


async def test_search_leaves_the_polled_folder_usable_and_unread(dovecot_user: DovecotUser) -> None:
    folder = "Envoyés"       # a configured name with non-ASCII (modified UTF-7 on the wire)
    dovecot_user.append(sent_copy(1), imap_utf7(folder))   # the stdlib test client sends names as they are
    first = dovecot_user.append(sent_copy(2))        # INBOX, the folder the mailbox polls
    async with ImapMailbox(dovecot_user.account()) as mb:
        before = [m.uid async for _, batch in mb.fetch_new(0, None) for m in batch]
        assert await mb.find_message_ids(folder, [mid(1), mid(2)]) == {mid(1)}
        second = dovecot_user.append(sent_copy(3))
        after = [m.uid async for _, batch in mb.fetch_new(first, None) for m in batch]
    assert before == [first] and after == [second]   # polling INBOX goes on where it was
    assert all("\\Seen" not in flags for flags in dovecot_user.flags(imap_utf7(folder)).values())


async def test_a_missing_folder_is_an_error_naming_it(dovecot_user: DovecotUser) -> None:
    from probe.errors import ImapError

    async with ImapMailbox(dovecot_user.account()) as mb:
        with pytest.raises(ImapError, match="Sent Mail") as err:
            await mb.find_message_ids("Sent Mail", [mid(1)])
    assert err.value.hint and "sent_search_folder" in err.value.hint


# -- the pure parts ------------------------------------------------------------------------------

def test_parse_list_reads_atoms_quoted_names_and_literals() -> None:
    lines = [b'(\\HasNoChildren) "." INBOX', b'(\\HasNoChildren \\Sent) "/" "[Gmail]/Sent Mail"',
             b'(\\Noselect) NIL "A \\"quoted\\" \\\\ name"', b'(\\Sent) "." {12}', bytearray(b'Envoy&AOk-s 1'),
             b'(\\Drafts) "." "Brouillons"', b"List completed."]
    folders = parse_list(lines)
    assert [f.name for f in folders] == ["INBOX", "[Gmail]/Sent Mail", 'A "quoted" \\ name', "Envoyés 1",
                                         "Brouillons"]
    assert [f.name for f in folders if "\\sent" in f.attributes] == ["[Gmail]/Sent Mail", "Envoyés 1"]


def test_utf7_names_round_trip() -> None:
    for name in ("Envoyés", "R&D", "Éléments envoyés", "送信済み", "plain"):
        assert imap_utf7_decode(imap_utf7(name)) == name


def test_header_search_is_a_balanced_or_tree_of_quoted_values() -> None:
    assert header_search("Message-ID", ["<a>"]) == 'HEADER Message-ID "<a>"'
    assert header_search("Message-ID", ["<a>", '<b"\\>', "<c>"]) == (
        'OR OR HEADER Message-ID "<a>" HEADER Message-ID "<b\\"\\\\>" HEADER Message-ID "<c>"')
    assert not searchable_id("<é@x>") and not searchable_id("<a\r\n@x>") and searchable_id("<a.1@x>")
