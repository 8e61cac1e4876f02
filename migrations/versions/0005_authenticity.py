"""inbound_message.authenticity: SPF / DKIM / DMARC of each incoming message

Revision ID: 0005
Revises: 0006
Create Date: 2026-12-03

What the receiving server's Authentication-Results said (and our own DKIM check), as JSON:
{"spf", "dkim", "dmarc", "dkim_domains", "from_domain", "dkim_verified", "domain_passed", ...};
NULL for messages stored before this revision.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_message") as batch:
        batch.add_column(sa.Column("authenticity", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbound_message") as batch:
        batch.drop_column("authenticity")
