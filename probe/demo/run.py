"""`probe demo`: the founding case end to end, on embedded servers, with simulated time.

The loop: advance the simulated clock to the next thing that happens (an email wave, a director's
message, or a few hours of silence); APPEND over IMAP what the directors send by then; run one real
pass of probe (poll IMAP, classify, match, dispatch due sends over SMTP); let the directors read what
the SMTP server received. At the end, the report comes from probe's own database, like `probe report`.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from probe.demo.campaign import CAMPAIGN_NAME, FROM_ADDRESS, IMAP_PASSWORD_ENV, write_campaign
from probe.demo.directors import Directors
from probe.demo.people import make_directors
from probe.demo.scenario import END, PARIS, REMINDER_OFFSETS, START, make_plans
from probe.demo.servers import DemoImapServer, DemoSmtpServer, ImapClient, write_mbox
from probe.errors import InputError

REPORT_NAME = "probe-demo-report.html"
STEP = timedelta(days=3)                # the longest the simulated clock jumps when nothing happens
POLL_DELAY = timedelta(minutes=5)       # a pass runs this long after a message arrives (like poll_every)
KEPT_FILES = ("campaign.toml", "targets.csv", "templates", "probe.db", "mailbox.mbox", REPORT_NAME)
_WAVE_NAMES = ("initial email", "reminder 1", "reminder 2")
# The demo speaks English (its report table does): day and month names written out here, so the
# output never depends on the machine's locale.
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class DemoOutcome:
    report: dict[str, Any]
    html: str
    messages_in_mailbox: int
    passes: int


class Progress:
    """One line per event on stderr, under a heading per simulated day."""

    def __init__(self, stream: TextIO) -> None:
        self._stream: TextIO | None = stream
        self._day: str | None = None

    def at(self, when: datetime, text: str) -> None:
        local = when.astimezone(PARIS)
        day = f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year}"
        if day != self._day:
            self._day = day
            self.note(day)
        self.note(f"  {local:%H:%M}  {text}")

    def note(self, text: str) -> None:
        if self._stream is None:
            return
        try:
            print(text, file=self._stream, flush=True)
        except BrokenPipeError:
            # `probe demo 2>&1 | head`: progress is a courtesy; the demo still runs to its report.
            self._stream = None


def check_keep_folder(folder: Path) -> None:
    """--keep never overwrites: refuse a folder that already holds any file the demo would write."""
    if folder.exists() and not folder.is_dir():
        raise InputError("is not a folder", file=str(folder), field="--keep",
                         hint="give --keep a new or empty folder")
    clashes = [name for name in KEPT_FILES if (folder / name).exists()]
    if clashes:
        raise InputError(f"already holds {', '.join(clashes)}; the demo never overwrites",
                         file=str(folder), field="--keep", hint="give --keep a new or empty folder")


def run_demo(*, seed: int = 2015, keep: Path | None = None, out: TextIO | None = None,
             err: TextIO | None = None) -> int:
    """The whole demo; returns the exit code. Prints the table on `out`, progress on `err`."""
    out = out or sys.stdout
    err = err or sys.stderr
    started = time.perf_counter()
    if keep is not None:
        keep = keep.expanduser().absolute()
        check_keep_folder(keep)
    html_path = (keep / REPORT_NAME) if keep is not None else Path.cwd() / REPORT_NAME
    writable = html_path.parent
    while not writable.exists() and writable != writable.parent:
        writable = writable.parent
    if not os.access(writable, os.W_OK):
        raise InputError("cannot write the HTML report here", file=str(html_path),
                         hint="run probe demo from a folder you can write to, or give --keep DIR")
    progress = Progress(err)
    with tempfile.TemporaryDirectory(prefix="probe-demo-") as scratch:
        folder = keep if keep is not None else Path(scratch)
        progress.note(f"probe demo (seed {seed}): the founding case, 28 September – 17 October 2015, on "
                      "embedded SMTP and IMAP servers")
        outcome = asyncio.run(_demo(folder, seed, progress, mbox=keep is not None))
        html_path.write_text(outcome.html, encoding="utf-8")
    from probe.report.render import render_table

    out.write(render_table(outcome.report, "en", PARIS))
    out.write("\n" + founding_case_line(outcome) + "\n")
    out.write(f"HTML report: {html_path}\n")
    if keep is not None:
        out.write(f"Campaign kept in {keep}: try `probe report {keep / 'campaign.toml'}`, "
                  f"`probe replies {keep / 'campaign.toml'}` or `probe review {keep / 'campaign.toml'}`\n")
    out.flush()
    progress.note(f"demo finished in {time.perf_counter() - started:.1f} s ({outcome.passes} passes, "
                  f"{outcome.messages_in_mailbox} messages in the mailbox)")
    return 0


def founding_case_line(outcome: DemoOutcome) -> str:
    r = outcome.report
    never = r["targets"] - r["answered"]
    share = never / r["targets"] if r["targets"] else 0.0
    return (f"Founding case: {r['answered']} of {r['targets']} directors answered; {never} of {r['targets']} "
            f"({share * 100:.0f} %) never did — {r['bounced']} address bounced, {r['auto_replies']} sent "
            f"only an automatic reply, the others stayed silent.")


async def _demo(folder: Path, seed: int, progress: Progress, *, mbox: bool) -> DemoOutcome:
    from probe.api import Campaign
    from probe.config import load_config

    directors = make_directors(seed)
    plans = make_plans(directors, seed)
    password = secrets.token_urlsafe(18)
    previous = os.environ.get(IMAP_PASSWORD_ENV)
    os.environ[IMAP_PASSWORD_ENV] = password
    try:
        async with DemoSmtpServer() as smtp, DemoImapServer(FROM_ADDRESS, password) as imap:
            progress.note(f"SMTP on 127.0.0.1:{smtp.port}, IMAP on 127.0.0.1:{imap.port}, "
                          f"campaign in {folder}")
            settings = load_config(write_campaign(folder, directors, smtp_port=smtp.port, imap_port=imap.port))
            cast = Directors(plans, seed)
            # The library face, like the CLI: migrate (in a thread: Alembic runs its own loop), then write.
            async with (Campaign.open(settings, read_only=False, migrate=True) as campaign,
                        ImapClient(imap.port, FROM_ADDRESS, password) as inbox):
                svc = campaign.service
                launched = await svc.launch(START.astimezone(UTC))
                days = ", ".join(f"{_DAYS[d.weekday()]} {d.day} {_MONTHS[d.month - 1]}"
                                 for d in (t.astimezone(PARIS) for t in launched.due_times))
                progress.note(f"probe launch: {len(directors)} targets, one email each on {days}, "
                              "reminders only to those who have not answered")
                passes = await _replay(svc, cast, smtp, inbox, progress)
                report, html = await _report(svc)
                messages = await inbox.fetch_all()
                if mbox:
                    write_mbox(messages, folder / "mailbox.mbox")
    finally:
        if previous is None:
            os.environ.pop(IMAP_PASSWORD_ENV, None)
        else:
            os.environ[IMAP_PASSWORD_ENV] = previous
    return DemoOutcome(report, html, len(messages), passes)


def _wave_times() -> list[datetime]:
    return [START.astimezone(UTC)] + [(START + off).astimezone(UTC) for off in REMINDER_OFFSETS]


async def _replay(svc: Any, cast: Directors, smtp: DemoSmtpServer, inbox: ImapClient,
                  progress: Progress) -> int:
    waves = _wave_times()
    end = END.astimezone(UTC) + timedelta(hours=1)
    now = waves[0]
    passes = 0
    while True:
        for item in cast.due(now):
            await inbox.append(item.raw, item.when)
            progress.at(item.when, f"← {item.sender}: {item.what}")
        result = await svc.tick(now)
        passes += 1
        _report_pass(progress, now, result, waves)
        cast.read(smtp.recorder.received, now)
        if now >= end and cast.pending() == 0:
            return passes
        now = _next_time(now, cast.next_time(), waves, end)


def _next_time(now: datetime, director_next: datetime | None, waves: list[datetime],
               end: datetime) -> datetime:
    candidates = [now + STEP, end]
    candidates += [w for w in waves if w > now]
    if director_next is not None:
        # Messages arriving within POLL_DELAY of each other are read by one pass, as a daemon would.
        candidates.append(max(director_next + POLL_DELAY, now + timedelta(seconds=1)))
    return min(c for c in candidates if c > now)


_LABELS: dict[tuple[str, str | None], str] = {
    ("human_reply", "yes"): "a reply: YES",
    ("human_reply", "no"): "a reply: NO",
    ("human_reply", "unclear"): "a reply, unclear (listed for review)",
    ("auto_reply", None): "an automatic reply (not an answer)",
    ("bounce", None): "a bounce (address unreachable, reminders cancelled)",
}


def _report_pass(progress: Progress, now: datetime, result: Any, waves: list[datetime]) -> None:
    for sender, kind, answer in result.replies:
        label = _LABELS.get((kind, answer), f"{kind} {answer or ''}".strip())
        progress.at(now, f"   probe reads {label} from {sender}")
    if result.sent:
        wave = max((i for i, w in enumerate(waves) if w <= now), default=0)
        progress.at(now, f"→ probe sends {result.sent} emails ({_WAVE_NAMES[min(wave, 2)]})"
                    + (f", {result.cancelled} reminders cancelled" if result.cancelled else ""))
    for what, n in (("retried", result.retried), ("failed", result.failed)):
        if n:
            progress.at(now, f"   {n} sends {what}")


async def _report(svc: Any) -> tuple[dict[str, Any], str]:
    from probe.report.render import render_html
    from probe.report.summary import build_report
    from probe.store import aggregates
    from probe.store import review as review_store

    now = END.astimezone(UTC) + timedelta(hours=1)
    campaign_id = svc.require_campaign()
    async with svc.sessions() as session:
        report = await build_report(session, CAMPAIGN_NAME, now=now)
        timeline = await aggregates.answer_timeline(session, campaign_id)
        review = await review_store.review_rows(session, campaign_id)
    return report, render_html(report, timeline, review, "en", PARIS)  # the table's language and zone

