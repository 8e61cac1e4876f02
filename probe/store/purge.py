"""Deleting a campaign and everything it stored (GDPR: the right to erasure).

The suppression list is kept on purpose: it is what stops a later campaign from writing again to
someone who asked to be left alone. `forget_suppressed` removes those entries too when asked."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from probe.store.tables import Campaign, InboundMessage, MailboxCursor, Send, Suppression, Target, TestSend


async def purge_campaign(session: AsyncSession, campaign_id: int, *, forget_suppressed: bool = False
                         ) -> dict[str, int]:
    """Delete the campaign's messages, sends, targets, cursors and the campaign; return the counts."""
    counts: dict[str, int] = {}
    async with session.begin():
        for name, table in (("messages", InboundMessage), ("sends", Send), ("cursors", MailboxCursor)):
            counts[name] = (await session.execute(
                select(func.count()).select_from(table).where(table.campaign_id == campaign_id))).scalar_one()
            await session.execute(delete(table).where(table.campaign_id == campaign_id))
        if forget_suppressed:
            result = await session.execute(delete(Suppression).where(Suppression.campaign_id == campaign_id))
            counts["suppressed"] = result.rowcount or 0  # type: ignore[attr-defined]
        counts["targets"] = (await session.execute(
            select(func.count()).select_from(Target).where(Target.campaign_id == campaign_id))).scalar_one()
        await session.execute(delete(Target).where(Target.campaign_id == campaign_id))
        # The messages `probe send-test` sent (to the user's own address, for one of the targets).
        campaign_name = select(Campaign.name).where(Campaign.id == campaign_id).scalar_subquery()
        result = await session.execute(delete(TestSend).where(TestSend.campaign_name == campaign_name))
        counts["test sends"] = result.rowcount or 0  # type: ignore[attr-defined]
        await session.execute(delete(Campaign).where(Campaign.id == campaign_id))
    return counts
