"""The lifecycle table, row by row (DESIGN.md "The state that matters"): every (state, event) the
table allows, with the outcome a user relies on, and the combinations it refuses. Pure: milliseconds."""

from __future__ import annotations

import pytest

from probe.core.lifecycle import (
    BLOCKING_SENDS,
    SEND_TABLE,
    TARGET_TABLE,
    AnswerRule,
    Attempts,
    OtherSends,
    SendEvent,
    TargetEvent,
    classify_smtp_failure,
    decide_send,
    decide_target,
    send_sources,
    target_sources,
)
from probe.core.model import SendState as S
from probe.core.model import TargetState as T

E, TE = SendEvent, TargetEvent
Q = (S.SCHEDULED, S.RETRY)

#: (send state, event, wave) → (new state, attempt cost, event on the target, effect on other sends)
SEND_ROWS = [
    *[(st, E.CLAIM, 0, S.CLAIMED, Attempts.NONE, None, OtherSends.NONE) for st in Q],
    (S.CLAIMED, E.ACCEPTED, 0, S.SENT, Attempts.ONE, TE.SEND_ACCEPTED, OtherSends.REPLAN_LATER),
    (S.CLAIMED, E.ACCEPTED, 1, S.SENT, Attempts.ONE, TE.SEND_ACCEPTED, OtherSends.REPLAN_LATER),
    (S.CLAIMED, E.TEMPORARY, 0, S.RETRY, Attempts.ONE, None, OtherSends.NONE),
    (S.CLAIMED, E.RETRIES_EXHAUSTED, 0, S.FAILED, Attempts.ONE, TE.INITIAL_UNDELIVERED, OtherSends.NONE),
    (S.CLAIMED, E.RETRIES_EXHAUSTED, 1, S.FAILED, Attempts.ONE, None, OtherSends.NONE),
    (S.CLAIMED, E.MESSAGE_REFUSED, 0, S.FAILED, Attempts.ONE, TE.INITIAL_UNDELIVERED, OtherSends.NONE),
    (S.CLAIMED, E.MESSAGE_REFUSED, 2, S.FAILED, Attempts.ONE, None, OtherSends.NONE),
    (S.CLAIMED, E.RECIPIENT_REFUSED, 0, S.FAILED, Attempts.ONE, TE.ADDRESS_REFUSED, OtherSends.NONE),
    (S.CLAIMED, E.RECIPIENT_REFUSED, 1, S.FAILED, Attempts.ONE, TE.ADDRESS_REFUSED, OtherSends.NONE),
    (S.CLAIMED, E.LOST_IN_DATA, 0, S.UNCERTAIN, Attempts.ONE, None, OtherSends.NONE),
    (S.CLAIMED, E.ACCOUNT_FAULT, 0, S.SCHEDULED, Attempts.NONE, None, OtherSends.NONE),
    (S.CLAIMED, E.THROTTLED, 1, S.SCHEDULED, Attempts.NONE, None, OtherSends.NONE),
    (S.CLAIMED, E.TARGET_STOPPED, 1, S.CANCELLED, Attempts.NONE, None, OtherSends.NONE),
    (S.CLAIMED, E.LEASE_EXPIRED, 0, S.UNCERTAIN, Attempts.NONE, None, OtherSends.NONE),
    (S.CLAIMED, E.ABANDONED, 0, S.SCHEDULED, Attempts.NONE, None, OtherSends.NONE),
    *[(st, E.TARGET_DECIDED, 1, S.CANCELLED, Attempts.NONE, None, OtherSends.NONE) for st in Q],
    *[(st, E.OUT_OF_OFFICE, 1, st, Attempts.NONE, None, OtherSends.NONE) for st in Q],
    (S.UNCERTAIN, E.RESOLVED_SENT, 0, S.SENT, Attempts.NONE, TE.SEND_ACCEPTED, OtherSends.REPLAN_LATER),
    (S.UNCERTAIN, E.RESOLVED_RESEND, 0, S.SCHEDULED, Attempts.NONE, TE.REOPEN, OtherSends.NONE),
    (S.UNCERTAIN, E.RESOLVED_RESEND, 2, S.SCHEDULED, Attempts.NONE, TE.REOPEN, OtherSends.NONE),
    (S.FAILED, E.RESOLVED_RESEND, 0, S.SCHEDULED, Attempts.RESET, TE.REOPEN, OtherSends.NONE),
    (S.FAILED, E.RESOLVED_RESEND, 1, S.SCHEDULED, Attempts.RESET, TE.REOPEN, OtherSends.NONE),
]


