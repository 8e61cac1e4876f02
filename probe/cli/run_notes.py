"""What `probe run` says on stderr without -v: that it started, for which campaign, when the next
send is due and what it waits for; and, when it stops by itself, why."""

from __future__ import annotations

from typing import Any

from probe.core.durations import format_duration


async def started_message(service: Any, clock: Any, *, keep_running: bool) -> str:
    from probe.store.status import status_summary

    settings = service.settings
    zone = settings.campaign.zone
    now = clock.now()
    s = await status_summary(service.sessions, service.require_campaign(), now=now, next_limit=1)
    waiting = s.sends_by_state.get("scheduled", 0) + s.sends_by_state.get("retry", 0)
    simulated = "" if clock.start is None and clock.speed == 1.0 else (
        f" (simulated clock from {now.astimezone(zone):%Y-%m-%d %H:%M %Z}, ×{clock.speed:g})")
    lines = [f"probe run: campaign {settings.campaign.name!r} started{simulated}; a pass every "
             f"{format_duration(settings.schedule.tick_every)}"]
    if s.next_due:
        d = s.next_due[0]
        when = "now" if d.due_at <= now else f"{d.due_at.astimezone(zone):%a %Y-%m-%d %H:%M %Z}"
        lines.append(f"  next send due: {when} ({'initial' if d.wave == 0 else f'reminder {d.wave}'} to "
                     f"{d.email}); {waiting} sends waiting")
    else:
        lines.append("  nothing left to send")
    if settings.imap is not None:
        lines.append(f"  waiting for replies in {settings.imap.folder} on {settings.imap.host} "
                     f"(IDLE when the server has it, else every {format_duration(settings.imap.poll_every)})")
    else:
        lines.append("  no [imap]: replies only through probe import")
    lines.append("  stops by itself when the campaign is closed" if not keep_running else
                 "  --keep-running: keeps polling after the campaign is closed")
    lines.append("  Ctrl-C (or SIGTERM) stops it after the pass in progress")
    return "\n".join(lines)


def closed_message(service: Any) -> str:
    return (f"probe run: campaign {service.settings.campaign.name!r} is closed (every target settled, nothing "
            f"left to send): stopped. Read it with: probe report {service.settings.path}")


def print_plan_warnings(settings: Any, due_times: Any) -> int:
    """validate and launch: warnings about the plan on stderr (weekend, night, no time, short gap)."""
    import sys
    import tomllib

    from probe.core.schedule_checks import plan_warnings, start_has_no_time

    try:
        raw = tomllib.loads(settings.path.read_text(encoding="utf-8")).get("schedule", {}).get("start")
    except (OSError, tomllib.TOMLDecodeError, AttributeError):
        raw = None
    warnings = plan_warnings(list(due_times), list(settings.schedule.reminders), settings.campaign.zone,
                             start_without_time=start_has_no_time(raw),
                             has_send_window=settings.schedule.send_window is not None)
    for text in warnings:
        print(f"warning: {text}", file=sys.stderr)
    return len(warnings)
