"""A rendered template → the message handed to SMTP.

Every header value is checked for CR/LF before it is used (the stdlib would raise a bare
ValueError; we say which header and why). Reminders thread under the earlier waves with
In-Reply-To / References (LIBRARIES.md §9), so a reply to any wave carries a probe Message-ID.

The bytes are written directly (RFC 5322 headers folded and RFC 2047-encoded by `fold_header`,
bodies quoted-printable by binascii) instead of building one email.message.EmailMessage per send:
that object model cost about 2 ms of CPU a message, more than the SMTP exchange. The result is a
`ComposedMessage`, an EmailMessage that only parses its own bytes if something reads it as one
(the tests do; a send pass only flattens it). Anything the direct writer does not handle — an
address with quotes, comments or non-ASCII in it, a header line it cannot keep under 998
characters — goes through the stdlib's EmailMessage as before."""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Sequence
from datetime import datetime
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import format_datetime
from typing import Any

from probe.adapters.templates import RenderedMessage
from probe.errors import TemplateError

MAX_LINE = 998      # RFC 5322 §2.1.1: the hard limit, CRLF excluded
FOLD_AT = 78        # … and the length to fold at when there is whitespace to fold on
ADDRESS_HEADERS = frozenset({"from", "to", "cc", "reply-to", "sender"})


