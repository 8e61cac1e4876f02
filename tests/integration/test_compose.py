"""The message bytes probe writes itself (probe.adapters.compose) against the stdlib's EmailMessage:
what a recipient's mail client parses out of them must be exactly what the EmailMessage way gave —
every header decoded, display names, the text and HTML bodies — and the bytes must be valid on the
wire: ASCII, CRLF only, no line over 998 characters, headers folded to 78 where there is a space."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

import pytest

from probe.adapters.compose import (
    ComposedMessage,
    _headers,
    build_email_message,
    build_message,
    encoded_words,
    fold_header,
)
from probe.adapters.smtp import OutcomeKind, SmtpAccount, SmtpSender
from probe.adapters.templates import RenderedMessage

DATE = datetime(2015, 10, 4, 7, 0, tzinfo=UTC)
LONG_IDS = [f"<probe.{'abcdefghijklmnopqrstuvwx'}.{i}@en-contact.example.com>" for i in range(12)]

CASES: dict[str, dict[str, Any]] = {
    "ascii": dict(subject="Abonnement : OUI ou NON ?", from_="redaction@en-contact.example"),
    "accented subject and name": dict(subject="Réponse à votre question : OUI ou NON ?",
                                      from_="Rédaction En-Contact <redaction@en-contact.example>"),
    "long accented subject": dict(subject="Étude sur l'abonnement — " + "très longue question, " * 12 + "fin"),
    "cyrillic (base64 is shorter)": dict(subject="Опрос: подписка — да или нет? " * 3,
                                         from_="Редакция <redaction@en-contact.example>"),
    "cjk and emoji": dict(subject="購読についての質問 ✉️ 🙂 はい/いいえ", from_="編集部 📰 <r@en-contact.example>"),
    "looks like an encoded-word": dict(subject="=?utf-8?q?not_encoded?= really"),
    "spaces kept": dict(subject="two  spaces   and three", from_="  Jean   Dupont   <j@en-contact.example>"),
    "quoted display name": dict(from_='"Dupont, Jean (rédaction)" <j@en-contact.example>'),
    "dotted display name": dict(from_="J. Dupont <j@en-contact.example>"),
    "specials in name": dict(from_='"A \\"quoted\\" word" <j@en-contact.example>'),
    "reply-to list": dict(reply_to="a@en-contact.example, Bé <b@en-contact.example>"),
    "long ascii word": dict(subject="x" * 300 + " tail"),
    "control character": dict(subject="tab\there"),
    "threaded reminder with html": dict(references=LONG_IDS, html="<p>Crédit &amp; Cie</p>\n" + "<b>long</b> " * 50,
                                        template_headers=(("Reply-To", "perso@en-contact.example"), ("X-Tag", ""),
                                                          ("X-Campagne", "Société Générale 2015")),
                                        list_unsubscribe="redaction@en-contact.example"),
    "awkward body": dict(text="Madame,\r\nrépondez = OUI  \n.\nFrom here\rcr alone\n" + "y" * 2000
                         + "\n\ttab\n", html="<p>x</p>"),
    "empty body": dict(text="", html=""),
    "comment in address (stdlib fallback)": dict(from_="redaction@en-contact.example (Rédaction)"),
}


def build_both(case: dict[str, Any]) -> tuple[EmailMessage, bytes, bytes]:
    message, raw, reference, _ = build_all(case)
    return message, raw, reference


def build_all(case: dict[str, Any]) -> tuple[EmailMessage, bytes, bytes, list[tuple[str, str]]]:
    rendered = RenderedMessage(case.get("subject", "Sujet"), case.get("template_headers", ()),
                               case.get("text", "Madame Dupont,\nrépondez simplement OUI ou NON.\n"), case.get("html"))
    kwargs: dict[str, Any] = dict(from_=case.get("from_", "Rédaction <redaction@en-contact.example>"),
                                  to=case.get("to", "elodie@banque-rive.example"),
                                  message_id="<probe.abc.2@en-contact.example>", date=DATE,
                                  references=case.get("references", ()), reply_to=case.get("reply_to"),
                                  list_unsubscribe=case.get("list_unsubscribe"))
    message = build_message(rendered, **kwargs)
    headers = _headers(rendered, **kwargs)
    reference = build_email_message(headers, rendered.text, rendered.html)
    return message, message.as_bytes(policy=SMTP), reference.as_bytes(policy=SMTP), headers


def parsed_view(raw: bytes) -> dict[str, Any]:
    """What a client sees: decoded headers (the boundary aside), addresses, each part's type and text."""
    msg = message_from_bytes(raw, policy=policy.default)
    headers = [(k.lower(), str(v)) for k, v in msg.items()
               if k.lower() not in ("content-type", "from", "to", "reply-to")]
    addresses = {k: [(a.display_name, a.addr_spec) for a in msg[k].addresses]
                 for k in ("from", "to", "reply-to") if msg[k] is not None}
    parts = [(p.get_content_type(), p.get_content_charset(), p["Content-Transfer-Encoding"], p.get_content())
             for p in msg.walk() if not p.is_multipart()]
    return {"headers": sorted(headers), "addresses": addresses, "type": msg.get_content_type(), "parts": parts}


