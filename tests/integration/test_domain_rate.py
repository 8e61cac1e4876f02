"""`smtp.domain_rate_limit` in a real pass (both engines): a recipient domain gets no more than its
rate, and a throttled domain does not hold the other domains back (its sends go back to the queue at
no cost and the claims step over it)."""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from probe.config import load_config
from probe.service.wiring import open_service
from probe.store.tables import Send
from tests.integration.test_workers_pg import TimedHandler

T0 = datetime(2015, 9, 28, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))


async def test_domain_rate_limit_spaces_one_domain_and_lets_the_others_go(campaign_factory, db_url):
    from aiosmtpd.controller import Controller

    from tests.fixtures.smtp_server import free_port

    handler = TimedHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        # 4 to slow.example (2/s allowed: ≥ 1.5 s for the 4), 8 to eight other domains.
        targets = [{"email": f"s{i}@slow.example", "prenom": "P", "nom": "N", "secteur": "x"} for i in range(4)]
        targets += [{"email": f"o{i}@other{i}.example", "prenom": "P", "nom": "N", "secteur": "x"} for i in range(8)]
        camp = campaign_factory(smtp_port=port, db_url=db_url, targets=targets, sections={
            "schedule": {"reminders": [], "close_after": "7d"}, "templates": {"reminders": []},
            "smtp": {"concurrency": 2, "domain_rate_limit": "120/min"}})
        async with open_service(load_config(camp.config)) as service:
            await service.launch(T0)
            started = time.monotonic()
            result = await service.tick(T0 + timedelta(minutes=1))
            async with service.sessions() as s:
                attempts = list((await s.execute(select(Send.attempts))).scalars())
    finally:
        controller.stop()
    assert result.sent == 12
    assert attempts == [1] * 12                  # a throttled send cost no attempt
    by_rcpt = {r.rcpt_tos[0]: t for r, t in zip(handler.received, handler.times, strict=True)}
    slow = sorted(t for rcpt, t in by_rcpt.items() if rcpt.endswith("@slow.example"))
    others = sorted(t for rcpt, t in by_rcpt.items() if not rcpt.endswith("@slow.example"))
    gaps = [b - a for a, b in itertools.pairwise(slow)]
    # 2 per second, burst 1: tokens half a second apart (arrival times carry the SMTP exchange's
    # jitter, so the check is on the span and a loose gap; unthrottled they all arrive within ~0.1 s).
    assert slow[-1] - slow[0] >= 1.2 and min(gaps) >= 0.2, gaps
    # The other domains were not held behind slow.example: all of them went before its last one.
    assert others[-1] < slow[-1]
    assert others[-1] - started < slow[-1] - started - 0.4
