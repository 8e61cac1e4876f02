"""`probe classify [--json] FILE...`: what probe makes of each message file, without a campaign.

One result per file in argument order. Exit 0 whatever the messages hold (what cannot be parsed is
`unknown`); a missing or unreadable file is bad input (exit 2), checked before anything is printed."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from probe.errors import InputError

if TYPE_CHECKING:  # the classifier loads its word lists: only when this command runs
    from probe.core.message import ParsedMessage
    from probe.core.model import Classification


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "classify", help="classify message files (.eml): kind, answer, new text",
        description="Print the kind (human_reply, auto_reply, bounce, delivery_delay, read_receipt, unknown), "
                    "the answer of a human reply and the new text that decided it, for each FILE.")
    parser.add_argument("--json", action="store_true", help="one JSON object per file, one per line")
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="a message file (RFC 822, .eml)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from probe.core.classify import classify_bytes

    raws: list[bytes] = []
    for path in args.files:
        raws.append(_read(path))
    for path, raw in zip(args.files, raws, strict=True):
        msg, result = classify_bytes(raw)
        record = to_record(str(path), msg, result)
        if args.json:
            print(json.dumps(record, ensure_ascii=False))
        else:
            print(_line(record))
        sys.stdout.flush()
    return 0


def _read(path: Path) -> bytes:
    if not path.exists():
        raise InputError("no such file", file=str(path), hint="check the path, or list the files with `ls`")
    if path.is_dir():
        raise InputError("is a directory, not a message file", file=str(path),
                         hint="pass the message files themselves, e.g. DIR/*.eml")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot be read: {exc.strerror or exc}", file=str(path),
                         hint="check the file's permissions") from exc


def to_record(file: str, msg: ParsedMessage, result: Classification) -> dict[str, Any]:
    """The JSON object of one classified file (stable keys; values as DESIGN.md names them)."""
    return {
        "file": file,
        "kind": result.kind.value,
        "answer": result.answer.value if result.answer is not None else None,
        "opt_out": result.opt_out,
        "new_text": result.new_text,
        "reasons": list(result.reasons),
        "failed_recipients": list(result.failed_recipients),
        "original_message_ids": list(result.original_message_ids),
        "return_date": result.return_date.isoformat() if result.return_date else None,
        "status": result.status,
        "from": msg.from_addr,
        "subject": msg.subject,
        "message_id": msg.message_id,
        "extra": dict(result.extra),
    }


def _line(record: dict[str, Any]) -> str:
    parts = [f"{record['file']}: {record['kind']}"]
    if record["answer"]:
        parts.append(record["answer"] + (" opt-out" if record["opt_out"] else ""))
    if record["failed_recipients"]:
        parts.append("failed " + ", ".join(record["failed_recipients"][:3]))
    if record["status"]:
        parts.append(f"status {record['status']}")
    if record["return_date"]:
        parts.append(f"back {record['return_date']}")
    parts.append("(" + ", ".join(record["reasons"]) + ")")
    if record["new_text"]:
        text = " ".join(record["new_text"].split())
        parts.append(repr(text[:80] + ("…" if len(text) > 80 else "")))
    return "  ".join(parts)
