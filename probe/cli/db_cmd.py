"""`probe db upgrade [CONFIG | --url URL]`: run the Alembic migrations."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from probe.cli.common import load
from probe.errors import InputError


def register(subparsers: Any) -> None:
    db = subparsers.add_parser("db", help="database maintenance", description="Database maintenance.")
    actions = db.add_subparsers(dest="db_action", metavar="ACTION", required=True)
    up = actions.add_parser("upgrade", help="create or migrate the database to this version of probe",
                            description="Create the tables, or migrate them to this version of probe. "
                                        "launch, tick and run do it too when needed.")
    up.add_argument("config", type=Path, nargs="?", metavar="CONFIG", help="the campaign TOML file")
    up.add_argument("--url", help="a database URL instead of a config (sqlite:///file.db, "
                                  "postgresql://user@host/db)")
    up.set_defaults(func=run_upgrade)


def run_upgrade(args: argparse.Namespace) -> int:
    from probe.store.engine import normalise_url, upgrade

    if (args.config is None) == (args.url is None):
        raise InputError("give either CONFIG or --url", field="db upgrade",
                         hint="probe db upgrade campaign.toml, or probe db upgrade --url sqlite:///probe.db")
    url = load(args.config).database.url if args.config else normalise_url(args.url)
    upgrade(url)
    print("database is up to date", file=sys.stderr)
    return 0
