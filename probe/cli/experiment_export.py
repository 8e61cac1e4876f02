"""`probe export` of an experiment: assignment.csv (email, stratum, variant) and plan.json, the
design a study registers before the first send and checks afterwards (DESIGN.md "Experiments")."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from probe import csvout
from probe.config import Settings
from probe.store import aggregates as agg
from probe.store.campaigns import stored_assignment
from probe.store.experiment import strata_counts

ASSIGNMENT_COLUMNS = ["email", "stratum", "variant"]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def export_experiment(session: AsyncSession, settings: Settings, campaign_id: int, folder: Path,
                            sep: str = ",") -> int:
    """Write assignment.csv and plan.json when the campaign is an experiment; the number of targets."""
    exp = settings.experiment
    if not settings.variants or exp is None:
        return 0
    lines = await stored_assignment(session, campaign_id)
    with (folder / "assignment.csv").open("w", encoding="utf-8-sig", newline="") as f:
        writer = csvout.SafeWriter(f, sep)
        writer.writerow(ASSIGNMENT_COLUMNS)
        writer.writerows(lines)
    campaign = await agg.get_campaign(session, settings.campaign.name)
    digest = hashlib.sha256()
    for line in lines:
        digest.update(("\0".join(line) + "\n").encode())
    strata = await strata_counts(session, campaign_id)
    names = [v.name for v in settings.variants]
    plan = {
        "campaign": settings.campaign.name,
        "plan_hash": campaign.plan_hash if campaign else None,
        "seed": exp.seed,
        "stratify_by": exp.stratify_by,
        "algorithm": "probe.core.assignment: per stratum, emails sorted then shuffled with "
                     "random.Random(f'{seed}:{stratum}:{already assigned}'); arms dealt to the furthest below "
                     "its weight's share, ties in a random arm order",
        "strata": {s: {v: strata[s].get(v, 0) for v in names} for s in sorted(strata)},
        "targets": len(lines),
        "assignment_sha256": digest.hexdigest(),
        "variants": [{
            "name": v.name, "weight": v.weight, "from": v.from_ or settings.campaign.from_,
            "templates": [{"wave": wave, "file": p.name, "sha256": _sha256(p)}
                          for wave, p in enumerate([v.initial, *v.reminders])],
        } for v in settings.variants],
    }
    (folder / "plan.json").write_text(json.dumps(plan, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return len(lines)
