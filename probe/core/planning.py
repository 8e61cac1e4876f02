"""When each wave goes out: the start, the reminder offsets, the send window, the campaign time zone.

Everything returned is an aware UTC datetime. Local wall-clock time only matters for two things:
the send window ("mon-fri 09:00-18:00" is local), and reminder offsets of whole days, which are
calendar days so that a 09:00 initial send gets 09:00 reminders across a DST change (LIBRARIES.md §9).
Wall-clock times that do not exist (spring-forward gap) move to the first instant after the gap;
times that happen twice (fall-back fold) take the first occurrence that is not in the past."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

_DAY_NAMES = {
    "mon": 0, "monday": 0, "tue": 1, "tues": 1, "tuesday": 1, "wed": 2, "wednesday": 2,
    "thu": 3, "thur": 3, "thurs": 3, "thursday": 3, "fri": 4, "friday": 4,
    "sat": 5, "saturday": 5, "sun": 6, "sunday": 6,
}
_DAY_SETS = {
    "daily": range(7), "everyday": range(7), "any": range(7),
    "weekdays": range(5), "weekends": (5, 6), "weekend": (5, 6),
}
_SHORT = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_ONE_DAY = timedelta(days=1)

WINDOW_HELP = 'write it like "mon-fri 09:00-18:00", "mon,wed,fri 08:30-12:00" or "daily 09:00-18:00"'


def _parse_clock(text: str, whole: str) -> time:
    m = _CLOCK.fullmatch(text)
    if not m:
        raise ValueError(f"{whole!r}: {text!r} is not a time of day HH:MM ({WINDOW_HELP})")
    hour, minute = int(m.group(1)), int(m.group(2))
    if (hour, minute) == (24, 0):
        return time.max  # "…-24:00": until midnight
    if hour > 23 or minute > 59:
        raise ValueError(f"{whole!r}: {text!r} is not a time of day HH:MM ({WINDOW_HELP})")
    return time(hour, minute)


def _parse_days(text: str, whole: str) -> frozenset[int]:
    days: set[int] = set()
    for item in text.split(","):
        item = item.strip()
        if item in _DAY_SETS:
            days.update(_DAY_SETS[item])
            continue
        first, sep, last = item.partition("-")
        if first not in _DAY_NAMES or (sep and last not in _DAY_NAMES):
            raise ValueError(f"{whole!r}: {item!r} is not a day or a range of days like mon-fri "
                             f"({WINDOW_HELP})")
        a = _DAY_NAMES[first]
        b = _DAY_NAMES[last] if sep else a
        # A range may wrap over the week-end: "fri-mon" is Friday to Monday.
        days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    return frozenset(days)


@dataclass(frozen=True)
class SendWindow:
    """Days of the week (0 = Monday) and local hours [start, end) in which sends may go out."""

    days: frozenset[int]
    start: time
    end: time

    def __post_init__(self) -> None:
        if not self.days or not self.days <= frozenset(range(7)):
            raise ValueError("a send window needs at least one day, numbered 0 (Monday) to 6 (Sunday)")
        if self.end <= self.start:
            raise ValueError(f"a send window must end after it starts ({self.start:%H:%M}-{self.end:%H:%M}); "
                             "windows over midnight are not supported")

    @classmethod
    def parse(cls, text: str) -> SendWindow:
        """`"mon-fri 09:00-18:00"`; the days or the hours may be left out (any day / all day)."""
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"a send window cannot be empty ({WINDOW_HELP})")
        whole = text
        words = text.strip().lower().split()
        hours = words.pop() if words and _CLOCK.match(words[-1]) else None
        days = _parse_days(" ".join(words).replace(" ", ""), whole) if words else frozenset(range(7))
        start, end = time.min, time.max
        if hours is not None:
            first, sep, last = hours.partition("-")
            if not sep:
                raise ValueError(f"{whole!r}: hours must be a range like 09:00-18:00 ({WINDOW_HELP})")
            start, end = _parse_clock(first, whole), _parse_clock(last, whole)
        try:
            return cls(days, start, end)
        except ValueError as exc:
            raise ValueError(f"{whole!r}: {exc} ({WINDOW_HELP})") from None

    def contains_local(self, local: datetime) -> bool:
        """Is this local wall-clock time inside the window?"""
        t = local.time()
        return local.weekday() in self.days and self.start <= t and (t < self.end or self.end == time.max)

    def __str__(self) -> str:
        days = ",".join(_SHORT[d] for d in sorted(self.days))
        end = "24:00" if self.end == time.max else f"{self.end:%H:%M}"
        return f"{days} {self.start:%H:%M}-{end}"


def _require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")


def _exists(local: datetime, tz: ZoneInfo) -> bool:
    back = local.astimezone(UTC).astimezone(tz)
    return back.replace(tzinfo=None) == local.replace(tzinfo=None, fold=0)


def localize(naive: datetime, tz: ZoneInfo, *, fold: int = 0) -> datetime:
    """The UTC instant of a local wall-clock time. In a DST gap: the first instant after the gap."""
    local = naive.replace(tzinfo=tz, fold=fold)
    if _exists(local, tz):
        return local.astimezone(UTC)
    # In a gap, fold=1 lands before the gap and fold=0 after it; the first instant whose wall
    # time is not earlier than `naive` is the transition itself: find it by bisection (seconds).
    lo = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    hi = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if lo > hi:
        lo, hi = hi, lo
    target = naive.replace(tzinfo=None, fold=0)
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= target:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0) if hi.microsecond else hi


def next_opening(when: datetime, tz: ZoneInfo, window: SendWindow | None) -> datetime:
    """`when` (in UTC) if the window is open then, else the next instant the window opens."""
    _require_aware("when", when)
    when = when.astimezone(UTC)
    if window is None:
        return when
    local = when.astimezone(tz)
    if window.contains_local(local):
        return when
    day: date = local.date()
    for _ in range(9):  # every weekday is reached within 8 days, one more for a skipped date
        if day.weekday() in window.days:
            naive = datetime.combine(day, window.start)
            for fold in (0, 1):
                opening = localize(naive, tz, fold=fold)
                if opening > when:
                    return opening
        day += _ONE_DAY
    raise AssertionError(f"no opening found for {window} after {when.isoformat()}")  # pragma: no cover


def _is_whole_days(offset: timedelta) -> bool:
    return offset % _ONE_DAY == timedelta(0)


def shift(base: datetime, offset: timedelta, tz: ZoneInfo) -> datetime:
    """`base + offset` where whole days are calendar days in `tz` and anything else is elapsed time."""
    _require_aware("base", base)
    if not _is_whole_days(offset):
        return (base.astimezone(UTC) + offset).astimezone(UTC)
    local = base.astimezone(tz)
    return localize(local.replace(tzinfo=None) + offset, tz, fold=local.fold)


def plan_waves(start: datetime, reminders: Sequence[timedelta], tz: ZoneInfo,
               window: SendWindow | None) -> list[datetime]:
    """Due time (UTC) of every wave: wave 0 is `start` moved into the window; wave i is the initial
    send's planned time plus reminders[i-1] (DESIGN.md: offsets are from the initial send), also
    moved into the window. A start in the past is planned as given: the caller decides what is due."""
    _require_aware("start", start)
    if any(offset <= timedelta(0) for offset in reminders):
        raise ValueError("reminder offsets must be positive")
    if any(b <= a for a, b in pairwise(reminders)):
        raise ValueError("reminder offsets must be strictly increasing")
    initial = next_opening(start, tz, window)
    waves = [initial]
    for offset in reminders:
        due = next_opening(shift(initial, offset, tz), tz, window)
        # A window can push two reminders onto the same opening; keep the order strict anyway.
        if due <= waves[-1]:
            due = waves[-1] + timedelta(seconds=1)
        waves.append(due)
    return waves


def follow_up_due(initial_sent_at: datetime, sent_wave: int, sent_at: datetime,
                  reminders: Sequence[timedelta], tz: ZoneInfo, window: SendWindow | None) -> dict[int, datetime]:
    """Due time of every wave after `sent_wave`, now that it went out at `sent_at` (DESIGN.md: waves
    follow the target). Wave i is due at reminders[i-1] from the *actual* initial send, moved into the
    window; and never sooner after `sent_at` than the plan's gap between the two waves, so a reminder
    that went out late (retries, an outage) is not followed by the next one minutes later."""
    _require_aware("initial_sent_at", initial_sent_at)
    _require_aware("sent_at", sent_at)
    offsets = [timedelta(0), *reminders]
    due: dict[int, datetime] = {}
    previous = sent_at.astimezone(UTC)
    for wave in range(sent_wave + 1, len(offsets)):
        from_initial = shift(initial_sent_at, offsets[wave], tz)
        from_last = shift(sent_at, offsets[wave] - offsets[sent_wave], tz)
        when = next_opening(max(from_initial, from_last), tz, window)
        if when <= previous:
            when = previous + timedelta(seconds=1)
        due[wave] = when
        previous = when
    return due


def closes_at(last_due: datetime, close_after: timedelta) -> datetime:
    """When silence becomes final: the last wave's due time plus the grace period (elapsed time)."""
    _require_aware("last_due", last_due)
    return last_due.astimezone(UTC) + close_after


