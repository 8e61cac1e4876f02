"""send: two indexes fewer to maintain for every planned send (issue 15, "launch at database speed")

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-04

Launching 100,000 targets × 3 waves spent a third of its time in SQLite inserting into the send
table's indexes. Two of them cost more than they give:

- ix_send_campaign_wave_state (campaign_id, wave, state): since the report reads the facts on the
  target rows, no frequent query needs it. Its former users (the sends-by-wave counts, the answer
  timeline, relaunch's replan, the first planned time) use ix_send_campaign_state_due
  (campaign_id, state, due_at) or uq_send_target_wave (target_id, wave) instead.
- uq_send_message_id: a send gets its Message-ID when it is claimed; until then its NULL had an
  entry of its own. Now a partial unique index over the ids that are set: the same uniqueness, and
  lookups by Message-ID (`= ?`, `IN (…)`) still use it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SET = sa.text("message_id IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_send_campaign_wave_state", table_name="send")
    with op.batch_alter_table("send") as batch:
        batch.drop_constraint("uq_send_message_id", type_="unique")
    op.create_index("uq_send_message_id", "send", ["message_id"], unique=True, sqlite_where=_SET,
                    postgresql_where=_SET)


def downgrade() -> None:
    op.drop_index("uq_send_message_id", table_name="send")
    with op.batch_alter_table("send") as batch:
        batch.create_unique_constraint("uq_send_message_id", ["message_id"])
    op.create_index("ix_send_campaign_wave_state", "send", ["campaign_id", "wave", "state"])
