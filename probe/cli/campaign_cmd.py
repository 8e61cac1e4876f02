"""The commands that drive a campaign: validate, launch, tick, run, status, import, resolve, purge."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from probe.cli.common import add_config_argument, add_now_argument, load, parse_now, prepare_database
from probe.core.durations import format_duration
from probe.errors import InputError

T = TypeVar("T")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("validate", help="check config, templates and targets; sends nothing",
                              description="Check the config, render every template for every target and "
                                          "read the targets file. Connects to no mail server.")
    add_config_argument(p)
    p.add_argument("--strict", action="store_true", help="refuse the targets file if any row is invalid")
    add_now_argument(p)
    p.set_defaults(func=run_validate)

    p = subparsers.add_parser("launch", help="create or update the campaign and plan its sends",
                              description="Run every check of validate, then create the campaign (or "
                                          "update it: idempotent) and plan one send per target per wave. "
                                          "Connects to no mail server.")
    add_config_argument(p)
    p.add_argument("--strict", action="store_true", help="refuse the targets file if any row is invalid")
    add_now_argument(p)
    p.set_defaults(func=run_launch)

    p = subparsers.add_parser("tick", help="one pass: poll replies, send what is due (for cron)",
                              description="One pass: read new replies, then send everything due at or "
                                          "before now. Run it from cron.")
    add_config_argument(p)
    add_now_argument(p)
    p.set_defaults(func=run_tick)

    p = subparsers.add_parser("run", help="the daemon: passes on a schedule, IMAP IDLE, clean stop",
                              description="Run passes every schedule.tick_every and whenever the mailbox "
                                          "announces a message (IDLE). SIGINT/SIGTERM stop it after the "
                                          "pass in progress.")
    add_config_argument(p)
    p.add_argument("--now", metavar="ISO", default=None,
                   help="start a simulated clock at this time (tests and demos)")
    p.add_argument("--speed", type=float, default=1.0, metavar="X",
                   help="the simulated clock runs X times faster than real time")
    p.add_argument("--passes", type=int, default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=run_daemon)

    p = subparsers.add_parser("status", help="counts by state, next due sends, uncertain sends",
                              description="Counts of targets and sends by state, the next due sends and "
                                          "the uncertain ones. Exit 1 when there are uncertain sends.")
    add_config_argument(p)
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--health", action="store_true",
                   help="exit 1 when the last pass is older than 3 × schedule.tick_every (for HEALTHCHECK)")
    add_now_argument(p)
    p.set_defaults(func=run_status)

    p = subparsers.add_parser("import", help="ingest replies from an mbox, a maildir or .eml files",
                              description="Read messages from an mbox file, a maildir, a folder of .eml "
                                          "files or one .eml file, through the same path as IMAP polling.")
    add_config_argument(p)
    p.add_argument("path", type=Path, metavar="PATH")
    add_now_argument(p)
    p.set_defaults(func=run_import)

    p = subparsers.add_parser("resolve", help="settle an uncertain send: it was sent, or send it again",
                              description="An uncertain send may or may not have reached the server. "
                                          "Check the SMTP server's logs for its Message-ID, then say so.")
    add_config_argument(p)
    p.add_argument("send_id", type=int, metavar="SEND_ID", help="the id shown by probe status")
    choice = p.add_mutually_exclusive_group(required=True)
    choice.add_argument("--sent", action="store_true", help="it was delivered: record it as sent")
    choice.add_argument("--resend", action="store_true", help="it was not: plan it again")
    p.add_argument("--note", default="", help="why (kept with the send)")
    p.set_defaults(func=run_resolve)

    p = subparsers.add_parser("purge", help="delete the campaign and everything it stored",
                              description="Delete the campaign's targets, sends and messages from the "
                                          "database. The suppression list is kept unless "
                                          "--forget-suppressed.")
    add_config_argument(p)
    p.add_argument("--yes", action="store_true", help="really delete (required)")
    p.add_argument("--forget-suppressed", action="store_true",
                   help="also remove the opt-outs this campaign added to the suppression list")
    p.set_defaults(func=run_purge)


def with_service(settings: Any, work: Callable[[Any], Awaitable[T]], *, check_plan: bool = False,
                 launched: bool = True) -> T:
    """Bring the database schema up to date, open the campaign, run `work(service)` in an event loop."""
    from probe.service.wiring import open_service

    prepare_database(settings)   # Alembic runs its own event loop: before ours starts

    async def go() -> T:
        async with open_service(settings, check_plan=check_plan) as service:
            if launched:
                service.require_campaign()
            return await work(service)

    return asyncio.run(go())


def _local(dt: datetime, zone: Any) -> str:
    return dt.astimezone(zone).strftime("%a %Y-%m-%d %H:%M %Z")


def run_validate(args: argparse.Namespace) -> int:
    from probe.service.validate import validate_campaign

    settings = load(args.config)
    now = parse_now(args.now, settings)
    checked = validate_campaign(settings, now=now, strict=args.strict)
    zone = settings.campaign.zone
    for problem in checked.targets.problems:
        print(f"warning: {settings.targets.file}: line {problem.line}: {problem.message} (skipped)",
              file=sys.stderr)
    rows = len(checked.targets.rows)
    print(f"{settings.path}: OK — campaign {settings.campaign.name!r}")
    print(f"  targets: {rows} from {settings.targets.file.name} ({checked.targets.encoding}, "
          f"{checked.targets.delimiter!r}-separated; {len(checked.targets.problems)} skipped)")
    print(f"  templates: {len(checked.due_times)} waves rendered for every target ({rows * len(checked.due_times)}"
          " messages)")
    names = ["initial"] + [f"reminder {i}" for i in range(1, len(checked.due_times))]
    for name, due in zip(names, checked.due_times, strict=True):
        print(f"  {name}: {_local(due, zone)}")
    print(f"  silence final {format_duration(settings.schedule.close_after)} after the last wave")
    print(f"  SMTP {settings.smtp.host}:{settings.smtp.port} ({settings.smtp.security})"
          + (f"; IMAP {settings.imap.host}:{settings.imap.port} {settings.imap.folder}" if settings.imap
             else "; no [imap]: replies only through probe import"))
    if checked.start_in_past:
        print("  note: schedule.start is in the past: the first pass sends the initial wave at once",
              file=sys.stderr)
    print(f"next: probe launch {args.config}")
    return 0


def run_launch(args: argparse.Namespace) -> int:
    settings = load(args.config)
    now = parse_now(args.now, settings)
    summary = with_service(settings, lambda service: service.launch(now, strict=args.strict), launched=False)
    r = summary.result
    verb = "created" if r.created else "updated"
    print(f"campaign {settings.campaign.name!r} {verb}: {r.targets_added} targets added, {r.targets_kept} kept, "
          f"{r.targets_removed} no longer in the file, {r.suppressed} suppressed; {r.sends_planned} sends "
          f"planned, {r.sends_rescheduled} rescheduled; {summary.skipped} rows skipped")
    print(f"first send: {_local(summary.due_times[0], settings.campaign.zone)}")
    print(f"next: run `probe tick {args.config}` from cron (e.g. every 5 minutes), or `probe run {args.config}`")
    return 0


def run_tick(args: argparse.Namespace) -> int:
    settings = load(args.config)
    now = parse_now(args.now, settings)
    result = with_service(settings, lambda service: service.tick(now), check_plan=True)
    print(result.summary())
    uncertain = result.dispatched.uncertain + result.dispatched.found_uncertain
    if uncertain:
        print(f"{uncertain} sends are uncertain: see probe status {args.config}", file=sys.stderr)
    return 1 if uncertain else 0


def run_daemon(args: argparse.Namespace) -> int:
    from probe.service.clock import Clock
    from probe.service.daemon import Daemon

    settings = load(args.config)
    start = parse_now(args.now, settings) if args.now else None
    if args.speed <= 0:
        raise InputError("--speed must be positive", field="--speed", hint="e.g. --speed 3600")
    return with_service(settings, lambda service: Daemon(service, Clock(start, args.speed)).run(), check_plan=True)


def run_status(args: argparse.Namespace) -> int:
    from probe.store.status import status_summary
    from probe.store.workers import workers_json

    settings = load(args.config)
    now = parse_now(args.now, settings)
    s, workers = with_service(settings, lambda service: _with_workers(
        service, status_summary(service.sessions, service.campaign_id, now=now)))
    if args.health:
        limit = 3 * settings.schedule.tick_every
        age = datetime.now(UTC) - s.last_pass_at if s.last_pass_at else None
        healthy = age is not None and age <= limit
        print(f"last pass: {s.last_pass_at.isoformat() if s.last_pass_at else 'never'}"
              f" ({'ok' if healthy else f'older than {format_duration(limit)}'})")
        return 0 if healthy else 1
    if args.format == "json":
        print(json.dumps(_status_json(s) | {"workers": workers_json(workers)}, indent=2, default=str))
    else:
        _print_status(settings, s)
        _print_workers(workers)
    return 1 if s.uncertain else 0


async def _with_workers(service: Any, summary: Awaitable[T]) -> tuple[T, Any]:
    """The status summary and the campaign's processes (heartbeats are wall clock, whatever --now says)."""
    from probe.store.workers import list_workers

    return await summary, await list_workers(service.sessions, service.campaign_id, now=datetime.now(UTC))


