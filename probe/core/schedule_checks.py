"""Warnings that prevent mistakes in a plan (validate and launch print them on stderr; nothing is
refused: a weekend send may be what the user wants, but never by accident).

- a wave due on a Saturday or a Sunday, or at night (21:00–07:00), in the campaign's time zone:
  reminders at +6 d and +12 d from a Monday fall on a Sunday and a Saturday;
- a `schedule.start` written without a time ("2027-01-11" means midnight);
- a reminder less than a day after the wave before it.

Pure: the due times and offsets come in as arguments."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo

NIGHT_FROM_HOUR = 21
NIGHT_UNTIL_HOUR = 7
MIN_GAP = timedelta(days=1)


def _wave(wave: int) -> str:
    return "the initial email" if wave == 0 else f"reminder {wave}"


def plan_warnings(due_times: Sequence[datetime], offsets: Sequence[timedelta], zone: tzinfo, *,
                  start_without_time: bool, has_send_window: bool) -> list[str]:
    """Plain sentences, each naming the wave, its local time and the key to change."""
    out: list[str] = []
    if start_without_time and due_times:
        out.append(f"schedule.start has no time of day: it means midnight "
                   f"({due_times[0].astimezone(zone):%a %Y-%m-%d %H:%M %Z}); write it like "
                   "\"2027-01-11T09:00:00\"")
    for wave, due in enumerate(due_times):
        local = due.astimezone(zone)
        when = f"{local:%A %Y-%m-%d %H:%M %Z}"
        fix = ("set schedule.send_window, e.g. \"mon-fri 09:00-18:00\"" if not has_send_window
               else "check schedule.send_window")
        if local.weekday() >= 5:
            out.append(f"{_wave(wave)} is due on a {local:%A} ({when}): {fix}, or move schedule.start"
                       + (" / schedule.reminders" if wave else ""))
        elif local.hour >= NIGHT_FROM_HOUR or local.hour < NIGHT_UNTIL_HOUR:
            out.append(f"{_wave(wave)} is due at night ({when}): {fix}, or give schedule.start a daytime hour")
    previous = timedelta(0)
    for n, offset in enumerate(offsets, start=1):
        if offset - previous < MIN_GAP:
            gap = offset - previous
            out.append(f"reminder {n} comes {_short(gap)} after {_wave(n - 1)} (less than a day): "
                       "check schedule.reminders (each offset counts from the initial email)")
        previous = offset
    return out


def _short(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    return f"{seconds // 60} min"


def start_has_no_time(raw: object) -> bool:
    """True for a TOML date (`start = 2027-01-11`) or a string without a time ("2027-01-11")."""
    if isinstance(raw, datetime):
        return False
    if isinstance(raw, str):
        text = raw.strip()
        return len(text) == 10 and text[4] == "-" and text[7] == "-"
    from datetime import date

    return isinstance(raw, date)
