"""experiments: each target's stratum and variant (the stored random assignment)

Revision ID: 0008
Revises: 0005
Create Date: 2026-12-03

The variant is also written into the target's fields (a template variable and a `--by` field);
these columns are the record of the assignment itself: set once at launch, never moved.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("target") as batch:
        batch.add_column(sa.Column("variant", sa.String(200), nullable=True))
        batch.add_column(sa.Column("stratum", sa.String(500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("target") as batch:
        batch.drop_column("stratum")
        batch.drop_column("variant")
