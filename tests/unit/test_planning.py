from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from probe.core.planning import SendWindow, closes_at, localize, next_opening, plan_waves

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
D = timedelta(days=1)
H = timedelta(hours=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def paris(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=PARIS, fold=fold)


# --- SendWindow.parse --------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "days", "start", "end"), [
    ("mon-fri 09:00-18:00", {0, 1, 2, 3, 4}, time(9), time(18)),
    ("mon,wed,fri 08:30-12:00", {0, 2, 4}, time(8, 30), time(12)),
    ("daily 09:00-18:00", set(range(7)), time(9), time(18)),
    ("Mon-Fri 9:00-18:00", {0, 1, 2, 3, 4}, time(9), time(18)),
    ("fri-mon 10:00-16:00", {4, 5, 6, 0}, time(10), time(16)),
    ("sat,sun", {5, 6}, time.min, time.max),
    ("09:00-17:30", set(range(7)), time(9), time(17, 30)),
    ("weekdays 08:00-24:00", {0, 1, 2, 3, 4}, time(8), time.max),
    ("mon, tue 07:00-08:00", {0, 1}, time(7), time(8)),
    ("monday-wednesday 07:00-08:00", {0, 1, 2}, time(7), time(8)),
    ("tue 00:00-00:01", {1}, time(0), time(0, 1)),
])
def test_window_parse(text: str, days: set[int], start: time, end: time) -> None:
    window = SendWindow.parse(text)
    assert window == SendWindow(frozenset(days), start, end)


@pytest.mark.parametrize(("text", "message"), [
    ("", "cannot be empty"),
    ("   ", "cannot be empty"),
    ("mon-fri", None),  # valid: all day
    ("mon-fry 09:00-18:00", "'mon-fry' is not a day"),
    ("lun-ven 09:00-18:00", "is not a day"),
    ("mon-fri 18:00-09:00", "must end after it starts"),
    ("mon-fri 09:00-09:00", "must end after it starts"),
    ("mon-fri 09:00", "must be a range"),
    ("mon-fri 25:00-26:00", "not a time of day"),
    ("mon-fri 09:60-10:00", "not a time of day"),
    ("mon-fri 9h-18h", "is not a day"),
])
def test_window_parse_errors(text: str, message: str | None) -> None:
    if message is None:
        SendWindow.parse(text)
        return
    with pytest.raises(ValueError, match=message) as err:
        SendWindow.parse(text)
    assert "mon-fri 09:00-18:00" in str(err.value)  # every message shows the expected form


def test_window_str_round_trips() -> None:
    window = SendWindow.parse("fri-mon 10:00-24:00")
    assert str(window) == "mon,fri,sat,sun 10:00-24:00"
    assert SendWindow.parse(str(window)) == window


def test_window_constructor_checks() -> None:
    with pytest.raises(ValueError, match="at least one day"):
        SendWindow(frozenset(), time(9), time(10))
    with pytest.raises(ValueError, match="at least one day"):
        SendWindow(frozenset({7}), time(9), time(10))


# --- next_opening --------------------------------------------------------------------------------

WORK = SendWindow.parse("mon-fri 09:00-18:00")