def _print_workers(workers: Any) -> None:
    for title, rows in (("processes", workers.live), ("NOT ANSWERING (no heartbeat lately; killed or host down?)",
                                                       workers.silent)):
        if not rows:
            continue
        print(f"  {title}:")
        for w in rows:
            last = w.last_pass_at.isoformat(timespec="seconds") if w.last_pass_at else "none yet"
            print(f"    {w.kind:<4} {w.host} pid {w.pid}  started {w.started_at.isoformat(timespec='seconds')}"
                  f"  heartbeat {w.heartbeat_at.isoformat(timespec='seconds')}  last pass {last}")


def _status_json(s: Any) -> dict[str, Any]:
    return {"targets": s.targets_by_state, "sends": s.sends_by_state,
            "due_now": s.due_now,
            "next_due": [{"due_at": d.due_at.isoformat(), "wave": d.wave, "email": d.email} for d in s.next_due],
            "uncertain": [{"send_id": u.send_id, "wave": u.wave, "email": u.email, "message_id": u.message_id,
                           "owner": u.owner} for u in s.uncertain],
            "last_pass_at": s.last_pass_at.isoformat() if s.last_pass_at else None}


def _print_status(settings: Any, s: Any) -> None:
    zone = settings.campaign.zone
    print(f"campaign {settings.campaign.name!r}")
    print("  targets: " + ", ".join(f"{k} {v}" for k, v in s.targets_by_state.items()))
    print("  sends:   " + ", ".join(f"{k} {v}" for k, v in s.sends_by_state.items()))
    if s.next_due:
        print("  next due:")
        for d in s.next_due:
            print(f"    {_local(d.due_at, zone)}  wave {d.wave}  {d.email}")
    if s.uncertain:
        print(f"  UNCERTAIN sends ({len(s.uncertain)}): the pass that sent them stopped before recording "
              "the server's answer. Check the SMTP server's log for the Message-ID, then run "
              f"`probe resolve {settings.path} SEND_ID --sent` or `--resend`:")
        for u in s.uncertain:
            print(f"    send {u.send_id}  wave {u.wave}  {u.email}  {u.message_id}")
    print(f"  last pass: {s.last_pass_at.isoformat(timespec='seconds') if s.last_pass_at else 'never'}")


