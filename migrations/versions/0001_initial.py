"""initial schema: campaign, target, send, inbound_message, mailbox_cursor, suppression

Revision ID: 0001
Revises:
Create Date: 2026-11-23

The tables are described here, not imported from probe.store.tables, so this migration keeps meaning
what it meant when it was written. Datetimes are DateTime(timezone=True) (probe binds UTC through its
UTCDateTime decorator); enums are VARCHAR(32) holding the values (native_enum=False, no CHECK).
target.deciding_message_id -> inbound_message is circular, so it is added after both tables exist.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TARGET_STATES = ("pending", "contacted", "answered", "bounced", "opted_out", "closed")
SEND_STATES = ("scheduled", "claimed", "sent", "retry", "failed", "cancelled", "uncertain")
MESSAGE_KINDS = ("human_reply", "auto_reply", "bounce", "delivery_delay", "read_receipt", "unknown")
ANSWERS = ("yes", "no", "unclear")
MATCH_METHODS = ("in_reply_to", "reply_to_token", "bounce_original", "bounce_recipient", "sender", "manual")


def _enum(name: str, values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=32, create_constraint=False)


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("plan_hash", sa.String(64), nullable=False),
        sa.Column("waves", sa.Integer(), nullable=False),
        sa.Column("close_after_s", sa.Integer(), nullable=False),
        sa.Column("keep_bodies", sa.Boolean(), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("launched_at", _time(), nullable=False),
        sa.Column("last_pass_at", _time(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_campaign"),
        sa.UniqueConstraint("name", name="uq_campaign_name"),
    )
    op.create_table(
        "mailbox_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("mailbox", sa.String(400), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], name="fk_mailbox_cursor_campaign_id_campaign",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_mailbox_cursor"),
        sa.UniqueConstraint("campaign_id", "mailbox", name="uq_cursor_campaign_mailbox"),
    )
    op.create_table(
        "suppression",
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("created_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], name="fk_suppression_campaign_id_campaign",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("email", name="pk_suppression"),
    )
    op.create_table(
        "target",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("state", _enum("targetstate", TARGET_STATES), nullable=False),
        sa.Column("state_changed_at", _time(), nullable=True),
        sa.Column("answer", _enum("answer", ANSWERS), nullable=True),
        sa.Column("answer_override", _enum("answer", ANSWERS), nullable=True),
        sa.Column("answered_at", _time(), nullable=True),
        sa.Column("deciding_message_id", sa.Integer(), nullable=True),
        sa.Column("out_of_office_until", _time(), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], name="fk_target_campaign_id_campaign",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_target"),
        sa.UniqueConstraint("campaign_id", "email", name="uq_target_campaign_email"),
        sa.UniqueConstraint("token", name="uq_target_token"),
    )
    op.create_index("ix_target_campaign_state", "target", ["campaign_id", "state"])
    op.create_table(
        "inbound_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("mailbox", sa.String(400), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("uid", sa.BigInteger(), nullable=True),
        sa.Column("message_id_header", sa.String(250), nullable=False),
        sa.Column("raw_sha256", sa.String(64), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("received_at", _time(), nullable=False),
        sa.Column("date_header", _time(), nullable=True),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("kind", _enum("messagekind", MESSAGE_KINDS), nullable=False),
        sa.Column("answer", _enum("answer", ANSWERS), nullable=True),
        sa.Column("opt_out", sa.Boolean(), nullable=False),
        sa.Column("new_text", sa.Text(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("match_method", _enum("matchmethod", MATCH_METHODS), nullable=True),
        sa.Column("override_answer", _enum("answer", ANSWERS), nullable=True),
        sa.Column("override_by", sa.String(200), nullable=True),
        sa.Column("override_at", _time(), nullable=True),
        sa.Column("stored_at", _time(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], name="fk_inbound_message_campaign_id_campaign",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["target_id"], ["target.id"], name="fk_inbound_message_target_id_target",
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_inbound_message"),
        sa.UniqueConstraint("campaign_id", "mailbox", "uidvalidity", "uid", name="uq_inbound_uid"),
        sa.UniqueConstraint("campaign_id", "message_id_header", "raw_sha256", name="uq_inbound_content"),
    )
    op.create_index("ix_inbound_campaign_target", "inbound_message", ["campaign_id", "target_id"])
    with op.batch_alter_table("target") as batch:
        batch.create_foreign_key("fk_target_deciding_message_id_inbound_message", "inbound_message",
                                 ["deciding_message_id"], ["id"], ondelete="SET NULL")
    op.create_table(
        "send",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("due_at", _time(), nullable=False),
        sa.Column("planned_at", _time(), nullable=False),
        sa.Column("state", _enum("sendstate", SEND_STATES), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_owner", sa.String(200), nullable=True),
        sa.Column("lease_expires_at", _time(), nullable=True),
        sa.Column("message_id", sa.String(250), nullable=True),
        sa.Column("sent_at", _time(), nullable=True),
        sa.Column("smtp_reply", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("resolved_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["target_id"], ["target.id"], name="fk_send_target_id_target", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_send"),
        sa.UniqueConstraint("message_id", name="uq_send_message_id"),
        sa.UniqueConstraint("target_id", "wave", name="uq_send_target_wave"),
    )
    op.create_index("ix_send_campaign_state_due", "send", ["campaign_id", "state", "due_at"])
    op.create_index("ix_send_campaign_wave_state", "send", ["campaign_id", "wave", "state"])


def downgrade() -> None:
    op.drop_index("ix_send_campaign_wave_state", table_name="send")
    op.drop_index("ix_send_campaign_state_due", table_name="send")
    op.drop_table("send")
    with op.batch_alter_table("target") as batch:
        batch.drop_constraint("fk_target_deciding_message_id_inbound_message", type_="foreignkey")
    op.drop_index("ix_inbound_campaign_target", table_name="inbound_message")
    op.drop_table("inbound_message")
    op.drop_index("ix_target_campaign_state", table_name="target")
    op.drop_table("target")
    op.drop_table("suppression")
    op.drop_table("mailbox_cursor")
    op.drop_table("campaign")
