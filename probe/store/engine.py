"""Engines, sessions and the schema version: the one place that knows SQLite from PostgreSQL.

SQLite gets the setup of docs/design.md "The composition root": writers begin IMMEDIATE (so a
transaction takes the write lock up front and waits for it instead of failing on a lock upgrade),
read-only engines a deferred BEGIN; foreign keys on, WAL. The wait is locks.wait_for_lock: retried
and logged for as long as `database.busy_timeout` allows, so every store function waits without
knowing it. `upgrade` is synchronous because Alembic's async env.py calls asyncio.run(): call it
with no event loop running (from the CLI handler, or from a worker thread).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from probe import resources
from probe.core.dburl import async_driver, mask_password
from probe.errors import SchemaBehindError, StoreError
from probe.store.locks import STEP_MS, wait_for_lock

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

log = logging.getLogger("probe.store")



def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError as exc:
        # Not echoed: an unreadable URL cannot be masked and may hold a password.
        raise StoreError("cannot read database URL",
                         hint="write sqlite:///probe.db or postgresql://user@host/dbname") from exc


def normalise_url(url: str) -> str:
    """sqlite:/// → sqlite+aiosqlite:///, postgresql:// (any driver) → postgresql+asyncpg://: the
    rule of probe/core/dburl.py, the same as the config's."""
    parsed = _parse(url)
    driver = async_driver(parsed.drivername) or parsed.drivername
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def masked(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        make_url(url)
    except ArgumentError:
        return "<unreadable database URL>"
    return mask_password(url)


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # The driver's own transaction handling never BEGINs for SELECT or DDL; we issue BEGIN ourselves.
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # One short attempt per BEGIN; the retrying and the budget are in _sqlite_begin.
    cursor.execute(f"PRAGMA busy_timeout={STEP_MS}")
    # 32 MB page cache (default 2 MB): a 300,000-send launch stops spilling index pages mid-transaction.
    cursor.execute("PRAGMA cache_size=-32000")
    cursor.close()


#: How long a transaction waits for SQLite's write lock unless the config says (database.busy_timeout).
DEFAULT_BUSY_TIMEOUT_S = 300.0


def _sqlite_begin(conn: Connection) -> None:
    # One module-level listener (callers such as the report swap it for a deferred BEGIN by
    # identity); its budget rides on the engine (make_engine sets it).
    budget_s = getattr(conn.engine, "probe_busy_timeout_s", DEFAULT_BUSY_TIMEOUT_S)
    # The raw DB-API cursor: a failed attempt must not go through SQLAlchemy's error handling,
    # which would treat the half-begun transaction as broken.
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None

    def attempt() -> None:
        cursor = dbapi.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
        finally:
            cursor.close()

    wait_for_lock(attempt, budget_s=budget_s, where=masked(str(conn.engine.url)))


def _sqlite_deferred_begin(conn: Connection) -> None:
    # A deferred BEGIN reads a consistent WAL snapshot and never takes the write lock, so a report
    # on a big campaign or `probe status` (the Docker HEALTHCHECK) never blocks a `tick` writing.
    conn.exec_driver_sql("BEGIN")


def make_engine(url: str, *, read_only: bool = False,
                busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> AsyncEngine:
    """An engine for the campaign database. read_only: for commands that only read (status,
    report, replies, review listing, export): on SQLite no transaction takes the write lock. Not a
    `query_only` pragma nor PostgreSQL READ ONLY transactions: the report builds TEMP tables, which
    both refuse. PostgreSQL reads never block writers, so its engine is the same either way.
    A writing SQLite transaction waits up to busy_timeout_s for the write lock."""
    full = normalise_url(url)
    try:
        if full.startswith("sqlite"):
            # No pool_pre_ping: a connection to a local file does not go stale, and the ping was one
            # more round trip to aiosqlite's thread for every transaction (a send pass runs hundreds).
            # No reset on return either: a Connection ends its transaction when it is closed (commit
            # or rollback), so the pool's extra ROLLBACK was another round trip for nothing.
            engine = create_async_engine(full, pool_reset_on_return=None)
            event.listen(engine.sync_engine, "connect", _sqlite_connect)
            engine.sync_engine.probe_busy_timeout_s = busy_timeout_s  # type: ignore[attr-defined]
            event.listen(engine.sync_engine, "begin", _sqlite_deferred_begin if read_only else _sqlite_begin)
        elif full.startswith("postgresql+asyncpg"):
            engine = create_async_engine(full, pool_pre_ping=True,
                                         connect_args={"server_settings": {"jit": "off"}})
        else:
            engine = create_async_engine(full, pool_pre_ping=True)
    except (ArgumentError, ImportError) as exc:
        raise StoreError(f"cannot use database {masked(url)}: {exc}",
                         hint="use sqlite:///FILE or postgresql://USER@HOST/DB") from exc
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


#: What every store function takes: a sessionmaker (the function runs its own short transaction and
#: commits) or an AsyncSession (the function joins the caller's transaction; the caller commits).
Db = AsyncSession | async_sessionmaker[AsyncSession]


@asynccontextmanager
async def transaction(db: Db) -> AsyncIterator[AsyncSession]:
    """The store's one transaction convention (see `Db`)."""
    if isinstance(db, AsyncSession):
        yield db
        return
    async with db.begin() as session:
        yield session


def upsert_insert(session: AsyncSession, table: Any) -> postgresql.Insert | sqlite.Insert:
    """An INSERT that knows ON CONFLICT for this session's engine (sqlite or postgresql)."""
    # Imported here: the PostgreSQL dialect is not needed by a read on SQLite (probe status).
    from sqlalchemy.dialects import postgresql, sqlite

    name = session.bind.dialect.name if session.bind is not None else ""
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise StoreError(f"database engine {name!r} is not supported", hint="use SQLite or PostgreSQL")


def _alembic_config(url: str | None = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    # Not set_main_option("sqlalchemy.url"): ConfigParser interpolation breaks on % in passwords.
    cfg.set_main_option("script_location", str(resources.migrations_dir()))
    if url is not None:
        cfg.attributes["url"] = normalise_url(url)
    return cfg


_REVISION = re.compile(r"^revision(?:\s*:\s*[^=]+)?\s*=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN = re.compile(r"^down_revision(?:\s*:\s*[^=]+)?\s*=\s*(.+)$", re.M)


@cache
def _revision_graph() -> tuple[frozenset[str], str | None]:
    """Every known revision and the head, read from the migration files' `revision` /
    `down_revision` lines. Not Alembic's ScriptDirectory: that imports Alembic and every migration
    module, which is most of what `probe status` would cost (they run on every command)."""
    known: set[str] = set()
    parents: set[str] = set()
    for path in sorted((resources.migrations_dir() / "versions").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        rev, down = _REVISION.search(text), _DOWN.search(text)
        if rev is None:
            continue
        known.add(rev.group(1))
        if down is not None:
            parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    heads = sorted(known - parents)
    return frozenset(known), heads[0] if len(heads) == 1 else None


def head_revision() -> str:
    known, head = _revision_graph()
    if head is None:
        if not known:
            raise StoreError(f"no migrations found in {resources.migrations_dir()}",
                             hint="reinstall probe: its migrations are missing")
        from alembic.script import ScriptDirectory  # several heads: let Alembic say which

        alembic_head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
        assert alembic_head is not None
        return alembic_head
    return head


def _check_sqlite_path(url: str) -> None:
    # A failed aiosqlite connect reports from its thread after asyncio.run() has closed the loop;
    # catch the common cause first, with a clearer message.
    parsed = _parse(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    folder = Path(parsed.database).expanduser().resolve().parent
    if not folder.is_dir():
        raise StoreError(f"cannot open database {masked(url)}: folder {folder} does not exist",
                         hint=f"create {folder} or fix the [database] url")


def _new_sqlite_file(url: str) -> Path | None:
    """The SQLite file `url` names, when it does not exist yet (upgrade is about to create it)."""
    parsed = _parse(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database).expanduser()
    return None if path.exists() else path


def upgrade(url: str) -> None:
    """Bring the database to the newest schema (alembic upgrade head). No event loop may be running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("probe.store.engine.upgrade() must be called with no running event loop")
    from alembic import command

    _check_sqlite_path(url)
    new_file = _new_sqlite_file(url)
    cfg = _alembic_config(url)
    try:
        command.upgrade(cfg, "head")
    except (SQLAlchemyError, OSError) as exc:
        raise StoreError(f"cannot upgrade database {masked(url)}: {exc}",
                         hint="check that the database exists, is reachable and is writable") from exc
    if new_file is not None and new_file.exists():
        # Created by this call: the owner's alone, whatever the umask (the CLI also sets 077).
        new_file.chmod(0o600)
    log.info("database %s upgraded to %s", masked(url), head_revision())


async def current_revision(engine: AsyncEngine) -> str | None:
    """The database's schema revision (None: no probe tables). A plain SELECT of Alembic's version
    table, so reads need not import Alembic."""
    try:
        async with engine.connect() as conn:
            has_table = await conn.run_sync(lambda c: inspect(c).has_table("alembic_version"))
            if not has_table:
                return None
            row = (await conn.execute(text("SELECT version_num FROM alembic_version"))).first()
            return None if row is None else str(row[0])
    except (SQLAlchemyError, OSError) as exc:
        raise StoreError(f"cannot open database {masked(str(engine.url))}: {exc}",
                         hint="check the [database] url and that the server is running") from exc


async def check_schema(engine: AsyncEngine) -> None:
    """StoreError unless the database is at the schema this version of probe needs."""
    have = await current_revision(engine)
    need = head_revision()
    if have == need:
        return
    where = masked(str(engine.url))
    if have is not None:
        known, _ = _revision_graph()
        if have not in known:
            raise StoreError(f"database {where} is at revision {have}, newer than probe knows (needs {need})",
                             hint="upgrade probe to the version that wrote this database")
    if have is None:
        # Only `probe launch` and `probe db upgrade` create or migrate the schema.
        raise SchemaBehindError(f"database {where} has no probe tables yet (probe needs revision {need})",
                         hint="run: probe launch CONFIG (creates them), or probe db upgrade CONFIG")
    raise SchemaBehindError(f"database {where} is at revision {have}, probe needs {need}",
                     hint="run: probe db upgrade CONFIG")
