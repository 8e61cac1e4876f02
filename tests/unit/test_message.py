"""parse_message: the facts it reads, and its bounds on hostile input (generated here, not stored)."""

from __future__ import annotations

import base64
import resource
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from probe.core.message import MAX_PARTS, ParsedMessage, parse_message


def test_headers_are_decoded_and_normalised() -> None:
    raw = (
        b"From: =?utf-8?q?Ren=C3=A9e_Dupont?= <Renee.Dupont@Example.FR>\r\n"
        b"To: Probe <probe@probe.example>, other@Example.org\r\n"
        b"Cc: =?iso-8859-1?q?J=E9r=F4me?= <jerome@example.org>\r\n"
        b"Delivered-To: probe+abc@probe.example\r\n"
        b"Subject: =?utf-8?b?UkU6IFZvdHJlIGFib25uZW1lbnQgLSBPVUk=?=\r\n"
        b"Message-ID: <reply.1@example.fr>\r\n"
        b"In-Reply-To: <probe.aaaa.1@probe.example>\r\n"
        b"References: <probe.aaaa.0@probe.example>\r\n <probe.aaaa.1@probe.example>\r\n"
        b"Date: Mon, 28 Sep 2015 10:02:00 +0200\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nOui merci\r\n"
    )
    msg = parse_message(raw)
    assert msg.from_addr == "renee.dupont@example.fr"
    assert msg.from_name == "Renée Dupont"
    assert msg.to_addrs == ("probe@probe.example", "other@example.org", "jerome@example.org",
                            "probe+abc@probe.example")
    assert msg.subject == "RE: Votre abonnement - OUI"
    assert msg.message_id == "<reply.1@example.fr>"
    assert msg.in_reply_to == "<probe.aaaa.1@probe.example>"
    assert msg.references == ("<probe.aaaa.0@probe.example>", "<probe.aaaa.1@probe.example>")
    assert msg.date == datetime(2015, 9, 28, 8, 2, tzinfo=UTC)
    assert msg.text.strip() == "Oui merci"
    assert msg.parse_error is None


@pytest.mark.parametrize(("charset", "cte", "body", "expected"), [
    ("utf-8", "8bit", "Oui, très volontiers".encode(), "Oui, très volontiers"),
    ("iso-8859-1", "8bit", "Non merci, pas intéressé".encode("latin-1"), "Non merci, pas intéressé"),
    ("windows-1252", "quoted-printable", b"C=92est d=92accord =E2=80=93 oui", "C’est d’accord â€“ oui"),
    ("utf-8", "base64", base64.b64encode(b"D'accord, je m'abonne"), "D'accord, je m'abonne"),
    ("utf-8", "quoted-printable", b"R=C3=A9ponse : oui=\r\n merci", "Réponse : oui merci"),
    ("x-no-such-charset", "8bit", "déjà".encode(), "déjà"),       # unknown charset: UTF-8 guessed
    ("us-ascii", "8bit", "déjà".encode("latin-1"), "d\ufffdj\ufffd"),  # wrong charset: replaced, not raised
])
def test_body_charsets_and_encodings(charset: str, cte: str, body: bytes, expected: str) -> None:
    raw = (b"From: a@example.org\r\nSubject: x\r\nContent-Type: text/plain; charset=" + charset.encode()
           + b"\r\nContent-Transfer-Encoding: " + cte.encode() + b"\r\n\r\n" + body)
    assert parse_message(raw).text.strip() == expected


def test_eight_bit_headers_are_read_as_utf8_then_latin1() -> None:
    assert parse_message("Subject: Réponse\r\n\r\n".encode()).subject == "Réponse"
    assert parse_message("Subject: Réponse\r\n\r\n".encode("latin-1")).subject == "Réponse"


def test_multipart_alternative_gives_text_and_html() -> None:
    raw = (b'From: a@example.org\r\nContent-Type: multipart/alternative; boundary="b"\r\n\r\n'
           b"--b\r\nContent-Type: text/plain\r\n\r\nplain yes\r\n"
           b"--b\r\nContent-Type: text/html\r\n\r\n<p>html <b>yes</b></p>\r\n--b--\r\n")
    msg = parse_message(raw)
    assert msg.text.strip() == "plain yes"
    assert msg.html is not None and "<b>yes</b>" in msg.html


