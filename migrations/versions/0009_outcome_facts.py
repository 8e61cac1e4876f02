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
         "auto_replies", "no_longer_there", "not_eligible", "answer_wave", "last_sent_at", "to_answer_s",
         "since_last_s", "answer_t", "authenticated")

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

# The facts computed from the facts above (a second UPDATE: SET reads the row as it was).
_W = "coalesce(answered_at, opted_out_at)"
DERIVED = {
    "sqlite": {
        "seconds": "((julianday({a}) - julianday({b})) * 86400.0)",
        "ceil": "(CAST({x} AS INTEGER) + CASE WHEN {x} > CAST({x} AS INTEGER) THEN 1 ELSE 0 END)",
        "passed": "json_type(m.authenticity, '$.domain_passed') = 'true'",
    },
    "postgresql": {
        "seconds": "CAST(EXTRACT(epoch FROM {a} - {b}) AS FLOAT)",
        "ceil": "CAST(ceil({x}) AS INTEGER)",
        "passed": "json_typeof(m.authenticity -> 'domain_passed') = 'boolean' "
                  "AND (m.authenticity ->> 'domain_passed') = 'true'",
    },
}


def derived_backfill(dialect: str) -> str:
    sql = DERIVED[dialect]
    raw = "(" + sql["seconds"].format(a=_W, b="initial_sent_at") + " - 0.001)"
    return f"""
UPDATE target SET
  to_answer_s = {sql["seconds"].format(a=_W, b="first_sent_at")},
  since_last_s = {sql["seconds"].format(a=_W, b="last_sent_at")},
  answer_t = CASE WHEN {raw} <= 0 THEN 0 ELSE {sql["ceil"].format(x=raw)} END,
  authenticated = EXISTS (SELECT 1 FROM inbound_message m WHERE m.id = target.deciding_message_id
                          AND {sql["passed"]})
"""


FACTS_INDEX = ("campaign_id", "state", "answer", "answer_override", "sent_waves", "answer_wave", "opt_out_reply",
               "auto_replies", "no_longer_there", "not_eligible", "authenticated")

KM_INDEXES = {
    "answer_t": ("campaign_id", "answer_t", "state", "opt_out_reply", "answered_at", "opted_out_at",
                 "initial_sent_at"),
    "initial_sent_at": ("campaign_id", "initial_sent_at", "state", "opt_out_reply", "answered_at", "opted_out_at",
                        "bounced_at", "state_changed_at"),
}


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
        batch.add_column(sa.Column("to_answer_s", sa.Double(), nullable=True))
        batch.add_column(sa.Column("since_last_s", sa.Double(), nullable=True))
        batch.add_column(sa.Column("answer_t", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("authenticated", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute(BACKFILL)
    op.execute(derived_backfill(op.get_bind().dialect.name))
    op.create_index("ix_target_campaign_facts", "target", list(FACTS_INDEX))
    for column in ("to_answer_s", "since_last_s"):
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(f"ix_target_campaign_{column}", "target", ["campaign_id", column, "state", "opt_out_reply"],
                        sqlite_where=where, postgresql_where=where)
    for name, columns in KM_INDEXES.items():
        where = sa.text(f"{columns[1]} IS NOT NULL")
        op.create_index(f"ix_target_campaign_{name}", "target", list(columns), sqlite_where=where,
                        postgresql_where=where)
    where = sa.text("variant IS NOT NULL")
    op.create_index("ix_target_campaign_variant", "target", ["campaign_id", "variant"], sqlite_where=where,
                    postgresql_where=where)


def downgrade() -> None:
    for name in ("variant", *KM_INDEXES, "since_last_s", "to_answer_s", "facts"):
        op.drop_index(f"ix_target_campaign_{name}", table_name="target")
    with op.batch_alter_table("target") as batch:
        for name in reversed(FACTS):
            batch.drop_column(name)
