"""The `probe` command: parse the arguments, run one command, turn errors into text and exit codes.

Each command group lives in its own module with a `register(subparsers)` function. Errors are
translated here and only here: bad input → exit 2 with the file, the field and the fix; a problem
found (a dead server, uncertain sends) → exit 1; never a traceback unless --debug."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from probe import __version__
from probe.errors import InputError, ProbeError, SchemaBehindError
from probe.logs import redact, setup_logging

COMMAND_MODULES = (
    "probe.cli.init_cmd",
    "probe.cli.campaign_cmd",
    "probe.cli.report_cmd",
    "probe.cli.classify_cmd",
    "probe.cli.db_cmd",
    "probe.cli.demo_cmd",
    "probe.cli.check_cmd",
    "probe.cli.preview_cmd",
)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show debug logs and tracebacks")
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="show what each pass does (on stderr)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="probe", description="Measure whether, and how fast, people answer email.",
        epilog="Start with `probe demo`, then `probe init DIR` for a campaign of your own.")
    parser.add_argument("--version", action="version", version=f"probe {__version__}")
    _add_common(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    for sub in list(subparsers.choices.values()):
        _add_common_recursive(sub)
    return parser


def _add_common_recursive(parser: argparse.ArgumentParser) -> None:
    if not any("--debug" in a.option_strings for a in parser._actions):
        _add_common(parser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _add_common_recursive(child)


#: Every file and folder probe creates — the SQLite database and its -wal/-shm, raw messages,
#: exports, reports — is the owner's alone (0600 / 0700), whatever umask the user's shell has:
#: they hold names, addresses and replies of real people.
PRIVATE_UMASK = 0o077


def main(argv: Sequence[str] | None = None) -> int:
    previous = os.umask(PRIVATE_UMASK)
    try:
        return _main(argv)
    finally:
        os.umask(previous)   # a caller running probe in-process (tests) keeps its own umask


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = getattr(args, "debug", False)
    setup_logging(verbose=getattr(args, "verbose", False), debug=debug)
    try:
        return int(args.func(args) or 0)
    except (InputError, SchemaBehindError) as exc:
        if debug:
            raise
        print(redact(f"probe {args.command}: error: {exc}"), file=sys.stderr)
        return 2
    except ProbeError as exc:
        if debug:
            raise
        print(redact(f"probe {args.command}: {exc}"), file=sys.stderr)
        return 1
    except BrokenPipeError:
        # `probe replies … | head` closed the pipe: not an error, and nothing more to print.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        print(redact(f"probe {args.command}: internal error: {type(exc).__name__}: {exc}\n"
                     "  run the same command with --debug for the traceback, and please report it"),
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
