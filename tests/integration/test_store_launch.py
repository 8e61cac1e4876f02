"""launch_campaign on both engines: idempotent, adds only what is new, reschedules, honours suppression."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from probe.core.model import SendState, TargetState
from probe.store.campaigns import LaunchResult, get_campaign, launch_campaign, record_pass
from probe.store.engine import make_engine, make_sessionmaker
from probe.store.inbox import mark_opted_out
from probe.store.tables import Send, Target
from tests.fixtures.db import planned_targets

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


async def launch(sessions: async_sessionmaker[AsyncSession], targets: list, *, name: str = "survey",
                 plan_hash: str = "h1") -> LaunchResult:
    return await launch_campaign(sessions, name=name, timezone="Europe/Paris", plan_hash=plan_hash,
                                 close_after_s=86400 * 7, keep_bodies=True, targets=targets, now=NOW)


async def snapshot(sessions: async_sessionmaker[AsyncSession]) -> tuple[list, list]:
    async with sessions() as s:
        targets = (await s.execute(select(Target.id, Target.email, Target.token, Target.state, Target.fields)
                                   .order_by(Target.id))).all()
        sends = (await s.execute(select(Send.id, Send.target_id, Send.wave, Send.state, Send.due_at)
                                 .order_by(Send.id))).all()
    return [tuple(r) for r in targets], [tuple(r) for r in sends]


async def test_launch_creates_one_send_per_target_per_wave(sessions: async_sessionmaker[AsyncSession]) -> None:
    result = await launch(sessions, planned_targets(5, start=START))
    assert result == LaunchResult(campaign_id=result.campaign_id, created=True, targets_added=5, targets_kept=0,
                                  targets_removed=0, sends_planned=15, sends_rescheduled=0, suppressed=0)
    campaign = await get_campaign(sessions, "survey")
    assert campaign is not None and campaign.waves == 3 and campaign.plan_hash == "h1"
    assert campaign.launched_at == NOW
    targets, sends = await snapshot(sessions)
    assert len({t[2] for t in targets}) == 5 and all(len(t[2]) == 24 for t in targets)
    assert {s[3] for s in sends} == {SendState.SCHEDULED}
    first = [s for s in sends if s[1] == targets[0][0]]
    assert [(s[2], s[4]) for s in first] == [(0, START), (1, START + timedelta(days=6)),
                                             (2, START + timedelta(days=12))]
    assert await get_campaign(sessions, "other") is None


async def test_launch_twice_changes_nothing(sessions: async_sessionmaker[AsyncSession]) -> None:
    targets = planned_targets(20, start=START)
    await launch(sessions, targets)
    before = await snapshot(sessions)
    again = await launch(sessions, targets)
    assert (again.created, again.targets_added, again.targets_kept, again.sends_planned,
            again.sends_rescheduled) == (False, 0, 20, 0, 0)
    assert await snapshot(sessions) == before


async def test_launch_adds_only_new_targets_and_keeps_tokens(sessions: async_sessionmaker[AsyncSession]) -> None:
    await launch(sessions, planned_targets(3, start=START))
    before_targets, before_sends = await snapshot(sessions)
    grown = planned_targets(4, start=START)
    result = await launch(sessions, grown)
    assert (result.targets_added, result.targets_kept, result.sends_planned) == (1, 3, 3)
    after_targets, after_sends = await snapshot(sessions)
    assert after_targets[:3] == before_targets and after_sends[:9] == before_sends
    assert after_targets[3][1] == "t3@example.org" and len(after_sends) == 12


async def test_changed_due_time_reschedules_only_scheduled_sends(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    first = await launch(sessions, planned_targets(2, start=START))
    async with sessions.begin() as s:   # wave 0 of t0 already went out
        await s.execute(Send.__table__.update().where(Send.wave == 0, Send.target_id == (
            select(Target.id).where(Target.email == "t0@example.org").scalar_subquery()))
            .values(state=SendState.SENT))
    later = START + timedelta(hours=3)
    result = await launch(sessions, planned_targets(2, start=later), plan_hash="h2")
    assert result.campaign_id == first.campaign_id
    assert result.sends_rescheduled == 5 and result.sends_planned == 0
    _, sends = await snapshot(sessions)
    moved = {(s[1], s[2]): (s[3], s[4]) for s in sends}
    t0, t1 = sorted({s[1] for s in sends})
    assert moved[(t0, 0)] == (SendState.SENT, START)
    assert moved[(t1, 0)] == (SendState.SCHEDULED, later)
    assert moved[(t0, 2)] == (SendState.SCHEDULED, later + timedelta(days=12))
    assert (await get_campaign(sessions, "survey")).plan_hash == "h2"  # type: ignore[union-attr]


async def test_fields_update_and_added_or_dropped_wave(sessions: async_sessionmaker[AsyncSession]) -> None:
    await launch(sessions, planned_targets(2, start=START, gaps_days=(6,)))
    renamed = [dataclasses.replace(t, fields={**t.fields, "name": "New"})
               for t in planned_targets(2, start=START, gaps_days=(6, 12))]
    result = await launch(sessions, renamed)
    assert result.sends_planned == 2
    targets, sends = await snapshot(sessions)
    assert {t[4]["name"] for t in targets} == {"New"}
    assert len(sends) == 6 and (await get_campaign(sessions, "survey")).waves == 3  # type: ignore[union-attr]
    await launch(sessions, planned_targets(2, start=START, gaps_days=()))
    _, sends = await snapshot(sessions)
    assert sorted((s[2], s[3]) for s in sends if s[2] > 0) == [(1, SendState.CANCELLED)] * 2 + [
        (2, SendState.CANCELLED)] * 2


async def test_removed_target_is_cancelled_and_comes_back(sessions: async_sessionmaker[AsyncSession]) -> None:
    await launch(sessions, planned_targets(3, start=START))
    result = await launch(sessions, planned_targets(2, start=START))
    assert (result.targets_removed, result.targets_kept) == (1, 2)
    targets, sends = await snapshot(sessions)
    gone = next(t[0] for t in targets if t[1] == "t2@example.org")
    assert {s[3] for s in sends if s[1] == gone} == {SendState.CANCELLED}
    back = await launch(sessions, planned_targets(3, start=START))
    assert back.sends_planned == 3 and back.targets_added == 0
    _, sends = await snapshot(sessions)
    assert {s[3] for s in sends} == {SendState.SCHEDULED}


async def test_suppressed_address_is_opted_out_in_a_new_campaign(
        sessions: async_sessionmaker[AsyncSession]) -> None:
    first = await launch(sessions, planned_targets(2, start=START), name="first")
    async with sessions() as s:
        t0 = (await s.execute(select(Target.id).where(Target.email == "t0@example.org"))).scalar_one()
    assert await mark_opted_out(sessions, target_id=t0, email="t0@example.org", campaign_id=first.campaign_id,
                                now=NOW)
    second = await launch(sessions, planned_targets(3, start=START), name="second")
    assert (second.suppressed, second.sends_planned) == (1, 6)
    async with sessions() as s:
        row = (await s.execute(select(Target.id, Target.state).where(
            Target.campaign_id == second.campaign_id, Target.email == "t0@example.org"))).one()
        states = set((await s.execute(select(Send.state).where(Send.target_id == row.id))).scalars())
    assert row.state == TargetState.OPTED_OUT and states == {SendState.CANCELLED}
    again = await launch(sessions, planned_targets(3, start=START), name="second")
    assert (again.suppressed, again.sends_planned, again.sends_rescheduled) == (1, 0, 0)


async def test_record_pass(sessions: async_sessionmaker[AsyncSession]) -> None:
    result = await launch(sessions, [])
    assert result.targets_added == 0
    await record_pass(sessions, result.campaign_id, NOW)
    assert (await get_campaign(sessions, "survey")).last_pass_at == NOW  # type: ignore[union-attr]


async def test_launch_joins_a_callers_transaction(sessions: async_sessionmaker[AsyncSession]) -> None:
    with pytest.raises(RuntimeError):
        async with sessions.begin() as s:
            await launch_campaign(s, name="rolled-back", timezone="UTC", plan_hash="x", close_after_s=1,
                                  keep_bodies=False, targets=planned_targets(2, start=START), now=NOW)
            raise RuntimeError("abort the caller's transaction")
    assert await get_campaign(sessions, "rolled-back") is None


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_launch_100k_targets(db_url: str) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    try:
        targets = planned_targets(100_000, start=START)
        began = time.perf_counter()
        result = await launch(sessions, targets)
        first = time.perf_counter() - began
        began = time.perf_counter()
        again = await launch(sessions, targets)
        second = time.perf_counter() - began
        shifted = planned_targets(100_000, start=START + timedelta(hours=1))
        began = time.perf_counter()
        moved = await launch(sessions, shifted, plan_hash="h2")
        third = time.perf_counter() - began
        async with sessions() as s:
            sends = (await s.execute(select(func.count()).select_from(Send))).scalar_one()
        print(f"\n100k launch on {db_url.split(':')[0]}: first {first:.1f}s, again {second:.1f}s, "
              f"rescheduled {third:.1f}s")
        assert (result.targets_added, result.sends_planned, sends) == (100_000, 300_000, 300_000)
        assert (again.targets_added, again.sends_rescheduled) == (0, 0)
        assert moved.sends_rescheduled == 300_000
        assert first < 30 and second < 30 and third < 30
    finally:
        await engine.dispose()


async def test_many_individual_plans_replan_row_by_row(sessions: async_sessionmaker[AsyncSession]) -> None:
    def plans(shift: timedelta, gaps: tuple[int, ...]) -> list:
        return [dataclasses.replace(t, due_times=tuple(d + timedelta(minutes=i) + shift for d in t.due_times))
                for i, t in enumerate(planned_targets(30, start=START, gaps_days=gaps))]

    await launch(sessions, plans(timedelta(0), (6,)))
    same = await launch(sessions, plans(timedelta(0), (6,)))
    assert (same.sends_planned, same.sends_rescheduled) == (0, 0)
    moved = await launch(sessions, plans(timedelta(hours=1), (6, 12)))
    assert (moved.sends_planned, moved.sends_rescheduled) == (30, 60)
    _, sends = await snapshot(sessions)
    by_target = {s[1]: [] for s in sends}
    for s in sends:
        by_target[s[1]].append(s[4])
    first = min(by_target)
    assert by_target[first] == [START + timedelta(hours=1), START + timedelta(days=6, hours=1),
                                START + timedelta(days=12, hours=1)]
    assert len(sends) == 90


async def test_big_launch_commits_in_chunks_and_an_interrupted_one_finishes_when_run_again(
        sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch) -> None:
    """A big plan is written a chunk per transaction (the write lock is never held for seconds); until
    the last chunk commits the stored hash matches no config (tick refuses), and launching again
    completes it without duplicating anyone."""
    import probe.store.campaigns as campaigns

    monkeypatch.setattr(campaigns, "LAUNCH_CHUNK", 4)
    commits: list[int] = []
    real_add = campaigns._add_targets

    async def add_then_fail_on_third(s, campaign_id, new, *args):
        if len(commits) == 2:
            raise RuntimeError("killed mid-launch")
        await real_add(s, campaign_id, new, *args)
        commits.append(len(new))

    monkeypatch.setattr(campaigns, "_add_targets", add_then_fail_on_third)
    targets = planned_targets(10, start=START)
    with pytest.raises(RuntimeError):
        await launch(sessions, targets)
    campaign = await get_campaign(sessions, "survey")
    assert campaign is not None and campaign.plan_hash == campaigns.LAUNCH_IN_PROGRESS
    async with sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Target))).scalar_one() == 8  # two chunks kept
    monkeypatch.setattr(campaigns, "_add_targets", real_add)
    result = await launch(sessions, targets)
    assert (result.targets_added, result.targets_kept, result.sends_planned) == (2, 8, 6)
    assert commits == [4, 4]
    campaign = await get_campaign(sessions, "survey")
    assert campaign is not None and campaign.plan_hash == "h1"
    targets_rows, sends = await snapshot(sessions)
    assert len(targets_rows) == 10 and len({t[1] for t in targets_rows}) == 10
    assert len(sends) == 30 and len({(s[1], s[2]) for s in sends}) == 30
