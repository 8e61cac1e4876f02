"""`probe launch`: validate, then create or update the campaign and its planned sends."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from probe.config import compute_plan_hash
from probe.service.validate import validate_campaign
from probe.store.campaigns import LaunchResult, PlannedTarget, first_planned_at, launch_campaign

if TYPE_CHECKING:
    from probe.service.wiring import Service

log = logging.getLogger("probe.launch")


@dataclass(frozen=True)
class LaunchSummary:
    result: LaunchResult
    due_times: tuple[datetime, ...]
    skipped: int                 # invalid or duplicate rows of the targets file
    start_in_past: bool


async def launch(service: Service, now: datetime, *, strict: bool = False) -> LaunchSummary:
    settings = service.settings
    first = None
    if settings.schedule.start is None and service.campaign_id is not None:
        # Without schedule.start the campaign started at its first launch: a relaunch keeps that.
        first = await first_planned_at(service.sessions, service.campaign_id)
    # Passwords are not needed to plan: launch connects to no mail server.
    checked = validate_campaign(settings, now=now, strict=strict, secrets=False, start=first)
    planned = [PlannedTarget(line=row.line, address=row.address, email=row.email, fields=dict(row.fields),
                             due_times=checked.due_times)
               for row in checked.targets.rows]
    result = await launch_campaign(
        service.sessions, name=settings.campaign.name, timezone=settings.campaign.timezone,
        plan_hash=compute_plan_hash(settings),
        close_after_s=int(settings.schedule.close_after.total_seconds()),
        keep_bodies=settings.campaign.keep_bodies, targets=planned, now=now)
    service.campaign_id = result.campaign_id
    if checked.start_in_past:
        log.warning("schedule.start %s is in the past: the first pass will send wave 0 at once",
                    checked.due_times[0].isoformat())
    return LaunchSummary(result, checked.due_times, len(checked.targets.problems), checked.start_in_past)
