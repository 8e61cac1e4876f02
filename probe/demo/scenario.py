"""Who does what in the demo: the founding case's figures, drawn per seed.

Fixed for every seed, so the headline is always the founding case's: 50 directors, 15 answer (some
after the first email, some after a reminder), a few send only an out-of-office, one address bounces,
the rest never answer: 35 of 50 without an answer. The seed varies who, when, what and in which mail
client."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from probe.core.model import Answer
from probe.demo.people import Director

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2015, 9, 28, 9, 0, tzinfo=PARIS)      # Monday 28 September 2015, 09:00
REMINDERS = ("6d", "12d")                               # Sunday 4 and Saturday 10 October
REMINDER_OFFSETS = (timedelta(days=6), timedelta(days=12))
CLOSE_AFTER = "7d"
END = START + REMINDER_OFFSETS[-1] + timedelta(days=7)  # the campaign closes: Saturday 17 October

TARGETS = 50
ANSWERING = 15
OUT_OF_OFFICE_ONLY = 4
BOUNCING = 1

# Mail clients. "outlook_html" sends HTML only; "outlook_legacy" drops In-Reply-To (old desktop clients
# and some gateways do), so only its sender address ties it to the campaign.
STYLES = ("gmail", "outlook", "outlook_html", "apple", "iphone", "thunderbird", "outlook_legacy")
_EXTRA_STYLE_WEIGHTS = {"gmail": 3, "outlook": 4, "outlook_html": 1, "apple": 2, "iphone": 2,
                        "thunderbird": 1, "outlook_legacy": 1}
_ENGLISH_STYLES = ("gmail", "outlook", "apple", "iphone")
_CORPORATE_STYLES = ("outlook", "outlook_html", "outlook_legacy")


class Role(StrEnum):
    ANSWERS = "answers"
    OUT_OF_OFFICE = "out_of_office"    # only an automatic reply, never an answer
    BOUNCES = "bounces"                # the address does not exist (any more)
    SILENT = "silent"


@dataclass(frozen=True)
class Plan:
    director: Director
    role: Role
    wave: int = 0                      # the email (0 initial, 1, 2 reminders) that gets the answer
    delay: timedelta = timedelta(0)    # from that email's arrival to the answer (before office hours)
    answer: Answer | None = None       # what the person means to say
    style: str = "gmail"
    lang: str = "fr"
    variant: int = 0                   # which wording
    disclaimer: bool = False           # the company appends a legal disclaimer full of "non"
    away_until: date | None = None     # out of office until this day (inclusive)
    auto_submitted: bool = True        # the out-of-office carries RFC 3834 Auto-Submitted


def _delay(rng: random.Random) -> timedelta:
    roll = rng.random()
    if roll < 0.4:
        return timedelta(minutes=rng.randint(12, 180))
    if roll < 0.75:
        return timedelta(hours=rng.uniform(3, 30))
    return timedelta(hours=rng.uniform(30, 96))


def make_plans(directors: list[Director], seed: int) -> list[Plan]:
    """One plan per director, in the directors' order; the same plans for the same seed."""
    if len(directors) != TARGETS:
        raise ValueError(f"the demo scenario needs {TARGETS} directors")
    rng = random.Random(f"probe-demo-scenario-{seed}")
    order = list(range(TARGETS))
    rng.shuffle(order)
    answering = order[:ANSWERING]
    away = order[ANSWERING:ANSWERING + OUT_OF_OFFICE_ONLY]
    bouncing = order[ANSWERING + OUT_OF_OFFICE_ONLY:ANSWERING + OUT_OF_OFFICE_ONLY + BOUNCING]

    plans: dict[int, Plan] = {i: Plan(directors[i], Role.SILENT) for i in range(TARGETS)}
    for i in bouncing:
        plans[i] = Plan(directors[i], Role.BOUNCES)

    after_second = rng.randint(2, 3)
    after_first = rng.randint(7, 9)
    waves = [0] * after_first + [2] * after_second + [1] * (ANSWERING - after_first - after_second)
    unclear = rng.choice((2, 3))
    yes = rng.randint(4, 7)
    answers = [Answer.UNCLEAR] * unclear + [Answer.YES] * yes + [Answer.NO] * (ANSWERING - unclear - yes)
    rng.shuffle(answers)
    extra = rng.choices(list(_EXTRA_STYLE_WEIGHTS), weights=list(_EXTRA_STYLE_WEIGHTS.values()),
                        k=ANSWERING - len(STYLES))
    styles = list(STYLES) + extra
    rng.shuffle(styles)
    english = set(rng.sample([k for k in range(ANSWERING) if styles[k] in _ENGLISH_STYLES], 3))
    corporate = [k for k in range(ANSWERING) if styles[k] in _CORPORATE_STYLES]
    disclaimed = set(rng.sample(corporate, max(1, len(corporate) // 2)))
    # One person who answers a reminder was away for the first email: their out-of-office must not count.
    back_later = next(k for k in range(ANSWERING) if waves[k] == 1)
    for k, i in enumerate(answering):
        away_until = None
        if k == back_later:
            away_until = (START + timedelta(days=rng.randint(2, 4))).date()
        plans[i] = Plan(directors[i], Role.ANSWERS, wave=waves[k], delay=_delay(rng), answer=answers[k],
                        style=styles[k], lang="en" if k in english else "fr", variant=rng.randrange(1000),
                        disclaimer=k in disclaimed, away_until=away_until, auto_submitted=rng.random() < 0.5)
    for n, i in enumerate(away):
        # Back mid-campaign for some, after the close for one (a long leave).
        days = rng.choice((3, 5, 8, 11)) if n else 25
        plans[i] = Plan(directors[i], Role.OUT_OF_OFFICE, away_until=(START + timedelta(days=days)).date(),
                        auto_submitted=n % 2 == 0, variant=rng.randrange(1000), lang="fr")
    return [plans[i] for i in range(TARGETS)]


def office_time(when: datetime, rng: random.Random, *, mobile: bool = False) -> datetime:
    """The first moment at or after `when` someone at work would send an email (Paris time).
    On a phone, people answer evenings and weekends too, but not at night."""
    local = when.astimezone(PARIS)
    if mobile:
        if local.hour >= 23 or local.hour < 7:
            day = local.date() + timedelta(days=1 if local.hour >= 23 else 0)
            local = datetime.combine(day, time(7, rng.randint(10, 59)), PARIS)
        return local
    if local.weekday() < 5 and (time(8, 15) <= local.time() <= time(19, 30)):
        return local
    day = local.date()
    if local.time() > time(19, 30) or local.weekday() >= 5:
        day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime.combine(day, time(8, rng.randint(20, 59)), PARIS)
