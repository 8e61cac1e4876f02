"""The commands that drive a campaign: validate, launch, tick, run, status, import, resolve, purge."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from probe.cli.common import add_config_argument, add_now_argument, load, parse_now, with_campaign
from probe.core.durations import format_duration
from probe.errors import InputError

if TYPE_CHECKING:
    from probe.api import Campaign

T = TypeVar("T")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("validate", help="check config, templates and targets; sends nothing",
                              description="Check the config, render every template for every target and "
                                          "read the targets file. Connects to no mail server.")
    add_config_argument(p)
    p.add_argument("--strict", action="store_true", help="refuse the targets file if any row is invalid")
    p.add_argument("--show", type=int, default=0, metavar="N",
                   help="also print every wave of the first N targets, fully rendered (headers and body)")
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
    p.add_argument("--keep-running", action="store_true",
                   help="keep polling after the campaign is closed (default: stop by itself, exit 0)")
    p.set_defaults(func=run_daemon)

    p = subparsers.add_parser("status", help="counts by state, next due sends, uncertain and failed sends",
                              description="Counts of targets and sends by state, the next due sends, the "
                                          "uncertain and failed ones with their ids, and the SMTP "
                                          "account's health. Exit 1 when there are uncertain sends or "
                                          "the account is failing.")
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

    p = subparsers.add_parser("resolve", help="settle an uncertain or failed send: it was sent, or send it again",
                              description="An uncertain send may or may not have reached the server: "
                                          "check the SMTP server's logs for its Message-ID, then say so; "
                                          "or let --auto look for its copy in the IMAP account's Sent "
                                          "folder. A failed send can be sent again (--resend) once its "
                                          "cause is fixed. Only sends of this config's campaign are touched.")
    add_config_argument(p)
    p.add_argument("send_id", type=int, nargs="?", default=None, metavar="SEND_ID",
                   help="the id shown by probe status (not with --auto)")
    choice = p.add_mutually_exclusive_group(required=True)
    choice.add_argument("--sent", action="store_true", help="it was delivered: record it as sent")
    choice.add_argument("--resend", action="store_true", help="it was not: plan it again")
    choice.add_argument("--auto", action="store_true",
                        help="every uncertain send whose Message-ID is in the Sent folder (imap."
                             "sent_search_folder, else the \\Sent special-use folder) is recorded as sent; "
                             "the rest are listed (exit 1 if any). Never resends anything")
    p.add_argument("--note", default="", help="why (kept with the send)")
    add_now_argument(p)
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
    if checked.assignment and settings.experiment is not None:
        from probe.core.assignment import balance

        arms = [v.name for v in settings.variants]
        counts = {v: sum(row[v] for row in balance(checked.assignment.values(), arms).values()) for v in arms}
        strata = len({a.stratum for a in checked.assignment.values()})
        print(f"  experiment: seed {settings.experiment.seed}, {strata} strata; "
              + ", ".join(f"{v} {n}" for v, n in counts.items())
              + " (a fresh draw; launch keeps the stored one for targets already assigned)")
    names = ["initial"] + [f"reminder {i}" for i in range(1, len(checked.due_times))]
    for name, due in zip(names, checked.due_times, strict=True):
        print(f"  {name}: {_local(due, zone)}")
    print(f"  silence final {format_duration(settings.schedule.close_after)} after the last wave")
    print(f"  SMTP {settings.smtp.host}:{settings.smtp.port} ({settings.smtp.security})"
          + (f"; IMAP {settings.imap.host}:{settings.imap.port} {settings.imap.folder}" if settings.imap
             else "; no [imap]: replies only through probe import"))
    if checked.start_in_past:
        print(f"  start in the past: it means now; the next pass sends {rows} emails (the initial one to "
              "each target), the reminders follow each target's initial email")
    from probe.cli.run_notes import print_plan_warnings

    print_plan_warnings(settings, checked.due_times)
    if getattr(args, "show", 0) > 0:
        from probe.cli.preview_cmd import show_messages

        show_messages(settings, checked, args.show, sys.stdout)
    print(f"next: probe launch {args.config}")
    return 0


def run_launch(args: argparse.Namespace) -> int:
    settings = load(args.config)
    now = parse_now(args.now, settings)
    from probe.cli.progress import Progress

    progress = Progress("launch")
    progress.note(f"reading {settings.targets.file.name}, rendering every template for every target, "
                  "writing the plan…")
    try:
        summary = with_campaign(settings, lambda campaign: campaign.launch(now, strict=args.strict),
                                read_only=False, launched=False, migrate=True)
    except BaseException:
        progress.finish("stopped")   # end the line, so the error below starts on its own
        raise
    progress.finish(f"{summary.result.targets_added + summary.result.targets_kept:,} targets planned")
    r = summary.result
    verb = "created" if r.created else "updated"
    print(f"campaign {settings.campaign.name!r} {verb}: {r.targets_added} targets added, {r.targets_kept} kept, "
          f"{r.targets_removed} no longer in the file, {r.suppressed} suppressed; {r.sends_planned} sends "
          f"planned, {r.sends_rescheduled} rescheduled; {summary.skipped} rows skipped")
    print(f"first send: {_local(summary.due_times[0], settings.campaign.zone)}")
    if summary.start_in_past:
        print(f"start in the past: it means now; the next pass sends {summary.next_pass} emails (initial "
              "emails only), the reminders follow each target's initial email")
    from probe.cli.run_notes import print_plan_warnings

    print_plan_warnings(settings, summary.due_times)
    print(f"next: run `probe tick {args.config}` from cron (e.g. every 5 minutes), or `probe run {args.config}`")
    return 0


def run_tick(args: argparse.Namespace) -> int:
    import probe.service.tick  # noqa: F401  (the pass's modules load as start-up: see common.collect_from_now)

    settings = load(args.config)
    now = parse_now(args.now, settings)
    result = with_campaign(settings, lambda campaign: campaign.tick(now), read_only=False, check_plan=True)
    print(result.summary())
    uncertain = result.dispatched.uncertain + result.dispatched.found_uncertain
    if uncertain:
        print(f"{uncertain} sends are uncertain: see probe status {args.config}", file=sys.stderr)
    fault = result.dispatched.account_fault
    if fault is not None:
        # Loud and free: nothing was counted against any message; the next pass tries again.
        print(f"error: the SMTP account cannot be used, nothing was sent and no attempt was counted: {fault}",
              file=sys.stderr)
    return 1 if uncertain or fault is not None else 0


def run_daemon(args: argparse.Namespace) -> int:
    from probe.cli.run_notes import closed_message, started_message
    from probe.service.clock import Clock

    settings = load(args.config)
    start = parse_now(args.now, settings) if args.now else None
    if args.speed <= 0:
        raise InputError("--speed must be positive", field="--speed", hint="e.g. --speed 3600")
    clock = Clock(start, args.speed)

    async def work(campaign: Campaign) -> int:
        print(await started_message(campaign.service, clock, keep_running=args.keep_running), file=sys.stderr)
        result = await campaign.run(clock, keep_running=args.keep_running)
        if result.closed:
            print(closed_message(campaign.service), file=sys.stderr)
        return result.code

    return with_campaign(settings, work, read_only=False, check_plan=True)


def run_status(args: argparse.Namespace) -> int:
    from probe.store.workers import workers_json

    settings = load(args.config)
    now = parse_now(args.now, settings)
    s, workers = with_campaign(settings, lambda campaign: _with_workers(campaign, campaign.status(now)))
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
    return 1 if s.uncertain or s.smtp_failing_since is not None else 0


async def _with_workers(campaign: Any, summary: Awaitable[T]) -> tuple[T, Any]:
    """The status summary and the campaign's processes (heartbeats are wall clock, whatever --now says)."""
    return await summary, await campaign.workers(datetime.now(UTC))


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
            "failed": [{"send_id": f.send_id, "wave": f.wave, "email": f.email, "message_id": f.message_id,
                        "error": f.error} for f in s.failed],
            "smtp_account": {"failing_since": s.smtp_failing_since.isoformat() if s.smtp_failing_since else None,
                             "failure": s.smtp_failure},
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
        print(f"  UNCERTAIN sends ({len(s.uncertain)} left to settle): the pass that sent them stopped "
              "before recording the server's answer.")
        if settings.imap is not None:
            print(f"    `probe resolve {settings.path} --auto` settles those whose copy is in the IMAP "
                  "account's Sent folder; for the rest, check the SMTP server's log for the Message-ID, "
                  f"then run `probe resolve {settings.path} SEND_ID --sent` or `--resend`:")
        else:
            print("    Check the SMTP server's log for the Message-ID, then run "
                  f"`probe resolve {settings.path} SEND_ID --sent` or `--resend`:")
        for u in s.uncertain:
            print(f"    send {u.send_id}  wave {u.wave}  {u.email}  {u.message_id}")
    if s.failed:
        print(f"  FAILED sends ({len(s.failed)}): once the cause is fixed, `probe resolve {settings.path} "
              "SEND_ID --resend` sends one again:")
        for f in s.failed:
            print(f"    send {f.send_id}  wave {f.wave}  {f.email}  {f.error or ''}")
    if s.smtp_failing_since is not None:
        print(f"  SMTP ACCOUNT FAILING since {_local(s.smtp_failing_since, zone)}: {s.smtp_failure}")
    else:
        print("  SMTP account: ok")
    print(f"  last pass: {s.last_pass_at.isoformat(timespec='seconds') if s.last_pass_at else 'never'}")


