"""`probe report`, `probe replies`, `probe review` and `probe export`: reading a campaign's results.

Each command loads the config, opens the campaign through probe.api (read-only where it only
reads; no migration), calls it, and prints. Machine output goes to stdout (or --output); notes go
to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from probe import csvout
from probe.cli.common import load, parse_now, user, with_campaign
from probe.core.model import Answer
from probe.errors import InputError
from probe.report import render

if TYPE_CHECKING:
    from probe.api import Campaign

ANSWER_KEYS = {"y": Answer.YES, "yes": Answer.YES, "n": Answer.NO, "no": Answer.NO,
               "u": Answer.UNCLEAR, "unclear": Answer.UNCLEAR}


# ---------------------------------------------------------------- plumbing

def _open_output(path: Path | None, *, encoding: str = "utf-8") -> TextIO:
    if path is None:
        return sys.stdout
    try:
        return path.open("w", encoding=encoding, newline="")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}", field="--output",
                         hint="give a file in an existing, writable folder") from exc


def _finish(out: TextIO, path: Path | None, what: str) -> None:
    if path is None:
        out.flush()
        return
    out.close()
    print(f"{what} written to {path}", file=sys.stderr)


# ---------------------------------------------------------------- report

def run_report(args: argparse.Namespace) -> int:
    settings = load(args.config)
    now = parse_now(args.now, settings)
    sep = parse_sep(args.sep) if args.format == "csv" else None
    if args.format == "csv" and args.by is not None:
        print("note: --by is ignored by --format csv (every row has every field)", file=sys.stderr)
    if args.format != "csv" and args.sep is not None:
        print("note: --sep only applies to --format csv", file=sys.stderr)

    # CSV for Excel users gets a BOM in a file (Excel reads UTF-8 correctly only with one).
    out = _open_output(args.output, encoding="utf-8-sig" if args.format == "csv" else "utf-8")

    async def work(campaign: Campaign) -> None:
        if args.format == "csv":   # streamed, chunk by chunk
            await campaign.write_report_csv(out, sep=sep)
        elif args.format == "json":
            out.write(await campaign.report_json(now, by=args.by))
        elif args.format == "table":
            out.write(await campaign.report_table(now, by=args.by, lang=args.lang))
        else:
            out.write(await campaign.report_html(now, by=args.by, lang=args.lang))

    try:
        with_campaign(settings, work, launched=False)   # an unknown campaign: the report's own error
    except BaseException:
        if args.output is not None:
            out.close()
        raise
    _finish(out, args.output, f"{args.format} report")
    return 0


def parse_sep(sep: str | None) -> str | None:
    """`--sep` as a separator; None when not given (the targets file's own is used)."""
    try:
        return csvout.parse_sep(sep)
    except ValueError as exc:
        raise InputError(str(exc), field="--sep", hint="write --sep ';' for French Excel, --sep ',' otherwise"
                         ) from None


# ---------------------------------------------------------------- replies

REPLY_COLUMNS = ["id", "received_at", "sender", "subject", "target_email", "kind", "answer", "override",
                 "override_by", "match_method"]


def _reply_record(row: dict[str, Any]) -> dict[str, Any]:
    def value(v: Any) -> Any:
        return v.isoformat() if isinstance(v, datetime) else (None if v is None else str(v) if not
                                                               isinstance(v, int) else v)
    return {
        "id": row["id"], "received_at": value(row["received_at"]), "sender": row["sender"],
        "subject": row["subject"], "target_email": row["target_email"], "kind": value(row["kind"]),
        "answer": value(row["answer"]), "override": value(row["override_answer"]),
        "override_by": row["override_by"], "match_method": value(row["match_method"]),
        "authenticity": row.get("authenticity"), "auth": auth_summary(row.get("authenticity")),
    }


def auth_summary(auth: Any) -> str:
    """"dmarc=pass", "dkim=pass", "spf=fail"…: the strongest verdict the receiving server gave."""
    if not isinstance(auth, dict):
        return ""
    for method in ("dmarc", "dkim", "spf"):
        if auth.get(method):
            return f"{method}={auth[method]}"
    return f"dkim={auth['dkim_verified']}" if auth.get("dkim_verified") else ""


def _cell(value: Any, width: int) -> str:
    text = "-" if value in (None, "") else " ".join(render.printable(str(value)).split())
    return (text if len(text) <= width else text[:width - 1] + "…").ljust(width)


def run_replies(args: argparse.Namespace) -> int:
    settings = load(args.config)
    zone = settings.campaign.zone
    widths = {"id": 6, "received_at": 20, "sender": 28, "subject": 32, "target_email": 28, "kind": 14,
              "answer": 8, "override": 8, "match_method": 16, "auth": 12}
    out = sys.stdout

    async def work(campaign: Campaign) -> int:
        count = 0
        if args.format == "json":
            out.write("[")
        else:
            out.write("  ".join(_cell(c, w) for c, w in widths.items()).rstrip() + "\n")
        async for row in campaign.stream_replies(unmatched=args.unmatched, kind=args.kind):
            record = _reply_record(row)
            count += 1
            if args.format == "json":
                out.write(("\n" if count == 1 else ",\n") + json.dumps(record, ensure_ascii=False))
            else:
                # The table is for a person: the campaign's wall-clock time, to the minute.
                received = row["received_at"]
                record["received_at"] = (received.astimezone(zone).strftime("%Y-%m-%d %H:%M")
                                         if isinstance(received, datetime) else "")
                out.write("  ".join(_cell(record[c], w) for c, w in widths.items()).rstrip() + "\n")
        return count

    count = with_campaign(settings, work)
    if args.format == "json":
        out.write("\n]\n" if count else "]\n")
    else:
        print(f"{count} message(s)", file=sys.stderr)
    return 0


# ---------------------------------------------------------------- review

def _parse_set(text: str, field: str = "--set") -> tuple[int, Answer | None]:
    ident, sep, answer = text.partition("=")
    key = answer.strip().lower()
    if not sep or not ident.strip().isdigit() or (key not in ANSWER_KEYS and key != "clear"):
        raise InputError(f"{field} {text!r} is not ID=ANSWER", field=field,
                         hint=f"write it like {field} 12=yes (answers: yes, no, unclear, clear); "
                              "ids are listed by: probe replies CONFIG")
    return int(ident), None if key == "clear" else ANSWER_KEYS[key]


def run_review(args: argparse.Namespace) -> int:
    settings = load(args.config)
    decisions = [_parse_set(s) for s in args.overrides]
    codes = [_parse_set(s, field="--code") for s in getattr(args, "codes", [])]
    now = parse_now(args.now, settings)
    who = user()
    sample = getattr(args, "sample", None)
    if sample is not None and sample < 1:
        raise InputError(f"--sample {sample} is not a number of replies", field="--sample",
                         hint="give how many replies to draw, like --sample 50")
    if sample is None and (args.seed is not None or args.list_sample):
        raise InputError("--seed and --list go with --sample", field="--sample",
                         hint="write it like: probe review CONFIG --sample 50 --seed 1")
    rulings = [*((i, True) for i in getattr(args, "not_eligible", [])),
               *((i, False) for i in getattr(args, "eligible", []))]
    if rulings:
        for ident, email, ruling in _writing(settings, lambda c: c.set_eligibility(rulings, by=who, at=now)):
            print(f"target {email} (reply {ident}): {'not eligible (NE)' if ruling else 'eligible again'}",
                  file=sys.stderr)
        if not (decisions or codes or sample is not None):
            return 0
    if decisions:
        for done in _writing(settings, lambda c: c.override(decisions, by=who, at=now)):
            _say_done(done)
        if not (sample is not None or codes):
            return 0
    if sample is not None or codes:
        return _writing(settings, lambda c: _review_sample(c, sample, args.seed, codes, args.list_sample, who, now,
                                                           _ask))
    return _writing(settings, lambda c: _review_walk(c, args.all, who, now, _ask))


def _writing(settings: Any, work: Callable[[Campaign], Any]) -> Any:
    return with_campaign(settings, work, read_only=False)


def _ask(prompt: str) -> str:
    # The prompt goes to stderr with the rest of the dialogue: stdout stays for machine output.
    sys.stderr.write(prompt)
    sys.stderr.flush()
    return input()


async def _key(ask: Callable[[str], str], prompt: str) -> str:
    """One answer typed by the person: y, n, u, s (or nothing) or q; EOF is q."""
    while True:
        try:
            key = (await asyncio.to_thread(ask, prompt)).strip().lower()
        except EOFError:
            key = "q"
        if key in ANSWER_KEYS or key in ("s", "skip", "", "q", "quit"):
            return key
        print("type y, n, u, s or q", file=sys.stderr)


def _say_done(done: dict[str, Any]) -> None:
    override = done["override"].value if done["override"] is not None else "cleared"
    automatic = done["automatic"].value if done["automatic"] is not None else "none"
    note = "" if done["deciding"] else " (not the reply that decided its target: the figures do not change)"
    print(f"reply {done['id']} ({done['target_email'] or 'unmatched'}): {override} "
          f"(automatic: {automatic}){note}", file=sys.stderr)


async def _review_walk(campaign: Campaign, include_all: bool, who: str, now: datetime,
                       ask: Callable[[str], str]) -> int:
    rows = await campaign.review(include_all=include_all, limit=None)
    for c in await campaign.changed_answers():   # the first clear answer replaced a provisional unclear
        print(f"answer changed: {c.email}: {c.first} → {c.now} (reply {c.deciding_message_id})", file=sys.stderr)
    if not rows:
        print("nothing to review: no unclear replies without an override", file=sys.stderr)
        return 0
    for i, row in enumerate(rows, start=1):
        print(_describe(row, i, len(rows)), file=sys.stderr)
        key = await _key(ask, "answer? [y]es [n]o [u]nclear [s]kip [q]uit: ")
        if key in ("q", "quit"):
            break
        if key in ANSWER_KEYS:
            for done in await campaign.override([(row["id"], ANSWER_KEYS[key])], by=who, at=now):
                _say_done(done)
    return 0


def _describe(row: dict[str, Any], i: int, total: int) -> str:
    reasons = "; ".join(row["reasons"] or []) or "-"
    current = row["override_answer"] or row["answer"]
    text = render.printable((row["new_text"] or "").strip(), keep_newlines=True) or "(no new text)"
    return (f"\n[{i}/{total}] reply {row['id']} from {render.printable(row['sender'])} "
            f"(target {row['target_email'] or '-'}) received {row['received_at'].isoformat()}\n"
            f"subject: {render.printable(row['subject'])}\n"
            f"answer: {current} (automatic: {row['answer']})   reasons: {reasons}\n"
            f"--- new text ---\n{text}\n----------------")


async def _review_sample(campaign: Campaign, size: int | None, seed: int | None,
                         codes: list[tuple[int, Answer | None]], list_only: bool, who: str, now: datetime,
                         ask: Callable[[str], str]) -> int:
    """Draw the blind coding sample up to `size` replies, then record codes (--code) or walk it."""
    total, added = await campaign.code_sample(size, seed, codes, by=who, at=now)
    if size is not None:
        print(f"coding sample: {total} replies ({added} drawn now{'' if seed is None else f', seed {seed}'})",
              file=sys.stderr)
    if codes:
        print(f"{len(codes)} code(s) recorded; automatic answers unchanged", file=sys.stderr)
        return 0
    rows = await campaign.sample()
    if list_only:
        for row in rows:
            record = {"id": row["id"], "received_at": row["received_at"].isoformat(), "sender": row["sender"],
                      "subject": row["subject"], "new_text": row["new_text"]}
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        return 0
    if not rows:
        print("nothing to code: every sampled reply has a code", file=sys.stderr)
        return 0
    for i, row in enumerate(rows, start=1):
        # Blind: the new text only, never probe's answer nor its reasons.
        text = render.printable((row["new_text"] or "").strip(), keep_newlines=True) or "(no new text)"
        print(f"\n[{i}/{len(rows)}] sampled reply {row['id']}\nsubject: {render.printable(row['subject'])}\n"
              f"--- new text ---\n{text}\n----------------", file=sys.stderr)
        key = await _key(ask, "what does it answer? [y]es [n]o [u]nclear [s]kip [q]uit: ")
        if key in ("q", "quit"):
            break
        if key in ANSWER_KEYS:
            await campaign.code_sample(None, None, [(row["id"], ANSWER_KEYS[key])], by=who, at=now)
    return 0


# ---------------------------------------------------------------- export

def run_export(args: argparse.Namespace) -> int:
    from probe.cli.progress import Progress

    settings = load(args.config)
    sep = parse_sep(args.sep)
    folder: Path = args.output
    progress = Progress("export", unit="sends and replies")
    done = with_campaign(settings, lambda campaign: campaign.export(folder, sep=sep, on_rows=progress.advance))
    progress.done()
    print(f"exported {done.sends} sends, {done.replies} replies and {done.raw_files} raw messages to {folder}",
          file=sys.stderr)
    return 0
