"""`probe validate`: every check of a campaign that needs no mail server and writes nothing.

`launch` runs the same checks first, so nothing is stored when one fails."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from probe.adapters.targets import TargetsFile, load_targets
from probe.adapters.templates import TemplateSet, load_templates
from probe.config import Settings, read_secret
from probe.core.assignment import Assigned
from probe.core.planning import plan_waves
from probe.errors import InputError, ProbeError

log = logging.getLogger("probe.validate")

#: Template errors listed one by one before the rest is only counted.
MAX_LISTED = 20


@dataclass(frozen=True)
class Validation:
    targets: TargetsFile
    templates: TemplateSet
    due_times: tuple[datetime, ...]   # UTC, one per wave, for a campaign launched at `now`
    start_in_past: bool
    #: An experiment's assignment, email → Assigned (empty outside an experiment).
    assignment: dict[str, Assigned] = field(default_factory=dict)


def check_secrets(settings: Settings) -> None:
    """Every password variable the config names must be set: exit 2 before any connection."""
    problems: list[ProbeError] = []
    sections = [("smtp", settings.smtp)] + ([("imap", settings.imap)] if settings.imap else [])
    for name, section in sections:
        try:
            read_secret(section.password_env, file=str(settings.path), field=f"{name}.password_env")
        except InputError as exc:
            problems.append(exc)
    _raise_all(problems, settings)


def _raise_all(problems: list[ProbeError], settings: Settings) -> None:
    if not problems:
        return
    if len(problems) == 1:
        raise problems[0]
    listed = "\n".join(f"- {p}" for p in problems[:MAX_LISTED])
    more = f"\n… and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
    raise InputError(f"{len(problems)} problems:\n{listed}{more}", file=str(settings.path))


def validate_campaign(settings: Settings, *, now: datetime, strict: bool = False,
                      secrets: bool = True, start: datetime | None = None,
                      previous: Sequence[tuple[str, str, str]] = ()) -> Validation:
    """Load templates and targets, render every template for every target, plan the waves.
    In an experiment the targets are assigned first (`previous`: the stored assignment) and each
    is rendered with every wave of its own variant."""
    from probe.service.experiment import assign_targets

    problems: list[ProbeError] = []
    if secrets:
        try:
            check_secrets(settings)
        except InputError as exc:
            problems.append(exc)
    templates = load_templates(settings)
    targets = load_targets(settings.targets.file, strict=strict or settings.targets.strict,
                           header_columns=templates.header_variables())
    targets, assignment = assign_targets(settings, targets, previous)
    problems.extend(templates.validate_all(targets.rows))
    _raise_all(problems, settings)
    start = settings.schedule.start or start or now
    due = plan_waves(start, settings.schedule.reminders, settings.campaign.zone, settings.schedule.window)
    return Validation(targets, templates, tuple(due), start_in_past=start < now, assignment=assignment)
