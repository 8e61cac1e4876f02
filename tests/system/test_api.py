"""The library face (probe.api) and the CLI give the same answers on one campaign, and reads
through it are read-only: they never wait for the write lock and never migrate."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from datetime import datetime
from pathlib import Path

import pytest

from probe.api import Campaign
from probe.cli.campaign_cmd import _status_json
from probe.errors import InputError, SchemaBehindError
from tests.system.test_report_cli import NOW, config, probe_cli  # noqa: F401  (fixtures)

WHEN = datetime.fromisoformat(NOW)


def test_the_cli_and_the_api_give_the_same_report(config: Path, probe_cli) -> None:  # noqa: F811
    code, out, err = probe_cli("report", config, "--format", "json", "--now", NOW)
    assert code == 0, err

    async def api() -> str:
        async with Campaign.open(config) as campaign:
            return await campaign.report_json(WHEN)

    assert asyncio.run(api()) == out


def test_the_cli_and_the_api_give_the_same_status(config: Path, probe_cli) -> None:  # noqa: F811
    code, out, err = probe_cli("status", config, "--format", "json", "--now", NOW)
    assert code in (0, 1), err
    cli = json.loads(out)
    cli.pop("workers")

    async def api() -> dict:
        async with Campaign.open(config) as campaign:
            return json.loads(json.dumps(_status_json(await campaign.status(WHEN)), default=str))

    assert asyncio.run(api()) == cli


def test_the_api_replies_are_the_cli_replies(config: Path, probe_cli) -> None:  # noqa: F811
    code, out, _ = probe_cli("replies", config, "--format", "json")
    assert code == 0

    async def api() -> list[int]:
        async with Campaign.open(config) as campaign:
            return [row["id"] for row in await campaign.replies()]

    assert asyncio.run(api()) == [r["id"] for r in json.loads(out)]


def test_a_read_only_campaign_refuses_a_pass(config: Path) -> None:  # noqa: F811
    async def api() -> None:
        async with Campaign.open(config) as campaign:
            await campaign.tick(WHEN)

    with pytest.raises(InputError, match="read-only"):
        asyncio.run(api())


def test_status_reads_while_a_pass_holds_the_write_lock(config: Path, probe_cli) -> None:  # noqa: F811
    # `probe status` is the Docker HEALTHCHECK: it must not queue behind a long pass.
    writer = sqlite3.connect(config.parent / "probe.db", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE campaign SET last_pass_at = NULL")
        started = time.monotonic()
        code, out, err = probe_cli("status", config, "--format", "json", "--now", NOW)
        assert code in (0, 1), err
        assert json.loads(out)["targets"]
        assert time.monotonic() - started < 8, "status waited for the writer's lock"
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_reads_do_not_migrate_and_name_db_upgrade(config: Path, probe_cli) -> None:  # noqa: F811
    db = config.parent / "probe.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    for command in (["status"], ["report", "--format", "json"], ["replies"]):
        code, _, err = probe_cli(*command[:1], config, *command[1:])
        assert code == 2, (command, err)
        assert "probe db upgrade" in err and "Traceback" not in err
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)

    async def api() -> None:
        async with Campaign.open(config):
            pass

    with pytest.raises(SchemaBehindError, match="probe db upgrade"):
        asyncio.run(api())
