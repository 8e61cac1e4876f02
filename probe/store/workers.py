"""The processes working on a campaign: `probe run` and `probe tick` register, heartbeat and stop.

`probe status` lists the live ones and the ones that stopped answering (no heartbeat within
`silent_after`: killed, host down, network cut). Times are wall clock, given by the caller (`now`),
like leases. A process that stops normally records `stopped_at` and drops out of both lists; rows
stopped more than `KEEP_STOPPED` ago are deleted at the next registration, so a cron `probe tick`
every five minutes does not grow the table forever.

Transactions: see probe.store.engine.Db.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import delete, select, update

from probe.store.engine import Db, transaction
from probe.store.tables import Worker

Kind = Literal["run", "tick"]

#: How often a running process should heartbeat (independently of its passes: a pass sending
#: 5,000 emails at 60/min lasts over an hour).
HEARTBEAT_EVERY = timedelta(seconds=30)
#: No heartbeat for this long: the process is listed as no longer answering.
SILENT_AFTER = timedelta(seconds=120)
#: Stopped rows older than this are forgotten.
KEEP_STOPPED = timedelta(days=1)


@dataclass(frozen=True)
class WorkerRow:
    worker_id: int
    kind: str
    host: str
    pid: int
    owner: str
    started_at: datetime
    heartbeat_at: datetime
    last_pass_at: datetime | None


@dataclass(frozen=True)
class WorkerList:
    live: list[WorkerRow]      # heartbeat within silent_after
    silent: list[WorkerRow]    # not stopped, but no heartbeat within silent_after: probably dead


async def register(db: Db, *, campaign_id: int | None, kind: Kind, host: str, pid: int, owner: str,
                   now: datetime) -> int:
    """Record a starting process; its worker id. Forgets processes stopped over KEEP_STOPPED ago."""
    async with transaction(db) as s:
        await s.execute(delete(Worker).where(Worker.stopped_at.is_not(None),
                                             Worker.stopped_at < now - KEEP_STOPPED))
        row = Worker(campaign_id=campaign_id, kind=kind, host=host, pid=pid, owner=owner,
                     started_at=now, heartbeat_at=now)
        s.add(row)
        await s.flush()
        return row.id


async def heartbeat(db: Db, worker_id: int, now: datetime, *, passed: bool = False) -> bool:
    """The process is alive (and, with `passed`, just finished a pass). False if its row is gone."""
    values: dict[str, datetime | None] = {"heartbeat_at": now}
    if passed:
        values["last_pass_at"] = now
    async with transaction(db) as s:
        done = await s.execute(update(Worker).where(Worker.id == worker_id).values(**values)
                               .returning(Worker.id))
        return done.first() is not None


async def stop(db: Db, worker_id: int, now: datetime) -> None:
    """The process stops normally: it leaves the lists."""
    async with transaction(db) as s:
        await s.execute(update(Worker).where(Worker.id == worker_id).values(stopped_at=now, heartbeat_at=now))


async def list_workers(db: Db, campaign_id: int | None, *, now: datetime,
                       silent_after: timedelta = SILENT_AFTER) -> WorkerList:
    """Processes not stopped, split by whether they heartbeat within `silent_after` of `now`."""
    async with transaction(db) as s:
        rows = (await s.execute(select(Worker).where(Worker.campaign_id == campaign_id,
                                                     Worker.stopped_at.is_(None))
                                .order_by(Worker.started_at, Worker.id))).scalars().all()
    found = [WorkerRow(r.id, r.kind, r.host, r.pid, r.owner, r.started_at, r.heartbeat_at, r.last_pass_at)
             for r in rows]
    cutoff = now - silent_after
    return WorkerList(live=[w for w in found if w.heartbeat_at >= cutoff],
                      silent=[w for w in found if w.heartbeat_at < cutoff])


def owner_is_silent(owner: str, workers: WorkerList) -> bool:
    """True when a lease owner (`host:pid:…`) belongs to a process listed as silent: a claim it holds
    will not be recorded by it, on whatever machine it ran (dispatch only sees its own host's pids)."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    return any(w.host == host and str(w.pid) == pid for w in workers.silent) and \
        not any(w.host == host and str(w.pid) == pid for w in workers.live)


def workers_json(workers: WorkerList) -> dict[str, list[dict[str, object]]]:
    """The `workers` key of `probe status --format json`."""
    def one(w: WorkerRow) -> dict[str, object]:
        return {"worker_id": w.worker_id, "kind": w.kind, "host": w.host, "pid": w.pid, "owner": w.owner,
                "started_at": w.started_at.isoformat(), "heartbeat_at": w.heartbeat_at.isoformat(),
                "last_pass_at": w.last_pass_at.isoformat() if w.last_pass_at else None}

    return {"live": [one(w) for w in workers.live], "silent": [one(w) for w in workers.silent]}
