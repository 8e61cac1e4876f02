"""The lifecycle of targets and sends, declared once (docs/design.md "The lifecycle").

This module is the place to answer "what happens when…". Two tables, pure data:

- SEND_TABLE: (send state, send event) → the send's new state, what it costs in attempts, the event it
  causes on its target (if any) and what happens to the target's other sends.
- TARGET_TABLE: (target state, target event) → the target's new state (None: unchanged), what happens to
  its answer and to its sends.

A combination that is not in a table is not allowed: `decide_send` / `decide_target` return None and
the caller changes nothing. Policy returns data; the caller (service/dispatch, service/poll, the
resolve command) does the I/O, and the store applies each transition with an UPDATE guarded by the
source states the table names (`send_sources`, `target_sources`), so a row that moved meanwhile is
left alone. Like aiosmtpd's hooks and APScheduler's outcome enums: no I/O here, no clock, no DB.

Decisions taken where nobody had decided (also in docs/design.md):
- A bounce for wave 1 that arrives after wave 2 was claimed: the bounce wins. The target becomes
  `bounced`, its waiting sends are cancelled, and the pass holding wave 2 sees the target is no longer
  waiting and cancels its claim before anything goes on the wire (SEND_TABLE: claimed + target_stopped).
  A wave 2 already accepted by the server stays `sent` (it is history, not a plan).
- An opt-out from a colleague (a matched reply whose sender is not the target's address): the
  conversation asked us to stop, so the target is `opted_out` and its reminders are cancelled; the
  address suppressed for every campaign is the sender's (the person who asked), not the target's.
- A reply to a reminder from a target already `closed` makes it `answered`: a late answer is an
  answer (closing is about silence, and the silence was not final).
- A human reply from a `bounced` or `undelivered` target makes it `answered` too: a person wrote back,
  so the address works and the reply is the better evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from probe.core.model import SendState, TargetState


class SendEvent(StrEnum):
    """What can happen to one send."""

    CLAIM = "claim"                          # a pass leases it (due, earlier waves settled)
    ACCEPTED = "accepted"                    # 250 after DATA: the reply line is the proof
    TEMPORARY = "temporary"                  # 4xx to RCPT/DATA (or lost before DATA), retry window left
    RETRIES_EXHAUSTED = "retries_exhausted"  # a temporary failure with no attempt or retry_for left
    RECIPIENT_REFUSED = "recipient_refused"  # 5xx to RCPT: the address is dead
    MESSAGE_REFUSED = "message_refused"      # 552/554 to MAIL/DATA, or the message cannot be built
    LOST_IN_DATA = "lost_in_data"            # the connection died during DATA: maybe delivered
    ACCOUNT_FAULT = "account_fault"          # connection refused, DNS, TLS/AUTH refused, 421 greeting
    TARGET_STOPPED = "target_stopped"        # the target stopped waiting between claim and send
    LEASE_EXPIRED = "lease_expired"          # the pass that claimed it died without an outcome
    TARGET_DECIDED = "target_decided"        # answer / bounce / opt-out / undelivered: no more sends
    OUT_OF_OFFICE = "out_of_office"          # with schedule.defer_after_out_of_office only
    RESOLVED_SENT = "resolved_sent"          # `probe resolve … --sent`
    RESOLVED_RESEND = "resolved_resend"      # `probe resolve … --resend`


class TargetEvent(StrEnum):
    """What can happen to one target."""

    SEND_ACCEPTED = "send_accepted"            # one of its sends was accepted (or resolved as sent)
    INITIAL_UNDELIVERED = "initial_undelivered"  # wave 0 failed for a reason not about the address
    ADDRESS_REFUSED = "address_refused"        # 5xx to RCPT
    HARD_BOUNCE = "hard_bounce"                # a bounce (DSN) matched to the target
    REPLY_CLEAR = "reply_clear"                # a human reply reading yes or no
    REPLY_UNCLEAR = "reply_unclear"            # a human reply, answer unclear
    OPT_OUT = "opt_out"                        # "remove me" from the target's own address
    OPT_OUT_COLLEAGUE = "opt_out_colleague"    # "remove me" from another address in the thread
    OUT_OF_OFFICE = "out_of_office"            # an auto-reply (return date recorded)
    DELAY_NOTICE = "delay_notice"              # a DSN saying "still trying"
    READ_RECEIPT = "read_receipt"              # an MDN
    CLOSE = "close"                            # close_after passed since the last send, nothing left
    REOPEN = "reopen"                          # `probe resolve --resend` put one of its sends back
    REVIEW_OVERRIDE = "review_override"        # a reviewer set the answer by hand


class Attempts(StrEnum):
    NONE = "none"      # costs nothing
    ONE = "one"        # attempts + 1
    RESET = "reset"    # attempts = 0: a person asked for a fresh start


class OtherSends(StrEnum):
    """What a transition does to the target's other sends."""

    NONE = "none"
    CANCEL_WAITING = "cancel_waiting"    # scheduled / retry sends → cancelled
    REPLAN_LATER = "replan_later"        # later waves due at their offset from the actual initial send
    REVIVE = "revive"                    # sends cancelled because the target was undelivered → scheduled
    DEFER_WAITING = "defer_waiting"      # waiting sends due before the return date move to it


