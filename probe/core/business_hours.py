"""Business hours elapsed between two instants, as help desks measure first response time.

`BusinessHours("mon-fri 09:00-18:00", holidays, zone)` counts only the opening hours of the window
in the campaign's time zone, skipping holidays: an email sent on Friday at 19:00 and answered on
Saturday at 11:00 took 0 business seconds; answered on Monday at 10:00, one hour. The length of one
business day is the window's opening hours (9 h for 09:00-18:00), so "1d" of business time is one
day's opening hours. DST-correct: each day's opening and closing are located as instants.

Pure: no clock read; `elapsed` is O(1) amortised (the cumulative opening seconds at the start of each
local date are memoised as dates are met).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from probe.core.planning import SendWindow, localize


class BusinessHours:
    def __init__(self, window: str | SendWindow, holidays: Iterable[date], zone: ZoneInfo) -> None:
        self.window = window if isinstance(window, SendWindow) else SendWindow.parse(window)
        self.holidays = frozenset(holidays)
        self.zone = zone
        self._origin: date | None = None
        self._lo = self._hi = date.min
        self._cum: dict[date, float] = {}   # opening seconds from _origin's start to this date's start

    @property
    def day_seconds(self) -> float:
        """One business day: the window's opening hours on a day with no DST change."""
        end = timedelta(days=1) if self.window.end == time.max else _clock(self.window.end)
        return (end - _clock(self.window.start)).total_seconds()

    def _open_close(self, day: date) -> tuple[datetime, datetime] | None:
        if day.weekday() not in self.window.days or day in self.holidays:
            return None
        opening = localize(datetime.combine(day, self.window.start), self.zone)
        if self.window.end == time.max:
            closing = localize(datetime.combine(day + timedelta(days=1), time.min), self.zone)
        else:
            closing = localize(datetime.combine(day, self.window.end), self.zone)
        return opening, closing

    def _day_total(self, day: date) -> float:
        span = self._open_close(day)
        return 0.0 if span is None else (span[1] - span[0]).total_seconds()

    def _start_of(self, day: date) -> float:
        # The memo covers a contiguous run of dates [_lo, _hi]; extend it to reach `day`.
        if self._origin is None:
            self._origin = self._lo = self._hi = day
            self._cum[day] = 0.0
        while day > self._hi:
            self._cum[self._hi + timedelta(days=1)] = self._cum[self._hi] + self._day_total(self._hi)
            self._hi += timedelta(days=1)
        while day < self._lo:
            self._lo -= timedelta(days=1)
            self._cum[self._lo] = self._cum[self._lo + timedelta(days=1)] - self._day_total(self._lo)
        return self._cum[day]

    def position(self, when: datetime) -> float:
        """Opening seconds from the memo's origin to `when` (aware)."""
        if when.tzinfo is None:
            raise ValueError(f"naive datetime {when!r}: business hours need an aware time")
        day = when.astimezone(self.zone).date()
        base = self._start_of(day)
        span = self._open_close(day)
        if span is None:
            return base
        instant = when.astimezone(UTC)
        inside = min(max(instant, span[0]), span[1]) - span[0]
        return base + inside.total_seconds()

    def elapsed(self, start: datetime, end: datetime) -> float:
        """Opening seconds between two aware instants (0 when end is not after start)."""
        if end <= start:
            return 0.0
        return max(0.0, self.position(end) - self.position(start))


def _clock(t: time) -> timedelta:
    return timedelta(hours=t.hour, minutes=t.minute, seconds=t.second)
