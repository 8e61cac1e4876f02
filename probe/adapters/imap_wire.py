"""IMAP wire details, pure and tested on their own: argument quoting, UID sets, and the parsing
of SELECT, SEARCH and FETCH responses as aioimaplib hands them over (lines of bytes, with each
literal as a bytearray, "* " and the command name stripped from untagged lines)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any


@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    raw: bytes
    internaldate: datetime | None
    flags: tuple[str, ...]


@dataclass(frozen=True)
class FolderState:
    uidvalidity: int
    uidnext: int | None
    exists: int


EXISTS_LINE = re.compile(rb"^\* \d+ EXISTS\b")
_ATOM = re.compile(r"^[A-Za-z0-9_.\-/&+]+$")


def mailbox_arg(name: str) -> str:
    """A folder name as an IMAP argument: modified UTF-7 for non-ASCII, quoted when needed.

    aioimaplib sends names as they are, so "Sent Items" must be quoted and "Envoyés" encoded.
    """
    encoded = imap_utf7(name)
    if _ATOM.match(encoded):
        return encoded
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_utf7(name: str) -> str:
    """RFC 3501 §5.1.3 modified UTF-7 ("&" escaped as "&-", non-ASCII as &base64-with-comma-)."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(data).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    return "".join(out)


def uid_set(uids: Iterable[int]) -> str:
    """Compact UID set: 1,2,3,7 → "1:3,7"."""
    ranges: list[str] = []
    ordered = sorted(set(uids))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        ranges.append(str(ordered[i]) if i == j else f"{ordered[i]}:{ordered[j]}")
        i = j + 1
    return ",".join(ranges)


def parse_select(lines: list[Any]) -> FolderState | None:
    uidvalidity = uidnext = None
    exists = 0
    for line in lines:
        if not isinstance(line, bytes):
            continue
        if m := re.search(rb"\[UIDVALIDITY (\d+)\]", line):
            uidvalidity = int(m.group(1))
        elif m := re.search(rb"\[UIDNEXT (\d+)\]", line):
            uidnext = int(m.group(1))
        elif m := re.match(rb"(\d+) EXISTS\b", line):
            exists = int(m.group(1))
    if uidvalidity is None:
        return None
    return FolderState(uidvalidity=uidvalidity, uidnext=uidnext, exists=exists)


def parse_search(lines: list[Any], after_uid: int) -> list[int]:
    """UIDs above after_uid; `UID n:*` always returns the highest UID, even below n (RFC 3501)."""
    uids: set[int] = set()
    for line in lines[:-1]:  # aioimaplib strips "* SEARCH"; the last line is the tagged completion
        if not isinstance(line, bytes):
            continue
        tokens = line.split()
        if tokens[:1] == [b"SEARCH"]:
            tokens = tokens[1:]
        if all(tok.isdigit() for tok in tokens):  # anything else is not a SEARCH result line
            uids.update(int(tok) for tok in tokens)
    return sorted(u for u in uids if u > after_uid)


_FETCH_START = re.compile(rb"^(\d+) FETCH \(")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_LITERAL_END = re.compile(rb"\{(\d+)\}$")
_UID = re.compile(rb"\bUID (\d+)")
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
_INTERNALDATE = re.compile(rb'\bINTERNALDATE "([^"]+)"')
_MONTHS = {m: i for i, m in enumerate(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1)}


def parse_sizes(lines: list[Any]) -> dict[int, int]:
    """UID → RFC822.SIZE from a `UID FETCH (UID RFC822.SIZE)` response (one line a message)."""
    sizes: dict[int, int] = {}
    for line in lines:
        if isinstance(line, bytes) and _FETCH_START.match(line):
            uid, size = _UID.search(line), _SIZE.search(line)
            if uid is not None and size is not None:
                sizes[int(uid.group(1))] = int(size.group(1))
    return sizes


def parse_fetch(lines: list[Any]) -> list[FetchedMessage]:
    """Messages from a UID FETCH response as aioimaplib returns it.

    Each message is `b'7 FETCH (UID 101 ... BODY[] {4521}'`, `bytearray(literal)`, `b')'`; servers
    may put UID, FLAGS and INTERNALDATE before or after the literal, and may mix in unsolicited
    FETCH lines without a literal (flag changes), which are skipped. aioimaplib does not group lines
    per message (#72), so we walk them.
    """
    messages: list[FetchedMessage] = []
    text: bytes | None = None
    body: bytes | None = None
    after_literal = False

    def finish() -> None:
        if text is not None and body is not None:
            msg = _message(text, body)
            if msg is not None:
                messages.append(msg)

    for item in lines:
        if isinstance(item, bytearray):
            if text is not None and body is None:
                body = bytes(item)
                after_literal = True
            continue
        if not isinstance(item, bytes):
            continue
        if after_literal and not _FETCH_START.match(item):
            assert text is not None
            text += b" " + item  # the part of the FETCH after the literal
            after_literal = False
            continue
        after_literal = False
        if _FETCH_START.match(item):
            finish()
            text, body = _LITERAL_END.sub(b"", item), None
        else:
            finish()
            text, body = None, None
    finish()
    return messages