@pytest.mark.parametrize("name", list(CASES))
def test_parses_back_exactly_like_the_email_message_way(name: str) -> None:
    message, raw, reference, headers = build_all(CASES[name])
    got, expected = parsed_view(raw), parsed_view(reference)
    assert got["addresses"] == expected["addresses"]
    assert (got["type"], got["parts"]) == (expected["type"], expected["parts"])
    # Other headers decode to exactly the value given. Not compared with the stdlib's: it drops
    # the space between some encoded-words (a long Cyrillic subject comes back "даили нет").
    given = [(k.lower(), v) for k, v in headers if k.lower() not in ("from", "to", "reply-to")]
    assert got["headers"] == sorted(given + [("mime-version", "1.0")]
                                    + ([] if got["type"].startswith("multipart") else
                                       [("content-transfer-encoding", "quoted-printable")]))
    if "fallback" in name:
        assert not isinstance(message, ComposedMessage)
    else:
        assert isinstance(message, ComposedMessage)


@pytest.mark.parametrize("name", list(CASES))
def test_wire_form_is_ascii_crlf_and_short_lines(name: str) -> None:
    _, raw, _ = build_both(CASES[name])
    assert raw.isascii()
    assert b"\r" not in raw.replace(b"\r\n", b"") and b"\n" not in raw.replace(b"\r\n", b"")
    head, _, _ = raw.partition(b"\r\n\r\n")
    for line in raw.split(b"\r\n"):
        assert len(line) <= 998
    for line in head.split(b"\r\n"):
        # folded at 78 unless a single token (an address, a Message-ID) is longer by itself
        assert len(line) <= 78 or b" " not in line.strip().split(b" ", 1)[-1], line


def test_multipart_alternative_when_there_is_html() -> None:
    message, raw, _ = build_both(CASES["threaded reminder with html"])
    got = message_from_bytes(raw, policy=policy.default)
    assert got.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in got.iter_parts()] == ["text/plain", "text/html"]
    assert got.get_body(("html",)).get_content().splitlines()[0] == "<p>Crédit &amp; Cie</p>"
    assert got["Reply-To"] == "perso@en-contact.example" and got["X-Tag"] is None
    assert got["X-Campagne"] == "Société Générale 2015"
    assert got["References"] == " ".join(LONG_IDS)
    # the read-as-EmailMessage view of the ComposedMessage agrees with the parse of its bytes
    assert message.get_body(("plain",)).get_content() == got.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert message["References"] == " ".join(LONG_IDS)


def test_composed_bytes_stay_the_wire_form_until_read() -> None:
    message, raw, _ = build_both(CASES["accented subject and name"])
    assert isinstance(message, ComposedMessage)
    assert message.as_bytes(policy=SMTP) == raw == message.composed
    assert message["Subject"] == "Réponse à votre question : OUI ou NON ?"   # parses now
    assert message_from_bytes(bytes(message), policy=policy.default)["Subject"] == message["Subject"]


def test_encoded_words_never_split_a_character_and_fit_60() -> None:
    text = "é" * 40 + "🙂" * 30 + "x" * 10
    words = encoded_words(text)
    assert all(len(w) <= 60 for w in words)
    decoded = message_from_bytes(fold_header("Subject", text) + b"\r\n", policy=policy.default)["Subject"]
    assert decoded == text
    for w in words:   # each word is valid UTF-8 on its own
        m = re.fullmatch(r"=\?utf-8\?([qb])\?(.*)\?=", w)
        assert m is not None


@pytest.mark.parametrize("as_bytes", [False, True])
async def test_the_sender_puts_the_composed_bytes_on_the_wire(smtp_server: Any, as_bytes: bool) -> None:
    message, raw, _ = build_both(CASES["awkward body"])
    sender = SmtpSender(SmtpAccount(host=smtp_server.host, port=smtp_server.port, security="none"))
    try:
        outcome = await sender.send(raw if as_bytes else message, sender="redaction@en-contact.example",
                                    recipient="elodie@banque-rive.example")
    finally:
        await sender.close()
    assert outcome.kind is OutcomeKind.SENT
    assert smtp_server.handler.wait_for(1)[0].raw == raw   # dot-stuffing undone by the server