@pytest.mark.parametrize(("state", "event", "wave", "new", "cost", "target_event", "others"), SEND_ROWS,
                         ids=[f"{r[0]}-{r[1]}-w{r[2]}" for r in SEND_ROWS])
def test_send_row(state, event, wave, new, cost, target_event, others) -> None:
    decision = decide_send(state, event, wave=wave)
    assert decision is not None
    assert (decision.send.new_state, decision.send.attempts, decision.target_event, decision.send.others) == (
        new, cost, target_event, others)


def test_every_send_row_is_tested() -> None:
    assert {(r[0], r[1]) for r in SEND_ROWS} == set(SEND_TABLE)


@pytest.mark.parametrize(("state", "event"), [
    (S.SENT, E.RESOLVED_RESEND),        # a delivered email is never sent again
    (S.SENT, E.ACCEPTED),               # recorded once
    (S.FAILED, E.RESOLVED_SENT),        # the server said no: it was not sent
    (S.SCHEDULED, E.RESOLVED_RESEND),   # nothing to settle
    (S.CANCELLED, E.CLAIM),             # a cancelled send never goes out
    (S.UNCERTAIN, E.CLAIM),             # never resent without a person
    (S.CLAIMED, E.CLAIM),               # claimed once
])
def test_refused_send_combinations(state, event) -> None:
    assert decide_send(state, event, wave=0) is None


#: (target state, event) → (new state or None for unchanged, effect on its sends, answer rule)
TARGET_ROWS = [
    (T.PENDING, TE.SEND_ACCEPTED, T.CONTACTED, OtherSends.NONE, AnswerRule.KEEP),
    (T.CONTACTED, TE.SEND_ACCEPTED, None, OtherSends.NONE, AnswerRule.KEEP),
    (T.CLOSED, TE.SEND_ACCEPTED, T.CONTACTED, OtherSends.NONE, AnswerRule.KEEP),
    (T.UNDELIVERED, TE.SEND_ACCEPTED, T.CONTACTED, OtherSends.NONE, AnswerRule.KEEP),
    (T.PENDING, TE.INITIAL_UNDELIVERED, T.UNDELIVERED, OtherSends.CANCEL_WAITING, AnswerRule.KEEP),
    *[(st, ev, T.BOUNCED, OtherSends.CANCEL_WAITING, AnswerRule.KEEP)
      for st in (T.PENDING, T.CONTACTED, T.CLOSED, T.UNDELIVERED) for ev in (TE.ADDRESS_REFUSED, TE.HARD_BOUNCE)],
    *[(st, ev, T.ANSWERED, OtherSends.CANCEL_WAITING, AnswerRule.SET)
      for st in (T.PENDING, T.CONTACTED, T.CLOSED, T.UNDELIVERED, T.BOUNCED)
      for ev in (TE.REPLY_CLEAR, TE.REPLY_UNCLEAR)],
    (T.ANSWERED, TE.REPLY_CLEAR, None, OtherSends.NONE, AnswerRule.REPLACE_UNCLEAR),
    (T.ANSWERED, TE.REPLY_UNCLEAR, None, OtherSends.NONE, AnswerRule.KEEP),
    *[(st, ev, T.OPTED_OUT, OtherSends.CANCEL_WAITING, AnswerRule.KEEP)
      for st in T if st is not T.OPTED_OUT for ev in (TE.OPT_OUT, TE.OPT_OUT_COLLEAGUE)],
    (T.PENDING, TE.OUT_OF_OFFICE, None, OtherSends.DEFER_WAITING, AnswerRule.KEEP),
    (T.CONTACTED, TE.OUT_OF_OFFICE, None, OtherSends.DEFER_WAITING, AnswerRule.KEEP),
    *[(st, ev, None, OtherSends.NONE, AnswerRule.KEEP) for st in T for ev in (TE.DELAY_NOTICE, TE.READ_RECEIPT)],
    (T.CONTACTED, TE.CLOSE, T.CLOSED, OtherSends.NONE, AnswerRule.KEEP),
    (T.CLOSED, TE.REOPEN, T.CONTACTED, OtherSends.NONE, AnswerRule.KEEP),
    (T.UNDELIVERED, TE.REOPEN, T.PENDING, OtherSends.REVIVE, AnswerRule.KEEP),
    (T.PENDING, TE.REOPEN, None, OtherSends.NONE, AnswerRule.KEEP),
    (T.CONTACTED, TE.REOPEN, None, OtherSends.NONE, AnswerRule.KEEP),
    (T.ANSWERED, TE.REVIEW_OVERRIDE, None, OtherSends.NONE, AnswerRule.SET),
    (T.OPTED_OUT, TE.REVIEW_OVERRIDE, None, OtherSends.NONE, AnswerRule.SET),
]


