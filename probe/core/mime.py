"""A bounded MIME splitter: raw bytes → a tree of parts (headers + undecoded body), fast and lenient.

The stdlib FeedParser reads line by line in Python and is the largest cost of reading a message;
this splitter cuts the header block once and multipart bodies with bytes.find, so a message costs a
few regex passes. It stops at MAX_PARTS parts and MAX_DEPTH nesting and never raises on bad MIME:
a lost boundary leaves the multipart as one text blob, a missing close delimiter ends the last part
at the end of the data. Decoding (transfer encoding, charset) is left to the caller, part by part."""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass, field

MAX_PARTS = 200
MAX_DEPTH = 20

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_PARAM_LIKE = re.compile(r"^\s*[\w.*-]{1,60}\s*=")
_PARAM = re.compile(r';\s*([\w.*-]{1,60})\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')
_B64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")


@dataclass
class Part:
    """One MIME entity: headers (lowercased names, unfolded values, first wins) and its raw body."""

    headers: dict[str, str] = field(default_factory=dict)
    all_headers: list[tuple[str, str]] = field(default_factory=list)
    ctype: str = "text/plain"
    params: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    children: list[Part] = field(default_factory=list)

    def get(self, name: str) -> str:
        return self.headers.get(name, "")

    def get_all(self, name: str) -> list[str]:
        return [v for n, v in self.all_headers if n == name]

    @property
    def maintype(self) -> str:
        return self.ctype.split("/", 1)[0]


class Splitter:
    """Splits one message; counts parts across the whole tree."""

    def __init__(self, limits: list[str]) -> None:
        self.limits = limits
        self.count = 0

    def message(self, raw: bytes, depth: int = 0, default_type: str = "text/plain") -> Part:
        head, body = split_head_body(raw)
        part = Part()
        part.all_headers = parse_headers(head)
        for name, value in part.all_headers:
            part.headers.setdefault(name, value)
        ctype, params = parse_content_type(part.get("content-type"), default_type)
        part.ctype, part.params, part.body = ctype, params, body
        self.count += 1
        if part.maintype == "multipart":
            self._multipart(part, depth)
        elif ctype in ("message/rfc822", "message/global") and depth < MAX_DEPTH:
            if self.count < MAX_PARTS:
                part.children.append(self.message(decode_transfer(part, part.body), depth + 1))
            else:
                self.limits.append("parts")
        return part

    def _multipart(self, part: Part, depth: int) -> None:
        boundary = part.params.get("boundary", "")
        if not boundary or depth >= MAX_DEPTH:
            if depth >= MAX_DEPTH:
                self.limits.append("depth")
            part.ctype = "text/plain"  # unsplittable: read it as text
            return
        default = "message/rfc822" if part.ctype == "multipart/digest" else "text/plain"
        chunks = split_multipart(part.body, boundary.encode("latin-1", "replace"))
        if chunks is None:
            part.ctype = "text/plain"  # the boundary never occurs: the structure was lost
            return
        for chunk in chunks:
            if self.count >= MAX_PARTS:
                self.limits.append("parts")
                break
            part.children.append(self.message(chunk, depth + 1, default))


def header_end(raw: bytes) -> tuple[int, int] | None:
    """(start, end) of the first blank line, as `_HEADER_END.search(raw)` spans it, or None.

    With bytes.find (memchr speed) rather than the regex, which the leading optional CR keeps from
    skipping ahead: it was the largest single cost of parsing a message. The first match of
    \\r?\\n\\r?\\n starts at (or one CR before) the first LF followed by an optional CR and an LF."""
    lf_lf = raw.find(b"\n\n")
    # An LF CR LF that starts before that LF LF ends before it ends (lf_lf + 2).
    lf_cr_lf = raw.find(b"\n\r\n", 0, lf_lf + 2 if lf_lf >= 0 else len(raw))
    if lf_cr_lf >= 0:
        core, end = lf_cr_lf, lf_cr_lf + 3
    elif lf_lf >= 0:
        core, end = lf_lf, lf_lf + 2
    else:
        return None
    start = core - 1 if core > 0 and raw[core - 1] == 0x0D else core
    return start, end


