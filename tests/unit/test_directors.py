"""The demo's simulated directors: what they send back is what they mean, as probe's classifier reads it."""

from __future__ import annotations

import email
import email.policy
import functools
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from probe.core.classify import classify_bytes
from probe.core.model import MessageKind
from probe.core.tokens import message_id, new_token
from probe.demo.directors import Directors, Outgoing
from probe.demo.people import make_directors
from probe.demo.scenario import (
    ANSWERING,
    BOUNCING,
    OUT_OF_OFFICE_ONLY,
    REMINDER_OFFSETS,
    START,
    Role,
    make_plans,
    office_time,
)
from probe.demo.servers import Received

QUESTION = "Acceptez-vous ? Répondez simplement OUI ou NON à ce message."
DOMAIN = "en-contact.example"
SEEDS = (2015, 1, 7, 42)


def _original(director_email: str, civilite: str, nom: str, token: str, wave: int) -> bytes:
    """An email shaped like the ones probe sends: its Message-ID carries the target's token."""
    sent = START + (REMINDER_OFFSETS[wave - 1] if wave else timedelta(0))
    thread = ""
    if wave:
        refs = " ".join(message_id(token, w, DOMAIN) for w in range(wave))
        thread = f"In-Reply-To: {message_id(token, 0, DOMAIN)}\nReferences: {refs}\n"
    subject = "Votre abonnement offert" if wave == 0 else "Relance : votre abonnement offert"
    text = (f"From: =?utf-8?q?R=C3=A9daction_En-Contact?= <redaction@{DOMAIN}>\nTo: {director_email}\n"
            f"Subject: {subject}\nDate: {format_datetime(sent)}\nMessage-ID: {message_id(token, wave, DOMAIN)}\n"
            f"{thread}MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
            f"Content-Transfer-Encoding: 8bit\n\n{civilite} {nom},\n\n"
            f"En-Contact vous offre un an d'abonnement au magazine.\n{QUESTION}\n\n"
            "Non, ce n'est pas une offre commerciale : nous mesurons qui répond.\n\nLa rédaction\n")
    return text.replace("\n", "\r\n").encode("utf-8")


@functools.cache
def _run(seed: int) -> tuple[Directors, list[Outgoing]]:
    return _simulate(seed)


def _simulate(seed: int, *, waves: int = 3, skip_answered: bool = True) -> tuple[Directors, list[Outgoing]]:
    """Feed the directors each wave the way the demo does; like probe, stop writing to those who
    answered or bounced when skip_answered."""
    directors = make_directors(seed)
    plans = make_plans(directors, seed)
    cast = Directors(plans, seed)
    tokens = {d.email: new_token() for d in directors}
    received: list[Received] = []
    sent: list[Outgoing] = []
    stopped: set[str] = set()
    for wave in range(waves):
        now = (START + (REMINDER_OFFSETS[wave - 1] if wave else timedelta(0))).astimezone(UTC)
        sent += cast.due(now)
        if skip_answered:
            stopped |= {o.director.email for o in sent if o.kind != "out_of_office"}
        for d in directors:
            if d.email not in stopped:
                raw = _original(d.email, d.civilite, d.nom, tokens[d.email], wave)
                received.append(Received(len(received) + 1, f"redaction@{DOMAIN}", (d.email,), raw))
        cast.read(received, now)
    sent += cast.due(datetime(2016, 1, 1, tzinfo=UTC))
    return cast, sent


def _expected(cast: Directors, item: Outgoing) -> tuple[MessageKind, str | None]:
    plan = cast.plan_for(item.director.email)
    assert plan is not None
    if plan.role is Role.BOUNCES:
        return MessageKind.BOUNCE, None
    if item.kind == "out_of_office":
        return MessageKind.AUTO_REPLY, None
    assert plan.answer is not None
    return MessageKind.HUMAN_REPLY, plan.answer.value


@pytest.mark.parametrize("seed", SEEDS)
def test_every_message_classifies_as_the_director_meant(seed: int) -> None:
    cast, sent = _run(seed)
    wrong = []
    for item in sent:
        _, c = classify_bytes(item.raw)
        got = (c.kind, c.answer.value if c.answer else None)
        if got != _expected(cast, item):
            wrong.append(f"{item.what} from {item.director.email}: got {got}, new text {c.new_text[:80]!r}")
    assert wrong == []