def run_import(args: argparse.Namespace) -> int:
    settings = load(args.config)
    now = parse_now(args.now, settings)
    if not args.path.exists():
        raise InputError(f"{args.path} does not exist", file=str(args.path),
                         hint="give an mbox file, a maildir, a folder of .eml files or one .eml file")
    result = with_service(settings, lambda service: service.import_path(args.path, now))
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(result.kinds.items())) or "none"
    print(f"imported {result.new_messages} messages ({kinds}); {result.duplicates} already stored; "
          f"{result.unmatched} matched no target (probe replies {args.config} --unmatched)")
    return 0


def run_resolve(args: argparse.Namespace) -> int:
    from probe.store.sends import resolve_uncertain

    settings = load(args.config)
    note = args.note or ("confirmed sent" if args.sent else "resend")
    done = with_service(settings, lambda service: resolve_uncertain(service.sessions, send_id=args.send_id,
                                                                     sent=args.sent, note=note))
    if not done:
        raise InputError(f"send {args.send_id} is not an uncertain send of this campaign", field="SEND_ID",
                         hint=f"probe status {args.config} lists the uncertain sends")
    print(f"send {args.send_id}: {'recorded as sent' if args.sent else 'planned again'}")
    return 0


def run_purge(args: argparse.Namespace) -> int:
    from probe.store.purge import purge_campaign

    settings = load(args.config)
    if not args.yes:
        raise InputError("purge deletes every target, send and message of the campaign", field="--yes",
                         hint=f"run: probe purge {args.config} --yes")

    async def purge(service: Any) -> dict[str, int]:
        async with service.sessions() as session:
            return await purge_campaign(session, service.campaign_id, forget_suppressed=args.forget_suppressed)

    counts = with_service(settings, purge)
    print(f"campaign {settings.campaign.name!r} purged: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return 0