def split_head_body(raw: bytes) -> tuple[bytes, bytes]:
    if raw[:1] == b"\n" or raw[:2] == b"\r\n":
        return b"", raw[1:] if raw[:1] == b"\n" else raw[2:]
    span = header_end(raw)
    if span is None:
        return raw, b""
    return raw[: span[0]], raw[span[1]:]


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def parse_headers(head: bytes) -> list[tuple[str, str]]:
    """(lowercased name, unfolded value) pairs. Lenient: a stray `key=value` line continues the
    previous header (a wrapped Content-Type parameter), any other line without a colon is dropped."""
    out: list[tuple[str, str]] = []
    name = ""
    value: list[str] = []
    lines = _text(head).split("\n")
    if lines and lines[0].startswith("From ") and ":" not in lines[0].split(" ", 1)[0]:
        lines = lines[1:]  # mbox separator line
    for line in lines:
        if line[:1] in (" ", "\t"):
            if name:
                value.append(line.strip())
            continue
        key, colon, rest = line.partition(":")
        # A field name is printable ASCII but space and colon ([!-9;-~]+; the colon cannot occur).
        if colon and key and len(key) <= 100 and key.isascii() and key.isprintable() and " " not in key:
            if name:
                out.append((name, " ".join(value).strip()))
            name, value = key.lower(), [rest]
        elif name and _PARAM_LIKE.match(line):
            value.append(line.strip())
    if name:
        out.append((name, " ".join(value).strip()))
    return out


def parse_content_type(value: str, default: str = "text/plain") -> tuple[str, dict[str, str]]:
    main, _, rest = value.partition(";")
    ctype = main.strip().lower()
    if "/" not in ctype or " " in ctype:
        ctype = default
    params: dict[str, str] = {}
    for m in _PARAM.finditer(";" + rest):
        key = m.group(1).lower().rstrip("*")
        raw = m.group(2)
        if raw.startswith('"'):
            raw = raw[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        elif "''" in raw:  # RFC 2231: charset'lang'value
            raw = raw.split("''", 1)[1]
        params.setdefault(key, raw)
    return ctype, params


def split_multipart(body: bytes, boundary: bytes) -> list[bytes] | None:
    """The parts between `--boundary` lines, or None when the boundary never occurs."""
    delimiter = b"--" + boundary
    chunks: list[bytes] = []
    pos = _find_delimiter(body, delimiter, 0)
    if pos < 0:
        return None
    while pos >= 0 and len(chunks) <= MAX_PARTS:
        line_end = body.find(b"\n", pos)
        after = body[pos + len(delimiter): pos + len(delimiter) + 2]
        if after == b"--" or line_end < 0:
            break  # close delimiter (or delimiter on the last line)
        start = line_end + 1
        nxt = _find_delimiter(body, delimiter, start)
        end = len(body) if nxt < 0 else nxt
        chunk = body[start:end]
        if chunk.endswith(b"\r\n"):
            chunk = chunk[:-2]
        elif chunk.endswith(b"\n"):
            chunk = chunk[:-1]
        chunks.append(chunk)
        pos = nxt
    return chunks


def _find_delimiter(body: bytes, delimiter: bytes, start: int) -> int:
    """Index of the next `delimiter` that starts a line, or -1."""
    pos = start
    while True:
        pos = body.find(delimiter, pos)
        if pos < 0:
            return -1
        end = pos + len(delimiter)
        follows = body[end: end + 1]
        # Start of a line, and not merely the prefix of a longer (nested) boundary.
        if (pos == 0 or body[pos - 1: pos] == b"\n") and follows in (b"", b"-", b"\r", b"\n", b" ", b"\t"):
            return pos
        pos = end


def decode_transfer(part: Part, data: bytes) -> bytes:
    cte = part.get("content-transfer-encoding").strip().lower()
    if cte == "base64":
        clean = _B64_JUNK.sub(b"", data)
        clean = clean[: len(clean) - len(clean) % 4]
        try:
            return binascii.a2b_base64(clean)
        except (binascii.Error, ValueError):
            return b""
    if cte == "quoted-printable":
        try:
            return binascii.a2b_qp(data)
        except (binascii.Error, ValueError):
            return data
    return data
