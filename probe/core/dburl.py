"""Database URL rules shared by the config (which validates `[database] url`) and the store
(which builds the engine and `probe db upgrade --url`): one home, so the two cannot disagree.

probe depends on two drivers only, aiosqlite and asyncpg; every spelling of a SQLite or PostgreSQL
URL is rewritten to them (a `postgresql+psycopg://` URL would otherwise need a driver that is not
installed)."""

from __future__ import annotations

import re

SQLITE_SCHEMES = frozenset({"sqlite", "sqlite+aiosqlite", "sqlite+pysqlite"})
POSTGRES_SCHEMES = frozenset({"postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2",
                              "postgresql+asyncpg", "postgresql+pg8000"})
SQLITE_DRIVER = "sqlite+aiosqlite"
POSTGRES_DRIVER = "postgresql+asyncpg"


def async_driver(scheme: str) -> str | None:
    """The async driver probe uses for a URL scheme, or None when probe does not support it."""
    scheme = scheme.lower()
    if scheme in SQLITE_SCHEMES:
        return SQLITE_DRIVER
    if scheme in POSTGRES_SCHEMES:
        return POSTGRES_DRIVER
    return None


_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")


def mask_password(url: str) -> str:
    """The URL with its password shown as ***, for messages, logs and repr()."""
    return _PASSWORD.sub(r"\1***@", url)