@pytest.mark.parametrize(("when", "tz", "window", "expected"), [
    # no window: unchanged, converted to UTC
    (paris(2015, 9, 28, 3, 0), PARIS, None, utc(2015, 9, 28, 1, 0)),
    # inside: unchanged
    (paris(2015, 9, 28, 9, 0), PARIS, WORK, utc(2015, 9, 28, 7, 0)),
    (paris(2015, 9, 28, 17, 59), PARIS, WORK, utc(2015, 9, 28, 15, 59)),
    # before the opening: same day
    (paris(2015, 9, 28, 7, 0), PARIS, WORK, utc(2015, 9, 28, 7, 0)),
    # at the end: the window is [start, end), so the next day
    (paris(2015, 9, 28, 18, 0), PARIS, WORK, utc(2015, 9, 29, 7, 0)),
    # Friday evening → Monday morning
    (paris(2015, 10, 2, 19, 0), PARIS, WORK, utc(2015, 10, 5, 7, 0)),
    # Saturday → Monday; Sunday → Monday
    (paris(2015, 10, 3, 10, 0), PARIS, WORK, utc(2015, 10, 5, 7, 0)),
    (paris(2015, 10, 4, 23, 59), PARIS, WORK, utc(2015, 10, 5, 7, 0)),
    # the weekend of the October DST change: Monday 09:00 is now UTC+1
    (paris(2015, 10, 24, 12, 0), PARIS, WORK, utc(2015, 10, 26, 8, 0)),
    # the weekend of the March DST change: Monday 09:00 is now UTC+2
    (paris(2015, 3, 28, 12, 0), PARIS, WORK, utc(2015, 3, 30, 7, 0)),
    # Wednesday only, from Thursday: a week later less one day
    (paris(2015, 10, 1, 8, 0), PARIS, SendWindow.parse("wed 09:00-10:00"), utc(2015, 10, 7, 7, 0)),
    # a window opening at 02:30 on the night clocks jump from 02:00 to 03:00: first instant after the gap
    (paris(2015, 3, 29, 0, 0), PARIS, SendWindow.parse("daily 02:30-05:00"), utc(2015, 3, 29, 1, 0)),
    # a window opening at 02:30 on the night 02:00-03:00 happens twice: the first 02:30
    (paris(2015, 10, 25, 0, 0), PARIS, SendWindow.parse("daily 02:30-05:00"), utc(2015, 10, 25, 0, 30)),
    # ... and during the second 02:00-02:30 (after the first 02:30 has passed): the second 02:30
    (paris(2015, 10, 25, 2, 10, fold=1), PARIS, SendWindow.parse("daily 02:30-05:00"),
     utc(2015, 10, 25, 1, 30)),
    # in the first 02:10 the window is closed and opens 20 minutes later
    (paris(2015, 10, 25, 2, 10, fold=0), PARIS, SendWindow.parse("daily 02:30-05:00"),
     utc(2015, 10, 25, 0, 30)),
    # UTC input, other zones
    (utc(2015, 11, 1, 5, 0), NEW_YORK, WORK, utc(2015, 11, 2, 14, 0)),
    (utc(2015, 3, 6, 23, 30), NEW_YORK, WORK, utc(2015, 3, 9, 13, 0)),
    (utc(2015, 10, 2, 22, 0), SYDNEY, WORK, utc(2015, 10, 4, 22, 0)),  # Sydney DST starts 4 Oct
    # "until 24:00"
    (paris(2015, 9, 28, 23, 59), PARIS, SendWindow.parse("mon 20:00-24:00"), utc(2015, 9, 28, 21, 59)),
    (paris(2015, 9, 29, 0, 0), PARIS, SendWindow.parse("mon 20:00-24:00"), utc(2015, 10, 5, 18, 0)),
    # other offsets than the campaign zone's are converted
    (datetime(2015, 9, 28, 7, 0, tzinfo=ZoneInfo("Asia/Tokyo")), PARIS, WORK, utc(2015, 9, 28, 7, 0)),
])
def test_next_opening(when: datetime, tz: ZoneInfo, window: SendWindow | None, expected: datetime) -> None:
    got = next_opening(when, tz, window)
    assert got == expected
    assert got.tzinfo is UTC
    if window is not None:
        assert window.contains_local(got.astimezone(tz))


def test_next_opening_refuses_naive() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_opening(datetime(2015, 9, 28, 9), PARIS, WORK)


def test_next_opening_every_hour_of_a_year() -> None:
    # exhaustive: the result is never earlier than asked, always inside, and never skips an opening
    window = SendWindow.parse("mon,wed,fri 08:30-12:00")
    when = utc(2015, 1, 1)
    while when < utc(2016, 1, 1):
        got = next_opening(when, PARIS, window)
        assert got >= when
        assert window.contains_local(got.astimezone(PARIS))
        if got > when:
            assert not window.contains_local((got - timedelta(minutes=1)).astimezone(PARIS))
            assert got - when < timedelta(days=3)
        when += timedelta(minutes=47)


# --- localize ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("naive", "fold", "expected"), [
    (datetime(2015, 9, 28, 9), 0, utc(2015, 9, 28, 7)),
    (datetime(2015, 3, 29, 2, 30), 0, utc(2015, 3, 29, 1)),  # gap → end of the gap
    (datetime(2015, 3, 29, 2, 30), 1, utc(2015, 3, 29, 1)),
    (datetime(2015, 10, 25, 2, 30), 0, utc(2015, 10, 25, 0, 30)),  # fold → first occurrence
    (datetime(2015, 10, 25, 2, 30), 1, utc(2015, 10, 25, 1, 30)),
])
def test_localize(naive: datetime, fold: int, expected: datetime) -> None:
    assert localize(naive, PARIS, fold=fold) == expected


