"""The classifier over the real-world corpus (tests/corpus; PROBE_CORPUS may point elsewhere): >= 97 %
agreement on kind, on the files as they are and on copies whose addresses and Message-IDs are rewritten.

messages/*.eml are classified as they are. bodies/*.txt hold only the text of a person's reply, so
each is wrapped in a message with a `Re:` subject and an In-Reply-To, classified, and also run
through the new-text extraction. Per-kind counts and the confusion are printed (pytest -s)."""

from __future__ import annotations

import csv
import os
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from probe.core.classify import classify_bytes
from tests.fixtures.services import require_service

CORPUS = Path(os.environ.get("PROBE_CORPUS", Path(__file__).resolve().parents[1] / "corpus"))
THRESHOLD = 0.97
KINDS = ("human_reply", "auto_reply", "bounce", "delivery_delay", "read_receipt", "unknown")



@pytest.fixture(autouse=True)
def _corpus_present() -> None:
    require_service((CORPUS / "labels.csv").exists(), f"the corpus at {CORPUS}",
                    "set PROBE_CORPUS to the folder holding labels.csv")


def labels() -> list[dict[str, str]]:
    with (CORPUS / "labels.csv").open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def wrap_body(body: bytes, n: int) -> bytes:
    """A reply around a body-only fixture: threaded to one of our ids, with a Re: subject."""
    head = (f"From: Person {n} <person{n}@example.net>\r\nTo: probe@probe.example\r\n"
            f"Subject: Re: Votre abonnement\r\nDate: Mon, 28 Sep 2026 10:02:00 +0200\r\n"
            f"Message-ID: <reply{n}@example.net>\r\nIn-Reply-To: <probe.abcdefghijklmnopqrstuvwx.1@probe.example>\r\n"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
    return head.encode() + body


_TOKEN = re.compile(rb"[A-Za-z0-9._%+=$#&'!/-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


def rewrite(raw: bytes) -> bytes:
    """Every x@y token — addresses and the id part of Message-IDs alike — replaced by a generated one,
    the same token by the same replacement, so nothing the classifier could have memorised is left
    (role names such as MAILER-DAEMON go too)."""
    seen: dict[bytes, bytes] = {}

    def new(m: re.Match[bytes]) -> bytes:
        key = m.group(0).lower()
        if key not in seen:
            seen[key] = b"g%dq@h%d.example" % (len(seen), len(seen))
        return seen[key]

    return _TOKEN.sub(new, raw)


def run(transform: Callable[[bytes], bytes]) -> tuple[Counter[tuple[str, str]], list[str]]:
    confusion: Counter[tuple[str, str]] = Counter()
    wrong: list[str] = []
    for n, row in enumerate(labels()):
        raw = (CORPUS / row["file"]).read_bytes()
        if row["file"].startswith("bodies/"):
            raw = wrap_body(raw, n)
        _, result = classify_bytes(transform(raw))
        confusion[(row["kind"], result.kind.value)] += 1
        if result.kind.value != row["kind"]:
            wrong.append(f"{row['file']}: labelled {row['kind']}, got {result.kind.value} {result.reasons}")
    return confusion, wrong


def report(title: str, confusion: Counter[tuple[str, str]], wrong: list[str]) -> float:
    total = sum(confusion.values())
    agree = sum(v for (label, got), v in confusion.items() if label == got)
    print(f"\n{title}: {agree}/{total} = {agree / total:.2%} agreement on kind")
    for kind in KINDS:
        n = sum(v for (label, _), v in confusion.items() if label == kind)
        ok = confusion[(kind, kind)]
        print(f"  {kind:15} {ok:4}/{n:<4}")
    print("  confusion (label -> got):")
    for (label, got), v in sorted(confusion.items()):
        if label != got:
            print(f"    {label} -> {got}: {v}")
    for line in wrong:
        print("   ", line)
    return agree / total


def test_corpus_agreement_on_kind() -> None:
    confusion, wrong = run(lambda raw: raw)
    assert report("corpus", confusion, wrong) >= THRESHOLD


def test_corpus_agreement_with_rewritten_addresses_and_ids() -> None:
    confusion, wrong = run(rewrite)
    assert report("rewritten copies", confusion, wrong) >= THRESHOLD


def test_rewrite_leaves_no_address_or_id() -> None:
    raw = b"From: MAILER-DAEMON@mx.example.org\r\nMessage-ID: <abc.123@mx.example.org>\r\n\r\nto bob@example.com"
    out = rewrite(raw)
    assert b"mx.example.org" not in out and b"bob@" not in out and b"abc.123" not in out


def test_body_fixtures_yield_new_text() -> None:
    """Each body-only reply goes through new-text extraction: something is left, and it is shorter
    than the whole body whenever the body quotes (a `>` line)."""
    from probe.core.newtext import extract_new_text

    rows = [r for r in labels() if r["file"].startswith("bodies/")]
    empty: list[str] = []
    for n, row in enumerate(rows):
        raw = (CORPUS / row["file"]).read_bytes()
        _, result = classify_bytes(wrap_body(raw, n))
        assert result.kind.value == "human_reply", row["file"]
        assert result.answer is not None
        text = raw.decode("utf-8", "replace")
        new = extract_new_text(text)
        if not new.text.strip():
            empty.append(row["file"])
        if re.search(r"^>", text, re.MULTILINE):
            assert len(new.text) < len(text), row["file"]
    assert len(empty) <= len(rows) // 20, empty  # a few fixtures are nothing but a quote
