"""The SQL behind an experiment's report: the stored assignment counted by stratum and arm, and the
arms' counts by the value of a target field (the balance check)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from probe.store.aggregates import segment_of
from probe.store.tables import Target


async def variant_names(session: AsyncSession, campaign_id: int) -> list[str]:
    rows = await session.execute(sa.select(Target.variant).where(Target.campaign_id == campaign_id,
                                                                 Target.variant.is_not(None)).distinct())
    return sorted(v for (v,) in rows if v is not None)


async def strata_counts(session: AsyncSession, campaign_id: int) -> dict[str, dict[str, int]]:
    """{stratum: {variant: targets}} of the stored assignment."""
    rows = await session.execute(
        sa.select(Target.stratum, Target.variant, sa.func.count())
        .where(Target.campaign_id == campaign_id, Target.variant.is_not(None))
        .group_by(Target.stratum, Target.variant))
    out: dict[str, dict[str, int]] = {}
    for stratum, variant, n in rows:
        out.setdefault(stratum or "", {})[str(variant)] = int(n)   # variant: not null in the query
    return out


async def field_by_variant(session: AsyncSession, campaign_id: int, field: str,
                           limit: int) -> dict[str, dict[str, int]] | None:
    """{value of `field`: {variant: targets}}; None when the field has more than `limit` values
    (a name, an email: no balance to check)."""
    value = segment_of(field)
    distinct = (await session.execute(
        sa.select(sa.func.count(sa.distinct(value))).where(Target.campaign_id == campaign_id,
                                                           Target.variant.is_not(None)))).scalar_one()
    if int(distinct) > limit:
        return None
    rows = await session.execute(
        sa.select(value, Target.variant, sa.func.count())
        .where(Target.campaign_id == campaign_id, Target.variant.is_not(None))
        .group_by(value, Target.variant))
    out: dict[str, dict[str, int]] = {}
    for v, variant, n in rows:
        out.setdefault(v, {})[str(variant)] = int(n)
    return out