class AnswerRule(StrEnum):
    KEEP = "keep"                        # the stored answer stays
    SET = "set"                          # the reply's answer is stored (first human reply)
    REPLACE_UNCLEAR = "replace_unclear"  # stored only when the stored answer is `unclear`


@dataclass(frozen=True)
class SendRule:
    new_state: SendState
    attempts: Attempts = Attempts.NONE
    target_event: TargetEvent | None = None      # the event it causes on the target, for wave 0
    reminder_event: TargetEvent | None = None    # … and for waves > 0
    others: OtherSends = OtherSends.NONE
    why: str = ""


@dataclass(frozen=True)
class TargetRule:
    new_state: TargetState | None                # None: the state does not change
    sends: OtherSends = OtherSends.NONE
    answer: AnswerRule = AnswerRule.KEEP
    why: str = ""


S, T = SendState, TargetState
E, TE = SendEvent, TargetEvent
_QUEUED = (S.SCHEDULED, S.RETRY)

#: Every allowed (send state, event). The claim of a queued send keeps its attempts; an account fault
#: returns the claim to the queue (RETRY when it had attempts before, else SCHEDULED: the store keeps
#: it as it was) at no cost.
SEND_TABLE: dict[tuple[SendState, SendEvent], SendRule] = {
    **{(st, E.CLAIM): SendRule(S.CLAIMED, why="due, target waiting, every earlier wave settled")
       for st in _QUEUED},
    (S.CLAIMED, E.ACCEPTED): SendRule(S.SENT, Attempts.ONE, TE.SEND_ACCEPTED, TE.SEND_ACCEPTED,
                                      others=OtherSends.REPLAN_LATER,
                                      why="250: sent; later waves follow from the actual initial send"),
    (S.CLAIMED, E.TEMPORARY): SendRule(S.RETRY, Attempts.ONE,
                                       why="4xx: again after a backoff, within smtp.retry_for"),
    (S.CLAIMED, E.RETRIES_EXHAUSTED): SendRule(S.FAILED, Attempts.ONE, TE.INITIAL_UNDELIVERED, None,
                                               why="no attempt or retry window left; initial → undelivered"),
    (S.CLAIMED, E.MESSAGE_REFUSED): SendRule(S.FAILED, Attempts.ONE, TE.INITIAL_UNDELIVERED, None,
                                             why="552/554: the message is refused; initial → undelivered"),
    (S.CLAIMED, E.RECIPIENT_REFUSED): SendRule(S.FAILED, Attempts.ONE, TE.ADDRESS_REFUSED, TE.ADDRESS_REFUSED,
                                               why="5xx to RCPT: the address is dead, target bounced"),
    (S.CLAIMED, E.LOST_IN_DATA): SendRule(S.UNCERTAIN, Attempts.ONE,
                                          why="maybe delivered: never resent without a person"),
    (S.CLAIMED, E.ACCOUNT_FAULT): SendRule(S.SCHEDULED, Attempts.NONE,
                                           why="the account, not the message: back in the queue, free"),
    (S.CLAIMED, E.TARGET_STOPPED): SendRule(S.CANCELLED, why="answered, bounced or opted out meanwhile"),
    (S.CLAIMED, E.LEASE_EXPIRED): SendRule(S.UNCERTAIN, why="the pass died with it: maybe on the wire"),
    **{(st, E.TARGET_DECIDED): SendRule(S.CANCELLED, why="the target needs no more email")
       for st in _QUEUED},
    **{(st, E.OUT_OF_OFFICE): SendRule(st, why="due time moves to the return date (opt-in switch)")
       for st in _QUEUED},
    (S.UNCERTAIN, E.RESOLVED_SENT): SendRule(S.SENT, Attempts.NONE, TE.SEND_ACCEPTED, TE.SEND_ACCEPTED,
                                             others=OtherSends.REPLAN_LATER, why="a person saw it delivered"),
    (S.UNCERTAIN, E.RESOLVED_RESEND): SendRule(S.SCHEDULED, Attempts.NONE, TE.REOPEN, TE.REOPEN,
                                               why="a person saw it was not delivered: the next pass sends it"),
    (S.FAILED, E.RESOLVED_RESEND): SendRule(S.SCHEDULED, Attempts.RESET, TE.REOPEN, TE.REOPEN,
                                            why="a person fixed the cause: a fresh set of attempts"),
}

