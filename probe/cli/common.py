"""What every command does the same way: load the config, read --now, open the campaign."""

from __future__ import annotations

import argparse
import gc
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from probe.errors import InputError

if TYPE_CHECKING:  # heavy imports wait until a command needs them: `probe --help` stays fast
    from probe.api import Campaign
    from probe.config import Settings

T = TypeVar("T")

#: Set by probe.cli.main for a pass run as its own process (tick, run, launch, import): the cyclic
#: garbage collector stays off until the campaign is open (`collect_from_now`).
gc_waits_for_open = False


def collect_from_now() -> None:
    """Start-up is over (imports, config, engine, schema check): set aside what it built
    (gc.freeze: no collection walks it again) and turn the collector on for the pass. With the
    collector on from the start, the collections during the imports walked some 120,000 long-lived
    objects for nothing: about 0.1 s of CPU of an empty `probe tick`."""
    global gc_waits_for_open
    if gc_waits_for_open:
        gc_waits_for_open = False
        gc.freeze()
        gc.enable()


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


def with_campaign(settings: Settings, work: Callable[[Campaign], Awaitable[T]], *, read_only: bool = True,
                  check_plan: bool = False, launched: bool = True, migrate: bool = False) -> T:
    """Open the campaign through the library face (probe.api.Campaign) and run `work(campaign)` in
    one event loop. Read-only by default; only launch migrates the schema, the other commands name
    `probe db upgrade` when the database is behind."""
    import asyncio

    from probe.api import Campaign

    async def go() -> T:
        async with Campaign.open(settings, read_only=read_only, migrate=migrate, check_plan=check_plan) as campaign:
            if launched:
                campaign.service.require_campaign()
            collect_from_now()
            return await work(campaign)

    return asyncio.run(go())


def user() -> str:
    """Who is recording an answer (kept with it)."""
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"
