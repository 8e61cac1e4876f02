"""The config and the store read a database URL by one rule (probe/core/dburl.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe.config import DatabaseConfig, normalise_database_url
from probe.store.engine import masked, normalise_url


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgres://u@h/db", "postgresql+psycopg://u@h/db",
                                 "postgresql+psycopg2://u@h/db", "postgresql+asyncpg://u@h/db",
                                 "sqlite:////abs/probe.db", "sqlite+pysqlite:////abs/probe.db"])
def test_config_and_store_pick_the_same_driver(url: str) -> None:
    from_config = normalise_database_url(url, Path("/"))
    assert normalise_url(url).split("://")[0] == from_config.split("://")[0]
    assert from_config.split("://")[0] in ("postgresql+asyncpg", "sqlite+aiosqlite")


def test_config_and_store_mask_the_password_alike() -> None:
    url = "postgresql://probe:s3cr%40t@db.example:5432/probe"
    shown = DatabaseConfig.model_validate({"url": url}).display_url
    assert "s3cr" not in shown and "s3cr" not in masked(url)
    assert masked(url) == shown.replace("postgresql+asyncpg", "postgresql")