def test_html_only_message_gets_text_from_html() -> None:
    raw = b"From: a@example.org\r\nContent-Type: text/html\r\n\r\n<div>Oui <b>merci</b></div>"
    msg = parse_message(raw)
    assert "Oui" in msg.text and "merci" in msg.text and "<b>" not in msg.text


def test_delivery_status_fields_and_returned_message_id() -> None:
    raw = (b"From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n"
           b'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n'
           b"--r\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you...\r\n"
           b"--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
           b"Final-Recipient: rfc822; Gone@Example.com\r\nOriginal-Recipient: rfc822;gone@example.com\r\n"
           b"Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 user unknown\r\n"
           b"--r\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: probe@probe.example\r\n"
           b"Message-ID: <probe.abc.1@probe.example>\r\nSubject: hello\r\n--r--\r\n")
    msg = parse_message(raw)
    assert msg.report_type == "delivery-status"
    assert len(msg.dsn) == 1
    rcpt = msg.dsn[0]
    assert (rcpt.final_recipient, rcpt.action, rcpt.status) == ("gone@example.com", "failed", "5.1.1")
    assert msg.dsn_fields["reporting-mta"] == "dns; mx.example.org"
    assert msg.returned_message_ids == ("<probe.abc.1@probe.example>",)


def test_missing_and_broken_headers_do_not_raise() -> None:
    msg = parse_message(b"Date: not a date\r\nFrom: <>\r\nMessage-ID: bare-id@host\r\n\r\nbody")
    assert msg.date is None
    assert msg.from_addr == ""
    assert msg.message_id == "<bare-id@host>"
    assert parse_message(b"").parse_error is None


@pytest.mark.parametrize("raw", [
    b"", b"\x00" * 100, b"\xff\xfe\xfd" * 1000, b"Content-Type: multipart/mixed\r\n\r\n--\r\n--",
    b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n", b"From: a@b\r\n\r\n" + bytes(range(256)) * 50,
    b"Content-Type: text/plain; charset=\"utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64",
    b"Subject: =?utf-8?q?unterminated\r\nFrom: =?bogus?b?@@@?=\r\n\r\n",
    b"Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nSubject: deep\r\n\r\nx",
    "Subject: non-bytes".encode("utf-16"),
])
def test_never_raises_on_malformed_input(raw: bytes) -> None:
    assert isinstance(parse_message(raw), ParsedMessage)


# --- hostile input: bounded time and memory --------------------------------------------------------

def _nested(depth: int) -> bytes:
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
                       for i in range(depth))
    closing = b"".join(b"\r\n--b%d--" % i for i in reversed(range(depth)))
    return b"From: a@example.org\r\nSubject: nest\r\n" + opening + b"Content-Type: text/plain\r\n\r\nhi" + closing


def _parts(n: int) -> bytes:
    head = b'From: a@example.org\r\nSubject: parts\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n'
    return head + b"--x\r\nContent-Type: text/plain\r\n\r\npart\r\n" * n + b"--x--\r\n"


