"""The plan warnings: weekend, night, a start without a time, a reminder less than a day later."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from probe.core.schedule_checks import plan_warnings, start_has_no_time

PARIS = ZoneInfo("Europe/Paris")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=PARIS).astimezone(UTC)


def test_reminders_from_a_monday_fall_on_sunday_and_saturday() -> None:
    due = [local(2027, 1, 11, 9), local(2027, 1, 17, 9), local(2027, 1, 23, 9)]
    out = plan_warnings(due, [timedelta(days=6), timedelta(days=12)], PARIS, start_without_time=False,
                        has_send_window=False)
    assert len(out) == 2
    assert out[0].startswith("reminder 1 is due on a Sunday (Sunday 2027-01-17 09:00 CET)")
    assert out[1].startswith("reminder 2 is due on a Saturday") and "schedule.send_window" in out[1]


def test_weekdays_in_office_hours_give_no_warning() -> None:
    due = [local(2027, 1, 11, 9), local(2027, 1, 18, 9), local(2027, 1, 25, 9)]
    assert plan_warnings(due, [timedelta(days=7), timedelta(days=14)], PARIS, start_without_time=False,
                         has_send_window=False) == []


@pytest.mark.parametrize(("hour", "night"), [(6, True), (7, False), (20, False), (21, True), (0, True)])
def test_night_is_21_to_7_local_time(hour: int, night: bool) -> None:
    out = plan_warnings([local(2027, 1, 12, hour)], [], PARIS, start_without_time=False, has_send_window=False)
    assert bool(out) is night
    if night:
        assert "at night" in out[0]


def test_a_start_without_a_time_means_midnight() -> None:
    out = plan_warnings([local(2027, 1, 11, 0)], [], PARIS, start_without_time=True, has_send_window=False)
    assert out[0].startswith("schedule.start has no time of day: it means midnight (Mon 2027-01-11 00:00 CET)")
    assert start_has_no_time("2027-01-11") and start_has_no_time(date(2027, 1, 11))
    assert not start_has_no_time("2027-01-11T09:00:00") and not start_has_no_time(datetime(2027, 1, 11, 9))
    assert not start_has_no_time(None)


def test_a_reminder_less_than_a_day_after_the_previous_wave() -> None:
    due = [local(2027, 1, 11, 9), local(2027, 1, 11, 21 - 9), local(2027, 1, 12, 10)]
    out = plan_warnings(due, [timedelta(hours=3), timedelta(hours=25)], PARIS, start_without_time=False,
                        has_send_window=True)
    gaps = [w for w in out if "less than a day" in w]
    assert gaps == ["reminder 1 comes 3 h after the initial email (less than a day): check schedule.reminders "
                    "(each offset counts from the initial email)",
                    "reminder 2 comes 22 h after reminder 1 (less than a day): check schedule.reminders "
                    "(each offset counts from the initial email)"]
