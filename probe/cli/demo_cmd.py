"""`probe demo [--keep DIR] [--seed N]`: the founding case end to end on embedded servers, in seconds."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEFAULT_SEED = 2015


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "demo", help="the founding case end to end on embedded servers, in seconds",
        description="Replay the founding case (50 customer-relations directors asked to answer OUI or NON, "
                    "three emails between 28 September and 10 October 2015) with simulated time, through "
                    "probe's real code: an embedded SMTP server receives the emails, simulated directors "
                    "answer (or not) over an embedded IMAP server. No network, nothing to set up. Prints "
                    "the report table and writes the HTML report.")
    p.add_argument("--keep", type=Path, metavar="DIR", default=None,
                   help="keep the campaign (config, templates, targets, database, an mbox copy of the "
                        "mailbox) and the HTML report in DIR, a new or empty folder, for `probe report`, "
                        "`probe replies` and `probe review`")
    p.add_argument("--seed", type=int, metavar="N", default=DEFAULT_SEED,
                   help=f"vary who answers, when, what and from which mail client (default {DEFAULT_SEED})")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from probe.demo.run import run_demo

    return run_demo(seed=args.seed, keep=args.keep)
