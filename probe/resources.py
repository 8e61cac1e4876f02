"""Where the files that ship with probe live: migrations, templates, the example config.

In an installed wheel they sit in `probe/_data/` (force-included by pyproject.toml); in an editable
checkout they are the top-level folders of the repository. The installed location wins when both exist.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def data_dir() -> Path:
    """`probe/_data` of the installed package, else the repository top level (editable checkout)."""
    packaged = _PACKAGE_DIR / "_data"
    if packaged.is_dir():
        return packaged
    return _PACKAGE_DIR.parent


def migrations_dir() -> Path:
    return data_dir() / "migrations"


def templates_dir() -> Path:
    return data_dir() / "templates"


def example_config() -> Path:
    return data_dir() / "config.example.toml"
