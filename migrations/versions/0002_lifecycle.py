"""lifecycle: the SMTP account's health on the campaign, the first attempt of a send

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03

campaign.smtp_failing_since / smtp_failure: an account fault (connection refused, DNS, TLS or AUTH
refused, 421 at the greeting) is recorded so `probe status` can say since when the account fails;
cleared by the next pass that reaches the server. send.first_attempt_at: the start of the retry
window (smtp.retry_for) of a message-level temporary failure.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaign") as batch:
        batch.add_column(sa.Column("smtp_failing_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("smtp_failure", sa.Text(), nullable=True))
    with op.batch_alter_table("send") as batch:
        batch.add_column(sa.Column("first_attempt_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("send") as batch:
        batch.drop_column("first_attempt_at")
    with op.batch_alter_table("campaign") as batch:
        batch.drop_column("smtp_failure")
        batch.drop_column("smtp_failing_since")
