"""The report's figures from the targets' outcome facts (probe.store.figures) equal, figure for figure,
the figures computed from the events themselves (probe.store.aggregates and probe.store.research,
kept as the oracle), on campaigns driven through the store's own event functions: sends accepted,
retried, refused, lost in DATA and resolved, replies, unclear answers replaced, automatic replies,
bounces, opt-outs here and elsewhere, late replies, imports of old messages, duplicates, overrides,
reviewers' rulings, and a purged neighbour campaign. The facts kept up to date event by event also
equal the facts recomputed from scratch, and migration 0009's backfill gives the same facts."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from probe.core.lifecycle import SendEvent
from probe.core.model import Answer, MatchMethod, MessageKind, SendState
from probe.report.summary import build_report
from probe.store import aggregates as agg
from probe.store import figures
from probe.store import research as oracle_research
from probe.store import sends as S
from probe.store.campaigns import PlannedTarget, launch_campaign
from probe.store.engine import _alembic_config, make_engine, make_sessionmaker
from probe.store.facts import refresh_campaign
from probe.store.inbox import (
    InboundRecord,
    close_silent_targets,
    insert_inbound,
    mark_answered,
    mark_bounced,
    mark_opted_out,
)
from probe.store.purge import purge_campaign
from probe.store.review import apply_override
from probe.store.tables import InboundMessage, Send, Target
from tests.fixtures.db import pg_database, require_postgres
from tests.fixtures.seed import MESSAGE_COLUMNS, SEND_COLUMNS, TARGET_COLUMNS, synthetic_chunks

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
DAY = timedelta(days=1)
GAPS = (3, 7)
FACT_COLUMNS = ("first_sent_at", "initial_sent_at", "sent_waves", "opted_out_at", "opt_out_reply", "bounced_at",
                "auto_replies", "no_longer_there", "not_eligible", "answer_wave", "last_sent_at", "to_answer_s",
                "since_last_s", "answer_t", "authenticated")


# ---------------------------------------------------------------- the oracle and the facts, side by side

async def oracle_figures(s: AsyncSession, cid: int, by: str | None, now: datetime) -> dict[str, Any]:
    """Every figure the report reads, computed from the events (the queries before issue 15)."""
    sends = await agg.send_figures(s, cid, by)
    async with agg.answer_facts(s, cid, by) as table:
        by_wave = await agg.answered_by_wave(s, table)
        durations = await agg.duration_quantiles(s, table)
    out: dict[str, Any] = {
        "targets": await agg.target_figures(s, cid, by),
        "sent": {seg: {w: n for (w, st), n in per.items() if st == SendState.SENT.value}
                 for seg, per in sends.items()},
        "uncertain": {seg: n for seg, per in sends.items()
                      if (n := sum(v for (_, st), v in per.items() if st == SendState.UNCERTAIN.value))},
        "by_wave": by_wave,
        "durations": durations,
        "dispositions": await oracle_research.disposition_counts(s, cid, by),
        "times": await oracle_research.event_times(s, cid, now, by),
    }
    if by is None:
        out["active"] = any(st in ("scheduled", "claimed", "retry") for _, st in sends.get("", {}))
        out["credited"] = await oracle_research.dispositions_by_wave(s, cid)
        out["authenticated"] = await agg.authenticated_answers(s, cid)
        out["last_due"] = await agg.last_due(s, cid)
        # A stream in no particular order (business hours add them up).
        out["observations"] = sorted([o async for chunk in oracle_research.stream_observations(s, cid, now)
                                      for o in chunk])
    return out


async def facts_figures(s: AsyncSession, cid: int, by: str | None, now: datetime) -> dict[str, Any]:
    counts = await figures.outcomes(s, cid, by)
    durations = await figures.duration_quantiles(s, cid, by)
    out: dict[str, Any] = {
        "targets": {seg: c.targets for seg, c in counts.items()},
        "sent": {seg: c.sent for seg, c in counts.items() if c.sent},
        "uncertain": await figures.uncertain_sends(s, cid, by),
        "by_wave": {seg: c.by_wave for seg, c in counts.items() if c.by_wave},
        "durations": durations,
        "dispositions": {seg: c.dispositions() for seg, c in counts.items()},
        "times": await figures.event_times(s, cid, now, by),
    }
    if by is None:
        out["active"] = await figures.sends_active(s, cid)
        out["credited"] = counts[""].credited if counts else {}
        out["authenticated"] = counts[""].authenticated if counts else 0
        out["last_due"] = await figures.last_due(s, cid)
        out["observations"] = sorted([o async for chunk in figures.stream_observations(s, cid, now) for o in chunk])
    return out


async def assert_same_figures(sessions: async_sessionmaker[AsyncSession], cid: int, now: datetime,
                              by: str = "group") -> None:
    async with sessions() as s:
        for segment in (None, by):
            expected = await oracle_figures(s, cid, segment, now)
            got = await facts_figures(s, cid, segment, now)
            for key in expected:
                assert got[key] == expected[key], f"{key} (by {segment}): facts != events"


async def stored_facts(sessions: async_sessionmaker[AsyncSession], cid: int) -> dict[int, tuple[Any, ...]]:
    columns = [getattr(Target, c) for c in FACT_COLUMNS]
    async with sessions() as s:
        rows = await s.execute(sa.select(Target.id, *columns).where(Target.campaign_id == cid))
        return {r[0]: tuple(r[1:]) for r in rows}


async def assert_facts_are_current(sessions: async_sessionmaker[AsyncSession], cid: int) -> None:
    """The facts the events kept up to date are the ones a recomputation from scratch gives."""
    kept = await stored_facts(sessions, cid)
    async with sessions.begin() as s:
        await refresh_campaign(s, cid)
    recomputed = await stored_facts(sessions, cid)
    stale = {t: (kept[t], recomputed[t]) for t in kept if kept[t] != recomputed[t]}
    assert not stale, f"facts not refreshed by an event (kept, recomputed): {stale}"


# ---------------------------------------------------------------- campaigns driven through the store

@dataclass
class Sim:
    sessions: async_sessionmaker[AsyncSession]
    rng: random.Random
    cid: int
    emails: dict[int, str]
    uid: int = 0

    @property
    def undeliverable(self) -> list[int]:
        """Two targets every send to which is refused and no message touches: the report has undelivered ones."""
        return sorted(self.emails)[-2:]

    @property
    def reachable(self) -> list[int]:
        return sorted(self.emails)[:-2]


def targets(count: int, *, domain: str = "x.example", first: int = 0) -> list[PlannedTarget]:
    dues = (START, *(START + g * DAY for g in GAPS))
    return [PlannedTarget(line=i + 2, address=f"t{i}@{domain}", email=f"t{i}@{domain}",
                          fields={"email": f"t{i}@{domain}", "group": f"g{i % 3}"}, due_times=dues)
            for i in range(first, first + count)]


async def launch(sessions: async_sessionmaker[AsyncSession], name: str, count: int, **kw: Any) -> Sim:
    result = await launch_campaign(sessions, name=name, timezone="UTC", plan_hash="h", close_after_s=2 * 86400,
                                   keep_bodies=False, targets=targets(count, **kw), now=START)
    async with sessions() as s:
        emails = dict((await s.execute(sa.select(Target.id, Target.email).order_by(Target.id)
                                       .where(Target.campaign_id == result.campaign_id))).all())
    return Sim(sessions, random.Random(f"{name}-{count}"), result.campaign_id, emails)


async def dispatch(sim: Sim, now: datetime) -> None:
    """Claim what is due and record a random outcome for each: mostly accepted."""
    claims = await S.claim_due(sim.sessions, campaign_id=sim.cid, now=now, owner="sim", lease_until=now + DAY,
                               domain="probe.example", limit=1000)
    outcomes: list[S.Outcome] = []
    for c in sorted(claims, key=lambda c: c.send_id):
        roll = 0.9 if c.target_id in sim.undeliverable else sim.rng.random()
        event = (SendEvent.ACCEPTED if roll < 0.78 else SendEvent.TEMPORARY if roll < 0.84
                 else SendEvent.RECIPIENT_REFUSED if roll < 0.87 else SendEvent.MESSAGE_REFUSED if roll < 0.94
                 else SendEvent.LOST_IN_DATA)
        at = now + timedelta(minutes=sim.rng.randint(0, 600))
        outcomes.append(S.Outcome(c.send_id, "sim", event, c.wave, at, smtp_reply="250 ok", error="e",
                                  next_due_at=at + DAY, initial_sent_at=c.initial_sent_at))
    for start in range(0, len(outcomes), 7):   # group commits of a few outcomes, as dispatch does
        await S.record_outcomes(sim.sessions, outcomes[start:start + 7])


async def receive(sim: Sim, target_id: int | None, kind: MessageKind, at: datetime, now: datetime, *,
                  answer: Answer | None = None, opt_out: bool = False, reasons: tuple[str, ...] = (),
                  uid: int | None = None, authenticity: dict[str, Any] | None = None) -> int | None:
    """Store one message and apply its effect in one transaction, as the poll does."""
    if uid is None:
        sim.uid += 1
        uid = sim.uid
    raw = f"{kind}/{uid}".encode()
    sender = sim.emails.get(target_id or 0, "stranger@else.example")
    record = InboundRecord(mailbox="sim/INBOX", uidvalidity=1, uid=uid, message_id_header=f"<m{uid}@x>",
                           raw_sha256=hashlib.sha256(raw).hexdigest(), raw=None, size=len(raw), received_at=at,
                           date_header=at, sender=sender, subject="Re: q", kind=kind, answer=answer,
                           opt_out=opt_out, new_text="", reasons=list(reasons), details={}, target_id=target_id,
                           match_method=MatchMethod.IN_REPLY_TO if target_id else None, authenticity=authenticity)
    async with sim.sessions.begin() as s:
        row_id = await insert_inbound(s, sim.cid, record)
        if row_id is None or target_id is None:
            return row_id
        if opt_out:
            await mark_opted_out(s, target_id=target_id, email=sender, campaign_id=sim.cid, now=now)
        elif kind is MessageKind.HUMAN_REPLY and answer is not None:
            await mark_answered(s, target_id=target_id, answer=answer, message_row_id=row_id, received_at=at, now=now)
        elif kind is MessageKind.BOUNCE:
            await mark_bounced(s, target_id=target_id, now=now)
    return row_id


async def replies(sim: Sim, now: datetime, earlier: datetime) -> list[int]:
    """Random messages from random targets, received between `earlier` and `now`."""
    human: list[int] = []
    for target_id in sim.reachable:
        roll = sim.rng.random()
        if roll > 0.08:
            continue
        at = earlier + (now - earlier) * sim.rng.random()
        pick = sim.rng.random()
        if pick < 0.45:
            answer = sim.rng.choice(list(Answer))
            auth = sim.rng.choice([None, {"domain_passed": True}, {"domain_passed": False}, {"domain_passed": 1}])
            row = await receive(sim, target_id, MessageKind.HUMAN_REPLY, at, now, answer=answer, authenticity=auth)
            if row is not None:
                human.append(row)
        elif pick < 0.65:
            gone = ("no-longer-with-company",) if sim.rng.random() < 0.3 else ()
            await receive(sim, target_id, MessageKind.AUTO_REPLY, at, now, reasons=gone)
        elif pick < 0.75:
            await receive(sim, target_id, MessageKind.BOUNCE, at, now)
        elif pick < 0.82:
            await receive(sim, target_id, MessageKind.HUMAN_REPLY, at, now, answer=Answer.NO, opt_out=True)
        elif pick < 0.9:
            await receive(sim, target_id, sim.rng.choice([MessageKind.READ_RECEIPT, MessageKind.DELIVERY_DELAY,
                                                          MessageKind.UNKNOWN]), at, now)
        else:
            await receive(sim, None, MessageKind.UNKNOWN, at, now)                   # unmatched
    if sim.uid > 3:
        await receive(sim, next(iter(sim.emails)), MessageKind.AUTO_REPLY, now, now, uid=sim.uid - 2)  # duplicate
    return human


async def settle_uncertain(sim: Sim, now: datetime) -> None:
    async with sim.sessions() as s:
        uncertain = list((await s.execute(sa.select(Send.id, Send.due_at, Send.state).where(
            Send.campaign_id == sim.cid, Send.state.in_([SendState.UNCERTAIN, SendState.FAILED]),
            Send.target_id.not_in(sim.undeliverable)).order_by(Send.id))).all())
    for send_id, due_at, state in uncertain:
        roll = sim.rng.random()
        if roll < 0.4 or (state == SendState.FAILED and sim.rng.random() < 0.95):
            continue
        try:
            await S.resolve_send(sim.sessions, campaign_id=sim.cid, send_id=send_id, sent=roll < 0.75, note="sim",
                                 now=now, sent_at=due_at + timedelta(hours=1) if roll < 0.6 else None)
        except S.ResolveRefused:
            pass


async def run_campaign(sim: Sim, days: int = 16) -> datetime:
    now = START
    for day in range(days):
        earlier, now = now, START + day * DAY + timedelta(hours=sim.rng.randint(0, 20))
        await dispatch(sim, now)
        human = await replies(sim, now, earlier)
        if day == days // 2:   # an import of old messages: received before the sends that followed
            for target_id in sim.rng.sample(sim.reachable, 4):
                await receive(sim, target_id, MessageKind.HUMAN_REPLY, START + timedelta(hours=3), now,
                              answer=Answer.YES)
        await settle_uncertain(sim, now)
        await close_silent_targets(sim.sessions, campaign_id=sim.cid, now=now, close_after_s=2 * 86400)
        async with sim.sessions.begin() as s:
            for row in human[:2]:
                if sim.rng.random() < 0.5:
                    await apply_override(s, sim.cid, row, sim.rng.choice([Answer.YES, Answer.NO, None]),
                                             by="me", at=now)
                else:
                    await oracle_research.set_not_eligible(s, sim.cid, row, sim.rng.random() < 0.8, by="me", at=now)
    # Late replies: after the campaign closed.
    for target_id in sim.rng.sample(sim.reachable, 5):
        await receive(sim, target_id, MessageKind.HUMAN_REPLY, now + DAY, now + 2 * DAY,
                      answer=sim.rng.choice(list(Answer)))
    return now + 3 * DAY


async def test_facts_give_the_figures_of_the_events(sessions: async_sessionmaker[AsyncSession]) -> None:
    # A neighbour sharing addresses: its opt-outs suppress targets here; then it is purged.
    neighbour = await launch(sessions, "neighbour", 20)
    sim = await launch(sessions, "sim", 60)
    await dispatch(neighbour, START)
    for target_id in list(neighbour.emails)[:6]:
        await receive(neighbour, target_id, MessageKind.HUMAN_REPLY, START + timedelta(hours=2), START,
                      answer=Answer.NO, opt_out=True)
    end = await run_campaign(sim)
    await assert_same_figures(sessions, sim.cid, end)
    async with sessions() as s:
        await purge_campaign(s, neighbour.cid)
    await assert_facts_are_current(sessions, sim.cid)
    for now in (START + 5 * DAY, end):
        await assert_same_figures(sessions, sim.cid, now)
    async with sessions() as s:
        report = await build_report(s, "sim", now=end, by="group")
    # The campaign exercised what it should: every kind of outcome is in its figures.
    assert report["answered"] and report["bounced"] and report["undelivered"] and report["auto_replies"]
    assert report["opted_out"] and report["suppressed"] and report["dispositions"]["NE"]
    assert report["answers_authenticated"]
    assert set(report["answered_by_wave"]) == {"0", "1", "2"} and report["answered_by_wave"]["1"]


async def test_the_facts_of_a_seeded_campaign(sessions: async_sessionmaker[AsyncSession]) -> None:
    from tests.fixtures.seed import seed_known
    async with sessions.begin() as s:
        cid = await seed_known(s)
    await assert_same_figures(sessions, cid, START, by="sector")


async def test_accepted_sends_add_to_the_facts_of_targets_with_an_answer_time(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    """The send path adds each accepted send to its target's facts as increments (no recomputation):
    a target still waiting may carry an answer time, before, between or after its sends (set here by
    hand; one at the very time of its reminder), and its answer wave, last send before the answer
    and durations follow it exactly."""
    sim = await launch(sessions, "timed", 10)
    ids = sorted(sim.emails)
    answered = {tid: START + timedelta(hours=h) for tid, h in zip(ids, (-1, 0, 1, 72, 96, 240, 500), strict=False)}
    async with sessions.begin() as s:
        for tid, at in answered.items():
            await s.execute(sa.update(Target).where(Target.id == tid).values(answered_at=at))
        await refresh_campaign(s, sim.cid)
    for now in (START, *(START + g * DAY for g in GAPS)):
        claims = await S.claim_due(sessions, campaign_id=sim.cid, now=now, owner="sim", lease_until=now + DAY,
                                   domain="probe.example", limit=100)
        assert claims
        # Two group commits, the second with several send times.
        outcomes = [S.Outcome(c.send_id, "sim", SendEvent.ACCEPTED, c.wave, now + timedelta(minutes=k % 3),
                              smtp_reply="250 ok", initial_sent_at=c.initial_sent_at)
                    for k, c in enumerate(sorted(claims, key=lambda c: c.send_id))]
        await S.record_outcomes(sessions, outcomes[:4])
        await S.record_outcomes(sessions, outcomes[4:])
        await assert_facts_are_current(sessions, sim.cid)
    facts = await stored_facts(sessions, sim.cid)
    assert {facts[t][FACT_COLUMNS.index("answer_wave")] for t in answered} == {0, 1, 2}
    assert all(facts[t][FACT_COLUMNS.index("to_answer_s")] is not None for t in answered)


# ---------------------------------------------------------------- migration 0009 backfills the facts

def _stored(value: Any, dialect: str) -> Any:
    # The text SQLAlchemy's SQLite DateTime writes (naive UTC), as the benchmark's bulk load does.
    if dialect == "sqlite" and isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


async def _load_at_0007(url: str, n: int) -> None:
    """A campaign written at revision 0007 (no facts columns) with plain inserts."""
    engine = make_engine(url)
    dialect = engine.dialect.name
    try:
        async with engine.begin() as conn:
            await conn.execute(sa.text(
                "INSERT INTO campaign (id, name, timezone, plan_hash, waves, close_after_s, keep_bodies, created_at,"
                " launched_at) VALUES (1, 'old', 'UTC', 'h', 3, 86400, TRUE, :t, :t)"), {"t": _stored(START, dialect)})
            for rows, columns, table in _chunks(n):
                cols = ", ".join(columns)
                marks = ", ".join(f":{c}" for c in columns)
                casts = {"fields", "reasons", "details"}
                if dialect == "postgresql":
                    marks = ", ".join(f"CAST(:{c} AS JSON)" if c in casts else f":{c}" for c in columns)
                await conn.execute(sa.text(f"INSERT INTO {table} ({cols}) VALUES ({marks})"),
                                   [{c: _stored(v, dialect) for c, v in zip(columns, row, strict=True)}
                                    for row in rows])
            # A reviewer's ruling and a "no longer there" auto-reply, which the synthetic mix lacks.
            await conn.execute(sa.text("INSERT INTO target_eligibility (target_id, campaign_id, eligible, set_by,"
                                       " set_at) VALUES (2, 1, FALSE, 'me', :t)"), {"t": _stored(START, dialect)})
            await conn.execute(sa.text("UPDATE inbound_message SET reasons = :r WHERE id = 1"),
                               {"r": json.dumps(["no-longer-with-company"])})
    finally:
        await engine.dispose()


def _chunks(n: int) -> list[tuple[list[tuple[Any, ...]], tuple[str, ...], str]]:
    out = []
    for targets_, sends, messages in synthetic_chunks(1, n):
        out += [(targets_, TARGET_COLUMNS, "target"), (sends, SEND_COLUMNS, "send"),
                (messages, MESSAGE_COLUMNS, "inbound_message")]
    return out


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url_0007(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    require_postgres()
    with pg_database() as url:
        yield url


async def test_migration_0009_backfills_the_facts(url_0007: str) -> None:
    await asyncio.to_thread(command.upgrade, _alembic_config(url_0007), "0007")
    await _load_at_0007(url_0007, 400)
    await asyncio.to_thread(command.upgrade, _alembic_config(url_0007), "0009")
    engine = make_engine(url_0007)
    try:
        sessions = make_sessionmaker(engine)
        backfilled = await stored_facts(sessions, 1)
        assert any(f[FACT_COLUMNS.index("auto_replies")] for f in backfilled.values())
        assert backfilled[2][FACT_COLUMNS.index("not_eligible")]
        await assert_facts_are_current(sessions, 1)
        await assert_same_figures(sessions, 1, datetime(2016, 1, 1, tzinfo=UTC), by="sector")
        async with sessions() as s:
            assert (await s.execute(sa.select(sa.func.count()).select_from(InboundMessage))).scalar_one() > 100
    finally:
        await engine.dispose()


# ---------------------------------------------------------------- the poll's batched path

def _auto_reply(received: Any) -> bytes:
    """An RFC 3834 out-of-office answer to a message the SMTP server received."""
    original = received.message
    return (f"From: {original['To']}\r\nTo: {original['From']}\r\nSubject: Absence : {original['Subject']}\r\n"
            f"Message-ID: <away-{original['Message-ID'][1:9]}@client.example.com>\r\n"
            f"In-Reply-To: {original['Message-ID']}\r\nAuto-Submitted: auto-replied\r\n"
            "Date: Tue, 29 Sep 2015 10:00:00 +0200\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "Je suis absent du bureau jusqu'au 5 octobre, sans accès à mes messages.\r\n").encode()


async def test_the_poll_keeps_the_facts_current(campaign_factory, smtp_server, db_url, tmp_path: Path) -> None:
    """A chunk of replies stored the poll's way (insert_inbound_many, mark_answered_many) refreshes
    the facts of every target it touches: an unclear answer then a yes, a no, an automatic reply."""
    from probe.config import load_config
    from probe.service.wiring import open_service
    from tests.integration.test_dispatch import T0, reply_to

    rows = [{"email": f"t{i}@client.example.com", "prenom": f"P{i}", "nom": f"N{i}", "secteur": "x"}
            for i in range(3)]
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url, targets=rows)
    async with open_service(load_config(camp.config)) as service:
        await service.launch(T0)
        await service.tick(T0)
        received = {r.message["To"]: r for r in smtp_server.handler.wait_for(3)}
        folder = tmp_path / "replies"
        folder.mkdir()
        first, second, third = (received[row["email"]] for row in rows)
        for name, raw in (("1.eml", reply_to(first, "Quel est le prix exact de cet abonnement ?")),
                          ("2.eml", reply_to(first, "OUI")), ("3.eml", reply_to(second, "NON")),
                          ("4.eml", _auto_reply(third))):
            (folder / name).write_bytes(raw)
        assert (await service.import_path(folder, T0 + timedelta(hours=2))).new_messages == 4
        cid = service.require_campaign()
        kept = await stored_facts(service.sessions, cid)
        await assert_facts_are_current(service.sessions, cid)
    answered = [f for f in kept.values() if f[FACT_COLUMNS.index("answer_wave")] is not None]
    assert len(answered) == 2
    assert sum(f[FACT_COLUMNS.index("auto_replies")] or 0 for f in kept.values()) == 1
