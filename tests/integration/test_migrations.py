"""Migrations are code with tests: on both engines the migrated schema equals the models, every
revision walks down to base and up again, and the schema version is checked at start-up."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from probe.errors import StoreError
from probe.store import engine as E
from probe.store.tables import Base
from tests.fixtures.db import pg_database, require_postgres

TABLES = {"campaign", "target", "send", "inbound_message", "mailbox_cursor", "suppression", "coding_sample",
          "target_eligibility", "test_send", "worker", "rate_bucket", "mailbox_lease", "wakeup_signal"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    require_postgres()
    with pg_database() as url:
        yield url


async def schema_diff(engine: AsyncEngine) -> list[object]:
    def diff(conn: object) -> list[object]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})  # type: ignore[arg-type]
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as conn:
        return await conn.run_sync(diff)


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def test_upgrade_matches_models_and_walks_down_and_up(empty_url: str) -> None:
    engine = E.make_engine(empty_url)
    try:
        with pytest.raises(StoreError, match="probe db upgrade"):
            await E.check_schema(engine)
        await asyncio.to_thread(E.upgrade, empty_url)
        await asyncio.to_thread(E.upgrade, empty_url)     # idempotent
        assert await schema_diff(engine) == []
        await E.check_schema(engine)
        assert await E.current_revision(engine) == E.head_revision()
        await asyncio.to_thread(command.downgrade, E._alembic_config(empty_url), "base")
        assert await table_names(engine) == {"alembic_version"}
        assert await E.current_revision(engine) is None
        await asyncio.to_thread(E.upgrade, empty_url)
        assert await table_names(engine) == TABLES | {"alembic_version"}
        assert await schema_diff(engine) == []
    finally:
        await engine.dispose()


async def test_check_schema_names_a_newer_database(db_url: str) -> None:
    engine = E.make_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = 'fffffff'"))
        with pytest.raises(StoreError, match="newer than probe knows") as info:
            await E.check_schema(engine)
        assert info.value.hint and "upgrade probe" in info.value.hint
    finally:
        await engine.dispose()


async def test_sqlite_engine_enforces_foreign_keys_and_uses_wal(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fk.db'}"
    await asyncio.to_thread(E.upgrade, url)
    engine = E.make_engine(url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO mailbox_cursor (campaign_id, mailbox, uidvalidity, last_uid,"
                                        " updated_at) VALUES (42, 'x', 1, 0, '2026-01-01 00:00:00.000000')"))
    finally:
        await engine.dispose()


def test_upgrade_failure_names_the_url_without_its_password(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as info:
        E.upgrade("postgresql://probe:s3cret@127.0.0.1:9/nowhere")
    assert "127.0.0.1:9/nowhere" in str(info.value) and "s3cret" not in str(info.value)
    assert info.value.hint
    with pytest.raises(StoreError, match="missing-dir does not exist"):
        E.upgrade(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    (tmp_path / "not-a-db").write_bytes(b"garbage" * 1000)
    with pytest.raises(StoreError, match="cannot upgrade database sqlite"):
        E.upgrade(f"sqlite:///{tmp_path / 'not-a-db'}")


async def test_upgrade_refuses_a_running_loop(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="no running event loop"):
        E.upgrade(f"sqlite:///{tmp_path / 'x.db'}")


def test_normalise_url() -> None:
    assert E.normalise_url("sqlite:///probe.db") == "sqlite+aiosqlite:///probe.db"
    assert E.normalise_url("sqlite:////abs/probe.db") == "sqlite+aiosqlite:////abs/probe.db"
    assert E.normalise_url("postgresql://u:p%40ss@h:5433/db") == "postgresql+asyncpg://u:p%40ss@h:5433/db"
    assert E.normalise_url("postgres://h/db") == "postgresql+asyncpg://h/db"
    # the config's rule (probe/core/dburl.py): probe ships asyncpg only, so every driver maps to it
    assert E.normalise_url("postgresql+psycopg://h/db") == "postgresql+asyncpg://h/db"
    assert E.masked("postgresql://u:secret@h/db") == "postgresql://u:***@h/db"
    with pytest.raises(StoreError, match="cannot read database URL"):
        E.normalise_url("not a url")


@pytest.mark.postgres
async def test_pg_upgrade_with_percent_in_password() -> None:
    require_postgres()
    from tests.fixtures.db import pg_database, psql

    role = f"probe_pw_{secrets.token_hex(4)}"
    psql(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD 'p%w@d'")
    try:
        with pg_database() as db_url:
            # The server trusts local connections, so the password is only carried, not checked:
            # what matters is that Alembic does not choke on the % in the URL.
            url = db_url.replace("postgres@", f"{role}:p%25w%40d@")
            await asyncio.to_thread(E.upgrade, url)
    finally:
        psql(f"DROP ROLE IF EXISTS {role}")   # after its database is gone
