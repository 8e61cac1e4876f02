"""Messages from files, for `probe import`: an mbox file, a maildir, a folder of .eml files, one .eml.

Bytes are handed over exactly as stored (an mbox's ">From " escapes included: unescaping would
change the content hash the store dedupes on). The delivery time is taken from where the format
keeps it: the From_ line of an mbox, the file name (else mtime) in a maildir; an .eml file has
none (the caller falls back on the Date header).
"""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from probe.errors import InputError

KINDS_HINT = ("give an mbox file, a maildir (a folder with cur/ and new/), a folder of .eml files "
              "or one .eml file")
_HEADER_LINE = re.compile(rb"^[!-9;-~]+:")  # a header field name, then a colon (RFC 5322)


@dataclass(frozen=True)
class MailFile:
    source: str  # "mbox:/p#12" (1-based), "maildir:/p/cur/name" or "eml:/p/x.eml"
    raw: bytes
    received_at: datetime | None  # aware, UTC


def iter_mail_files(path: Path) -> Iterator[MailFile]:
    """Every message under path, in file order (mbox), delivery order (maildir) or name order."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InputError("no such file or folder", file=str(path), hint=KINDS_HINT)
    try:
        if path.is_dir():
            if (path / "cur").is_dir() and (path / "new").is_dir():
                yield from _maildir(path.resolve())
            else:
                yield from _eml_folder(path.resolve())
        elif path.is_file():
            yield from _single_file(path.resolve())
        else:
            raise InputError("not a regular file or folder", file=str(path), hint=KINDS_HINT)
    except PermissionError as exc:
        raise InputError(f"cannot read: {exc.strerror}", file=exc.filename or str(path),
                         hint="check the file permissions") from exc


def _single_file(path: Path) -> Iterator[MailFile]:
    with path.open("rb") as f:
        head = f.read(1024)
    if head.startswith(b"From "):
        yield from _mbox(path)
    elif not head:
        if path.suffix.lower() != ".mbox":
            raise InputError("the file is empty", file=str(path), hint=KINDS_HINT)
    elif path.suffix.lower() == ".eml" or _HEADER_LINE.match(head):
        yield MailFile(f"eml:{path}", path.read_bytes(), None)
    else:
        raise InputError(
            "not a mail file: an mbox starts with a \"From \" line and an .eml file with headers",
            file=str(path), hint=KINDS_HINT + " (Outlook .msg files must first be saved as .eml)")


def _mbox(path: Path) -> Iterator[MailFile]:
    box = mailbox.mbox(path, factory=None, create=False)
    try:
        for number, key in enumerate(box.iterkeys(), start=1):
            with box.get_file(key, from_=True) as f:
                from_line = f.readline()
                raw = f.read()
            yield MailFile(f"mbox:{path}#{number}", raw, parse_from_line(from_line))
    finally:
        box.close()


def _maildir(path: Path) -> Iterator[MailFile]:
    entries: list[tuple[float, str, Path]] = []
    for sub in ("new", "cur"):
        for file in (path / sub).iterdir():
            if file.name.startswith(".") or not file.is_file():
                continue
            when = _maildir_time(file)
            entries.append((when, f"{sub}/{file.name}", file))
    for when, rel, file in sorted(entries):
        yield MailFile(f"maildir:{path}/{rel}", file.read_bytes(), datetime.fromtimestamp(when, UTC))


def _maildir_time(file: Path) -> float:
    """Delivery time: maildir names start with the delivery's Unix time ("1700000000.M12P3.host")."""
    m = re.match(r"(\d{9,11})\.", file.name)
    if m:
        return float(m.group(1))
    return file.stat().st_mtime


def _eml_folder(path: Path) -> Iterator[MailFile]:
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".eml")
    if not files:
        raise InputError("no .eml files in this folder, and it is not a maildir (no cur/ and new/)",
                         file=str(path), hint=KINDS_HINT)
    for file in files:
        yield MailFile(f"eml:{file}", file.read_bytes(), None)


_FROM_DATES = ("%a %b %d %H:%M:%S %Y", "%a %b %d %H:%M:%S %z %Y", "%a %b %d %H:%M:%S %Y %z",
               "%a %b %d %H:%M %Y")


def parse_from_line(line: bytes) -> datetime | None:
    """The date of an mbox From_ line ("From sender Mon Nov 23 10:00:00 2026"); UTC when no zone.

    Writers differ: Thunderbird puts "-" as sender, Gmail's export adds "+0000" before the year.
    """
    text = line.decode("latin-1").strip()
    parts = text.split()
    if len(parts) < 3 or parts[0] != "From":
        return None
    rest = " ".join(parts[2:])
    for fmt in _FROM_DATES:
        try:
            when = datetime.strptime(rest, fmt)
        except ValueError:
            continue
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    return None
