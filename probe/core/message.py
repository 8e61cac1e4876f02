"""Raw bytes → ParsedMessage: the facts the classifier and the matcher read, taken under caps.

The stdlib parser is not used on the hot path: `policy.default` is ~10x slower than `compat32` and
takes tens of seconds on hostile headers, and even `compat32`'s FeedParser (line by line, in
Python) costs more than everything else together. mime.py splits the message with bytes.find under
caps on parts and depth; here the header block and the body are cut to fixed sizes first, headers
are decoded under our own caps, and each text part is decoded up to a byte budget. A compat32 tree
is built only on demand (`ParsedMessage.tree`, for flufl.bounce). `parse_message` never raises:
whatever fails is recorded in `parse_error`.
"""

from __future__ import annotations

import codecs
import email
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.header import decode_header
from email.message import Message
from email.utils import parsedate_to_datetime
from functools import cached_property

from probe.core import mime
from probe.core.authenticity import Authenticity, parse_authentication_results
from probe.core.mime import Part

MAX_HEADER_BYTES = 256 * 1024        # the whole header block, before parsing
MAX_HEADER_LINE = 64 * 1024          # one physical header line, when the block is over its cap
MAX_RAW_BODY_BYTES = 4 * 1024 * 1024  # the body handed to the parser; the rest is cut
MAX_PARTS = mime.MAX_PARTS           # MIME parts looked at (200)
MAX_DEPTH = mime.MAX_DEPTH           # multipart / message nesting looked into (20)
MAX_TEXT_CHARS = 2 * 1024 * 1024     # decoded text kept, all parts together
MAX_HEADER_VALUE = 8 * 1024          # one header value, before decoding encoded-words
MAX_SUBJECT = 2 * 1024               # subject before decoding: bounds the encoded-words decoded
MAX_HTML_FOR_TEXT = 512 * 1024      # HTML converted to text when a message has no plain part
TEXT_SCAN_CHARS = 6 * 1024           # body text the classifier's patterns look at
OTHER_SCAN_CHARS = 2 * 1024          # of the other parts (returned message, attachments)
MAX_IDS = 100                        # References entries, returned Message-IDs

