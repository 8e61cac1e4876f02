"""`probe export`: the campaign's raw material in a folder, for an archive or another tool.

sends.csv (one row per send), replies.csv (one row per stored message, authentication verdicts
included), raw/ID.eml (each message as received, when campaign.keep_bodies) and, for an
experiment, assignment.csv (email, stratum, variant) and plan.json, the design a study registers
before the first send and checks afterwards (docs/design.md). CSV files carry a BOM (Excel) and
`sep` between columns; times are in the campaign's zone."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from probe import csvout
from probe.config import Settings
from probe.store.campaigns import get_campaign, stored_assignment
from probe.store.experiment import strata_counts
from probe.store.exports import stream_inbound, stream_sends

SEND_COLUMNS = ["target_email", "wave", "state", "due_at", "sent_at", "message_id", "smtp_reply", "attempts",
                "last_error"]
EXPORT_REPLY_COLUMNS = ["id", "received_at", "sender", "subject", "kind", "answer", "override", "override_by",
                        "override_at", "match_method", "target_email", "message_id", "sha256", "raw_file",
                        "spf", "dkim", "dmarc", "domain_passed"]
ASSIGNMENT_COLUMNS = ["email", "stratum", "variant"]


@dataclass(frozen=True)
class Exported:
    sends: int
    replies: int
    raw_files: int
    assigned: int = 0      # targets in assignment.csv (an experiment only)


def _text(value: Any, zone: tzinfo = UTC) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return csvout.local_time(value, zone)
    return str(value)


async def export_campaign(session: AsyncSession, settings: Settings, campaign_id: int, folder: Path,
                          sep: str = ",", on_rows: Callable[[int], None] | None = None) -> Exported:
    """Write the export files into `folder` (which exists, with its raw/ subfolder); `on_rows(n)` is
    told of every n sends or replies written (a progress line)."""
    advance = on_rows or (lambda n: None)
    sends = replies = raw_files = 0
    zone = settings.campaign.zone
    with (folder / "sends.csv").open("w", encoding="utf-8-sig", newline="") as f:
        writer = csvout.SafeWriter(f, sep)
        writer.writerow(SEND_COLUMNS)
        async for chunk in stream_sends(session, campaign_id):
            writer.writerows([_text(row[c], zone) for c in SEND_COLUMNS] for row in chunk)
            sends += len(chunk)
            advance(len(chunk))
    with (folder / "replies.csv").open("w", encoding="utf-8-sig", newline="") as f:
        writer = csvout.SafeWriter(f, sep)
        writer.writerow(EXPORT_REPLY_COLUMNS)
        async for chunk in stream_inbound(session, campaign_id, with_raw=True, chunk_size=100):
            for row in chunk:
                raw_file = ""
                if row["raw"] is not None:
                    raw_file = f"raw/{row['id']}.eml"
                    (folder / raw_file).write_bytes(row["raw"])
                    raw_files += 1
                found = row.get("authenticity")
                auth: dict[str, Any] = found if isinstance(found, dict) else {}
                values = {**row, "override": row["override_answer"], "message_id": row["message_id_header"],
                          "sha256": row["raw_sha256"], "raw_file": raw_file,
                          "spf": auth.get("spf"), "dkim": auth.get("dkim") or auth.get("dkim_verified"),
                          "dmarc": auth.get("dmarc"),
                          "domain_passed": _yes_no(auth.get("domain_passed"))}
                writer.writerow([_text(values[c], zone) for c in EXPORT_REPLY_COLUMNS])
                replies += 1
                advance(1)
    assigned = await export_experiment(session, settings, campaign_id, folder, sep)
    return Exported(sends, replies, raw_files, assigned)


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
    campaign = await get_campaign(session, settings.campaign.name)
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


def _yes_no(value: object) -> str | None:
    """A stored True/False as the export writes it; anything else (not checked) stays empty."""
    return {True: "yes", False: "no"}.get(value) if isinstance(value, bool) else None