@pytest.mark.parametrize("seed", SEEDS)
def test_the_founding_case_figures_hold_for_every_seed(seed: int) -> None:
    cast, sent = _run(seed)
    kinds = Counter(_expected(cast, item)[0] for item in sent)
    assert kinds[MessageKind.HUMAN_REPLY] == ANSWERING
    assert kinds[MessageKind.BOUNCE] == BOUNCING
    # the out-of-office-only directors, plus one who answers a reminder after coming back
    assert kinds[MessageKind.AUTO_REPLY] == OUT_OF_OFFICE_ONLY + 1
    answered_after = Counter(cast.plan_for(i.director.email).wave for i in sent  # type: ignore[union-attr]
                             if _expected(cast, i)[0] is MessageKind.HUMAN_REPLY)
    assert answered_after[0] >= 7 and answered_after[1] >= 1 and answered_after[2] >= 1


def test_a_quoted_question_never_reaches_the_new_text() -> None:
    _, sent = _run(2015)
    for item in sent:
        _, c = classify_bytes(item.raw)
        if c.kind is MessageKind.HUMAN_REPLY:
            assert "OUI ou NON" not in c.new_text
            msg = email.message_from_bytes(item.raw, policy=email.policy.default)
            body = msg.get_body(preferencelist=("plain", "html"))
            assert body is not None and "OUI ou NON" in body.get_content(), "the question is quoted"


def test_replies_thread_to_the_message_received_except_the_legacy_client() -> None:
    cast, sent = _run(7)
    for item in sent:
        msg = email.message_from_bytes(item.raw, policy=email.policy.default)
        plan = cast.plan_for(item.director.email)
        assert plan is not None
        if _expected(cast, item)[0] is not MessageKind.HUMAN_REPLY:
            continue
        if plan.style == "outlook_legacy":
            assert msg["In-Reply-To"] is None
        else:
            assert str(msg["In-Reply-To"]).startswith("<probe.")
        assert str(msg["From"]).endswith(f"<{item.director.email}>")
        if plan.style == "outlook_html":
            assert msg.get_content_type() == "text/html"


def test_the_bounce_is_an_rfc3464_report_naming_the_recipient_and_the_original() -> None:
    cast, sent = _run(2015)
    bounces = [i for i in sent if _expected(cast, i)[0] is MessageKind.BOUNCE]
    assert len(bounces) == 1
    msg = email.message_from_bytes(bounces[0].raw, policy=email.policy.default)
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    _, c = classify_bytes(bounces[0].raw)
    assert c.failed_recipients == (bounces[0].director.email,)
    assert c.status == "5.1.1"
    assert any(mid.startswith("<probe.") for mid in c.original_message_ids)


def test_out_of_office_with_and_without_auto_submitted() -> None:
    seen = set()
    for seed in SEEDS:
        _cast, sent = _run(seed)
        for item in sent:
            if item.kind == "out_of_office":
                msg = email.message_from_bytes(item.raw, policy=email.policy.default)
                seen.add(msg["Auto-Submitted"] is not None)
                _, c = classify_bytes(item.raw)
                assert c.kind is MessageKind.AUTO_REPLY
    assert seen == {True, False}


def test_same_seed_same_messages_other_seed_other_people() -> None:
    first = [(o.when, o.director.email, o.what) for o in _simulate(3)[1]]
    again = [(o.when, o.director.email, o.what) for o in _simulate(3)[1]]
    other = [(o.when, o.director.email, o.what) for o in _run(7)[1]]
    assert first == again
    assert first != other


@pytest.mark.parametrize("seed", SEEDS)
def test_people_answer_in_office_hours_except_on_their_phone(seed: int) -> None:
    cast, sent = _run(seed)
    for item in sent:
        plan = cast.plan_for(item.director.email)
        assert plan is not None
        if _expected(cast, item)[0] is MessageKind.HUMAN_REPLY and plan.style != "iphone":
            local = item.when.astimezone(START.tzinfo)
            assert local.weekday() < 5 and 8 <= local.hour <= 19, item.when


def test_office_time_moves_a_saturday_evening_to_monday_morning() -> None:
    import random

    saturday = datetime(2015, 10, 10, 21, 0, tzinfo=START.tzinfo)
    moved = office_time(saturday, random.Random(1))
    assert moved.weekday() == 0 and moved.hour == 8
    assert office_time(saturday, random.Random(1), mobile=True) == saturday