_MSGID = re.compile(r"<[^<>\s]{1,500}>")
_BODY_MSGID = re.compile(r"^[ \t>]*Message-ID:[ \t]*(<[^<>\s]{1,500}>)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class DsnRecipient:
    """One per-recipient block of a delivery-status report (RFC 3464)."""

    final_recipient: str = ""
    original_recipient: str = ""
    action: str = ""        # lowercased: failed, delayed, delivered, relayed, expanded
    status: str = ""        # e.g. "5.1.1"
    diagnostic: str = ""


@dataclass(frozen=True)
class ParsedMessage:
    """What a message says, read once under caps. Header-derived strings are decoded to str."""

    message_id: str = ""
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    from_addr: str = ""
    from_name: str = ""
    to_addrs: tuple[str, ...] = ()
    subject: str = ""
    date: datetime | None = None
    text: str = ""
    html: str | None = None
    parse_error: str | None = None
    #: every top-level header, lowercased name → first value (unfolded, capped, not decoded)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/plain"
    report_type: str = ""
    #: content types of the parts walked, in order ("message/delivery-status", ...)
    part_types: tuple[str, ...] = ()
    dsn: tuple[DsnRecipient, ...] = ()
    dsn_fields: dict[str, str] = field(default_factory=dict)   # per-message DSN block
    mdn_fields: dict[str, str] = field(default_factory=dict)   # disposition-notification block
    #: Message-IDs of a message returned inside (message/rfc822, text/rfc822-headers, body lines)
    returned_message_ids: tuple[str, ...] = ()
    #: decoded text of the parts other than the main one (returned messages, attachments), capped
    other_text: str = ""
    limits_hit: tuple[str, ...] = ()
    #: every Authentication-Results header, topmost (the receiving server's) first
    authentication_results: tuple[str, ...] = ()
    raw_size: int = 0
    #: the capped bytes that were parsed (for `tree`)
    raw: bytes = field(default=b"", compare=False, repr=False)
    #: what the classifier's pure checks found, kept so a check asked twice runs once (bounces.py)
    memo: dict[str, object] = field(default_factory=dict, compare=False, repr=False)

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    # Lowercased once: the classifier's patterns are case-sensitive on purpose (~5x faster than
    # re.IGNORECASE over many alternatives).
    @cached_property
    def tree(self) -> Message | None:
        """A compat32 tree of the capped message, built on demand (flufl.bounce needs one)."""
        if not self.raw:
            return None
        try:
            return email.message_from_bytes(self.raw)
        except Exception:
            return None

    @cached_property
    def authenticity(self) -> Authenticity:
        """SPF / DKIM / DMARC as the receiving server reported them (probe.core.authenticity)."""
        return parse_authentication_results(list(self.authentication_results), self.from_addr)

    @cached_property
    def subject_lc(self) -> str:
        return self.subject[:4096].lower()

    @cached_property
    def text_lc(self) -> str:
        return self.text[:TEXT_SCAN_CHARS].lower()

    @cached_property
    def other_lc(self) -> str:
        return self.other_text[:OTHER_SCAN_CHARS].lower()

    @cached_property
    def from_name_lc(self) -> str:
        return self.from_name[:500].lower()


def parse_message(raw: bytes) -> ParsedMessage:
    """Parse `raw` under caps. Never raises: on failure the result carries `parse_error`."""
    try:
        return _parse(raw)
    except Exception as exc:
        return ParsedMessage(parse_error=f"{type(exc).__name__}: {exc}"[:300], raw_size=len(raw))


def _cap_raw(raw: bytes, limits: list[str]) -> bytes:
    span = mime.header_end(raw)
    head, sep, body = (raw[: span[0]], raw[span[0]:span[1]], raw[span[1]:]) if span else (raw, b"", b"")
    if len(head) > MAX_HEADER_BYTES:
        head = _cap_head(head, limits)
    if len(body) > MAX_RAW_BODY_BYTES:
        limits.append("body-bytes")
        body = body[:MAX_RAW_BODY_BYTES]
    return head + sep + body


def _cap_head(head: bytes, limits: list[str]) -> bytes:
    """Keep every header line, each cut to MAX_HEADER_LINE, until MAX_HEADER_BYTES are kept, so one
    monstrous header does not take the From and Subject with it."""
    limits.append("header-bytes")
    kept: list[bytes] = []
    total = 0
    for line in head.split(b"\n"):
        if len(line) > MAX_HEADER_LINE:
            line = line[:MAX_HEADER_LINE]
        if total + len(line) > MAX_HEADER_BYTES:
            break
        kept.append(line)
        total += len(line) + 1
    return b"\n".join(kept)


def _parse(raw: bytes) -> ParsedMessage:
    if not isinstance(raw, bytes | bytearray | memoryview):
        return ParsedMessage(parse_error="not bytes")
    raw = bytes(raw)
    limits: list[str] = []
    capped = _cap_raw(raw, limits)
    if b"\x00" in capped:
        capped = capped.replace(b"\x00", b"")
    if b"\n" not in capped[:8192] and b"\r" in capped[:8192]:
        capped = capped.replace(b"\r", b"\n")  # old Mac line ends: CR alone
    top = mime.Splitter(limits).message(capped)
    headers = {name: value[:MAX_HEADER_VALUE] for name, value in reversed(top.all_headers)}
    walk = _Walk(limits)
    walk.visit(top, returned=False)
    subject = decode_words(headers.get("subject", "")[:MAX_SUBJECT])
    from_name, from_addr = _from(headers.get("from", ""))
    to_addrs = _addresses(top, ("to", "cc", "delivered-to", "x-original-to"))
    main_text = walk.main_text
    html = walk.main_html
    if not main_text.strip() and html:
        main_text = _html_text(html)
    report_type = top.params.get("report-type", "").lower() if top.ctype == "multipart/report" else ""
    if not walk.dsn and report_type == "delivery-status":
        # A report whose parts were lost (broken boundary): its fields are in the text.
        try:
            walk.dsn_from_text(main_text + "\n" + walk.other_text)
        except Exception as exc:
            walk.error = walk.error or f"dsn text: {type(exc).__name__}"
    returned = list(walk.returned_ids)
    if not returned:
        for body in (main_text, walk.other_text):
            returned.extend(m.group(1) for m in _BODY_MSGID.finditer(body[:200_000]))
    msg_id = _first_id(headers.get("message-id", ""))
    returned = [i for i in dict.fromkeys(returned) if i != msg_id][:MAX_IDS]
    return ParsedMessage(
        message_id=msg_id,
        in_reply_to=_first_id(headers.get("in-reply-to", "")),
        references=tuple(_MSGID.findall(headers.get("references", ""))[:MAX_IDS]),
        from_addr=from_addr,
        from_name=from_name,
        to_addrs=to_addrs,
        subject=subject,
        date=_date(headers.get("date", "")),
        text=main_text,
        html=html,
        parse_error=walk.error,
        headers=headers,
        content_type=top.ctype,
        report_type=report_type,
        part_types=tuple(walk.types),
        dsn=tuple(walk.dsn),
        dsn_fields=walk.dsn_fields,
        mdn_fields=walk.mdn_fields,
        returned_message_ids=tuple(returned),
        other_text=walk.other_text,
        limits_hit=tuple(dict.fromkeys(limits)),
        authentication_results=tuple(v[:MAX_HEADER_VALUE] for v in top.get_all("authentication-results")[:10]),
        raw_size=len(raw),
        raw=capped,
    )


# --- headers ---------------------------------------------------------------------------------------

def decode_words(value: str) -> str:
    """Decode RFC 2047 encoded-words, tolerating unknown charsets and broken words."""
    if "=?" not in value:
        return value
    try:
        chunks = decode_header(value)
    except Exception:
        return value
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            out.append(chunk)
        else:
            out.append(_decode_bytes(chunk, charset))
    return "".join(out)


def _decode_bytes(data: bytes, charset: str | None) -> str:
    name = (charset or "ascii").strip().strip('"').lower()
    if name in ("unknown-8bit", "x-unknown", "ascii", "us-ascii", "") and _is_utf8(data):
        name = "utf-8"
    try:
        codecs.lookup(name)
    except LookupError:
        name = "utf-8" if _is_utf8(data) else "latin-1"
    try:
        return data.decode(name, "replace")
    except Exception:
        return data.decode("latin-1")


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _from(value: str) -> tuple[str, str]:
    value = decode_words(value[:MAX_SUBJECT]).strip()
    name, addr = "", ""
    if "<" in value:
        before, _, inside = value.rpartition("<")
        addr = inside.split(">", 1)[0].strip()
        name = before.strip()
    else:
        m = _ADDR_SPEC.search(value)
        addr = m.group(0) if m else (value if value.lower() in ("mailer-daemon", "postmaster") else "")
        comment = _COMMENT.search(value)
        name = comment.group(1).strip() if comment else ""
    name = name.strip().strip('"').strip()
    addr = addr.strip().lower()
    if "@" not in addr and addr not in ("mailer-daemon", "postmaster"):
        addr = ""
    return name, addr


_COMMENT = re.compile(r"\(([^()]*)\)")
_ADDR_SPEC = re.compile(r"[^\s<>,;:\"()\[\]]{1,200}@[^\s<>,;:\"()\[\]]{1,255}")


def _addresses(top: Part, names: tuple[str, ...]) -> tuple[str, ...]:
    found: list[str] = []
    for name in names:
        for value in top.get_all(name)[:20]:
            found.extend(a.lower().rstrip(".") for a in _ADDR_SPEC.findall(value[:MAX_HEADER_VALUE]))
    return tuple(dict.fromkeys(found))[:MAX_IDS]


def _first_id(value: str) -> str:
    m = _MSGID.search(value)
    if m:
        return m.group(0)
    value = value.strip()
    return f"<{value}>" if value and " " not in value and len(value) < 500 else ""


# The common RFC 5322 form, read without the stdlib's general tokenizer (what it would give too).
_PLAIN_DATE = re.compile(r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|"
                         r"Nov|Dec) (\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)(?: \([^()]*\))?")
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"), start=1)}


def _plain_date(value: str) -> datetime | None:
    """parsedate_to_datetime(value) for the common form, or None for any other (then the stdlib)."""
    m = _PLAIN_DATE.fullmatch(value)
    if m is None:
        return None
    day, month, year, hh, mm, ss, sign, oh, om = m.groups()
    offset = int(oh) * 3600 + int(om) * 60
    if offset == 0 and sign == "-":   # -0000: UTC, the source zone unknown (RFC 5322 §3.3): naive
        return datetime(int(year), _MONTHS[month], int(day), int(hh), int(mm), int(ss))
    return datetime(int(year), _MONTHS[month], int(day), int(hh), int(mm), int(ss),
                    tzinfo=timezone(timedelta(seconds=-offset if sign == "-" else offset)))


def _date(value: str) -> datetime | None:
    if not value:
        return None
    try:
        when = _plain_date(value[:200]) or parsedate_to_datetime(value[:200])
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# --- body ------------------------------------------------------------------------------------------

def _payload_text(part: Part, budget: int) -> str:
    if budget <= 0:
        return ""
    # Cut the encoded form first so a huge part is never decoded whole (base64 is 4:3).
    data = mime.decode_transfer(part, part.body[: budget * 2])
    return _decode_bytes(data, part.params.get("charset"))[:budget]


def _html_text(html: str) -> str:
    from probe.core.htmltext import html_to_text

    html = html[:MAX_HTML_FOR_TEXT]
    try:
        # Keep the quotes: the classifier looks for them; newtext.py drops them later.
        return html_to_text(html, drop_quotes=False)
    except Exception:
        return re.sub(r"<[^>]*>", " ", html)


_FIELD_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9-]{0,60}):[ \t]*(.*)$")