#: Without a send window, one domain's initial sends are spread over this long after the start.
SPREAD_WITHOUT_WINDOW = timedelta(hours=1)


def spread_by_domain(domains: Sequence[str], start: datetime, tz: ZoneInfo,
                     window: SendWindow | None) -> list[datetime]:
    """The initial due time of each target (same order as `domains`, its recipient domain), spread
    so that the m targets of one domain do not get their email in the same minute: the j-th of them
    (in the given order) is due at opening + j × span / m, where opening is `start` moved into the
    window and span the rest of that day's window (SPREAD_WITHOUT_WINDOW without a window). A
    domain's first target is due at the opening; every time stays inside the window."""
    _require_aware("start", start)
    opening = next_opening(start, tz, window)
    span = SPREAD_WITHOUT_WINDOW
    if window is not None:
        local = opening.astimezone(tz)
        end_clock = window.end if window.end != time.max else time(0)
        end_day = local.date() + (_ONE_DAY if window.end == time.max else timedelta(0))
        span = max(localize(datetime.combine(end_day, end_clock), tz) - opening, timedelta(0))
    counts: dict[str, int] = {}
    for d in domains:
        key = d.lower()
        counts[key] = counts.get(key, 0) + 1
    seen: dict[str, int] = {}
    out: list[datetime] = []
    for d in domains:
        key = d.lower()
        j = seen.get(key, 0)
        seen[key] = j + 1
        # Whole seconds: due times stay readable and equal on every engine.
        offset = timedelta(seconds=int(span.total_seconds() * j / counts[key]))
        out.append(opening + offset)
    return out
