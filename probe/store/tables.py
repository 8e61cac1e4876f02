"""SQLAlchemy 2 typed ORM tables. Times are stored in UTC (UTCDateTime), enums as their values."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum as PyEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Double,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from probe.core.model import Answer, MatchMethod, MessageKind, SendState, TargetState


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every engine (SQLite drops offsets)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_type(cls: type[PyEnum]) -> Enum:
    return Enum(cls, native_enum=False, values_callable=lambda e: [m.value for m in e], length=32,
                validate_strings=True)


def utcnow() -> datetime:
    return datetime.now(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(AsyncAttrs, DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        datetime: UTCDateTime(),
        TargetState: enum_type(TargetState),
        SendState: enum_type(SendState),
        MessageKind: enum_type(MessageKind),
        Answer: enum_type(Answer),
        MatchMethod: enum_type(MatchMethod),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class Campaign(Base):
    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    plan_hash: Mapped[str] = mapped_column(String(64))       # sha256 of config + templates + targets
    waves: Mapped[int] = mapped_column(Integer)              # 1 + number of reminders
    close_after_s: Mapped[int] = mapped_column(Integer)
    keep_bodies: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    launched_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_pass_at: Mapped[datetime | None]                    # wall clock of the last finished pass
    smtp_failing_since: Mapped[datetime | None]              # campaign clock of the first account fault
    smtp_failure: Mapped[str | None] = mapped_column(Text)   # the last account fault, with the key to fix


class Target(Base):
    __tablename__ = "target"
    __table_args__ = (UniqueConstraint("campaign_id", "email", name="uq_target_campaign_email"),
                      Index("ix_target_campaign_state", "campaign_id", "state"))

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))          # lowercased, as matched
    address: Mapped[str] = mapped_column(String(320))        # as written in the CSV (sent to)
    line: Mapped[int] = mapped_column(Integer)               # line number in the targets file
    fields: Mapped[dict[str, Any]]                           # every CSV column, for templates and --by
    token: Mapped[str] = mapped_column(String(32), unique=True)  # unguessable, in Message-IDs
    state: Mapped[TargetState] = mapped_column(default=TargetState.PENDING)
    state_changed_at: Mapped[datetime | None]                # campaign clock
    answer: Mapped[Answer | None]                            # automatic answer of the deciding reply
    answer_override: Mapped[Answer | None]                   # a person's correction (review)
    answered_at: Mapped[datetime | None]                     # received time of the deciding reply
    deciding_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_message.id", ondelete="SET NULL", use_alter=True))
    out_of_office_until: Mapped[datetime | None]
    # An experiment's assignment (DESIGN.md "Experiments"): set once at launch, never moved.
    variant: Mapped[str | None] = mapped_column(String(200))
    stratum: Mapped[str | None] = mapped_column(String(500))
    # Outcome facts (migration 0009): what the report's figures need from the target's sends and
    # messages, recomputed by probe.store.facts.refresh in the transaction of each event.
    first_sent_at: Mapped[datetime | None]                   # earliest sent_at of its sent sends
    initial_sent_at: Mapped[datetime | None]                 # wave 0's sent_at, once sent
    sent_waves: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # bit w: wave w sent
    opted_out_at: Mapped[datetime | None]                    # its first opt-out reply in this campaign
    opt_out_reply: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    bounced_at: Mapped[datetime | None]                      # its first bounce message
    auto_replies: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    no_longer_there: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    not_eligible: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    answer_wave: Mapped[int | None] = mapped_column(Integer)  # wave its answer is credited to
    last_sent_at: Mapped[datetime | None]                    # the last send at or before the answer
    to_answer_s: Mapped[float | None] = mapped_column(Double)   # answer - first send, seconds
    since_last_s: Mapped[float | None] = mapped_column(Double)  # answer - last send before it
    answer_t: Mapped[int | None] = mapped_column(Integer)   # Kaplan–Meier time of the answer, whole s
    authenticated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


#: The report's counts read targets in this order (probe.store.figures): one covering index scan, no sort.
Index("ix_target_campaign_facts", Target.campaign_id, Target.state, Target.answer, Target.answer_override,
      Target.sent_waves, Target.answer_wave, Target.opt_out_reply, Target.auto_replies, Target.no_longer_there,
      Target.not_eligible, Target.authenticated)
#: Quantiles of the answer times walk these (answering targets only) to the rank they need.
for _column in (Target.to_answer_s, Target.since_last_s):
    Index(f"ix_target_campaign_{_column.key}", Target.campaign_id, _column, Target.state, Target.opt_out_reply,
          sqlite_where=_column.is_not(None), postgresql_where=_column.is_not(None))
#: Kaplan–Meier reads the answers in the order of their time and the silent targets in the order of
#: their first email, each off its own covering index.
Index("ix_target_campaign_answer_t", Target.campaign_id, Target.answer_t, Target.state, Target.opt_out_reply,
      Target.answered_at, Target.opted_out_at, Target.initial_sent_at,
      sqlite_where=Target.answer_t.is_not(None), postgresql_where=Target.answer_t.is_not(None))
Index("ix_target_campaign_initial_sent_at", Target.campaign_id, Target.initial_sent_at, Target.state,
      Target.opt_out_reply, Target.answered_at, Target.opted_out_at, Target.bounced_at, Target.state_changed_at,
      sqlite_where=Target.initial_sent_at.is_not(None), postgresql_where=Target.initial_sent_at.is_not(None))
#: Is this campaign an experiment? Read on the few targets that have a variant, not on all.
Index("ix_target_campaign_variant", Target.campaign_id, Target.variant,
      sqlite_where=Target.variant.is_not(None), postgresql_where=Target.variant.is_not(None))


class Send(Base):
    __tablename__ = "send"
    # Every index here is written for each of a launch's sends (300,000 for 100,000 targets × 3
    # waves): migration 0011 removed (campaign_id, wave, state), which no frequent query needed, and
    # made the Message-ID's unique index partial (a send has no Message-ID until it is claimed).
    __table_args__ = (UniqueConstraint("target_id", "wave", name="uq_send_target_wave"),
                      Index("ix_send_campaign_state_due", "campaign_id", "state", "due_at"),
                      Index("uq_send_message_id", "message_id", unique=True,
                            sqlite_where=text("message_id IS NOT NULL"),
                            postgresql_where=text("message_id IS NOT NULL")))

    id: Mapped[int] = mapped_column(primary_key=True)
    # Denormalised from the target for the claim index; no foreign key of its own, because on
    # PostgreSQL a second per-row FK check made launching 100,000 targets a third slower (measured).
    campaign_id: Mapped[int] = mapped_column(Integer)
    target_id: Mapped[int] = mapped_column(ForeignKey("target.id", ondelete="CASCADE"))
    wave: Mapped[int] = mapped_column(Integer)               # 0 initial, 1.. reminders
    due_at: Mapped[datetime]                                 # campaign clock; also the retry time
    planned_at: Mapped[datetime]                             # the due time launch planned
    state: Mapped[SendState] = mapped_column(default=SendState.SCHEDULED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None]                # wall clock
    message_id: Mapped[str | None] = mapped_column(String(250))  # with <>; unique once set (uq_send_message_id)
    sent_at: Mapped[datetime | None]                         # campaign clock
    smtp_reply: Mapped[str | None] = mapped_column(Text)     # the server's final reply line
    last_error: Mapped[str | None] = mapped_column(Text)
    resolved_note: Mapped[str | None] = mapped_column(Text)  # how a person resolved an uncertain send
    first_attempt_at: Mapped[datetime | None]                # campaign clock: start of the retry window
    #: Wall clock: the claim was handed to SMTP. A claim without it never went out (dead pass: requeued).
    wire_at: Mapped[datetime | None]


class InboundMessage(Base):
    __tablename__ = "inbound_message"
    __table_args__ = (
        UniqueConstraint("campaign_id", "mailbox", "uidvalidity", "uid", name="uq_inbound_uid"),
        UniqueConstraint("campaign_id", "message_id_header", "raw_sha256", name="uq_inbound_content"),
        Index("ix_inbound_campaign_target", "campaign_id", "target_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    mailbox: Mapped[str] = mapped_column(String(400))        # "user@host/INBOX" or "import:PATH"
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    message_id_header: Mapped[str] = mapped_column(String(250), default="")  # "" when absent
    raw_sha256: Mapped[str] = mapped_column(String(64))
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)   # None when keep_bodies = false
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime]                            # INTERNALDATE (or Date, or import time)
    date_header: Mapped[datetime | None]
    sender: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[MessageKind]
    answer: Mapped[Answer | None]
    opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    new_text: Mapped[str] = mapped_column(Text, default="")
    reasons: Mapped[list[str]]
    details: Mapped[dict[str, Any]]                          # failed recipients, return date, status...
    # SPF / DKIM / DMARC as the receiving server reported them, and our DKIM check (migration 0005)
    authenticity: Mapped[dict[str, Any] | None]
    target_id: Mapped[int | None] = mapped_column(ForeignKey("target.id", ondelete="SET NULL"))
    match_method: Mapped[MatchMethod | None]
    override_answer: Mapped[Answer | None]
    override_by: Mapped[str | None] = mapped_column(String(200))
    override_at: Mapped[datetime | None]
    stored_at: Mapped[datetime] = mapped_column(default=utcnow)


class MailboxCursor(Base):
    __tablename__ = "mailbox_cursor"
    __table_args__ = (UniqueConstraint("campaign_id", "mailbox", name="uq_cursor_campaign_mailbox"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    mailbox: Mapped[str] = mapped_column(String(400))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Suppression(Base):
    """Addresses that asked to be left alone: honoured by every campaign in the database."""

    __tablename__ = "suppression"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    reason: Mapped[str] = mapped_column(String(200))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CodingSample(Base):
    """A human reply drawn for blind double-coding (`probe review --sample`): the reviewer's code is
    compared with the automatic answer in the report's coding_agreement; it never overrides it."""

    __tablename__ = "coding_sample"
    __table_args__ = (UniqueConstraint("campaign_id", "message_id", name="uq_coding_sample_message"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    message_id: Mapped[int] = mapped_column(ForeignKey("inbound_message.id", ondelete="CASCADE"))
    seed: Mapped[int | None] = mapped_column(BigInteger)
    drawn_at: Mapped[datetime]
    code: Mapped[Answer | None]                              # the reviewer's code; None until coded
    coded_by: Mapped[str | None] = mapped_column(String(200))
    coded_at: Mapped[datetime | None]


class TargetEligibility(Base):
    """A reviewer's ruling that a target is not eligible (AAPOR NE), e.g. not the person sought."""

    __tablename__ = "target_eligibility"
    __table_args__ = (Index("ix_target_eligibility_campaign", "campaign_id"),)

    target_id: Mapped[int] = mapped_column(ForeignKey("target.id", ondelete="CASCADE"), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(Integer)
    eligible: Mapped[bool] = mapped_column(Boolean)
    set_by: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime]


class TestSend(Base):
    """A message `probe send-test` sent to the user's own address: evidence of the test, never a send
    to a target (no figure reads this table)."""

    __tablename__ = "test_send"
    __test__ = False   # not a pytest test class, whatever its name

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_name: Mapped[str] = mapped_column(String(200), index=True)
    target_email: Mapped[str] = mapped_column(String(320))
    wave: Mapped[int] = mapped_column(Integer)
    to_address: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(300))
    smtp_reply: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime]