# --- plan_waves --------------------------------------------------------------------------------

R = [timedelta(days=6), timedelta(days=12)]


@pytest.mark.parametrize(("start", "reminders", "tz", "window", "expected"), [
    # the founding case: 28 Sept 2015 09:00 Paris, reminders 6d and 12d
    (paris(2015, 9, 28, 9), R, PARIS, None,
     [utc(2015, 9, 28, 7), utc(2015, 10, 4, 7), utc(2015, 10, 10, 7)]),
    # over the October DST change: 09:00 local stays 09:00 local (08:00 UTC after the change)
    (paris(2015, 10, 20, 9), R, PARIS, None,
     [utc(2015, 10, 20, 7), utc(2015, 10, 26, 8), utc(2015, 11, 1, 8)]),
    (paris(2015, 10, 20, 9), R, PARIS, WORK,
     [utc(2015, 10, 20, 7), utc(2015, 10, 26, 8), utc(2015, 11, 2, 8)]),  # 1 Nov is a Sunday
    # over the March DST change, the other way
    (paris(2015, 3, 25, 9), R, PARIS, None,
     [utc(2015, 3, 25, 8), utc(2015, 3, 31, 7), utc(2015, 4, 6, 7)]),
    # New York changes a week later than Europe
    (datetime(2015, 10, 28, 9, tzinfo=NEW_YORK), [timedelta(days=6)], NEW_YORK, None,
     [utc(2015, 10, 28, 13), utc(2015, 11, 3, 14)]),
    # offsets that are not whole days are elapsed time: 36h over the change is 36 real hours
    (paris(2015, 10, 24, 9), [timedelta(hours=36)], PARIS, None,
     [utc(2015, 10, 24, 7), utc(2015, 10, 25, 19)]),
    (paris(2015, 10, 24, 9), [timedelta(days=1, hours=12)], PARIS, None,
     [utc(2015, 10, 24, 7), utc(2015, 10, 25, 19)]),
    # 24h is a whole day: calendar day
    (paris(2015, 10, 24, 9), [timedelta(hours=24)], PARIS, None,
     [utc(2015, 10, 24, 7), utc(2015, 10, 25, 8)]),
    # a start on Saturday: the initial waits for Monday, reminders count from the initial send
    (paris(2015, 10, 3, 10), [timedelta(days=2)], PARIS, WORK,
     [utc(2015, 10, 5, 7), utc(2015, 10, 7, 7)]),
    # a reminder that falls on a weekend moves to Monday's opening
    (paris(2015, 10, 2, 15), [timedelta(days=1)], PARIS, WORK,
     [utc(2015, 10, 2, 13), utc(2015, 10, 5, 7)]),
    # a reminder that falls after hours moves to the next morning
    (paris(2015, 9, 28, 17), [timedelta(hours=2)], PARIS, WORK,
     [utc(2015, 9, 28, 15), utc(2015, 9, 29, 7)]),
    # two reminders pushed onto the same opening stay in order
    (paris(2015, 10, 2, 10), [timedelta(days=1), timedelta(days=2)], PARIS, WORK,
     [utc(2015, 10, 2, 8), utc(2015, 10, 5, 7), utc(2015, 10, 5, 7, 0, 1)]),
    # no reminders: one wave
    (paris(2015, 9, 28, 9), [], PARIS, WORK, [utc(2015, 9, 28, 7)]),
    # a start in the past is planned as given
    (utc(2000, 1, 3, 12), R, ZoneInfo("UTC"), None,
     [utc(2000, 1, 3, 12), utc(2000, 1, 9, 12), utc(2000, 1, 15, 12)]),
    # a start given in UTC, zone elsewhere: calendar days in the campaign zone
    (utc(2015, 10, 20, 7), R, PARIS, None,
     [utc(2015, 10, 20, 7), utc(2015, 10, 26, 8), utc(2015, 11, 1, 8)]),
    # a reminder whose local time would fall in the spring gap moves to the end of the gap
    (paris(2015, 3, 28, 2, 30), [timedelta(days=1)], PARIS, None,
     [utc(2015, 3, 28, 1, 30), utc(2015, 3, 29, 1, 0)]),
    # a whole-week offset
    (paris(2015, 10, 20, 9), [timedelta(weeks=1)], PARIS, None, [utc(2015, 10, 20, 7), utc(2015, 10, 27, 8)]),
])
def test_plan_waves(start: datetime, reminders: list[timedelta], tz: ZoneInfo, window: SendWindow | None,
                    expected: list[datetime]) -> None:
    waves = plan_waves(start, reminders, tz, window)
    assert waves == expected
    assert all(w.tzinfo is UTC for w in waves)
    assert waves == sorted(waves) and len(set(waves)) == len(waves)


