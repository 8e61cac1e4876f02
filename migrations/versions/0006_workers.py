"""several workers: worker (heartbeats), rate_bucket (global token buckets), mailbox_lease,
wakeup_signal (SQLite's stand-in for LISTEN/NOTIFY)

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-03

Tables described here, not imported from probe.store.tables. rate_bucket keeps its clock as float
epoch seconds (not a timestamp), so the refill arithmetic stays plain SQL on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _time() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "worker",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("host", sa.String(253), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("started_at", _time(), nullable=False),
        sa.Column("heartbeat_at", _time(), nullable=False),
        sa.Column("last_pass_at", _time(), nullable=True),
        sa.Column("stopped_at", _time(), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"], name="fk_worker_campaign_id_campaign",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_worker"),
    )
    op.create_index("ix_worker_campaign_stopped", "worker", ["campaign_id", "stopped_at"])
    op.create_table(
        "rate_bucket",
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("tokens", sa.Double(), nullable=False),
        sa.Column("capacity", sa.Double(), nullable=False),
        sa.Column("rate_per_s", sa.Double(), nullable=False),
        sa.Column("updated_s", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_rate_bucket"),
    )
    op.create_table(
        "mailbox_lease",
        sa.Column("mailbox", sa.String(400), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("expires_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("mailbox", name="pk_mailbox_lease"),
    )
    op.create_table(
        "wakeup_signal",
        sa.Column("channel", sa.String(63), nullable=False),
        sa.Column("serial", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("channel", name="pk_wakeup_signal"),
    )


def downgrade() -> None:
    op.drop_table("wakeup_signal")
    op.drop_table("mailbox_lease")
    op.drop_table("rate_bucket")
    op.drop_index("ix_worker_campaign_stopped", table_name="worker")
    op.drop_table("worker")
