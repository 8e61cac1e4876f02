"""`probe launch`: validate, then create or update the campaign and its planned sends."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from probe.core.assignment import assignment_lines
from probe.core.gcpause import paused_gc
from probe.core.planhash import plan_hash, with_assignment
from probe.core.planning import plan_waves, spread_by_domain
from probe.service.validate import validate_campaign
from probe.store.campaigns import (
    LaunchResult,
    PlannedTarget,
    first_planned_at,
    follow_actual_sends,
    launch_campaign,
    next_pass_sends,
    stored_assignment,
)

if TYPE_CHECKING:
    from probe.config import Settings
    from probe.service.wiring import Service

log = logging.getLogger("probe.launch")


def compute_plan_hash(settings: Settings, assignment: Sequence[tuple[str, str, str]] | None = None) -> str:
    """The plan hash of the files the settings name as they are on disk now (core/planhash.py);
    in an experiment it covers every variant's templates and the assignment."""
    templates = {str(p): p.read_bytes() for p in settings.template_files()}
    digest = plan_hash(settings.path.read_bytes(), settings.targets.file.read_bytes(), templates)
    return with_assignment(digest, assignment) if settings.variants else digest


@dataclass(frozen=True)
class LaunchSummary:
    result: LaunchResult
    due_times: tuple[datetime, ...]
    skipped: int                 # invalid or duplicate rows of the targets file
    start_in_past: bool
    next_pass: int = 0           # emails a pass at `now` would send


async def launch(service: Service, now: datetime, *, strict: bool = False) -> LaunchSummary:
    # 100,000 targets are a few hundred thousand objects that form no cycles (core/gcpause.py).
    with paused_gc():
        return await _launch(service, now, strict=strict)


async def _launch(service: Service, now: datetime, *, strict: bool) -> LaunchSummary:
    settings = service.settings
    first = None
    if settings.schedule.start is None and service.campaign_id is not None:
        # Without schedule.start the campaign started at its first launch: a relaunch keeps that.
        first = await first_planned_at(service.sessions, service.campaign_id)
    # Targets added since the last launch are assigned alone; the others keep their variant.
    previous = await stored_assignment(service.sessions, service.campaign_id) if settings.variants else []
    # Passwords are not needed to plan: launch connects to no mail server.
    checked = validate_campaign(settings, now=now, strict=strict, secrets=False, start=first,
                                previous=previous)
    rows = checked.targets.rows
    dues = [checked.due_times] * len(rows)
    one_plan = not (settings.schedule.spread_by == "domain" and rows)
    if not one_plan:
        s = settings.schedule
        starts = spread_by_domain([r.email.rpartition("@")[2] for r in rows], checked.due_times[0],
                                  settings.campaign.zone, s.window)
        dues = [tuple(plan_waves(t, s.reminders, settings.campaign.zone, s.window)) for t in starts]
    drawn = checked.assignment
    # The row's own fields dict, not a copy: launch only reads it (a copy was ~100,000 dicts more).
    planned = [PlannedTarget(line=row.line, address=row.address, email=row.email, fields=row.fields,
                             due_times=due,
                             variant=drawn[row.email].variant if drawn else None,
                             stratum=drawn[row.email].stratum if drawn else None)
               for row, due in zip(rows, dues, strict=True)]
    result = await launch_campaign(
        service.sessions, name=settings.campaign.name, timezone=settings.campaign.timezone,
        plan_hash=compute_plan_hash(settings, assignment_lines(drawn.values())),
        close_after_s=int(settings.schedule.close_after.total_seconds()),
        keep_bodies=settings.campaign.keep_bodies, targets=planned, now=now)
    service.campaign_id = result.campaign_id
    if result.sends_rescheduled:
        # The plan changed: launch moved scheduled sends to it; those of targets already written to
        # follow their actual initial email again (DESIGN.md: waves follow the target).
        from probe.service.dispatch import replanner

        await follow_actual_sends(service.sessions, result.campaign_id, replanner(service))
    next_pass = 0
    if checked.start_in_past:
        if one_plan and not (result.targets_kept or result.targets_removed):
            # The campaign had no targets before: its sends are the ones just planned, all on one
            # plan, so a pass at `now` sends the initial email of each target not suppressed if it
            # is due (what next_pass_sends counts, without reading 300,000 sends back).
            next_pass = result.targets_added - result.suppressed if checked.due_times[0] <= now else 0
        else:
            next_pass = await next_pass_sends(service.sessions, result.campaign_id, now)
    return LaunchSummary(result, checked.due_times, len(checked.targets.problems), checked.start_in_past,
                         next_pass)