@pytest.mark.parametrize(("state", "event", "new", "sends", "answer"), TARGET_ROWS,
                         ids=[f"{r[0]}-{r[1]}" for r in TARGET_ROWS])
def test_target_row(state, event, new, sends, answer) -> None:
    rule = decide_target(state, event)
    assert rule is not None and rule.why
    assert (rule.new_state, rule.sends, rule.answer) == (new, sends, answer)


def test_every_target_row_is_tested() -> None:
    assert {(r[0], r[1]) for r in TARGET_ROWS} == set(TARGET_TABLE)


@pytest.mark.parametrize(("state", "event"), [
    (T.ANSWERED, TE.HARD_BOUNCE),          # a late bounce does not undo an answer
    (T.OPTED_OUT, TE.REPLY_CLEAR),         # opted out stays opted out
    (T.BOUNCED, TE.INITIAL_UNDELIVERED),   # first verdict wins
    (T.CONTACTED, TE.INITIAL_UNDELIVERED), # a reminder failing does not make a reached target undelivered
    (T.ANSWERED, TE.CLOSE),                # only silence closes
    (T.ANSWERED, TE.OUT_OF_OFFICE),        # nothing left to defer
    (T.BOUNCED, TE.REOPEN),                # resend never reopens a decided target
    (T.ANSWERED, TE.REOPEN),
])
def test_combinations_that_change_nothing(state, event) -> None:
    assert decide_target(state, event) is None


def test_guards_read_the_table() -> None:
    # The store's UPDATE … WHERE state IN (…) guards come from the table.
    assert target_sources(TE.CLOSE) == (T.CONTACTED,)
    assert set(target_sources(TE.REPLY_CLEAR)) == {T.PENDING, T.CONTACTED, T.CLOSED, T.UNDELIVERED, T.BOUNCED}
    assert set(send_sources(E.RESOLVED_RESEND)) == {S.UNCERTAIN, S.FAILED}
    assert set(send_sources(E.CLAIM)) == set(Q)
    # A reminder waits for every earlier wave; an uncertain one holds it (and keeps the target open).
    assert {S.SCHEDULED, S.RETRY, S.CLAIMED, S.UNCERTAIN} == BLOCKING_SENDS


@pytest.mark.parametrize(("permanent", "at_rcpt", "attempts_after", "window_left", "event"), [
    (True, True, 1, True, E.RECIPIENT_REFUSED),
    (True, False, 1, True, E.MESSAGE_REFUSED),
    (False, True, 1, True, E.TEMPORARY),
    (False, False, 8, True, E.RETRIES_EXHAUSTED),   # smtp.max_attempts = 8
    (False, False, 2, False, E.RETRIES_EXHAUSTED),  # smtp.retry_for passed
])
def test_smtp_failures_as_events(permanent, at_rcpt, attempts_after, window_left, event) -> None:
    assert classify_smtp_failure(permanent=permanent, at_rcpt=at_rcpt, attempts_after=attempts_after,
                                 max_attempts=8, window_left=window_left) is event


@pytest.mark.parametrize(("kind", "answer", "opt_out", "event"), [
    ("human_reply", "yes", False, TE.REPLY_CLEAR),
    ("human_reply", "no", False, TE.REPLY_CLEAR),
    ("human_reply", "unclear", False, TE.REPLY_UNCLEAR),
    ("human_reply", "no", True, TE.OPT_OUT),          # an opt-out is R, whatever it reads as
    ("unknown", None, True, TE.OPT_OUT),              # a List-Unsubscribe request
    ("unknown", None, False, None),                   # listed for review, changes nothing
    ("bounce", None, False, TE.HARD_BOUNCE),
    ("auto_reply", None, False, TE.OUT_OF_OFFICE),
    ("auto_reply", None, True, TE.OUT_OF_OFFICE),     # an auto-reply's footer is not a person's opt-out
    ("delivery_delay", None, False, TE.DELAY_NOTICE),
    ("read_receipt", None, False, TE.READ_RECEIPT),
])
def test_inbound_messages_as_events(kind, answer, opt_out, event) -> None:
    from probe.core.lifecycle import message_event

    assert message_event(kind, answer, opt_out) is event