def run_import(args: argparse.Namespace) -> int:
    settings = load(args.config)
    now = parse_now(args.now, settings)
    if not args.path.exists():
        raise InputError(f"{args.path} does not exist", file=str(args.path),
                         hint="give an mbox file, a maildir, a folder of .eml files or one .eml file")
    from probe.cli.progress import Progress

    progress = Progress("import", unit="messages")
    try:
        result = with_campaign(settings, lambda campaign: campaign.import_(args.path, now, on_message=progress.advance),
                               read_only=False)
    finally:
        progress.done()
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(result.kinds.items())) or "none"
    print(f"imported {result.new_messages} messages ({kinds}); {result.duplicates} already stored; "
          f"{result.unmatched} matched no target (probe replies {args.config} --unmatched)")
    return 0


def run_resolve(args: argparse.Namespace) -> int:
    if args.auto:
        if args.send_id is not None:
            raise InputError("--auto settles every uncertain send: it takes no SEND_ID", field="SEND_ID",
                             hint=f"run `probe resolve {args.config} --auto`, or `probe resolve {args.config} "
                                  f"{args.send_id} --sent` for that one send")
        return run_resolve_auto(args)
    if args.send_id is None:
        raise InputError("which send? --sent and --resend need the SEND_ID", field="SEND_ID",
                         hint=f"probe status {args.config} lists the uncertain and failed sends with their ids")
    settings = load(args.config)
    now = parse_now(args.now, settings)
    was = with_campaign(settings, lambda campaign: campaign.resolve(args.send_id, now, sent=args.sent, note=args.note),
                        read_only=False)
    done = "recorded as sent" if args.sent else "planned again: the next pass sends it"
    print(f"send {args.send_id} ({was}): {done}")
    return 0


