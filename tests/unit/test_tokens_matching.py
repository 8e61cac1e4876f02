"""Tokens and the order in which a message is matched to a target (DESIGN.md "Matching")."""

from __future__ import annotations

import pytest

from probe.core.matching import match_candidates
from probe.core.model import Classification, MatchMethod, MessageKind
from probe.core.tokens import (
    message_id,
    new_token,
    new_tokens,
    parse_message_id,
    reply_to_address,
    subaddress_token,
    tokens_in,
)

TOKEN = "abcdefghijklmnopqrstuvwx"
OTHER = "zyxwvutsrqponmlkjihgfedc"


def test_tokens_are_unguessable_and_fit_ids_and_addresses():
    tokens = {new_token() for _ in range(2000)}
    assert len(tokens) == 2000
    for token in list(tokens)[:50]:
        assert len(token) == 24 and token.isalnum() and token == token.lower()
        assert parse_message_id(message_id(token, 2, "example.org")) == (token, 2)
        assert subaddress_token(reply_to_address("r+{token}@example.org", token)) == token


def test_tokens_made_in_bulk_are_like_single_ones():
    tokens = new_tokens(5000)
    assert len(tokens) == len(set(tokens)) == 5000 and new_tokens(0) == []
    for token in tokens[:50]:
        assert len(token) == 24 and token.isalnum() and token == token.lower()
        assert parse_message_id(message_id(token, 1, "example.org")) == (token, 1)
    # Every letter of the base32 alphabet, about equally often (5 uniform random bits a letter).
    letters = "".join(tokens)
    counts = {c: letters.count(c) for c in set(letters)}
    assert sorted(counts) == sorted("abcdefghijklmnopqrstuvwxyz234567")
    assert min(counts.values()) > 0.8 * len(letters) / 32


@pytest.mark.parametrize(("value", "expected"), [
    (f"<probe.{TOKEN}.0@example.org>", (TOKEN, 0)),
    (f"<PROBE.{TOKEN.upper()}.1@EXAMPLE.ORG>", (TOKEN, 1)),   # case folded by a mail system
    (f"  <probe.{TOKEN}.2@example.org>  ", (TOKEN, 2)),
    ("<CAF=abc@mail.gmail.com>", None),
    (f"<probe.{TOKEN[:-1]}.0@example.org>", None),             # a token too short is not ours
    ("", None),
])
def test_parse_message_id(value, expected):
    assert parse_message_id(value) == expected


def test_tokens_in_a_references_header_in_order():
    refs = f"<a@x> <probe.{TOKEN}.0@d.org>\r\n <probe.{OTHER}.1@d.org>"
    assert tokens_in(refs) == [(TOKEN, 0), (OTHER, 1)]


def human() -> Classification:
    return Classification(kind=MessageKind.HUMAN_REPLY)


def test_in_reply_to_comes_first_then_references_newest_first_then_sender():
    found = match_candidates(in_reply_to=f"<probe.{TOKEN}.1@d.org>",
                             references=(f"<probe.{OTHER}.0@d.org>", f"<probe.{TOKEN}.1@d.org>"),
                             to_addrs=(), from_addr="Colleague@Client.example.com", classification=human())
    assert [(c.method, c.key, c.value) for c in found] == [
        (MatchMethod.IN_REPLY_TO, "token", TOKEN),
        (MatchMethod.IN_REPLY_TO, "token", OTHER),
        (MatchMethod.SENDER, "email", "colleague@client.example.com"),
    ]


def test_reply_to_subaddress_token():
    found = match_candidates(in_reply_to="", references=(), to_addrs=(f"redaction+{TOKEN}@en-contact.example",),
                             from_addr="x@y.example", classification=human())
    assert found[0].method is MatchMethod.REPLY_TO_TOKEN and found[0].value == TOKEN


def test_bounce_uses_the_original_message_id_then_the_failed_recipient():
    dsn = Classification(kind=MessageKind.BOUNCE, failed_recipients=("Gone@Client.example.com",),
                         original_message_ids=(f"<probe.{TOKEN}.0@d.org>",))
    found = match_candidates(in_reply_to="", references=(), to_addrs=(), from_addr="mailer-daemon@mx.example",
                             classification=dsn)
    assert [(c.method, c.value) for c in found] == [
        (MatchMethod.BOUNCE_ORIGINAL, TOKEN),
        (MatchMethod.BOUNCE_RECIPIENT, "gone@client.example.com"),
        (MatchMethod.SENDER, "mailer-daemon@mx.example"),
    ]


def test_a_human_reply_never_matches_on_failed_recipients():
    odd = Classification(kind=MessageKind.HUMAN_REPLY, failed_recipients=("someone@x.example",))
    found = match_candidates(in_reply_to="", references=(), to_addrs=(), from_addr="", classification=odd)
    assert found == []


def test_received_time_believes_the_server_unless_it_is_ahead_of_the_campaign_clock():
    from datetime import UTC, datetime, timedelta

    from probe.service.poll import received_time

    now = datetime(2015, 10, 1, 9, tzinfo=UTC)
    internal = now - timedelta(hours=3)
    header = now - timedelta(hours=4)
    assert received_time(internal, header, now) == internal
    assert received_time(None, header, now) == header
    assert received_time(None, None, now) == now
    # A simulated campaign clock in 2015 and a server that stamped the message in 2026:
    assert received_time(datetime(2026, 1, 1, tzinfo=UTC), header, now) == header
    assert received_time(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), now) == now
