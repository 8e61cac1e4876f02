"""The library face (probe.api) and the CLI give the same answers on one campaign (status, report
in every format, replies, review, overrides, export), and reads through it are read-only: they
never wait for the write lock and never migrate."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from probe.api import Campaign
from probe.cli.campaign_cmd import _status_json
from probe.core.model import Answer
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


def test_the_cli_and_the_api_give_the_same_table_and_csv(config: Path, probe_cli, tmp_path: Path) -> None:  # noqa: F811
    code, table, err = probe_cli("report", config, "--format", "table", "--by", "Sector", "--now", NOW)
    assert code == 0, err
    code, _, err = probe_cli("report", config, "--format", "csv", "--output", tmp_path / "r.csv", "--now", NOW)
    assert code == 0, err

    async def api() -> tuple[str, str]:
        async with Campaign.open(config) as campaign:
            out = io.StringIO()
            rows = await campaign.write_report_csv(out)
            assert rows == out.getvalue().count("\r\n") - 1 > 0
            return await campaign.report_table(WHEN, by="Sector"), out.getvalue()

    api_table, api_csv = asyncio.run(api())
    assert api_table == table and "sector" in table.lower()
    assert api_csv == (tmp_path / "r.csv").read_bytes().decode("utf-8-sig")


def test_the_cli_review_lists_the_api_review(config: Path, probe_cli, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setattr("builtins.input", lambda: "s")   # skip each reply: the walk lists them all
    code, _, err = probe_cli("review", config)
    assert code == 0, err
    listed = [int(line.split()[2]) for line in err.splitlines() if line.startswith("[") and "] reply " in line]

    async def api() -> list[int]:
        async with Campaign.open(config) as campaign:
            return [row["id"] for row in await campaign.review(limit=None)]

    assert listed and asyncio.run(api()) == listed


def test_an_override_through_the_api_is_what_the_cli_reports(config: Path, probe_cli) -> None:  # noqa: F811
    _, before, _ = probe_cli("report", config, "--format", "json", "--now", NOW)

    async def override() -> tuple[int, str]:
        async with Campaign.open(config, read_only=False) as campaign:
            (first, *_) = await campaign.review()
            (done,) = await campaign.override([(first["id"], Answer.NO)], by="tester", at=WHEN)
            assert done["deciding"] and done["override"] is Answer.NO
            with pytest.raises(InputError, match="no reply with id 999999"):
                await campaign.override([(first["id"], Answer.YES), (999999, Answer.YES)], by="tester", at=WHEN)
            return first["id"], await campaign.report_json(WHEN)

    ident, api_report = asyncio.run(override())
    _, after, _ = probe_cli("report", config, "--format", "json", "--now", NOW)
    assert after == api_report != before
    assert json.loads(after)["answers"]["no"] == json.loads(before)["answers"]["no"] + 1
    _, out, _ = probe_cli("replies", config, "--format", "json")
    (row,) = [r for r in json.loads(out) if r["id"] == ident]
    assert (row["override"], row["override_by"]) == ("no", "tester"), "the failed batch recorded nothing"


def test_the_cli_and_the_api_export_the_same_files(config: Path, probe_cli, tmp_path: Path) -> None:  # noqa: F811
    code, _, err = probe_cli("export", config, "--output", tmp_path / "cli")
    assert code == 0, err

    async def api() -> Any:
        async with Campaign.open(config) as campaign:
            return await campaign.export(tmp_path / "api")

    done = asyncio.run(api())
    assert f"exported {done.sends} sends, {done.replies} replies and {done.raw_files} raw messages" in err

    def files(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}

    cli, lib = files(tmp_path / "cli"), files(tmp_path / "api")
    assert cli == lib and len(cli) == 2 + done.raw_files and done.replies == 17