def test_plan_waves_founding_case_local_times() -> None:
    waves = plan_waves(paris(2015, 10, 20, 9), R, PARIS, WORK)
    assert [w.astimezone(PARIS).strftime("%a %d %b %H:%M") for w in waves] == [
        "Tue 20 Oct 09:00", "Mon 26 Oct 09:00", "Mon 02 Nov 09:00"]


@pytest.mark.parametrize(("reminders", "message"), [
    ([timedelta(days=6), timedelta(days=6)], "strictly increasing"),
    ([timedelta(days=12), timedelta(days=6)], "strictly increasing"),
    ([timedelta(0)], "positive"),
    ([-D], "positive"),
])
def test_plan_waves_refuses_bad_offsets(reminders: list[timedelta], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_waves(paris(2015, 9, 28, 9), reminders, PARIS, None)


def test_plan_waves_refuses_naive_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_waves(datetime(2015, 9, 28, 9), R, PARIS, None)


# --- closes_at ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("last_due", "close_after", "expected"), [
    (utc(2015, 10, 10, 7), timedelta(days=7), utc(2015, 10, 17, 7)),
    (paris(2015, 10, 20, 9), timedelta(days=7), utc(2015, 10, 27, 7)),  # elapsed time
    (utc(2015, 10, 10, 7), timedelta(0), utc(2015, 10, 10, 7)),
])
def test_closes_at(last_due: datetime, close_after: timedelta, expected: datetime) -> None:
    got = closes_at(last_due, close_after)
    assert got == expected and got.tzinfo is UTC


def test_reminders_follow_the_actual_initial_send() -> None:
    from probe.core.planning import follow_up_due

    paris = ZoneInfo("Europe/Paris")
    offsets = [timedelta(days=6), timedelta(days=12)]
    sent = datetime(2015, 9, 28, 21, 0, tzinfo=UTC)   # late: an SMTP outage held it back
    due = follow_up_due(sent, 0, sent, offsets, paris, SendWindow.parse("mon-fri 09:00-18:00"))
    # 6 days later is Sunday 4 Oct 23:00 Paris → Monday 09:00; 12 days later is Sat 10 Oct → Monday 12th.
    assert [d.astimezone(paris).strftime("%a %d %H:%M") for d in due.values()] == ["Mon 05 09:00", "Mon 12 09:00"]
    # A reminder that went out late keeps the plan's gap to the next one.
    late = sent + timedelta(days=10)
    assert follow_up_due(sent, 1, late, offsets, paris, None) == {2: late + timedelta(days=6)}


# --- schedule.spread_by = "domain" -----------------------------------------------------------------

def test_spread_by_domain_spaces_one_organisation_over_the_window() -> None:
    from probe.core.planning import SPREAD_WITHOUT_WINDOW, SendWindow, spread_by_domain

    paris = ZoneInfo("Europe/Paris")
    start = datetime(2015, 9, 28, 9, 0, tzinfo=paris)           # a Monday, the window's opening
    window = SendWindow.parse("mon-fri 09:00-18:00")
    domains = ["council.example", "other.example", "Council.example", "council.example"]
    due = spread_by_domain(domains, start, paris, window)
    council = [d.astimezone(paris) for d, name in zip(due, domains, strict=True) if name.lower() == "council.example"]
    # Three colleagues: 09:00, 12:00, 15:00 — a third of the nine open hours apart, all inside the window.
    assert [d.strftime("%H:%M") for d in council] == ["09:00", "12:00", "15:00"]
    assert due[1] == start.astimezone(due[1].tzinfo)             # alone in its domain: at the opening
    assert all(window.contains_local(d.astimezone(paris)) for d in due)
    # Without a window: over SPREAD_WITHOUT_WINDOW after the start.
    plain = spread_by_domain(["a.example", "a.example"], start, paris, None)
    assert plain[1] - plain[0] == SPREAD_WITHOUT_WINDOW / 2
    # A start outside the window moves to the next opening first (Saturday → Monday 09:00).
    saturday = datetime(2015, 9, 26, 20, 0, tzinfo=paris)
    assert spread_by_domain(["a.example"], saturday, paris, window)[0].astimezone(paris) == start
