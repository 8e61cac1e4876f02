"""target outcome facts: what the report's figures need from the sends and messages, on the target row
(issue 15, "report at database speed")

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-04

Described here, not imported from probe.store (see 0001): the backfill below is the definition of
probe.store.facts at this revision, as plain SQL over the existing rows (tests/integration/
test_facts.py checks that both give the same facts). From here on the store keeps them up to date in
the transaction of each event. The index lets the report's counts read targets in group order.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)
FACTS = ("first_sent_at", "initial_sent_at", "sent_waves", "opted_out_at", "opt_out_reply", "bounced_at",
         "auto_replies", "no_longer_there", "not_eligible", "answer_wave", "last_sent_at")

_SENT = "FROM send s WHERE s.target_id = target.id AND s.state = 'sent'"
_HERE = "FROM inbound_message m WHERE m.campaign_id = target.campaign_id AND m.target_id = target.id"
_OPT_AT = f"(SELECT min(m.received_at) {_HERE} AND m.opt_out = TRUE)"
_WHEN = f"coalesce(target.answered_at, {_OPT_AT})"
_BEFORE = f"{_SENT} AND s.sent_at IS NOT NULL AND s.sent_at <= {_WHEN}"

BACKFILL = f"""
UPDATE target SET
  first_sent_at = (SELECT min(s.sent_at) {_SENT}),
  initial_sent_at = (SELECT s.sent_at {_SENT} AND s.wave = 0),
  sent_waves = (SELECT coalesce(sum(1 << s.wave), 0) {_SENT}),
  opted_out_at = {_OPT_AT},
  opt_out_reply = EXISTS (SELECT 1 {_HERE} AND m.opt_out = TRUE),
  bounced_at = (SELECT min(m.received_at) {_HERE} AND m.kind = 'bounce'),
  auto_replies = (SELECT count(*) {_HERE} AND m.kind = 'auto_reply'),
  no_longer_there = EXISTS (SELECT 1 {_HERE} AND m.kind = 'auto_reply'
                            AND CAST(m.reasons AS VARCHAR) LIKE '%no-longer-with-company%'),
  not_eligible = EXISTS (SELECT 1 FROM target_eligibility e WHERE e.target_id = target.id
                         AND e.eligible = FALSE),
  answer_wave = CASE WHEN {_WHEN} IS NOT NULL THEN coalesce((SELECT max(s.wave) {_BEFORE}), 0) END,
  last_sent_at = (SELECT max(s.sent_at) {_BEFORE})
"""

FACTS_INDEX = ("campaign_id", "state", "answer", "answer_override", "sent_waves", "answer_wave", "opt_out_reply",
               "auto_replies", "no_longer_there", "not_eligible")


def upgrade() -> None:
    with op.batch_alter_table("target") as batch:
        batch.add_column(sa.Column("first_sent_at", TIME, nullable=True))
        batch.add_column(sa.Column("initial_sent_at", TIME, nullable=True))
        batch.add_column(sa.Column("sent_waves", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("opted_out_at", TIME, nullable=True))
        batch.add_column(sa.Column("opt_out_reply", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("bounced_at", TIME, nullable=True))
        batch.add_column(sa.Column("auto_replies", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("no_longer_there", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("not_eligible", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("answer_wave", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("last_sent_at", TIME, nullable=True))
    op.execute(BACKFILL)
    op.create_index("ix_target_campaign_facts", "target", list(FACTS_INDEX))


def downgrade() -> None:
    op.drop_index("ix_target_campaign_facts", table_name="target")
    with op.batch_alter_table("target") as batch:
        for name in reversed(FACTS):
            batch.drop_column(name)
