"""See a message before it goes, and send it to yourself first.

- `probe validate CONFIG --show N` prints, for the first N targets, every wave fully rendered: the
  headers probe sets (From, To, Subject, Date, Reply-To, threading) and the body as the target reads it.
- `probe send-test CONFIG --to ADDRESS [--wave W] [--target EMAIL]` renders the waves of one target
  (the first, unless --target) and sends them to ADDRESS through the campaign's own SMTP account.
  Each one is recorded in the `test_send` table, which no report figure, status count or export
  reads: a test is never a send to a target. The test Message-IDs are not probe Message-IDs
  (`<probe-test.…>`), so a reply to a test matches no target either."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any, TextIO

from probe.cli.common import add_config_argument, add_now_argument, load, parse_now
from probe.errors import InputError
from probe.service.experiment import sender_for

#: Headers printed by --show, in this order (the rest of the MIME plumbing is left out).
SHOWN_HEADERS = ("From", "To", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To", "References")
TEST_HEADER = "X-Probe-Test"


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "send-test", help="send one target's messages to your own address first (recorded as tests)",
        description="Render the messages of one target (the first of the targets file, or --target) and "
                    "send them to ADDRESS through the campaign's SMTP account, so you read them as the "
                    "targets will. Recorded as tests: never counted in any report figure.")
    add_config_argument(p)
    p.add_argument("--to", required=True, metavar="ADDRESS", help="your own address")
    p.add_argument("--wave", type=int, default=None, metavar="W",
                   help="only this wave (0 = initial, 1 = first reminder, …); default: every wave")
    p.add_argument("--target", default=None, metavar="EMAIL",
                   help="render for this target of the targets file (default: the first)")
    add_now_argument(p)
    p.set_defaults(func=run_send_test)


def wave_label(wave: int) -> str:
    return "initial" if wave == 0 else f"reminder {wave}"


def build_messages(settings: Any, templates: Any, row: Any, waves: Sequence[int], *, date: datetime,
                   id_prefix: str, due_times: Sequence[datetime] = ()) -> list[tuple[int, EmailMessage]]:
    """The messages of `row` for `waves`, as dispatch builds them, threaded the same way."""
    from probe.adapters.compose import build_message
    from probe.core.tokens import reply_to_address

    domain = settings.campaign.message_id_domain
    reply_to = settings.campaign.reply_to
    token = id_prefix.rsplit(".", 1)[-1]
    ids = [f"<{id_prefix}.{w}@{domain}>" for w in range(len(templates.waves))]
    out = []
    for wave in waves:
        rendered = templates.render(dict(row.fields), wave, settings.campaign.name, row.line, email=row.address)
        when = due_times[wave] if wave < len(due_times) else date
        out.append((wave, build_message(rendered, from_=sender_for(settings, dict(row.fields)), to=row.address,
                                        message_id=ids[wave], date=when, references=ids[:wave],
                                        reply_to=reply_to_address(reply_to, token) if reply_to else None)))
    return out


def _body(message: EmailMessage) -> tuple[str, str | None]:
    text_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    text = text_part.get_content() if text_part is not None else ""
    html = html_part.get_content() if html_part is not None and html_part is not text_part else None
    return text, html


def show_messages(settings: Any, checked: Any, count: int, out: TextIO) -> int:
    """Print every wave of the first `count` targets, rendered; returns the number printed."""
    zone = settings.campaign.zone
    rows = checked.targets.rows[:count]
    printed = 0
    for row in rows:
        waves = range(len(checked.templates.waves))
        for wave, message in build_messages(settings, checked.templates, row, list(waves),
                                            date=checked.due_times[0], id_prefix="probe.TOKEN",
                                            due_times=checked.due_times):
            due = checked.due_times[wave].astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")
            out.write(f"\n===== {row.address} (targets line {row.line}) — {wave_label(wave)}, "
                      f"due {due} =====\n")
            for name in SHOWN_HEADERS:
                if message[name] is not None:
                    out.write(f"{name}: {message[name]}\n")
            for name, value in message.items():
                if name not in SHOWN_HEADERS and not name.lower().startswith(("content-", "mime-")):
                    out.write(f"{name}: {value}\n")
            text, html = _body(message)
            out.write("\n" + text.rstrip("\n") + "\n")
            if html is not None:
                out.write(f"----- HTML alternative ({len(html)} characters) -----\n{html.rstrip()}\n")
            printed += 1
    if rows:
        out.write("=====\n")
    return printed


def run_send_test(args: argparse.Namespace) -> int:
    from probe.service.validate import validate_campaign

    settings = load(args.config)
    now = parse_now(args.now, settings)
    to = parseaddr(args.to)[1]
    if not to or "@" not in to or any(c in args.to for c in "\r\n"):
        raise InputError(f"--to {args.to!r} is not an address", field="--to", hint="give your own address")
    checked = validate_campaign(settings, now=now)
    rows = checked.targets.rows
    if not rows:
        raise InputError("the targets file has no valid target to render", file=str(settings.targets.file),
                         hint="add a row with an email address")
    row = rows[0]
    if args.target is not None:
        found = [r for r in rows if r.email == args.target.strip().lower()]
        if not found:
            raise InputError(f"{args.target} is not in the targets file", file=str(settings.targets.file),
                             field="--target", hint="give an address of the email column, or leave --target out")
        row = found[0]
    waves = list(range(len(checked.templates.waves)))
    if args.wave is not None:
        if args.wave not in waves:
            raise InputError(f"--wave {args.wave}: the campaign has waves 0 to {waves[-1]}", field="--wave",
                             hint="0 is the initial email, 1 the first reminder, …")
        waves = [args.wave]
    results = asyncio.run(send_tests(settings, checked.templates, row, waves, to, now))
    failed = 0
    for wave, outcome in results:
        ok = outcome.kind == "sent"
        failed += not ok
        print(f"{'sent' if ok else 'NOT sent'}: {wave_label(wave)} as {row.address} would get it, to {to}: "
              f"{outcome.reply}")
    if failed:
        print(f"{failed} test message(s) were not accepted by the SMTP server", file=sys.stderr)
        return 1
    print(f"recorded as tests (never counted). Read them in {to}; then: probe launch {args.config}",
          file=sys.stderr)
    return 0


async def send_tests(settings: Any, templates: Any, row: Any, waves: list[int], to: str,
                     now: datetime) -> list[tuple[int, Any]]:
    """Send the test messages through the campaign's SMTP account and record each one accepted in
    `test_send`. No migration (only launch and `probe db upgrade` change the schema): on a database
    without probe's tables yet — send-test comes before launch — the tests go out unrecorded."""
    from probe.api import Campaign
    from probe.errors import SchemaBehindError

    try:
        async with Campaign.open(settings, read_only=False) as campaign:
            return await _send(campaign.service, templates, row, waves, to, now, record=True)
    except SchemaBehindError as exc:
        from probe.service.wiring import Service

        print(f"note: the tests are not recorded in the database: {exc}", file=sys.stderr)
        service = Service(settings, None, None)  # type: ignore[arg-type]  # the SMTP account only
        return await _send(service, templates, row, waves, to, now, record=False)


async def _send(service: Any, templates: Any, row: Any, waves: list[int], to: str, now: datetime, *,
                record: bool) -> list[tuple[int, Any]]:
    from probe.adapters.smtp import SmtpSender
    from probe.store.tables import TestSend

    settings = service.settings
    prefix = f"probe-test.{secrets.token_hex(8)}"
    messages = build_messages(settings, templates, row, waves, date=now, id_prefix=prefix)
    envelope_from = settings.campaign.from_address
    sender = SmtpSender(service.smtp_account())
    results = []
    try:
        await sender.connect()   # an unusable account: one clear error naming the key, nothing sent
        for wave, message in messages:
            message[TEST_HEADER] = f"send-test of wave {wave} for {row.address}; not a send to a target"
            outcome = await sender.send(message, sender=envelope_from, recipient=to)
            results.append((wave, outcome))
            if record and outcome.kind == "sent":
                async with service.sessions.begin() as session:
                    session.add(TestSend(campaign_name=settings.campaign.name, target_email=row.email, wave=wave,
                                         to_address=to, message_id=message["Message-ID"],
                                         smtp_reply=outcome.reply, sent_at=datetime.now(UTC)))
    finally:
        await sender.close()
    return results