class Worker(Base):
    """One `probe run` or `probe tick` process: its heartbeat tells `status` it is alive (wall clock)."""

    __tablename__ = "worker"
    __table_args__ = (Index("ix_worker_campaign_stopped", "campaign_id", "stopped_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8))             # "run" | "tick"
    host: Mapped[str] = mapped_column(String(253))
    pid: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str] = mapped_column(String(200))          # the lease owner it claims sends as
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]
    last_pass_at: Mapped[datetime | None]
    stopped_at: Mapped[datetime | None]                      # None while running (or dead)


class RateBucket(Base):
    """A token bucket shared by every process: `smtp:<account>` or `domain:<recipient domain>`."""

    __tablename__ = "rate_bucket"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    tokens: Mapped[float] = mapped_column(Double)
    capacity: Mapped[float] = mapped_column(Double)
    rate_per_s: Mapped[float] = mapped_column(Double)
    updated_s: Mapped[float] = mapped_column(Double)         # epoch seconds of the last refill


class MailboxLease(Base):
    """SQLite's one-poller-per-mailbox lease (PostgreSQL uses an advisory lock instead)."""

    __tablename__ = "mailbox_lease"

    mailbox: Mapped[str] = mapped_column(String(400), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]                             # wall clock


class WakeupSignal(Base):
    """SQLite's stand-in for NOTIFY: a counter per channel that listeners poll."""

    __tablename__ = "wakeup_signal"

    channel: Mapped[str] = mapped_column(String(63), primary_key=True)
    serial: Mapped[int] = mapped_column(BigInteger)