def _check(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise TemplateError(f"header {name} contains a line break (CR or LF)", field=name,
                            hint="remove the line break from the value (probe never cleans header values)")
    return value


def _check_arguments(date: datetime, message_id: str) -> None:
    if date.tzinfo is None or date.utcoffset() is None:
        raise ValueError("date must be timezone-aware")
    if not (message_id.startswith("<") and message_id.endswith(">") and "@" in message_id):
        raise ValueError(f"message_id must look like <id@domain>, got {message_id!r}")


def _headers(rendered: RenderedMessage, *, from_: str, to: str, message_id: str, date: datetime,
             references: Sequence[str], reply_to: str | None,
             list_unsubscribe: str | None) -> list[tuple[str, str]]:
    """The message's headers in order, each value checked for line breaks."""
    out = [("From", _check("From", from_)), ("To", _check("To", to)),
           ("Subject", _check("Subject", rendered.subject)), ("Date", format_datetime(date)),
           ("Message-ID", _check("Message-ID", message_id))]
    if references:
        refs = [_check("References", r) for r in references]
        out += [("In-Reply-To", refs[-1]), ("References", " ".join(refs))]
    if reply_to and not any(name.lower() == "reply-to" for name, _ in rendered.headers):
        out.append(("Reply-To", _check("Reply-To", reply_to)))   # the template's own Reply-To wins
    out += [(name, _check(name, value)) for name, value in rendered.headers if value]  # empty: left out
    if list_unsubscribe:
        out.append(("List-Unsubscribe", _check("List-Unsubscribe", f"<mailto:{list_unsubscribe}?subject=unsubscribe>")))
    return out


def build_message(rendered: RenderedMessage, *, from_: str, to: str, message_id: str, date: datetime,
                  references: Sequence[str] = (), reply_to: str | None = None,
                  list_unsubscribe: str | None = None) -> EmailMessage:
    """From, To, Subject, Date, Message-ID; In-Reply-To/References for reminders; Reply-To (the
    template's own Reply-To wins over the campaign's); the text part, plus the HTML alternative.

    `references` are the Message-IDs of the earlier waves, oldest first. `list_unsubscribe` is an
    address for an optional `List-Unsubscribe: <mailto:…?subject=unsubscribe>` header.
    `bytes(message)` and `message.as_bytes()` are the CRLF wire form."""
    _check_arguments(date, message_id)
    headers = _headers(rendered, from_=from_, to=to, message_id=message_id, date=date, references=references,
                       reply_to=reply_to, list_unsubscribe=list_unsubscribe)
    try:
        return ComposedMessage(compose_bytes(headers, rendered.text, rendered.html, boundary_seed=message_id))
    except _Unusual:
        return build_email_message(headers, rendered.text, rendered.html)


def build_email_message(headers: Sequence[tuple[str, str]], text: str, html: str | None) -> EmailMessage:
    """The stdlib way (one EmailMessage): the fallback, and the reference the tests compare with."""
    msg = EmailMessage()
    for name, value in headers:
        msg[name] = value
    msg.set_content(text, charset="utf-8", cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


# --- the direct writer ------------------------------------------------------------------------------

class _Unusual(Exception):
    """A value the direct writer leaves to the stdlib."""


# RFC 2047 §5(3): the only characters an encoded-word may carry unencoded in a phrase (display
# name); used for unstructured headers too, where it is also valid.
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_Q_BYTE = [chr(b) if b in _Q_SAFE else "_" if b == 0x20 else f"={b:02X}" for b in range(256)]
# Encoded-words of at most 60 characters (RFC 2047 allows 75), so that one still fits a 78-column
# line after a header name such as "List-Unsubscribe: ".
_WORD_MAX = 60 - len("=?utf-8?q?") - len("?=")     # encoded text per encoded-word
_B64_BYTES = 33                                     # → 44 characters of base64 per encoded-word
# A word sent as it is in an unstructured header: printable ASCII, and nothing a decoder would
# take for an encoded-word.
_PLAIN_WORD = re.compile(r"[!-~]*")
_ATOM_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_ADDR = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?"
_MAILBOX = re.compile(rf"""[ \t]*(?:(?P<name>[^<>"()\\,;:@\[\]]*?)[ \t]*<(?P<angle>{_ADDR})>"""
                      rf"""|"(?P<qname>(?:[^"\\\r\n]|\\[^\r\n])*)"[ \t]*<(?P<qangle>{_ADDR})>"""
                      rf"""|(?P<bare>{_ADDR}))[ \t]*""")
_MSG_IDS = re.compile(r"<[!-;=?-~]+>(?: <[!-;=?-~]+>)*")   # visible ASCII but < and >


def _is_plain(word: str) -> bool:
    return _PLAIN_WORD.fullmatch(word) is not None and "=?" not in word


def encoded_words(text: str) -> list[str]:
    """RFC 2047 encoded-words (UTF-8; Q, or B when shorter) for `text`, each at most 60 characters
    and none splitting a character; a decoder joins adjacent ones without the space between."""
    data = text.encode("utf-8")
    q_len = sum(len(_Q_BYTE[b]) for b in data)
    if q_len > 4 * ((len(data) + 2) // 3):
        return _b_words(text)
    words: list[str] = []
    current: list[str] = []
    size = 0
    for char in text:
        piece = "".join(_Q_BYTE[b] for b in char.encode("utf-8"))
        if size + len(piece) > _WORD_MAX and current:
            words.append(f"=?utf-8?q?{''.join(current)}?=")
            current, size = [], 0
        current.append(piece)
        size += len(piece)
    if current or not words:
        words.append(f"=?utf-8?q?{''.join(current)}?=")
    return words


def _b_words(text: str) -> list[str]:
    words: list[str] = []
    chunk = b""
    for char in text:
        raw = char.encode("utf-8")
        if len(chunk) + len(raw) > _B64_BYTES and chunk:
            words.append(f"=?utf-8?b?{binascii.b2a_base64(chunk, newline=False).decode('ascii')}?=")
            chunk = b""
        chunk += raw
    words.append(f"=?utf-8?b?{binascii.b2a_base64(chunk, newline=False).decode('ascii')}?=")
    return words


def _unstructured_tokens(value: str) -> list[str]:
    """Words separated by single spaces (a run of spaces keeps its empty words, so unfolding gives
    the value back exactly); the stretch from the first to the last word that is not plain ASCII is
    one run of encoded-words."""
    words = value.split(" ")
    unusual = [i for i, w in enumerate(words) if not _is_plain(w)]
    if not unusual:
        return words
    first, last = unusual[0], unusual[-1]
    return words[:first] + encoded_words(" ".join(words[first:last + 1])) + words[last + 1:]


def _phrase_tokens(name: str) -> list[str]:
    """A display name: atoms as they are, other ASCII quoted, anything else encoded-words."""
    if _ATOM_PHRASE.fullmatch(name):
        return name.split(" ")
    if name.isascii() and name.isprintable():
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return [f'"{quoted}"']
    return encoded_words(name)


def _address_tokens(value: str) -> list[str]:
    # With a quoted display name, one mailbox (a comma may sit inside the quotes).
    pieces = [value] if '"' in value else value.split(",")
    tokens: list[str] = []
    for i, piece in enumerate(pieces):
        m = _MAILBOX.fullmatch(piece)
        if m is None:
            raise _Unusual(value)
        if m["bare"]:
            mailbox = [m["bare"]]
        elif m["angle"]:
            name = " ".join(m["name"].split())   # as the stdlib (and mail clients) read it
            mailbox = [*(_phrase_tokens(name) if name else []), f"<{m['angle']}>"]
        else:
            name = re.sub(r"\\(.)", r"\1", m["qname"])
            mailbox = [*(_phrase_tokens(name) if name else []), f"<{m['qangle']}>"]
        if i < len(pieces) - 1:
            mailbox[-1] += ","
        tokens += mailbox
    return tokens


def fold_header(name: str, value: str) -> bytes:
    """One header field as CRLF-terminated ASCII bytes: addresses with their display names encoded,
    Message-IDs as they are, anything else unstructured (non-ASCII as UTF-8 encoded-words); folded
    before a space when a line would pass 78 characters. _Unusual when a line cannot be kept
    within 998 characters or the value is not one the writer knows how to write."""
    lower = name.lower()
    if lower in ADDRESS_HEADERS:
        tokens = _address_tokens(value)
    elif lower in ("message-id", "in-reply-to", "references"):
        if not _MSG_IDS.fullmatch(value):
            raise _Unusual(value)
        tokens = value.split(" ")
    elif lower == "date":
        tokens = value.split(" ")
    else:
        tokens = _unstructured_tokens(value)
    lines: list[str] = []
    line = f"{name}:"
    started = False     # a line holds at least one token before it may be folded
    for token in tokens:
        if token and started and len(line) + 1 + len(token) > FOLD_AT:
            lines.append(line)
            line = " " + token
        else:
            line += " " + token
        started = True
    lines.append(line)
    if any(len(x) > MAX_LINE for x in lines):
        raise _Unusual(value)
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _qp_part(content_type: str, text: str) -> bytes:
    """One text part, quoted-printable (lines of at most 76 characters), CRLF line ends. Line
    breaks are normalised the way EmailMessage.set_content does (bytes.splitlines, so CR, LF and CRLF
    all end a line) and the body always ends with one."""
    lines = text.encode("utf-8").splitlines()
    body = binascii.b2a_qp(b"\n".join(lines) + b"\n", istext=True).replace(b"\n", b"\r\n")
    return (f'Content-Type: {content_type}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n").encode("ascii") + body


def compose_bytes(headers: Sequence[tuple[str, str]], text: str, html: str | None, *,
                  boundary_seed: str = "") -> bytes:
    """The wire form (CRLF) of a text/plain message, or multipart/alternative when there is HTML.
    The boundary starts with "=_", which quoted-printable output can never contain."""
    head = b"".join(fold_header(name, value) for name, value in headers) + b"MIME-Version: 1.0\r\n"
    if html is None:
        return head + _qp_part("text/plain", text)
    boundary = "=_" + hashlib.blake2s(boundary_seed.encode(), digest_size=12).hexdigest()
    # The CRLF before a delimiter belongs to the delimiter (RFC 2046 §5.1.1), not to the part, so
    # each part's own final line end is followed by one more.
    return (head + f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode("ascii")
            + f"--{boundary}\r\n".encode("ascii") + _qp_part("text/plain", text)
            + f"\r\n--{boundary}\r\n".encode("ascii") + _qp_part("text/html", html)
            + f"\r\n--{boundary}--\r\n".encode("ascii"))


_PARSER = BytesParser(policy=email_policy.default)


class ComposedMessage(EmailMessage):
    """The composed bytes, usable as an EmailMessage. Nothing is parsed until a method of
    EmailMessage needs the object model (first attribute that is missing: Message.__init__ is
    deliberately not run); from then on it is an ordinary parsed message and flattens through the
    generator like one. Until then `as_bytes()` and `bytes()` return the composed bytes themselves."""

    def __init__(self, raw: bytes) -> None:   # see the class docstring
        self.__dict__["_composed"] = raw

    @property
    def composed(self) -> bytes:
        return self.__dict__["_composed"]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or "_parsed" in self.__dict__:
            raise AttributeError(name)
        # The parser's own line ends are "\n" (policy.default), so parse that form: get_content()
        # then gives "\n" line ends, as an EmailMessage built in memory does.
        parsed = _PARSER.parsebytes(self.composed.replace(b"\r\n", b"\n"))
        self.__dict__.update(parsed.__dict__)
        self.__dict__["_parsed"] = True
        return object.__getattribute__(self, name)

    def as_bytes(self, unixfrom: bool = False, policy: Any = None) -> bytes:
        if "_parsed" in self.__dict__ or unixfrom:
            return super().as_bytes(unixfrom, policy)
        return self.composed

    def __bytes__(self) -> bytes:
        return self.as_bytes()