_OPEN = (T.PENDING, T.CONTACTED, T.CLOSED)
_ALL = tuple(T)

#: Every allowed (target state, event); a missing row means the event changes nothing.
TARGET_TABLE: dict[tuple[TargetState, TargetEvent], TargetRule] = {
    (T.PENDING, TE.SEND_ACCEPTED): TargetRule(T.CONTACTED, why="first email out"),
    (T.CONTACTED, TE.SEND_ACCEPTED): TargetRule(None, why="a reminder out"),
    (T.CLOSED, TE.SEND_ACCEPTED): TargetRule(T.CONTACTED, why="a resent email: silence is not final yet"),
    (T.UNDELIVERED, TE.SEND_ACCEPTED): TargetRule(T.CONTACTED, why="a resent initial email got through"),
    (T.PENDING, TE.INITIAL_UNDELIVERED): TargetRule(T.UNDELIVERED, OtherSends.CANCEL_WAITING,
                                                    why="never reached: no reminder, counted apart"),
    **{(st, TE.ADDRESS_REFUSED): TargetRule(T.BOUNCED, OtherSends.CANCEL_WAITING, why="the address is dead")
       for st in (*_OPEN, T.UNDELIVERED)},
    **{(st, TE.HARD_BOUNCE): TargetRule(T.BOUNCED, OtherSends.CANCEL_WAITING,
                                        why="the bounce wins, whichever wave it is for")
       for st in (*_OPEN, T.UNDELIVERED)},
    **{(st, TE.REPLY_CLEAR): TargetRule(T.ANSWERED, OtherSends.CANCEL_WAITING, AnswerRule.SET,
                                        why="a person answered (a closed target's late reply counts)")
       for st in (*_OPEN, T.UNDELIVERED, T.BOUNCED)},
    (T.ANSWERED, TE.REPLY_CLEAR): TargetRule(None, answer=AnswerRule.REPLACE_UNCLEAR,
                                             why="the first clear answer decides: replaces a provisional unclear"),
    **{(st, TE.REPLY_UNCLEAR): TargetRule(T.ANSWERED, OtherSends.CANCEL_WAITING, AnswerRule.SET,
                                          why="a person answered, unclear: provisional")
       for st in (*_OPEN, T.UNDELIVERED, T.BOUNCED)},
    (T.ANSWERED, TE.REPLY_UNCLEAR): TargetRule(None, why="an unclear reply never replaces an answer"),
    **{(st, TE.OPT_OUT): TargetRule(T.OPTED_OUT, OtherSends.CANCEL_WAITING,
                                    why="left alone, address suppressed everywhere; the answer is kept")
       for st in _ALL if st is not T.OPTED_OUT},
    **{(st, TE.OPT_OUT_COLLEAGUE): TargetRule(T.OPTED_OUT, OtherSends.CANCEL_WAITING,
                                              why="someone in the thread asked to stop: the sender's "
                                                  "address is suppressed, the target is left alone")
       for st in _ALL if st is not T.OPTED_OUT},
    **{(st, TE.OUT_OF_OFFICE): TargetRule(None, OtherSends.DEFER_WAITING,
                                          why="recorded; sends move only with defer_after_out_of_office")
       for st in (T.PENDING, T.CONTACTED)},
    **{(st, ev): TargetRule(None, why="recorded, changes nothing")
       for st in _ALL for ev in (TE.DELAY_NOTICE, TE.READ_RECEIPT)},
    (T.CONTACTED, TE.CLOSE): TargetRule(T.CLOSED, why="silence is final (never with an uncertain send)"),
    (T.CLOSED, TE.REOPEN): TargetRule(T.CONTACTED, why="a resend is planned: the next pass sends it"),
    (T.UNDELIVERED, TE.REOPEN): TargetRule(T.PENDING, OtherSends.REVIVE,
                                           why="the initial email goes again; its reminders follow it"),
    (T.PENDING, TE.REOPEN): TargetRule(None, why="already waiting"),
    (T.CONTACTED, TE.REOPEN): TargetRule(None, why="already waiting"),
    **{(st, TE.REVIEW_OVERRIDE): TargetRule(None, answer=AnswerRule.SET,
                                            why="a reviewer's override always wins (kept apart, never replaced)")
       for st in (T.ANSWERED, T.OPTED_OUT)},
}

