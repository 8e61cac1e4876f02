"""probe.adapters.mailfiles on real files: mbox, maildir, a folder of .eml, one .eml, bad paths."""

from __future__ import annotations

import mailbox
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from probe.adapters.mailfiles import MailFile, iter_mail_files, parse_from_line
from probe.errors import InputError


def message(i: int, body: str = "") -> bytes:
    return (f"From: Person {i} <p{i}@example.org>\nTo: probe@example.org\nSubject: Réponse {i}\n"
            f"Message-ID: <m{i}@example.org>\n\nHello {i}\n{body}").encode()


def test_mbox_keeps_bytes_and_from_line_dates(tmp_path: Path) -> None:
    path = tmp_path / "replies.mbox"
    path.write_bytes(
        b"From alice@example.org Mon Nov 23 10:00:00 2026\n" + message(1, ">From the archive, I quote\n")
        + b"\n"
        + b"From - Tue Nov 24 08:30:05 2026\n" + message(2)  # Thunderbird writes "-" as sender
        + b"\n"
        + b"From 1234@xxx Wed Nov 25 12:00:00 +0100 2026\n" + message(3)  # Gmail export: zone first
    )
    got = list(iter_mail_files(path))
    assert [m.source for m in got] == [f"mbox:{path.resolve()}#{n}" for n in (1, 2, 3)]
    # the escaped line is kept as stored and does not split the message; the separator line is mbox's
    assert got[0].raw == message(1, ">From the archive, I quote\n")
    assert got[2].raw == message(3)
    assert [m.received_at for m in got] == [
        datetime(2026, 11, 23, 10, 0, tzinfo=UTC),
        datetime(2026, 11, 24, 8, 30, 5, tzinfo=UTC),
        datetime(2026, 11, 25, 11, 0, tzinfo=UTC),
    ]


def test_mbox_written_by_the_stdlib_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "export"  # no suffix: recognised by its first line
    box = mailbox.mbox(path)
    box.add(mailbox.mboxMessage(message(1, "From here on the body has a From line\n")))
    box.add(mailbox.mboxMessage(message(2)))
    box.close()
    got = list(iter_mail_files(path))
    assert len(got) == 2
    assert b">From here on" in got[0].raw  # the writer escaped it; we keep it as stored
    assert got[1].raw.startswith(b"From: Person 2")


def test_empty_mbox_file_has_no_messages(tmp_path: Path) -> None:
    path = tmp_path / "empty.mbox"
    path.write_bytes(b"")
    assert list(iter_mail_files(path)) == []


def test_maildir_reads_new_and_cur_in_delivery_order(tmp_path: Path) -> None:
    box = mailbox.Maildir(tmp_path / "Maildir")
    box.close()
    root = tmp_path / "Maildir"
    (root / "cur" / "1700000200.M1P2.host:2,S").write_bytes(message(2))
    (root / "new" / "1700000100.M1P1.host").write_bytes(message(1))
    odd = root / "cur" / "handmade:2,"
    odd.write_bytes(message(3))
    os.utime(odd, (1700000300, 1700000300))
    (root / "cur" / ".hidden").write_bytes(b"not mail")
    got = list(iter_mail_files(root))
    assert [m.raw for m in got] == [message(1), message(2), message(3)]
    assert got[0].source == f"maildir:{root.resolve()}/new/1700000100.M1P1.host"
    assert [m.received_at for m in got] == [datetime.fromtimestamp(t, UTC)
                                           for t in (1700000100, 1700000200, 1700000300)]


def test_folder_of_eml_files_sorted_by_name(tmp_path: Path) -> None:
    (tmp_path / "b.eml").write_bytes(message(2))
    (tmp_path / "a.EML").write_bytes(message(1))
    (tmp_path / "notes.txt").write_text("ignored")
    got = list(iter_mail_files(tmp_path))
    assert [m.source for m in got] == [f"eml:{(tmp_path / n).resolve()}" for n in ("a.EML", "b.eml")]
    assert [m.raw for m in got] == [message(1), message(2)]
    assert all(m.received_at is None for m in got)


def test_single_eml_file(tmp_path: Path) -> None:
    path = tmp_path / "reply.eml"
    path.write_bytes(message(1).replace(b"\n", b"\r\n"))
    assert list(iter_mail_files(path)) == [MailFile(f"eml:{path.resolve()}", path.read_bytes(), None)]


@pytest.mark.parametrize(("name", "content", "says"), [
    ("missing.mbox", None, "no such file"),
    ("empty-folder", "dir", "no .eml files"),
    ("reply.msg", b"\xd0\xcf\x11\xe0 OLE compound file", "not a mail file"),
    ("blank.eml", b"", "empty"),
])
def test_bad_paths_name_the_path_and_the_fix(tmp_path: Path, name: str, content: bytes | str | None,
                                             says: str) -> None:
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(InputError) as err:
        list(iter_mail_files(path))
    assert says in err.value.message
    assert err.value.file is not None and name in err.value.file
    assert err.value.hint and "mbox" in err.value.hint


def test_parse_from_line_variants() -> None:
    assert parse_from_line(b"From a@b Sat Jan  3 01:05:34 1996\n") == datetime(1996, 1, 3, 1, 5, 34, tzinfo=UTC)
    assert parse_from_line(b"From a@b not a date\n") is None
    assert parse_from_line(b"Subject: x\n") is None
