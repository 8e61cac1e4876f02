"""Which target a message belongs to: the candidates to look up, in the order of docs/design.md "One pass".

The core only says what to look for; the service resolves each candidate against the store and keeps
the first that names a target of the campaign, recording the method that matched."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from probe.core.model import Classification, MatchMethod, MessageKind
from probe.core.tokens import subaddress_token, tokens_in

LookupKey = Literal["token", "email"]


@dataclass(frozen=True)
class Candidate:
    method: MatchMethod
    key: LookupKey
    value: str


def match_candidates(*, in_reply_to: str, references: tuple[str, ...], to_addrs: tuple[str, ...],
                     from_addr: str, classification: Classification) -> list[Candidate]:
    """Every way this message could name a target, most reliable first, without duplicates."""
    found: list[Candidate] = []

    def add(method: MatchMethod, key: LookupKey, value: str) -> None:
        if value and all((c.key, c.value) != (key, value) for c in found):
            found.append(Candidate(method, key, value))

    # In-Reply-To names the message answered; References from the newest id backwards.
    for token, _wave in tokens_in(in_reply_to):
        add(MatchMethod.IN_REPLY_TO, "token", token)
    for ref in reversed(references):
        for token, _wave in tokens_in(ref):
            add(MatchMethod.IN_REPLY_TO, "token", token)
    for address in to_addrs:
        sub_token = subaddress_token(address)
        if sub_token:
            add(MatchMethod.REPLY_TO_TOKEN, "token", sub_token)
    if classification.kind in (MessageKind.BOUNCE, MessageKind.DELIVERY_DELAY, MessageKind.READ_RECEIPT):
        for original in classification.original_message_ids:
            for token, _wave in tokens_in(original):
                add(MatchMethod.BOUNCE_ORIGINAL, "token", token)
        for recipient in classification.failed_recipients:
            add(MatchMethod.BOUNCE_RECIPIENT, "email", recipient.strip().lower())
    add(MatchMethod.SENDER, "email", from_addr.strip().lower())
    return found