def run_resolve_auto(args: argparse.Namespace) -> int:
    """Settle from the Sent folder what can be proven sent; list the rest (exit 1 while any remain)."""
    settings = load(args.config)
    now = parse_now(args.now, settings)
    result = with_campaign(settings, lambda campaign: campaign.resolve_auto(now), read_only=False)
    if result.folders:
        print("searched " + ", ".join(repr(f) for f in result.folders))
    for s in result.settled:
        print(f"send {s.send.send_id}  wave {s.send.wave}  {s.send.email}  {s.send.message_id}: found in "
              f"{s.folder!r}, recorded as sent")
    for send, why in result.refused:
        print(f"send {send.send_id}: found, but not settled: {why}")
    left = result.remaining + [send for send, _ in result.refused]
    print(f"{len(result.settled)} uncertain sends settled as sent; {len(left)} still uncertain")
    if result.remaining:
        print("not found (check the SMTP server's log for the Message-ID, then run "
              f"`probe resolve {args.config} SEND_ID --sent` or `--resend`):")
        for u in result.remaining:
            print(f"    send {u.send_id}  wave {u.wave}  {u.email}  {u.message_id or '(no Message-ID)'}")
    return 1 if left else 0


def run_purge(args: argparse.Namespace) -> int:
    settings = load(args.config)
    if not args.yes:
        raise InputError("purge deletes every target, send and message of the campaign", field="--yes",
                         hint=f"run: probe purge {args.config} --yes")
    counts = with_campaign(settings, lambda campaign: campaign.purge(forget_suppressed=args.forget_suppressed),
                           read_only=False)
    print(f"campaign {settings.campaign.name!r} purged: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
    return 0
