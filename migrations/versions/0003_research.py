"""research: coding_sample (a reviewer's blind codes of sampled replies) and target_eligibility
(a reviewer's "not eligible")

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03

Described here, not imported from probe.store.tables (see 0001). A coding sample measures the
classifier; it never changes an answer, so it lives in its own table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ANSWERS = ("yes", "no", "unclear")


def upgrade() -> None:
    op.create_table(
        "coding_sample",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("code", sa.Enum(*ANSWERS, name="answer", native_enum=False, length=32,
                                  create_constraint=False), nullable=True),
        sa.Column("coded_by", sa.String(200), nullable=True),
        sa.Column("coded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], name="fk_coding_sample_campaign_id_campaign",
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["message_id"], ["inbound_message.id"],
                                name="fk_coding_sample_message_id_inbound_message", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_coding_sample"),
        sa.UniqueConstraint("campaign_id", "message_id", name="uq_coding_sample_message"),
    )
    op.create_table(
        "target_eligibility",
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("eligible", sa.Boolean(), nullable=False),
        sa.Column("set_by", sa.String(200), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["target_id"], ["target.id"], name="fk_target_eligibility_target_id_target",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("target_id", name="pk_target_eligibility"),
    )
    op.create_index("ix_target_eligibility_campaign", "target_eligibility", ["campaign_id"])


def downgrade() -> None:
    op.drop_index("ix_target_eligibility_campaign", table_name="target_eligibility")
    op.drop_table("target_eligibility")
    op.drop_table("coding_sample")
