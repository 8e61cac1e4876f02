"""The vocabulary of probe, named once (DESIGN.md "The state that matters" and the classification
contract). The values are stored in the database and printed in JSON: never rename them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum


class TargetState(StrEnum):
    PENDING = "pending"        # planned, nothing sent yet
    CONTACTED = "contacted"    # at least one wave sent, no decisive reply yet
    ANSWERED = "answered"      # a person replied (yes, no or unclear): reminders cancelled
    BOUNCED = "bounced"        # permanent delivery failure: reminders cancelled
    OPTED_OUT = "opted_out"    # asked to be left alone: reminders cancelled, address suppressed
    CLOSED = "closed"          # last wave + close_after passed with no answer: silence is final
    UNDELIVERED = "undelivered"  # the initial email could not be delivered (not the address's fault)


#: States in which a target still gets its planned sends.
WAITING_STATES = frozenset({TargetState.PENDING, TargetState.CONTACTED})


class SendState(StrEnum):
    SCHEDULED = "scheduled"    # planned, due at due_at
    CLAIMED = "claimed"        # leased by a pass that is sending it now
    SENT = "sent"              # the SMTP server accepted it (its reply line is kept)
    RETRY = "retry"            # temporary failure; due again at due_at, attempts+1
    FAILED = "failed"          # permanent failure (5xx, or retries exhausted)
    CANCELLED = "cancelled"    # the target answered, bounced or opted out before it was due
    UNCERTAIN = "uncertain"    # lease expired with no recorded outcome: maybe sent; never resent silently


class MessageKind(StrEnum):
    HUMAN_REPLY = "human_reply"
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    DELIVERY_DELAY = "delivery_delay"
    READ_RECEIPT = "read_receipt"
    UNKNOWN = "unknown"


class Answer(StrEnum):
    YES = "yes"
    NO = "no"
    UNCLEAR = "unclear"


class MatchMethod(StrEnum):
    IN_REPLY_TO = "in_reply_to"            # In-Reply-To / References carry a probe Message-ID
    REPLY_TO_TOKEN = "reply_to_token"      # the token in a Reply-To sub-address (reply+TOKEN@)
    BOUNCE_ORIGINAL = "bounce_original"    # the original's Message-ID inside a DSN / bounce
    BOUNCE_RECIPIENT = "bounce_recipient"  # the failed recipient (Final-Recipient) of a bounce
    SENDER = "sender"                      # the sender address is one of the campaign's targets
    MANUAL = "manual"                      # attached to a target by a person


@dataclass(frozen=True)
class Classification:
    """What a message is, and for a human reply what it answers, with the evidence."""

    kind: MessageKind
    answer: Answer | None = None
    opt_out: bool = False
    new_text: str = ""
    reasons: tuple[str, ...] = ()
    failed_recipients: tuple[str, ...] = ()     # bounces: lowercased addresses
    original_message_ids: tuple[str, ...] = ()  # bounces/receipts: ids of our message, with <>
    return_date: date | None = None             # out-of-office: the announced return
    status: str | None = None                   # DSN status code, e.g. "5.1.1"
    extra: dict[str, str] = field(default_factory=dict)
