"""probe as a library: open a campaign, call a pass or a read, get Python objects back.

    import asyncio
    from datetime import UTC, datetime
    from probe.api import Campaign

    async def main() -> None:
        async with Campaign.open("campaign.toml") as c:          # read-only by default
            print((await c.status(datetime.now(UTC))).sends_by_state)
            print(await c.report_json(datetime.now(UTC)))

    asyncio.run(main())

`Campaign` is the composition root every CLI command that opens a database goes through (launch,
tick, run, status, import, resolve, purge, report, replies, review, export, send-test): settings →
engine (read-only or not) → `Service` → the service and store functions; each method is thin.
Errors are `probe.errors.ProbeError` subclasses carrying file, field and hint; the CLI prints them
once, at its edge (docs/design.md, "Layers").
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from probe.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from probe.config import Settings
    from probe.core.model import Answer
    from probe.service.clock import Clock
    from probe.service.export import Exported
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

    async def import_(self, path: Path, now: datetime, *, on_message: Callable[[], None] | None = None) -> Any:
        """Read replies from .eml/.mbox/Maildir files (`probe import`); `on_message` is called after
        each message."""
        from probe.service.poll import import_files

        self._writable("import")
        self.service.require_campaign()
        return await import_files(self.service, path, now, on_message=on_message)

    async def purge(self, *, forget_suppressed: bool = False) -> dict[str, int]:
        """Delete the campaign's targets, sends and messages (`probe purge --yes`)."""
        from probe.store.purge import purge_campaign

        self._writable("purge")
        cid = self.service.require_campaign()
        async with self.service.sessions() as session:
            return await purge_campaign(session, cid, forget_suppressed=forget_suppressed)

    async def run(self, clock: Clock | None = None, *, keep_running: bool = False,
                  install_signals: bool = True) -> RunResult:
        """The daemon (`probe run`): a pass every schedule.tick_every and whenever the mailbox
        announces a message, until SIGINT/SIGTERM or, unless keep_running, the campaign closes.
        `clock` (default: the real time) may be simulated: Clock(start, speed)."""
        from probe.service.clock import Clock
        from probe.service.daemon import Daemon

        self._writable("run")
        self.service.require_campaign()
        daemon = Daemon(self.service, clock if clock is not None else Clock(), keep_running=keep_running)
        code = await daemon.run(install_signals=install_signals)
        return RunResult(code=code, closed=daemon.closed, passes=daemon.passes)

    async def resolve(self, send_id: int, now: datetime, *, sent: bool, note: str = "") -> Any:
        """Settle one uncertain or failed send (`probe resolve SEND_ID --sent | --resend`): sent=True
        records it as delivered (later waves follow from it), sent=False plans it again. Returns the
        state it was in; InputError when the lifecycle does not allow it."""
        from probe.service.dispatch import replanner
        from probe.store.sends import ResolveRefused, resolve_send

        self._writable("resolve")
        cid = self.service.require_campaign()
        try:
            return await resolve_send(self.service.sessions, campaign_id=cid, send_id=send_id, sent=sent,
                                      note=note or ("confirmed sent" if sent else "resend"), now=now,
                                      replan=replanner(self.service))
        except ResolveRefused as exc:
            raise InputError(str(exc), field="SEND_ID",
                             hint=f"probe status {self.settings.path} lists this campaign's uncertain and "
                                  "failed sends") from None

    async def resolve_auto(self, now: datetime) -> Any:
        """`probe resolve --auto`: every uncertain send whose copy is in the IMAP account's Sent
        folder is recorded as sent; the rest are returned, never resent (service/resolve.py)."""
        from probe.service.resolve import auto_resolve, missing_imap

        self._writable("resolve")
        if self.settings.imap is None:
            raise missing_imap(str(self.settings.path))
        self.service.require_campaign()
        return await auto_resolve(self.service, now)

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
        """The report (the dict `probe report --format json` prints); `by` a target field, written
        as in the targets file's header or as its stored name."""
        async with self.service.sessions() as session:
            return await self._report(session, now, by)

    async def _report(self, session: AsyncSession, now: datetime, by: str | None) -> dict[str, Any]:
        from probe.report.summary import build_report
        from probe.store import aggregates as agg

        if by is not None and self.service.campaign_id is not None:
            by = resolve_field(by, await agg.field_names(session, self.service.campaign_id))
        return await build_report(session, self.settings.campaign.name, now=now, by=by,
                                  source=str(self.settings.path), options=research_options(self.settings),
                                  variants=[v.name for v in self.settings.variants])

    async def report_json(self, now: datetime, *, by: str | None = None) -> str:
        from probe.report import render

        return render.render_json(await self.report(now, by=by))

    async def report_table(self, now: datetime, *, by: str | None = None, lang: str | None = None) -> str:
        """The plain-text report; `lang` defaults to campaign.locale's language."""
        from probe.report import render

        return render.render_table(await self.report(now, by=by), self._lang(lang), self.settings.campaign.zone)

    async def report_html(self, now: datetime, *, by: str | None = None, lang: str | None = None) -> str:
        """The self-contained HTML page: the report, the answer timeline and the replies to review."""
        from probe.report import render
        from probe.store import aggregates as agg
        from probe.store.review import review_rows

        async with self.service.sessions() as session:
            report = await self._report(session, now, by)
            cid = self.service.require_campaign()
            timeline = await agg.answer_timeline(session, cid)
            review = await review_rows(session, cid)
        return render.render_html(report, timeline, review, self._lang(lang), self.settings.campaign.zone)

    async def write_report_csv(self, out: TextIO, *, sep: str | None = None) -> int:
        """One row per target with its outcome and AAPOR disposition (`probe report --format csv`);
        `sep` defaults to the targets file's own separator. Returns the number of rows."""
        from probe.report import render
        from probe.store import aggregates as agg
        from probe.store import research as research_store
        from probe.store.exports import stream_targets

        cid = self.service.require_campaign()
        async with self.service.sessions() as session:
            fields = await agg.field_names(session, cid)
            rows = research_store.with_dispositions(session, cid, stream_targets(session, cid))
            return await render.write_csv(out, fields, rows, sep=sep or self.separator(),
                                          zone=self.settings.campaign.zone)

    def separator(self) -> str:
        """The targets file's own CSV separator (`;` from French Excel), else `,`."""
        from probe.adapters.targets import sniff_delimiter

        try:
            return sniff_delimiter(self.settings.targets.file)
        except OSError:
            return ","

    def _lang(self, lang: str | None) -> str:
        from probe.report.i18n import lang_from_locale

        return lang or lang_from_locale(self.settings.campaign.locale)

    async def replies(self, *, unmatched: bool = False, kind: str | None = None) -> list[dict[str, Any]]:
        """The stored inbound messages, newest last, as rows (what `probe replies` lists)."""
        return [row async for row in self.stream_replies(unmatched=unmatched, kind=kind)]

    async def stream_replies(self, *, unmatched: bool = False,
                             kind: str | None = None) -> AsyncIterator[dict[str, Any]]:
        """`replies`, one row at a time (read in chunks: memory stays flat on a big campaign)."""
        from probe.store.exports import stream_inbound

        cid = self.service.require_campaign()
        async with self.service.sessions() as session:
            async for chunk in stream_inbound(session, cid, unmatched=unmatched, kind=kind):
                for row in chunk:
                    yield row

    async def export(self, folder: Path, *, sep: str | None = None,
                     on_rows: Callable[[int], None] | None = None) -> Exported:
        """`probe export`: sends.csv, replies.csv, raw/ID.eml and, for an experiment, assignment.csv and
        plan.json in `folder` (created); `on_rows(n)` is told of the rows as they are written."""
        from probe.service.export import export_campaign

        cid = self.service.require_campaign()
        try:
            (folder / "raw").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create {folder}: {exc.strerror}", field="--output",
                             hint="give a folder you can write to") from exc
        async with self.service.sessions() as session:
            return await export_campaign(session, self.settings, cid, folder, sep or self.separator(), on_rows)

    # ---------------------------------------------------------------- review (reads, and a person's answers)

    async def review(self, *, include_all: bool = False, limit: int | None = 200) -> list[dict[str, Any]]:
        """The human replies a person should check (unclear or unsure, not overridden), oldest first;
        every human reply with include_all."""
        from probe.store.review import review_rows

        cid = self.service.require_campaign()
        async with self.service.sessions() as session:
            return await review_rows(session, cid, include_all=include_all, limit=limit)

    async def changed_answers(self) -> list[Any]:
        """Targets whose provisional unclear answer a later yes/no replaced (the lifecycle table)."""
        from probe.store.inbox import changed_answers

        return await changed_answers(self.service.sessions, self.service.require_campaign())

    async def override(self, decisions: Sequence[tuple[int, Answer | None]], *, by: str,
                       at: datetime) -> list[dict[str, Any]]:
        """Record a person's answer for each (reply id, answer) — None clears it — in one transaction:
        InputError, nothing recorded, when an id is not a reply of this campaign. Returns what changed."""
        from probe.store.review import apply_override

        self._writable("review")
        cid = self.service.require_campaign()
        done = []
        async with self.service.sessions.begin() as session:
            for ident, answer in decisions:
                changed = await apply_override(session, cid, ident, answer, by=by, at=at)
                if changed is None:
                    raise InputError(f"no reply with id {ident} in campaign {self.settings.campaign.name!r}",
                                     file=str(self.settings.path), field="--set",
                                     hint=f"list the ids with: probe replies {self.settings.path}")
                done.append(changed)
        return done

    async def set_eligibility(self, rulings: Sequence[tuple[int, bool]], *, by: str,
                              at: datetime) -> list[tuple[int, str, bool]]:
        """(reply id, not eligible?) for each ruling, in one transaction: the reply's target is ruled
        not eligible (AAPOR NE) or eligible again. Returns (id, target email, ruling)."""
        from probe.store.research import set_not_eligible

        self._writable("review")
        cid = self.service.require_campaign()
        done = []
        async with self.service.sessions.begin() as session:
            for ident, ruling in rulings:
                email = await set_not_eligible(session, cid, ident, ruling, by=by, at=at)
                if email is None:
                    raise InputError(f"no reply with id {ident} matched to a target in campaign "
                                     f"{self.settings.campaign.name!r}", file=str(self.settings.path),
                                     field="--not-eligible" if ruling else "--eligible",
                                     hint=f"list the ids with: probe replies {self.settings.path}")
                done.append((ident, email, ruling))
        return done

    async def code_sample(self, size: int | None, seed: int | None,
                          codes: Sequence[tuple[int, Answer | None]], *, by: str, at: datetime) -> tuple[int, int]:
        """The blind coding sample: draw it up to `size` replies (seeded), then record `codes`
        (reply id, a person's answer), in one transaction. Returns (sample size, drawn now)."""
        from probe.store import research as research_store

        self._writable("review")
        cid = self.service.require_campaign()
        have = added = 0
        async with self.service.sessions.begin() as session:
            if size is not None:
                have = len(await research_store.sample_rows(session, cid, uncoded_only=False))
                added = await research_store.draw_sample(session, cid, size - have, seed, at)
            for ident, code in codes:
                if not await research_store.record_code(session, cid, ident, code, by=by, at=at):
                    raise InputError(f"reply {ident} is not in the coding sample of {self.settings.campaign.name!r}",
                                     file=str(self.settings.path), field="--code",
                                     hint=f"list the sample with: probe review {self.settings.path} --sample N --list")
        return have + added, added

    async def sample(self, *, uncoded_only: bool = True) -> list[dict[str, Any]]:
        """The coding sample's replies (new text only: coding is blind), those without a code by default."""
        from probe.store.research import sample_rows

        cid = self.service.require_campaign()
        async with self.service.sessions() as session:
            return await sample_rows(session, cid, uncoded_only=uncoded_only)


@dataclass(frozen=True)
class RunResult:
    code: int          # the exit code `probe run` gives
    closed: bool       # it stopped because the campaign closed
    passes: int


def resolve_field(by: str, fields: list[str]) -> str:
    """`--by Secteur` (the user's header) → `secteur` (the stored field): the same rule that turns
    a header into a template variable, so case, accents and spaces do not matter."""
    from probe.adapters.targets import variable_name

    if by in fields:
        return by
    matches = [f for f in fields if variable_name(f) == variable_name(by)]
    return matches[0] if len(matches) == 1 else by


def _settings(config: str | Path | Settings) -> Settings:
    if isinstance(config, str | Path):
        from probe.config import load_config

        return load_config(Path(config))
    return config
