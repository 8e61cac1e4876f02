"""`probe review` lists, with the unclear replies, the ones whose new text probe is unsure of (no
quote boundary found, or nothing left): a `yes` read from a text that may still hold our quoted
question deserves a look. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from probe.core.model import Answer, MessageKind, TargetState
from probe.store import review as review_store
from tests.fixtures.seed import T0, SeedReply, SeedTarget, seed_campaign, sent


def _target(email: str, answer: Answer, reasons: list[str], text: str, override: Answer | None = None) -> SeedTarget:
    at = T0 + timedelta(hours=len(email))
    reply = SeedReply(MessageKind.HUMAN_REPLY, at, answer=answer, new_text=text, reasons=reasons, deciding=True,
                      override=override)
    return SeedTarget(email, {}, TargetState.ANSWERED, sent(0), answer=answer, answered_at=at, replies=[reply])


async def test_review_lists_unsure_replies_with_the_unclear_ones(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as s:
        cid = await seed_campaign(s, "unsure", [
            _target("clear@a.example", Answer.YES, ["threaded:in-reply-to", "yes_phrase"], "Oui"),
            _target("unclear@a.example", Answer.UNCLEAR, ["threaded:in-reply-to", "no_decision"], "Je verrai"),
            _target("noboundary@a.example", Answer.YES,
                    ["threaded:in-reply-to", "yes_phrase", "echo", "unsure:boundary-none"],
                    "Oui\nSouhaitez-vous vous abonner ? Répondez OUI ou NON."),
            _target("empty@a.example", Answer.UNCLEAR, ["threaded:in-reply-to", "empty", "unsure:boundary-empty"], ""),
            _target("settled@a.example", Answer.YES, ["threaded:in-reply-to", "unsure:boundary-none"], "Oui…",
                    override=Answer.YES),
        ])
    async with sessions() as s:
        rows = await review_store.review_rows(s, cid)
        everything = await review_store.review_rows(s, cid, include_all=True)
    listed = {r["target_email"] for r in rows}
    assert listed == {"unclear@a.example", "noboundary@a.example", "empty@a.example"}
    assert len(everything) == 5
