"""probe as a library: open a campaign, call a pass or a read, get Python objects back.

    import asyncio
    from datetime import UTC, datetime
    from probe.api import Campaign

    async def main() -> None:
        async with Campaign.open("campaign.toml") as c:          # read-only by default
            print((await c.status(datetime.now(UTC))).sent)
            print(await c.report_json(datetime.now(UTC)))

    asyncio.run(main())

`Campaign` is the composition root that the CLI's simple commands (status, report, replies, tick,
launch) go through: settings → engine (read-only or not) → `Service` → the service and store
functions. Errors are `probe.errors.ProbeError` subclasses carrying file, field and hint; the CLI
prints them once, at its edge (docs/design.md, "Layers").
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from probe.errors import InputError

if TYPE_CHECKING:
    from probe.config import Settings
    from probe.service.wiring import Service
    from probe.store.status import StatusSummary


def research_options(settings: Settings) -> Any:
    """The [report] section as the report's ResearchOptions."""
    from probe.report.research import ResearchOptions

    r = settings.report
    return ResearchOptions(eligibility=r.eligibility, within=tuple(r.within), business_hours=r.business_hours,
                           holidays=tuple(r.holidays))


class Campaign:
    """One campaign in its database. Obtain it with `Campaign.open`."""

    def __init__(self, service: Service, *, read_only: bool) -> None:
        self.service = service
        self.read_only = read_only

    @property
    def settings(self) -> Settings:
        return self.service.settings

    @classmethod
    @asynccontextmanager
    async def open(cls, config: str | Path | Settings, *, read_only: bool = True, migrate: bool = False,
                   check_plan: bool = False) -> AsyncIterator[Campaign]:
        """Open the campaign a config file (or loaded Settings) names.

        read_only: reads never take SQLite's write lock and writes are refused (status, report,
        replies); pass False to launch, tick or purge. migrate: bring the schema up to date first
        (what `probe launch` and `probe db upgrade` do); without it a database behind this version
        of probe raises StoreError naming `probe db upgrade`. check_plan: the stored plan must
        match the files on disk (tick and run)."""
        from probe.service.wiring import open_service

        settings = _settings(config)
        if migrate:
            from probe.store.engine import upgrade

            # Alembic's env.py runs its own event loop: in a worker thread, none is running.
            await asyncio.to_thread(upgrade, settings.database.url)
        async with open_service(settings, check_plan=check_plan, read_only=read_only) as service:
            yield cls(service, read_only=read_only)

    @property
    def launched(self) -> bool:
        return self.service.campaign_id is not None

    def _writable(self, what: str) -> None:
        if self.read_only:
            raise InputError(f"{what} writes to the database, but the campaign was opened read-only",
                             hint="open it with Campaign.open(path, read_only=False)")

    # ---------------------------------------------------------------- passes (write)

    async def launch(self, now: datetime, *, strict: bool = False) -> Any:
        """Create or update the campaign's plan (`probe launch`); returns the launch summary."""
        self._writable("launch")
        return await self.service.launch(now, strict=strict)

    async def tick(self, now: datetime, *, presence: bool = True) -> Any:
        """One pass: poll the mailbox, then send what is due (`probe tick`). With presence, the
        process is listed by `probe status` while it runs (several workers)."""
        from probe.service.tick import run_pass

        self._writable("tick")
        self.service.require_campaign()
        return await run_pass(self.service, now, presence=presence)

    async def import_(self, path: Path, now: datetime) -> Any:
        """Read replies from .eml/.mbox/Maildir files (`probe import`)."""
        self._writable("import")
        self.service.require_campaign()
        return await self.service.import_path(path, now)

    async def purge(self, *, forget_suppressed: bool = False) -> dict[str, int]:
        """Delete the campaign's targets, sends and messages (`probe purge --yes`)."""
        from probe.store.purge import purge_campaign

        self._writable("purge")
        cid = self.service.require_campaign()
        async with self.service.sessions() as session:
            return await purge_campaign(session, cid, forget_suppressed=forget_suppressed)

    # ---------------------------------------------------------------- reads

    async def status(self, now: datetime) -> StatusSummary:
        """What `probe status` shows: counts by state, the next sends, failures."""
        from probe.store.status import status_summary

        return await status_summary(self.service.sessions, self.service.require_campaign(), now=now)

    async def workers(self, now: datetime) -> Any:
        """The processes working on the campaign (heartbeats are wall clock)."""
        from probe.store.workers import list_workers

        return await list_workers(self.service.sessions, self.service.require_campaign(), now=now)

    async def report(self, now: datetime, *, by: str | None = None) -> dict[str, Any]:
        """The report (the dict `probe report --format json` prints)."""
        from probe.report.summary import build_report
        from probe.store import aggregates as agg

        async with self.service.sessions() as session:
            if by is not None and self.service.campaign_id is not None:
                from probe.adapters.targets import variable_name

                fields = await agg.field_names(session, self.service.campaign_id)
                if by not in fields:
                    matches = [f for f in fields if variable_name(f) == variable_name(by)]
                    by = matches[0] if len(matches) == 1 else by
            return await build_report(session, self.settings.campaign.name, now=now, by=by,
                                      source=str(self.settings.path), options=research_options(self.settings))

    async def report_json(self, now: datetime, *, by: str | None = None) -> str:
        from probe.report import render

        return render.render_json(await self.report(now, by=by))

    async def replies(self, *, unmatched: bool = False, kind: str | None = None) -> list[dict[str, Any]]:
        """The stored inbound messages, newest last, as rows (what `probe replies` lists)."""
        from probe.store import exports as exports_store

        cid = self.service.require_campaign()
        rows: list[dict[str, Any]] = []
        async with self.service.sessions() as session:
            async for chunk in exports_store.stream_inbound(session, cid, unmatched=unmatched, kind=kind):
                rows.extend(chunk)
        return rows


def _settings(config: str | Path | Settings) -> Settings:
    if isinstance(config, str | Path):
        from probe.config import load_config

        return load_config(Path(config))
    return config
