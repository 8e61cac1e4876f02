"""What every command does the same way: load the config, read --now, prepare the database."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from probe.errors import InputError

if TYPE_CHECKING:  # heavy imports wait until a command needs them: `probe --help` stays fast
    from probe.config import Settings


def add_config_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", type=Path, metavar="CONFIG", help="the campaign TOML file")


def add_now_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--now", metavar="ISO", default=None,
                        help="run as if it were this time (ISO 8601; without an offset, in the campaign's "
                             "time zone); default: the real time")


def load(path: Path) -> Settings:
    from probe.config import load_config

    return load_config(path)


def parse_now(text: str | None, settings: Settings) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"--now {text!r} is not an ISO 8601 time", field="--now",
                         hint="write it like 2015-09-28T09:00 or 2015-09-28T09:00+02:00") from exc
    if value.tzinfo is None:
        from probe.core.planning import localize

        value = localize(value, settings.campaign.zone)
    return value.astimezone(UTC)


def prepare_database(settings: Settings) -> None:
    """Bring the schema to the version this probe needs (Alembic; no event loop may be running)."""
    from probe.store.engine import upgrade

    upgrade(settings.database.url)
