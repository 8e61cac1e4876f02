"""send.wire_at: when a claimed send was handed to SMTP (issue 12, "a window of doubt no wider than DATA")

Revision ID: 0007
Revises: 0008
Create Date: 2026-12-03

A claim whose pass died before this was written never went on the wire: it goes back to the queue by
itself. Claims already held when upgrading are marked as on the wire (the older code could not say).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("send") as batch:
        batch.add_column(sa.Column("wire_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE send SET wire_at = lease_expires_at WHERE state = 'claimed'")


def downgrade() -> None:
    with op.batch_alter_table("send") as batch:
        batch.drop_column("wire_at")
