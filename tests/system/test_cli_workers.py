"""`probe status` lists the processes working on the campaign: the live ones with their last pass, and
the ones that stopped answering (no heartbeat lately), in the table and under `workers` in JSON."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

from probe.store import workers as W
from probe.store.engine import make_engine, make_sessionmaker
from tests.fixtures.campaign import CampaignDir
from tests.system.test_cli_campaign import probe


async def register_two(db_url: str) -> None:
    """One worker heartbeating now, one whose last heartbeat was an hour ago (SIGKILLed)."""
    engine = make_engine(db_url)
    try:
        sessions = make_sessionmaker(engine)
        now = datetime.now(UTC)
        a = await W.register(sessions, campaign_id=1, kind="run", host="alpha", pid=11, owner="alpha:11:x",
                             now=now - timedelta(minutes=10))
        await W.heartbeat(sessions, a, now, passed=True)
        await W.register(sessions, campaign_id=1, kind="run", host="beta", pid=22, owner="beta:22:y",
                         now=now - timedelta(hours=1))
        c = await W.register(sessions, campaign_id=1, kind="tick", host="alpha", pid=33, owner="alpha:33:z", now=now)
        await W.stop(sessions, c, now)
    finally:
        await engine.dispose()


def test_status_lists_live_and_silent_workers(campaign_factory, smtp_server, db_url):
    camp: CampaignDir = campaign_factory(smtp_port=smtp_server.port, db_url=db_url)
    assert probe("launch", camp.config).returncode == 0
    r = probe("status", camp.config, "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["workers"] == {"live": [], "silent": []}

    asyncio.run(register_two(db_url))
    r = probe("status", camp.config, "--format", "json")
    assert r.returncode == 0, r.stderr
    workers = json.loads(r.stdout)["workers"]
    assert [(w["host"], w["pid"], w["kind"]) for w in workers["live"]] == [("alpha", 11, "run")]
    assert workers["live"][0]["last_pass_at"] is not None
    assert [(w["host"], w["pid"]) for w in workers["silent"]] == [("beta", 22)]     # the stopped tick is gone

    r = probe("status", camp.config)
    assert r.returncode == 0, r.stderr
    live, silent = r.stdout.split("NOT ANSWERING")
    assert "processes:" in live and "run  alpha pid 11" in live and "beta" not in live
    assert "run  beta pid 22" in silent and "last pass none yet" in silent