def _text_blocks(text: str) -> list[dict[str, str]]:
    """DSN-like `Name: value` blocks separated by blank lines (for parts the parser left as text)."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text[:200_000].splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
                current = {}
            last = ""
            continue
        if line[:1] in (" ", "\t") and last in current:
            current[last] += " " + line.strip()
            continue
        m = _FIELD_LINE.match(line)
        if m:
            last = m.group(1).lower()
            current.setdefault(last, m.group(2).strip())
    if current:
        blocks.append(current)
    return blocks


def _strip_type(value: str) -> str:
    # "rfc822; user@example.com" → "user@example.com"
    value = value.split(";", 1)[1] if ";" in value else value
    return value.strip().strip("<>").strip().lower()


class _Walk:
    """One pass over the split tree collecting text, reports and returned headers, under a text budget."""

    def __init__(self, limits: list[str]) -> None:
        self.limits = limits
        self.types: list[str] = []
        self.main_text = ""
        self.main_html: str | None = None
        self.other: list[str] = []
        self.budget = MAX_TEXT_CHARS
        self.dsn: list[DsnRecipient] = []
        self.dsn_fields: dict[str, str] = {}
        self.mdn_fields: dict[str, str] = {}
        self.returned_ids: list[str] = []
        self.error: str | None = None

    @property
    def other_text(self) -> str:
        return "\n".join(self.other)

    def visit(self, part: Part, *, returned: bool) -> None:
        self.types.append(part.ctype)
        try:
            self._visit(part, returned)
        except Exception as exc:  # one broken part must not lose the others
            self.error = self.error or f"{part.ctype}: {type(exc).__name__}: {exc}"[:300]

    def _visit(self, part: Part, returned: bool) -> None:
        ctype = part.ctype
        if ctype in ("message/delivery-status", "message/global-delivery-status"):
            self._dsn(_text_blocks(self._take(part, 64 * 1024, keep=False)))
            return
        if ctype in ("message/disposition-notification", "message/global-disposition-notification"):
            for block in _text_blocks(self._take(part, 64 * 1024, keep=False)):
                self.mdn_fields.update({k: v for k, v in block.items() if k not in self.mdn_fields})
            return
        if ctype in ("message/rfc822", "message/global"):
            for sub in part.children[:1]:
                mid = _first_id(sub.get("message-id"))
                if mid:
                    self.returned_ids.append(mid)
                self.visit(sub, returned=True)
            return
        if ctype in ("text/rfc822-headers", "message/rfc822-headers", "message/global-headers"):
            text = self._take(part, 256 * 1024, keep=True)
            self.returned_ids.extend(m.group(1) for m in _BODY_MSGID.finditer(text))
            return
        if part.children:
            for sub in part.children:
                self.visit(sub, returned=returned)
            return
        if part.maintype not in ("text", "multipart"):
            return
        attached = part.get("content-disposition").lower().startswith("attachment")
        if not returned and not attached and ctype in ("text/plain", "multipart/mixed") and not self.main_text:
            self.main_text = self._take(part)
        elif not returned and not attached and ctype == "text/html" and self.main_html is None:
            self.main_html = self._take(part)
        elif ctype in ("text/plain", "text/html") or not attached:
            self._take(part, keep=True)

    def _take(self, part: Part, cap: int | None = None, *, keep: bool = False) -> str:
        budget = self.budget if cap is None else min(cap, self.budget)
        text = _payload_text(part, budget)
        if len(text) >= self.budget:
            self.limits.append("text-chars")
        self.budget -= len(text)
        if keep and text:
            self.other.append(text)
        return text

    def dsn_from_text(self, text: str) -> None:
        self._dsn([b for b in _text_blocks(text) if "action" in b and ("final-recipient" in b or "status" in b)])

    def _dsn(self, blocks: list[dict[str, str]]) -> None:
        for block in blocks:
            if "action" in block or "final-recipient" in block or "original-recipient" in block:
                if len(self.dsn) < MAX_IDS:
                    self.dsn.append(DsnRecipient(
                        final_recipient=_strip_type(block.get("final-recipient", "")),
                        original_recipient=_strip_type(block.get("original-recipient", "")),
                        action=block.get("action", "").strip().lower().split(" ", 1)[0].strip("();"),
                        status=block.get("status", "").strip().split(" ", 1)[0],
                        diagnostic=block.get("diagnostic-code", ""),
                    ))
            else:
                self.dsn_fields.update({k: v for k, v in block.items() if k not in self.dsn_fields})
