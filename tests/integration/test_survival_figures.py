"""The report's Kaplan–Meier figures (answered_within, survival, survival_ci95), computed from the
targets' facts with the answer times read back as JSON arrays, are exactly those of the textbook
loop over the event times computed from the events (probe.store.research.event_times), on a seeded
campaign with more distinct answer times than the curve keeps, at several report times."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from probe.report.research import ResearchOptions, within_labels
from probe.report.summary import build_report
from probe.store import research as oracle_research
from probe.store.facts import refresh_campaign
from tests.fixtures.seed import MESSAGE_COLUMNS, SEND_COLUMNS, T0, TARGET_COLUMNS, seed_known, synthetic_chunks
from tests.unit.test_survival import textbook_figures

OPTIONS = ResearchOptions(within=("1h", "3h", "36h", "3d"))


def _stored(value: Any, dialect: str) -> Any:
    # The text SQLAlchemy's SQLite DateTime writes (naive UTC), as the benchmark's bulk load does.
    if dialect == "sqlite" and isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


async def _seed_synthetic(s: AsyncSession, n: int) -> int:
    dialect = s.get_bind().dialect.name
    cid = int((await s.execute(sa.text(
        "INSERT INTO campaign (name, timezone, plan_hash, waves, close_after_s, keep_bodies, created_at, launched_at)"
        " VALUES ('synthetic', 'UTC', 'h', 3, 86400, TRUE, :t, :t) RETURNING id"), {"t": _stored(T0, dialect)}))
        .scalar_one())
    json_columns = {"fields", "reasons", "details"}
    # Fresh ids after the campaign seeded before (its targets, sends and messages).
    tops = {table: int((await s.execute(sa.text(f"SELECT coalesce(max(id), 0) FROM {table}"))).scalar_one())
            for table in ("target", "send", "inbound_message")}
    offset = tops["target"]
    for targets, sends, messages in synthetic_chunks(cid, n):
        for table, columns, rows in (("target", TARGET_COLUMNS, targets), ("send", SEND_COLUMNS, sends),
                                     ("inbound_message", MESSAGE_COLUMNS, messages)):
            top = tops[table]
            marks = ", ".join(f"CAST(:{c} AS JSON)" if dialect == "postgresql" and c in json_columns else f":{c}"
                              for c in columns)
            values = []
            for row in rows:
                value = {c: _stored(v, dialect) for c, v in zip(columns, row, strict=True)}
                value["id"] += top
                if "target_id" in value:
                    value["target_id"] += offset
                values.append(value)
            await s.execute(sa.text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"), values)
    await refresh_campaign(s, cid)
    await s.execute(sa.text("ANALYZE"))   # the oracle's joins on PostgreSQL: seconds a query without statistics
    return cid


async def test_kaplan_meier_figures_are_the_textbook_ones(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as s:
        known = await seed_known(s)
        synthetic = await _seed_synthetic(s, 5000)
    labels = [seconds for _, seconds in within_labels(OPTIONS)]
    for name, cid in (("known", known), ("synthetic", synthetic)):
        for now in (T0 + timedelta(hours=2), T0 + timedelta(days=3), T0 + timedelta(days=9),
                    datetime(2016, 1, 1, tzinfo=UTC)):
            async with sessions() as s:
                report = await build_report(s, name, now=now, options=OPTIONS)
                times = (await oracle_research.event_times(s, cid, now)).get("", [])
            expected = textbook_figures(times, labels)
            got = {"within": list(report["answered_within"].values()), "curve": report["survival"],
                   "band": report["survival_ci95"]}
            assert json.dumps(got) == json.dumps(expected), f"{name} at {now}"   # 3600.0, not 3600
            if name == "synthetic" and now.year == 2016:
                assert sum(d > 0 for _, d, _ in times) > 1000 and len(report["survival"]) <= 1002  # thinned