def _message(text: bytes, body: bytes) -> FetchedMessage | None:
    uid = _UID.search(text)
    if uid is None:
        return None
    flags = _FLAGS.search(text)
    date = _INTERNALDATE.search(text)
    return FetchedMessage(uid=int(uid.group(1)), raw=body,
                          internaldate=parse_internaldate(date.group(1).decode()) if date else None,
                          flags=tuple(flags.group(1).decode().split()) if flags else ())


def parse_internaldate(value: str) -> datetime | None:
    """ "17-Jul-1996 02:44:25 -0700" (day may be space-padded) → aware datetime, None if malformed."""
    m = re.fullmatch(r"\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\s*", value)
    if m is None:
        return None
    day, mon, year, hh, mm, ss, sign, oh, om = m.groups()
    month = _MONTHS.get(mon.capitalize())
    if month is None:
        return None
    offset = timedelta(hours=int(oh), minutes=int(om)) * (-1 if sign == "-" else 1)
    try:
        return datetime(int(year), month, int(day), int(hh), int(mm), int(ss), tzinfo=timezone(offset))
    except ValueError:
        return None


def has_news(lines: Iterable[Any]) -> bool:
    return any(isinstance(line, bytes) and re.match(rb"(\d+ EXISTS|[1-9]\d* RECENT)\b", line)
               for line in lines)


# -- finding our own sent messages (probe resolve --auto) -----------------------------------------

@dataclass(frozen=True)
class ListedFolder:
    name: str                      # decoded, as the user sees it ("Envoyés")
    wire: str                      # as the server spells it (modified UTF-7), to give back as is
    attributes: frozenset[str]     # lower-cased: {"\\hasnochildren", "\\sent"}


_LIST_LINE = re.compile(rb'^\(([^)]*)\)\s+(NIL|"(?:[^"\\]|\\.)*")\s+(.*)$', re.IGNORECASE)
_QUOTED = re.compile(rb'^"((?:[^"\\]|\\.)*)"$')


def parse_list(lines: list[Any]) -> list[ListedFolder]:
    """Folders from a LIST response as aioimaplib returns it: `(\\HasNoChildren \\Sent) "." "Sent"`,
    the name an atom, a quoted string or a literal (then the next item is its bytearray)."""
    folders: list[ListedFolder] = []
    items = list(lines)
    for i, line in enumerate(items):
        if not isinstance(line, bytes):
            continue
        m = _LIST_LINE.match(line.strip())
        if m is None:
            continue
        attributes = frozenset(a.decode("ascii", "replace").lower() for a in m.group(1).split())
        raw_name = m.group(3).strip()
        literal = _LITERAL_END.search(raw_name)
        if literal is not None:
            nxt = items[i + 1] if i + 1 < len(items) else None
            if not isinstance(nxt, bytearray):
                continue
            wire = bytes(nxt).decode("utf-8", "replace")
        elif q := _QUOTED.match(raw_name):
            wire = re.sub(rb"\\(.)", rb"\1", q.group(1)).decode("utf-8", "replace")
        else:
            wire = raw_name.decode("utf-8", "replace")
        if wire:
            folders.append(ListedFolder(name=imap_utf7_decode(wire), wire=wire, attributes=attributes))
    return folders


def imap_utf7_decode(wire: str) -> str:
    """The inverse of imap_utf7; a malformed shift sequence is kept as it is."""
    def decode(m: re.Match[str]) -> str:
        body = m.group(1)
        if body == "":
            return "&"
        data = body.replace(",", "/")
        try:
            return base64.b64decode(data + "=" * (-len(data) % 4)).decode("utf-16-be")
        except (ValueError, UnicodeDecodeError):
            return m.group(0)
    return re.sub(r"&([A-Za-z0-9+,]*)-", decode, wire)


def searchable_id(message_id: str) -> bool:
    """A Message-ID that fits a quoted string (7-bit, no CR/LF/NUL); others cannot be searched for."""
    return bool(message_id) and all(0x20 <= ord(c) <= 0x7E for c in message_id)


def header_search(field: str, values: list[str]) -> str:
    """SEARCH criteria matching any of `values` in header `field`: OR trees, `HEADER f "v"` leaves.

    RFC 3501 HEADER is a substring match; the caller checks the fetched header for an exact match.
    """
    if not values:
        raise ValueError("header_search needs at least one value")
    leaves = [f'HEADER {field} "' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values]
    while len(leaves) > 1:   # pairwise, so the nesting stays log2(n) deep
        paired = [f"OR {leaves[i]} {leaves[i + 1]}" for i in range(0, len(leaves) - 1, 2)]
        if len(leaves) % 2:
            paired.append(leaves[-1])
        leaves = paired
    return leaves[0]

