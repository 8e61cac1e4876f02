"""`probe report`, `replies`, `review`, `export`: the arguments. The work is in report_run, imported
only when one of these commands runs, so that `probe --help` and the other commands start fast."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from probe.cli.common import add_config_argument, add_now_argument

KINDS = ["human_reply", "auto_reply", "bounce", "delivery_delay", "read_receipt", "unknown"]


def _deferred(name: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return int(getattr(importlib.import_module("probe.cli.report_run"), name)(args))

    return run


def add_sep_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sep", metavar="SEP", default=None,
                        help="the CSV separator: ',' or ';' (or the words comma, semicolon, tab); "
                             "default: the targets file's (';' when it came from French Excel)")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "report", help="the reply-rate summary: table, JSON, CSV or HTML",
        description="The reply-rate summary of the campaign, computed in the database. table: for the "
                    "terminal; json: the figures (keys documented in DESIGN.md); csv: one row per target "
                    "with its fields and outcome; html: one self-contained page with charts.")
    add_config_argument(p)
    p.add_argument("--format", choices=("table", "json", "csv", "html"), default="table")
    p.add_argument("--by", metavar="FIELD", help="the same figures per value of a target field (a CSV column)")
    p.add_argument("--output", type=Path, metavar="FILE", help="write to FILE instead of stdout")
    add_sep_argument(p)
    p.add_argument("--lang", choices=("en", "fr"), default=None,
                   help="the language of the table and the HTML page (default: from campaign.locale, else en)")
    add_now_argument(p)
    p.set_defaults(func=_deferred("run_report"))

    p = subparsers.add_parser(
        "replies", help="list every inbound message with its kind, answer and match",
        description="Every message read for the campaign: id, received time, sender, subject, target, "
                    "kind, automatic answer, override and how it was matched.")
    add_config_argument(p)
    p.add_argument("--unmatched", action="store_true", help="only messages matched to no target")
    p.add_argument("--kind", choices=KINDS, help="only messages of this kind")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(func=_deferred("run_replies"))

    p = subparsers.add_parser(
        "review", help="confirm or correct unclear answers",
        description="Walk the unclear human replies (all human replies with --all), showing the new text "
                    "and the reasons; type y, n, u, s (skip) or q (quit). --set ID=ANSWER records an "
                    "answer without asking (ANSWER: yes, no, unclear, or clear to remove an override). "
                    "Overrides keep who and when; the automatic answer stays visible.")
    add_config_argument(p)
    p.add_argument("--set", action="append", default=[], metavar="ID=ANSWER", dest="overrides",
                   help="record ANSWER for reply ID (repeatable); nothing is asked")
    p.add_argument("--all", action="store_true", help="walk every human reply, not only unclear ones")
    p.add_argument("--sample", type=int, metavar="N",
                   help="audit the classifier: draw N human replies at random (all answers) and code them "
                        "blind, without probe's answer; the report gives the agreement (Cohen's kappa). "
                        "Sample codes measure; they change no answer")
    p.add_argument("--seed", type=int, metavar="S", help="with --sample: the random seed of the draw")
    p.add_argument("--list", action="store_true", dest="list_sample",
                   help="with --sample: print the sampled replies still to code as JSON lines, ask nothing")
    p.add_argument("--code", action="append", default=[], metavar="ID=ANSWER", dest="codes",
                   help="record a blind code for sampled reply ID (repeatable; yes, no, unclear, clear)")
    p.add_argument("--not-eligible", action="append", default=[], type=int, metavar="ID", dest="not_eligible",
                   help="rule the target of reply ID not eligible (AAPOR NE, e.g. not the person sought)")
    p.add_argument("--eligible", action="append", default=[], type=int, metavar="ID", dest="eligible",
                   help="undo --not-eligible for the target of reply ID")
    add_now_argument(p)
    p.set_defaults(func=_deferred("run_review"))

    p = subparsers.add_parser(
        "export", help="the evidence trail: sends.csv, replies.csv and the raw messages",
        description="Write DIR/sends.csv (every send with its Message-ID and the server's reply), "
                    "DIR/replies.csv (every inbound message with its SHA-256) and DIR/raw/ID.eml when "
                    "the campaign keeps message bodies.")
    add_config_argument(p)
    p.add_argument("--output", type=Path, metavar="DIR", required=True, help="the folder to write")
    add_sep_argument(p)
    p.set_defaults(func=_deferred("run_export"))