def message_event(kind: str, answer: str | None, opt_out: bool) -> TargetEvent | None:
    """The target event of an inbound message matched to a target (kind: a MessageKind value).
    An `unknown` message changes nothing (it is listed for review) unless it carries an opt-out
    (a mail client's List-Unsubscribe request). OPT_OUT vs OPT_OUT_COLLEAGUE is the store's choice:
    it knows the target's address."""
    if opt_out and kind in ("human_reply", "unknown"):
        return TE.OPT_OUT
    if kind == "human_reply" and answer is not None:
        return TE.REPLY_UNCLEAR if answer == "unclear" else TE.REPLY_CLEAR
    return {"bounce": TE.HARD_BOUNCE, "auto_reply": TE.OUT_OF_OFFICE, "delivery_delay": TE.DELAY_NOTICE,
            "read_receipt": TE.READ_RECEIPT}.get(kind)


#: Target states in which a resolve --resend may put a send back (the others decided the target).
RESENDABLE_TARGETS = frozenset({T.PENDING, T.CONTACTED, T.CLOSED, T.UNDELIVERED})


@dataclass(frozen=True)
class SendDecision:
    send: SendRule
    target_event: TargetEvent | None
    target: dict[TargetState, TargetRule]   # the target rule for each state the target may be in


def decide_send(state: SendState, event: SendEvent, *, wave: int) -> SendDecision | None:
    """The transition of a send in `state` on `event`, or None when the table does not allow it."""
    rule = SEND_TABLE.get((state, event))
    if rule is None:
        return None
    target_event = rule.target_event if wave == 0 else rule.reminder_event
    return SendDecision(rule, target_event, target_rules(target_event) if target_event else {})


def decide_target(state: TargetState, event: TargetEvent) -> TargetRule | None:
    """The transition of a target in `state` on `event`, or None when it changes nothing."""
    return TARGET_TABLE.get((state, event))


def target_rules(event: TargetEvent) -> dict[TargetState, TargetRule]:
    return {st: rule for (st, ev), rule in TARGET_TABLE.items() if ev is event}


def target_sources(event: TargetEvent, new_state: TargetState | None = None) -> tuple[TargetState, ...]:
    """The target states from which `event` moves a target (to `new_state`, if given): the guard of the
    store's UPDATE … WHERE state IN (…)."""
    return tuple(sorted(st for (st, ev), rule in TARGET_TABLE.items()
                        if ev is event and rule.new_state is not None
                        and (new_state is None or rule.new_state is new_state)))


def send_sources(event: SendEvent) -> tuple[SendState, ...]:
    """The send states from which `event` is allowed: the guard of the store's UPDATE."""
    return tuple(sorted(st for (st, ev) in SEND_TABLE if ev is event))


#: Send states that hold back the later waves of the same target (and keep the target from closing):
#: a reminder goes only once every earlier wave is sent or settled.
BLOCKING_SENDS = frozenset({S.SCHEDULED, S.RETRY, S.CLAIMED, S.UNCERTAIN})


def classify_smtp_failure(*, permanent: bool, at_rcpt: bool, attempts_after: int, max_attempts: int,
                          window_left: bool) -> SendEvent:
    """A message-level SMTP failure as a table event (account faults are caught before this)."""
    if permanent:
        return E.RECIPIENT_REFUSED if at_rcpt else E.MESSAGE_REFUSED
    if attempts_after >= max_attempts or not window_left:
        return E.RETRIES_EXHAUSTED
    return E.TEMPORARY
