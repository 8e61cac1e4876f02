"""The `probe` command: parse the arguments, run one command, turn errors into text and exit codes.

Each command group lives in its own module with a `register(subparsers)` function. Errors are
translated here and only here: bad input → exit 2 with the file, the field and the fix; a problem
found (a dead server, uncertain sends) → exit 1; never a traceback unless --debug."""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence

from probe import __version__
from probe.errors import InputError, ProbeError, SchemaBehindError
from probe.logs import redact, setup_logging

#: Which module registers each command, in `probe --help` order. A command line that names one
#: imports only that module: `probe status` must cost about the interpreter's start-up, so it must
#: not pay for Jinja2, the classifier or the preview's mail modules. tests/unit/test_startup.py
#: checks that this table and the modules' `register` functions agree.
COMMANDS: dict[str, str] = {
    "init": "probe.cli.init_cmd",
    **dict.fromkeys(("validate", "launch", "tick", "run", "status", "import", "resolve", "purge"),
                    "probe.cli.campaign_cmd"),
    **dict.fromkeys(("report", "replies", "review", "export"), "probe.cli.report_cmd"),
    "classify": "probe.cli.classify_cmd",
    "db": "probe.cli.db_cmd",
    "demo": "probe.cli.demo_cmd",
    "check": "probe.cli.check_cmd",
    "send-test": "probe.cli.preview_cmd",
}
COMMAND_MODULES = tuple(dict.fromkeys(COMMANDS.values()))


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show debug logs and tracebacks")
    parser.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="show what each pass does (on stderr)")


def chosen_command(argv: Sequence[str]) -> str | None:
    """The command a command line names, if it is one probe knows (the global options take no value,
    so it is the first word that is not an option). None when the top-level parser answers itself
    (`probe -h status` is the list of every command)."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
        if word in ("--", "-h", "--help", "--version"):
            return None
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser; with `command`, only the module that registers that command is imported
    (the other commands are missing from it: use it to parse a line that names `command`)."""
    parser = argparse.ArgumentParser(
        prog="probe", description="Measure whether, and how fast, people answer email.",
        epilog="Start with `probe demo`, then `probe init DIR` for a campaign of your own.")
    parser.add_argument("--version", action="version", version=f"probe {__version__}")
    _add_common(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES if command is None else (COMMANDS[command],):
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


#: Commands that only read: they run with the cyclic garbage collector off from start to exit (see
#: `main`). Their work is a fixed number of queries, so the cycles they leave behind are a few per
#: query; the row streams (`report --format csv`, `replies`) free their rows by reference counting.
READ_COMMANDS = frozenset({"status", "report", "replies"})
#: Passes: their handlers open the campaign (common.with_campaign) before any work, so the collector
#: turns on there, after the imports and the opening.
PASS_COMMANDS = frozenset({"tick", "run", "launch", "import"})


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. argv None: the process's own command line — the console script and `python
    -m probe`, which own the process and may tune its garbage collector; a caller passing argv
    (tests, a program embedding probe) keeps its own."""
    owns_process = argv is None
    if owns_process:
        # Start-up creates some 120,000 objects that live as long as the process (modules, classes,
        # SQLAlchemy's and pydantic's structures). Every full collection during the imports walks all
        # of them and frees none: about a sixth of `probe status`'s CPU. So none while starting.
        gc.disable()
    previous = os.umask(PRIVATE_UMASK)
    try:
        return _main(sys.argv[1:] if argv is None else argv, owns_process=owns_process)
    finally:
        os.umask(previous)   # a caller running probe in-process (tests) keeps its own umask
        if owns_process:
            # The interpreter's exit would walk everything once more (another sixth) to free what the
            # OS frees anyway.
            gc.freeze()


def _main(argv: Sequence[str], *, owns_process: bool = False) -> int:
    # Anything else (--help, --version, a misspelt command) gets the whole parser and its messages.
    parser = build_parser(chosen_command(argv))
    args = parser.parse_args(argv)
    if owns_process and args.command not in READ_COMMANDS:
        # The other commands collect as usual once started; what start-up built is set aside
        # (frozen), so their collections never walk it again. The passes start once their campaign
        # is open (their imports, the config and the engine are start-up too): common.with_campaign.
        if args.command in PASS_COMMANDS:
            from probe.cli import common

            common.gc_waits_for_open = True
        else:
            gc.freeze()
            gc.enable()
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
