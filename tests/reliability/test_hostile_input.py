"""Hostile mail fuzzed through classification: never an exception, and work bounded by caps (issue 12).

Inputs: the labelled corpus mutated (bytes flipped, cut, spliced, headers duplicated, CRs and
NULs sprinkled) and generated MIME trees (nesting, odd charsets and transfer encodings, reports
inside messages inside multiparts). The bound on time and memory is checked the deterministic way:
whatever the input, what the parser looks at stays under its caps (header bytes, parts, depth,
decoded text), so the work per message is bounded by construction; a few giant messages then check
that memory stays within a fixed budget (tracemalloc, not the wall clock)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probe.core import message as m
from probe.core.classify import classify_bytes
from probe.core.model import MessageKind

ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIRS = [ROOT / "tests" / "corpus" / "messages", ROOT.parent / "shared" / "corpus" / "messages",
               Path("/work/shared/corpus/messages")]


def corpus_files() -> list[Path]:
    for folder in CORPUS_DIRS:
        if folder.is_dir():
            files = sorted(p for p in folder.rglob("*") if p.is_file() and p.stat().st_size < 2_000_000)
            if files:
                return files
    return []


CORPUS = corpus_files()
FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TRIED: dict[str, int] = {}


def check(raw: bytes, label: str) -> None:
    """The contract for any bytes at all: a classification, never an exception, and capped work."""
    TRIED[label] = TRIED.get(label, 0) + 1
    msg, result = classify_bytes(raw)
    assert isinstance(result.kind, MessageKind)
    assert result.answer is None or result.kind is MessageKind.HUMAN_REPLY
    assert len(msg.raw) <= m.MAX_HEADER_BYTES + m.MAX_RAW_BODY_BYTES + 4
    assert len(msg.part_types) <= m.MAX_PARTS + 1
    assert len(msg.text) <= m.MAX_TEXT_CHARS and len(msg.other_text) <= m.MAX_TEXT_CHARS
    assert len(msg.references) <= m.MAX_IDS and len(msg.returned_message_ids) <= m.MAX_IDS
    assert len(result.new_text) <= m.MAX_TEXT_CHARS


# -- mutations of the corpus ------------------------------------------------------------------------

def mutate(raw: bytes, ops: list[tuple[int, int, int]]) -> bytes:
    data = bytearray(raw)
    for op, pos, value in ops:
        if not data:
            data = bytearray(b"\n")
        at = pos % len(data)
        match op:
            case 0:    # flip a byte
                data[at] = value
            case 1:    # cut here
                del data[at:]
            case 2:    # insert junk
                data[at:at] = bytes([value]) * (value % 40 + 1)
            case 3:    # duplicate a slice (headers twice, boundaries twice)
                data[at:at] = data[at:at + value * 8]
            case 4:    # stray CR / NUL / high bytes
                data[at:at] = b"\r\x00\xff\r"[: value % 4 + 1]
            case 5:    # a fake boundary or a header line in the middle
                data[at:at] = (b"\n--" + bytes([65 + value % 26]) * 10
                               + b"\nContent-Type: multipart/mixed; boundary=\"\"\n")
    return bytes(data)


@pytest.mark.skipif(not CORPUS, reason="no corpus found (tests/corpus or ../shared/corpus)")
@FUZZ
@given(index=st.integers(min_value=0), ops=st.lists(st.tuples(st.integers(0, 5), st.integers(0, 10**9),
                                                              st.integers(0, 255)), max_size=12))
def test_mutated_corpus_messages_classify_without_exception(index, ops):
    raw = CORPUS[index % len(CORPUS)].read_bytes()
    check(mutate(raw, ops), "corpus mutation")


@pytest.mark.skipif(not CORPUS, reason="no corpus found")
@FUZZ
@given(a=st.integers(min_value=0), b=st.integers(min_value=0), cut=st.floats(0, 1))
def test_spliced_corpus_messages_classify_without_exception(a, b, cut):
    first, second = CORPUS[a % len(CORPUS)].read_bytes(), CORPUS[b % len(CORPUS)].read_bytes()
    check(first[: int(len(first) * cut)] + second[int(len(second) * cut):], "corpus splice")


# -- generated MIME trees --------------------------------------------------------------------------

CHARSETS = st.sampled_from(["utf-8", "iso-8859-1", "windows-1252", "utf-16", "x-unknown", "", "utf-7", "gb18030"])
ENCODINGS = st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "binary", "bogus"])
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=200)
HEADER_NAMES = st.sampled_from(["Subject", "From", "In-Reply-To", "References", "Auto-Submitted", "X-Autoreply",
                                "Content-Disposition", "Message-ID", "Date", "Reply-To", "Precedence"])


@st.composite
def leaf(draw) -> bytes:
    ctype = draw(st.sampled_from(["text/plain", "text/html", "message/delivery-status",
                                  "message/disposition-notification", "text/rfc822-headers",
                                  "application/octet-stream", "image/png"]))
    body = draw(TEXT).encode("utf-8", "surrogateescape")
    if ctype == "message/delivery-status":
        body = (b"Reporting-MTA: dns; x\n\nFinal-Recipient: rfc822; " + draw(TEXT).encode() +
                b"\nAction: " + draw(st.sampled_from([b"failed", b"delayed", b"", b"\xff"])) + b"\nStatus: 5.1.1\n")
    return (f"Content-Type: {ctype}; charset=\"{draw(CHARSETS)}\"\n"
            f"Content-Transfer-Encoding: {draw(ENCODINGS)}\n\n").encode() + body + b"\n"


def multipart(children: list[bytes], boundary: str, subtype: str) -> bytes:
    inner = b"".join(b"--" + boundary.encode() + b"\n" + child for child in children)
    return (f'Content-Type: multipart/{subtype}; boundary="{boundary}"\n\n').encode() + inner + \
        b"--" + boundary.encode() + b"--\n"


def rfc822(child: bytes) -> bytes:
    return b"Content-Type: message/rfc822\n\nSubject: inner\nFrom: a@b.example\n" + child


TREES = st.recursive(
    leaf(),
    lambda kids: st.one_of(
        st.builds(multipart, st.lists(kids, max_size=6), st.sampled_from(["b1", "b1", "x" * 70, "", "=?"]),
                  st.sampled_from(["mixed", "alternative", "report; report-type=delivery-status", "related"])),
        st.builds(rfc822, kids)),
    max_leaves=30)


@FUZZ
@given(tree=TREES, headers=st.lists(st.tuples(HEADER_NAMES, TEXT), max_size=8),
       encoded_subject=st.booleans())
def test_generated_mime_trees_classify_without_exception(tree, headers, encoded_subject):
    head = "".join(f"{name}: {value}\n".replace("\r", "") for name, value in headers)
    if encoded_subject:
        head += "Subject: " + " ".join(["=?utf-8?B?T1VJ?="] * 50 + ["=?x?Q?=FF?=", "=?utf-8?B?!!?="]) + "\n"
    check(("MIME-Version: 1.0\n" + head).encode("utf-8", "surrogateescape") + tree, "generated MIME tree")


# -- giants: the caps hold and memory stays bounded ------------------------------------------------

def nested(depth: int) -> bytes:
    raw = b"Content-Type: text/plain\n\nOUI\n"
    for i in range(depth):
        raw = multipart([raw], f"b{i}", "mixed")
    return b"Subject: Re: x\nFrom: a@b.example\n" + raw


GIANTS = {
    "10,000 nested multiparts": nested(10_000),
    "100,000 parts": b"Subject: Re: x\n" + multipart([b"Content-Type: text/plain\n\nx\n"] * 100_000, "p", "mixed"),
    "60 MB body": b"Subject: Re: x\nFrom: a@b.example\n\n" + b"OUI " * 15_000_000,
    "2 MB header line": b"Subject: " + b"A" * 2_000_000 + b"\nFrom: a@b.example\n\nOUI\n",
    "100,000 header lines": b"".join(b"X-H%d: v\n" % i for i in range(100_000)) + b"\nOUI\n",
    "100,000 encoded words": b"Subject: " + b" ".join([b"=?utf-8?B?T1VJ?="] * 100_000) + b"\n\nOUI\n",
    "100,000 references": b"References: " + b" ".join(b"<%d@x>" % i for i in range(100_000)) + b"\n\nOUI\n",
    "base64 bomb": (b"Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
                    + b"T1VJIE9VSSBPVUkg\n" * 1_000_000),
}
MEMORY_BUDGET = 128 * 1024 * 1024   # peak Python allocations per message (measured: 64 MB at most, flat in size)


@pytest.mark.parametrize("name", list(GIANTS))
def test_giant_messages_are_capped_and_memory_bounded(name):
    raw = GIANTS[name]
    tracemalloc.start()
    try:
        msg, _ = classify_bytes(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    check(raw, "giant")
    assert peak < MEMORY_BUDGET, f"{name}: peak {peak / 2**20:.0f} MB"
    if len(raw) > m.MAX_HEADER_BYTES + m.MAX_RAW_BODY_BYTES or "nested" in name or "parts" in name:
        assert msg.limits_hit, f"{name}: no cap reported"


def test_inputs_tried_are_counted():
    """Not a check of probe: prints how many inputs the fuzzing above fed in (for the issue's note)."""
    print(f"\nhostile inputs tried: {TRIED}")
