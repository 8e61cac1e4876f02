"""The simulated directors: they read what the SMTP server really received and, following their plan,
schedule the mail they send back (an answer, an out-of-office, a bounce) at a simulated time.

They never touch probe's database: the run loop APPENDs what they send to the IMAP inbox, with the
simulated time as INTERNALDATE, and probe has to find, classify and match it like any other mail."""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from probe.core.tokens import parse_message_id, tokens_in
from probe.demo.mailstyles import Original, delivery_failure, human_reply, out_of_office
from probe.demo.people import Director
from probe.demo.scenario import Plan, Role, office_time
from probe.demo.servers import Received
from probe.demo.wording import answer_text


@dataclass(frozen=True, order=True)
class Outgoing:
    """A message a director sends back, due at `when` (simulated)."""

    when: datetime
    seq: int
    director: Director = field(compare=False)
    what: str = field(compare=False)       # for the progress line: "answers NO (Outlook)"
    raw: bytes = field(compare=False, repr=False)
    sender: str = field(compare=False, default="")   # who it comes from, when not the director
    kind: str = field(compare=False, default="answer")   # "answer", "out_of_office" or "bounce"


def wave_of(msg_id: str, references: str) -> int | None:
    found = parse_message_id(msg_id)
    if found:
        return found[1]
    hits = tokens_in(references)
    return hits[-1][1] if hits else None


_CLIENT_NAMES = {"gmail": "Gmail", "outlook": "Outlook", "outlook_html": "Outlook, HTML only",
                 "apple": "Apple Mail", "iphone": "iPhone", "thunderbird": "Thunderbird",
                 "outlook_legacy": "Outlook 2010, not threaded"}


class Directors:
    """React to received mail; hand out what is due. Deterministic for a given seed and input."""

    def __init__(self, plans: list[Plan], seed: int) -> None:
        self._plans = {p.director.email: p for p in plans}
        self._rng = random.Random(f"probe-demo-directors-{seed}")
        self._queue: list[Outgoing] = []
        self._seq = 0
        self._away_notified: set[str] = set()
        self._answered: set[str] = set()
        self.seen = 0           # messages read from the SMTP server so far

    def plan_for(self, address: str) -> Plan | None:
        return self._plans.get(address.lower())

    def read(self, received: list[Received], now: datetime) -> None:
        """Look at every message received since the last call."""
        # The SMTP server receives a pass's emails over several connections, in whatever order they
        # finish; the directors draw from one random stream, so they read them in a fixed order (by
        # recipient): the same seed then gives the same replies at the same times, byte for byte.
        for item in sorted(received[self.seen:], key=lambda r: [a.lower() for a in r.rcpt_tos]):
            for rcpt in item.rcpt_tos:
                plan = self.plan_for(rcpt)
                if plan is not None:
                    self._react(plan, item, now)
        self.seen = len(received)

    def _react(self, plan: Plan, item: Received, now: datetime) -> None:
        if plan.role is Role.SILENT or (plan.role is Role.ANSWERS and plan.director.email in self._answered
                                        and plan.away_until is None):
            return  # parsing costs more than the rest of the demo's side: skip who will not write
        msg = item.message()
        original = Original.of(msg, now)
        arrived = max(original.date, now) if original.date.tzinfo else now
        director = plan.director
        rng = self._rng
        if plan.role is Role.BOUNCES:
            when = arrived + timedelta(seconds=rng.randint(4, 50))
            raw = delivery_failure(director, item.raw, item.mail_from or original.from_addr, when, rng=rng)
            self._push(when, director, f"delivery failure for {director.email}: 550 5.1.1 user unknown "
                       "(RFC 3464 report)", raw, sender=f"MAILER-DAEMON@mx1.{director.domain}", kind="bounce")
            return
        away_until = plan.away_until
        if away_until is not None and arrived.date() <= away_until and director.email not in self._away_notified:
            self._away_notified.add(director.email)
            when = arrived + timedelta(seconds=rng.randint(20, 240))
            raw = out_of_office(director, original, when, until=away_until, variant=plan.variant,
                                auto_submitted=plan.auto_submitted, rng=rng)
            label = "with Auto-Submitted" if plan.auto_submitted else "without Auto-Submitted"
            self._push(when, director, f"out-of-office ({label})", raw, kind="out_of_office")
        if plan.role is not Role.ANSWERS or director.email in self._answered:
            return
        wave = wave_of(original.message_id, original.references)
        if wave is None or wave < plan.wave:
            return
        self._answered.add(director.email)
        when = office_time(arrived + plan.delay, rng, mobile=plan.style == "iphone")
        assert plan.answer is not None
        text = answer_text(plan.answer, plan.lang, plan.variant)
        raw = human_reply(director, original, text, when, style=plan.style, lang=plan.lang,
                          with_disclaimer=plan.disclaimer, rng=rng)
        extra = ", with a disclaimer" if plan.disclaimer else ""
        self._push(when, director,
                   f"answers {plan.answer.value.upper()} ({_CLIENT_NAMES[plan.style]}, {plan.lang}{extra})", raw)

    def _push(self, when: datetime, director: Director, what: str, raw: bytes, *, sender: str = "",
              kind: str = "answer") -> None:
        self._seq += 1
        heapq.heappush(self._queue,
                       Outgoing(when, self._seq, director, what, raw, sender or director.email, kind))

    def next_time(self) -> datetime | None:
        return self._queue[0].when if self._queue else None

    def due(self, now: datetime) -> list[Outgoing]:
        out = []
        while self._queue and self._queue[0].when <= now:
            out.append(heapq.heappop(self._queue))
        return out

    def pending(self) -> int:
        return len(self._queue)