def _attachment(megabytes: int) -> bytes:
    data = (b"QUJD" * 19 + b"\r\n") * (megabytes * 1024 * 1024 // 78)
    return (b'From: a@example.org\r\nSubject: big\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n'
            b"--x\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--x\r\nContent-Type: application/pdf\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + data + b"\r\n--x--\r\n")


def _long_header(megabytes: int) -> bytes:
    return (b"From: a@example.org\r\nX-Long: " + b"a" * (megabytes * 1024 * 1024)
            + b"\r\nSubject: after the long one\r\n\r\nbody\r\n")


def _encoded_words(n: int) -> bytes:
    return b"From: a@example.org\r\nSubject: " + b" ".join([b"=?utf-8?q?caf=C3=A9?="] * n) + b"\r\n\r\nbody\r\n"


def _long_text(megabytes: int) -> bytes:
    line = b"oui merci " * 100 + b"\r\n"
    return b"From: a@example.org\r\nSubject: Re: x\r\n\r\n" + line * (megabytes * 1024)


HOSTILE: dict[str, Callable[[], bytes]] = {
    "200 nesting levels": lambda: _nested(200),
    "10,000 parts": lambda: _parts(10_000),
    "30 MB attachment": lambda: _attachment(30),
    "8 MB header line": lambda: _long_header(8),
    "100,000 encoded-words": lambda: _encoded_words(100_000),
    "30 MB of text": lambda: _long_text(30),
    "NUL bytes": lambda: b"From: a@exa\x00mple.org\r\nSubject: R\x00e\r\n\r\n" + b"\x00oui\x00" * 10_000,
    "bad charsets": lambda: (b"From: a@example.org\r\nSubject: =?x-nope?q?abc?= =?utf-8?b?!!!?=\r\n"
                             b"Content-Type: text/plain; charset=\"\xff\xfe\"\r\n\r\n\xff\xfeoui"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_input_is_bounded(name: str) -> None:
    raw = HOSTILE[name]()
    started = time.process_time()  # CPU time: the machine's load does not count
    msg = parse_message(raw)
    elapsed = time.process_time() - started
    assert elapsed < 5, f"{name}: {elapsed:.1f} s"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 1024 * 1024  # KiB on Linux: < 1 GiB
    assert len(msg.text) <= 2 * 1024 * 1024
    assert len(msg.part_types) <= MAX_PARTS
    assert len(msg.subject) <= 4096


def test_caps_are_reported_and_useful_headers_kept() -> None:
    msg = parse_message(_long_header(8))
    assert "header-bytes" in msg.limits_hit
    assert msg.subject == "after the long one"  # the monstrous line is cut, not the rest
    assert "parts" in parse_message(_parts(10_000)).limits_hit
    assert "depth" in parse_message(_nested(200)).limits_hit
    big = parse_message(_attachment(30))
    assert "body-bytes" in big.limits_hit
    assert big.text.strip() == "see attached"


# --- the MIME splitter on awkward but real shapes ---------------------------------------------------

def test_nested_boundary_that_extends_the_outer_one() -> None:
    raw = (b'Content-Type: multipart/mixed; boundary="b"\n\n--b\n'
           b'Content-Type: multipart/alternative; boundary="b2"\n\n--b2\nContent-Type: text/plain\n\ninner\n'
           b"--b2--\n--b\nContent-Type: text/plain\nContent-Disposition: attachment\n\nattached\n--b--\n")
    msg = parse_message(raw)
    assert msg.text.strip() == "inner"
    assert msg.part_types == ("multipart/mixed", "multipart/alternative", "text/plain", "text/plain")


def test_missing_close_delimiter_and_lost_boundary() -> None:
    unclosed = b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nhello'
    assert parse_message(unclosed).text.strip() == "hello"
    lost = b'Content-Type: multipart/mixed; boundary="nowhere"\n\nplain words'
    assert parse_message(lost).text.strip() == "plain words"


def test_wrapped_parameter_line_without_indent_is_kept() -> None:
    raw = (b"Content-Type: multipart/alternative;\nboundary=\"x\"\n\n--x\nContent-Type: text/plain\n\nyes\n--x--\n")
    assert parse_message(raw).text.strip() == "yes"


def test_rfc2231_charset_and_mbox_from_line() -> None:
    raw = ("From someone@example.org Mon Sep 28 10:00:00 2026\nFrom: a@example.org\n"
           "Content-Type: text/plain; charset*=utf-8''iso-8859-1\n\nd\xe9j\xe0").encode("latin-1")
    msg = parse_message(raw)
    assert msg.from_addr == "a@example.org"
    assert msg.text == "déjà"


def test_returned_message_and_lazy_tree() -> None:
    raw = (b'From: MAILER-DAEMON@mx.example.org\nContent-Type: multipart/mixed; boundary="m"\n\n'
           b"--m\nContent-Type: text/plain\n\nfailed\n--m\nContent-Type: message/rfc822\n\n"
           b"Message-ID: <orig@probe.example>\nSubject: hi\n\noriginal body\n--m--\n")
    msg = parse_message(raw)
    assert msg.returned_message_ids == ("<orig@probe.example>",)
    assert "original body" in msg.other_text and "original body" not in msg.text
    assert msg.tree is not None and msg.tree.is_multipart()


def test_cr_only_line_ends() -> None:
    msg = parse_message(b"From: a@example.org\rSubject: Re: x\rContent-Type: text/plain\r\rOui\r")
    assert (msg.from_addr, msg.subject, msg.text.strip()) == ("a@example.org", "Re: x", "Oui")
