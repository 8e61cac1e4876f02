"""test_send: the messages `probe send-test` sent to the user's own address

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

A table of its own, keyed by the campaign's name (a test usually comes before the first launch, so
there may be no campaign row yet): no report figure, status count or export reads it, so a test can
never be counted as a send to a target.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "test_send",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_name", sa.String(200), nullable=False),
        sa.Column("target_email", sa.String(320), nullable=False),
        sa.Column("wave", sa.Integer(), nullable=False),
        sa.Column("to_address", sa.String(320), nullable=False),
        sa.Column("message_id", sa.String(300), nullable=False),
        sa.Column("smtp_reply", sa.Text(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_send")),
    )
    op.create_index(op.f("ix_test_send_campaign_name"), "test_send", ["campaign_name"])


def downgrade() -> None:
    op.drop_index(op.f("ix_test_send_campaign_name"), table_name="test_send")
    op.drop_table("test_send")
