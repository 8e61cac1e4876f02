"""An experiment's assignment at validate and launch time (DESIGN.md "Experiments").

The draw itself is probe.core.assignment; this module feeds it the targets file and the stored
assignment, checks the config against the file's columns, and writes each target's variant into
its fields (a template variable and a `--by` field)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from probe.adapters.targets import TargetsFile
from probe.adapters.templates import VARIANT_FIELD
from probe.config import Settings
from probe.core.assignment import ALL, Arm, Assigned, assign
from probe.errors import ConfigError

#: The stratum of a target whose stratify_by column is empty.
BLANK_STRATUM = "(blank)"


def stratum_of(fields: dict[str, str], stratify_by: str | None) -> str:
    if stratify_by is None:
        return ALL
    return fields.get(stratify_by, "").strip() or BLANK_STRATUM


def check_columns(settings: Settings, targets: TargetsFile) -> None:
    """stratify_by names a column of the targets file; no column is called `variant`."""
    exp = settings.experiment
    if not settings.variants or exp is None:
        return
    columns = [c for c in targets.columns if c != VARIANT_FIELD]
    if exp.stratify_by is not None and exp.stratify_by not in targets.columns:
        raise ConfigError(f"stratify_by names {exp.stratify_by!r}, which is not a column of the targets file "
                          f"{targets.path or settings.targets.file}", file=str(settings.path),
                          field="experiment.stratify_by",
                          hint="use one of: " + ", ".join(c for c in columns if c != "email"))
    if VARIANT_FIELD in targets.columns:
        raise ConfigError("the targets file has a column `variant`, which an experiment sets itself",
                          file=str(settings.path), field="variants",
                          hint="rename or remove that column of the targets file")


def assign_targets(settings: Settings, targets: TargetsFile,
                   previous: Sequence[tuple[str, str, str]] = ()) -> tuple[TargetsFile, dict[str, Assigned]]:
    """The targets with `variant` in their fields, and the whole assignment (the stored one included:
    targets no longer in the file keep theirs)."""
    exp = settings.experiment
    if not settings.variants or exp is None:
        return targets, {}
    check_columns(settings, targets)
    before = {e: Assigned(e, s, v) for e, s, v in previous}
    arms = [Arm(v.name, v.weight) for v in settings.variants]
    drawn = assign(((r.email, stratum_of(r.fields, exp.stratify_by)) for r in targets.rows), arms, exp.seed,
                   previous=before)
    rows = [replace(r, fields={**r.fields, VARIANT_FIELD: drawn[r.email].variant}) for r in targets.rows]
    whole = {**before, **drawn}
    return replace(targets, rows=rows, columns=(*targets.columns, VARIANT_FIELD)), whole


def sender_for(settings: Settings, fields: dict[str, str]) -> str:
    """The From header of a target's emails: its variant's `from`, else campaign.from. The envelope
    sender stays the campaign's, so bounces of every arm reach the same mailbox."""
    name = fields.get(VARIANT_FIELD)
    for v in settings.variants:
        if v.name == name and v.from_:
            return v.from_
    return settings.campaign.from_
