"""Fixtures of the reliability suite: a fresh SQLite file at head (the lock tests are SQLite's)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    path = tmp_path / "probe.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


def targets(count: int, domain: str = "client.example.com") -> list[dict[str, str]]:
    return [{"email": f"d{i}@{domain}", "prenom": f"P{i}", "nom": f"N{i}", "secteur": "x"} for i in range(count)]
