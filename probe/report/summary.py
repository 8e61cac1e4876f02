"""The report as a dict: the JSON contract of DESIGN.md plus a few extra keys.

Definitions (also written into the report's ``notes``):

- targets: every target of the campaign; bounced: hard bounce; suppressed: opted out elsewhere (an
  opt-out reply in another campaign, or on the suppression list at launch), so never asked here;
  undelivered: the initial email could not be delivered (refused message, retries exhausted);
  reachable = targets - bounced - undelivered - suppressed.
- answered: targets a person answered (yes, no or unclear) *including* those who replied asking to
  be left alone, whose answer counts as "no"; ``opted_out`` reports them on their own as well.
- the answer of a target is the reviewer's override when there is one, else the automatic one.
- auto_replies: targets that sent only automatic replies (out-of-office...), never an answer;
  auto_reply_messages: how many such messages arrived.
- no_answer = reachable - answered; answer_rate = answered / reachable with its Wilson 95 %
  interval; answer_rate_all = answered / targets. A rate over nothing is null.
- sent: sends accepted by the SMTP server, per wave ("0" initial, "1" reminder 1...);
  uncertain: sends whose outcome was never recorded (maybe sent).
- answered_by_wave: each answer goes to the last wave sent to that target before it arrived.
- time_to_answer_s: from the target's first send to its answer; time_since_last_email_s: from the
  last send before the answer. Median and p90, seconds (percentile_cont).
- status: "closed" when nothing is left to send and either every target has an outcome or the
  last due send + close_after has passed; otherwise "running".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from probe.core.model import Answer, SendState
from probe.core.stats import rate, wilson_interval
from probe.errors import InputError, not_launched
from probe.report import experiment, research
from probe.report.research import ResearchOptions
from probe.store import aggregates as agg
from probe.store import experiment as experiment_store
from probe.store.campaigns import get_campaign

#: A segment with fewer reachable targets than this is shown but not ranked.
MIN_RANKABLE = 10
#: --by on a field with more distinct values than this (an id, an email) is refused: no one reads it.
MAX_SEGMENTS = 1000
ACTIVE_SEND_STATES = (SendState.SCHEDULED.value, SendState.CLAIMED.value, SendState.RETRY.value)

NOTES = [
    "answered includes targets who replied to opt out, counted as answer 'no'; opted_out also lists them",
    "suppressed targets (opted out elsewhere, never asked here) are not reachable",
    "answers use the reviewer's override when there is one",
    "auto_replies counts targets whose only replies were automatic; they are never answers",
    "answer_rate = answered / reachable (targets - bounced - undelivered - suppressed), with a Wilson 95 % "
    "interval",
    "answered_by_wave credits each answer to the last email sent before it",
]


def _figures(waves: int, targets: dict[str, int], sends: dict[tuple[int, str], int],
             by_wave: dict[int, int], durations: dict[str, dict[str, float | None]]) -> dict[str, Any]:
    reachable = targets["targets"] - targets["bounced"] - targets["undelivered"] - targets["suppressed"]
    answered = targets["answered"]
    ci = wilson_interval(answered, reachable)
    empty = {"median": None, "p90": None}
    return {
        "targets": targets["targets"],
        "reachable": reachable,
        "sent": {str(w): sends.get((w, SendState.SENT.value), 0) for w in range(waves)},
        "uncertain": sum(n for (_, state), n in sends.items() if state == SendState.UNCERTAIN.value),
        "answered": answered,
        "answer_rate": rate(answered, reachable),
        "answer_rate_ci95": None if ci is None else [ci[0], ci[1]],
        "answer_rate_all": rate(answered, targets["targets"]),
        "answers": {a.value: targets[a.value] for a in Answer},
        "opted_out": targets["opted_out"],
        "suppressed": targets["suppressed"],
        "auto_replies": targets["auto_replies"],
        "auto_reply_messages": targets["auto_reply_messages"],
        "bounced": targets["bounced"],
        "undelivered": targets["undelivered"],
        "no_answer": reachable - answered,
        "answered_by_wave": {str(w): by_wave.get(w, 0) for w in range(max([waves, *(k + 1 for k in by_wave)]))},
        "time_to_answer_s": durations.get("to_answer", empty),
        "time_since_last_email_s": durations.get("since_last", empty),
    }


def _status(targets: dict[str, int], sends: dict[tuple[int, str], int], last_due: datetime | None,
            close_after_s: int, now: datetime) -> str:
    if any(state in ACTIVE_SEND_STATES for _, state in sends):
        return "running"
    undecided = targets["pending"] + targets["contacted"]
    if undecided == 0:
        return "closed"
    if last_due is not None and now >= last_due + timedelta(seconds=close_after_s):
        return "closed"
    return "running"


async def build_report(session: AsyncSession, campaign_name: str, *, now: datetime,
                       by: str | None = None, source: str | None = None,
                       options: ResearchOptions | None = None,
                       variants: Sequence[str] = ()) -> dict[str, Any]:
    """The report of one campaign at `now`; `source` (the config path) is named in errors;
    `options` the [report] settings; `variants` an experiment's arms in the config's order (the
    first is the one the others are compared with)."""
    options = options or ResearchOptions()
    campaign = await get_campaign(session, campaign_name)
    if campaign is None:
        raise not_launched(campaign_name, source)
    if by is not None:
        fields = await agg.field_names(session, campaign.id)
        if by not in fields:
            raise InputError(f"targets have no field {by!r}", file=source, field="--by",
                             hint="use one of: " + (", ".join(fields) or "(no fields: no targets)"))
    cid = campaign.id
    targets = (await agg.target_figures(session, cid, None)).get(agg.ALL) or _no_targets()
    sends = (await agg.send_figures(session, cid, None)).get(agg.ALL, {})
    async with agg.answer_facts(session, cid, None) as facts:
        by_wave = (await agg.answered_by_wave(session, facts)).get(agg.ALL, {})
        durations = (await agg.duration_quantiles(session, facts)).get(agg.ALL, {})
    last_due = await agg.last_due(session, cid)
    report: dict[str, Any] = {"campaign": campaign.name}
    report.update(_figures(campaign.waves, targets, sends, by_wave, durations))
    report.update({
        "status": _status(targets, sends, last_due, campaign.close_after_s, now),
        "waves": campaign.waves,
        "states": {k: targets[k] for k in ("pending", "contacted", "closed")},
        "last_due_at": None if last_due is None else last_due.isoformat(),
        "generated_at": now.isoformat(),
        "by": {},
        "notes": [*NOTES, *research.RESEARCH_NOTES],
        # answers whose sender's domain passed DMARC or aligned DKIM (Authentication-Results, dkimpy)
        "answers_authenticated": await agg.authenticated_answers(session, cid),
    })
    report.update(await research.research_figures(session, cid, campaign.timezone, now=now, options=options))
    if await experiment_store.variant_names(session, cid):
        arms = await _segments(session, cid, campaign.waves, experiment.VARIANT)
        extra = await research.segment_figures(session, cid, experiment.VARIANT, now=now, options=options)
        for value, seg in arms.items():
            seg.update(extra.get(value, {}))
        report.update(await experiment.experiment_figures(session, cid, arms, variants) or {})
        report["notes"] = [*report["notes"], *experiment.NOTES]
    if by is not None:
        segments = await _segments(session, cid, campaign.waves, by)
        extra = await research.segment_figures(session, cid, by, now=now, options=options)
        for value, seg in segments.items():
            seg.update(extra.get(value, {}))
            seg["vs_all"] = research.versus_all(seg["answered"], seg["reachable"], report["answered"],
                                                report["reachable"])
        report["by"] = {by: segments}
    return report


async def _segments(session: AsyncSession, cid: int, waves: int, by: str) -> dict[str, Any]:
    targets = await agg.target_figures(session, cid, by)
    if len(targets) > MAX_SEGMENTS:
        raise InputError(f"field {by!r} has {len(targets):,} different values: too many groups to compare",
                         field="--by", hint="group by a field with a few values, like a sector or a region")
    sends = await agg.send_figures(session, cid, by)
    async with agg.answer_facts(session, cid, by) as facts:
        by_wave = await agg.answered_by_wave(session, facts)
        durations = await agg.duration_quantiles(session, facts)
    segments = {}
    for value, figures in targets.items():
        seg = _figures(waves, figures, sends.get(value, {}), by_wave.get(value, {}), durations.get(value, {}))
        seg["rankable"] = seg["reachable"] >= MIN_RANKABLE
        if not seg["rankable"]:
            seg["note"] = f"too small to rank: fewer than {MIN_RANKABLE} reachable targets"
        segments[value] = seg
    # League-table order: rankable segments by answer rate (ties: larger first, then name).
    order = sorted(segments, key=lambda v: (not segments[v]["rankable"], -(segments[v]["answer_rate"] or 0.0),
                                            -segments[v]["reachable"], v))
    return {v: segments[v] for v in order}


def _no_targets() -> dict[str, int]:
    keys = ["targets", "bounced", "undelivered", "opted_out", "suppressed", "answered", "pending", "contacted",
            "closed",
            "auto_replies", "auto_reply_messages", *(a.value for a in Answer)]
    return dict.fromkeys(keys, 0)
