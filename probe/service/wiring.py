"""Composition root: settings → database, templates, mail accounts, and the passes that use them.

The CLI, the daemon, the demo and the tests all go through `open_service`, so they run the same
code against whatever servers the settings name."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, cast

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from probe.config import Settings, read_secret
from probe.errors import PlanChangedError, not_launched

# Re-exported: other modules and branches import these two from wiring.
from probe.service.context import process_owner, wall_clock  # noqa: F401
from probe.store.campaigns import get_campaign, stored_assignment
from probe.store.engine import check_schema, make_engine, make_sessionmaker

if TYPE_CHECKING:  # aiosmtplib, aioimaplib and Jinja2 load when a pass needs them: `probe status` stays fast
    from probe.adapters.imap import ImapAccount
    from probe.adapters.smtp import SmtpAccount
    from probe.adapters.templates import TemplateSet
    from probe.core.answers import AnswerWords

log = logging.getLogger("probe.service")


@dataclass
class Service:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    campaign_id: int | None = None
    wall_clock: Callable[[], datetime] = wall_clock
    #: Set by the daemon on SIGTERM: the pass in progress finishes its in-flight sends, claims no more.
    stopping: bool = False
    _templates: TemplateSet | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.settings.campaign.name

    @property
    def templates(self) -> TemplateSet:
        if self._templates is None:
            from probe.adapters.templates import load_templates

            self._templates = load_templates(self.settings)
        return self._templates

    @property
    def words(self) -> AnswerWords:
        from probe.core.answers import AnswerWords

        a = self.settings.answers
        return AnswerWords.with_extra(yes=tuple(a.yes), no=tuple(a.no), opt_out=tuple(a.opt_out),
                                      use_defaults=a.use_defaults)

    @property
    def message_id_domain(self) -> str:
        # The config's validators always fill these in (from campaign.from, from the security).
        return cast(str, self.settings.campaign.message_id_domain)

    def smtp_account(self) -> SmtpAccount:
        from probe.adapters.smtp import SmtpAccount

        s = self.settings.smtp
        password = read_secret(s.password_env, file=str(self.settings.path), field="smtp.password_env")
        return SmtpAccount(host=s.host, port=cast(int, s.port), security=s.security, username=s.username,
                           password=password, tls_verify=s.tls_verify, ca_file=s.ca_file,
                           timeout_s=s.timeout.total_seconds(), local_hostname=s.local_hostname)

    def imap_account(self) -> ImapAccount | None:
        i = self.settings.imap
        if i is None:
            return None
        from probe.adapters.imap import ImapAccount

        password = read_secret(i.password_env, file=str(self.settings.path), field="imap.password_env")
        return ImapAccount(host=i.host, port=cast(int, i.port), security=i.security, username=i.username or "",
                           password=password, folder=i.folder, tls_verify=i.tls_verify,
                           ca_file=i.ca_file, timeout_s=i.timeout.total_seconds())

    def mailbox_key(self) -> str:
        i = self.settings.imap
        assert i is not None
        return f"{i.username or ''}@{i.host}:{i.port}/{i.folder}"

    def require_campaign(self) -> int:
        if self.campaign_id is None:
            raise not_launched(self.name, str(self.settings.path))
        return self.campaign_id

    # The passes, so callers need one import.
    async def launch(self, now: datetime, *, strict: bool = False):
        from probe.service.launch import launch
        return await launch(self, now, strict=strict)

    async def tick(self, now: datetime):
        from probe.service.tick import run_pass
        return await run_pass(self, now)

    async def import_path(self, path: Path, now: datetime):
        from probe.service.poll import import_files
        return await import_files(self, path, now)


@asynccontextmanager
async def open_service(settings: Settings, *, check_plan: bool = False,
                       read_only: bool = False) -> AsyncIterator[Service]:
    """Open the campaign's database. With check_plan, the stored plan must match the files on disk
    (tick and run refuse a changed plan until `launch` is run again)."""
    engine = make_engine(settings.database.url, read_only=read_only,
                         busy_timeout_s=settings.database.busy_timeout.total_seconds())
    try:
        await check_schema(engine)
        sessions = make_sessionmaker(engine)
        async with sessions() as session:
            campaign = await get_campaign(session, settings.campaign.name)
        service = Service(settings, engine, sessions, campaign.id if campaign else None)
        if check_plan:
            from probe.service.launch import compute_plan_hash

            service.require_campaign()
            assert campaign is not None
            assignment = await stored_assignment(sessions, campaign.id) if settings.variants else None
            if compute_plan_hash(settings, assignment) != campaign.plan_hash:
                raise PlanChangedError(
                    "the config, templates or targets changed since the last launch",
                    file=str(settings.path),
                    hint=f"check them with: probe validate {settings.path}; then run: probe launch "
                         f"{settings.path}")
        yield service
    finally:
        await engine.dispose()
