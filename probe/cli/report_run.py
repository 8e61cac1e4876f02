"""`probe report`, `probe replies`, `probe review` and `probe export`: reading a campaign's results.

Each command loads the config, upgrades the database schema (no event loop running), then does its
async work in one asyncio.run. Machine output goes to stdout (or --output); notes go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import getpass
import json
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from probe.cli.common import load, parse_now, prepare_database
from probe.config import Settings
from probe.core.model import Answer
from probe.errors import InputError
from probe.report import render
from probe.report.summary import build_report
from probe.store import aggregates as agg
from probe.store import engine as engine_module
from probe.store.engine import make_engine, make_sessionmaker

ANSWER_KEYS = {"y": Answer.YES, "yes": Answer.YES, "n": Answer.NO, "no": Answer.NO,
               "u": Answer.UNCLEAR, "unclear": Answer.UNCLEAR}


# ---------------------------------------------------------------- plumbing

def _deferred_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN")


@asynccontextmanager
async def _sessions(settings: Settings, *, read_only: bool = False) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(settings.database.url)
    if read_only and engine.dialect.name == "sqlite":
        # The store begins every SQLite transaction IMMEDIATE (takes the write lock). A report on a
        # big campaign reads for seconds: a deferred BEGIN gives it a consistent WAL snapshot
        # without blocking a `tick` or `run` writing at the same time.
        immediate = getattr(engine_module, "_sqlite_begin", None)
        if immediate is not None and event.contains(engine.sync_engine, "begin", immediate):
            event.remove(engine.sync_engine, "begin", immediate)
            event.listen(engine.sync_engine, "begin", _deferred_begin)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


async def _campaign_id(session: AsyncSession, settings: Settings) -> int:
    campaign = await agg.get_campaign(session, settings.campaign.name)
    if campaign is None:
        raise InputError(f"campaign {settings.campaign.name!r} is not in the database",
                         file=str(settings.path), field="campaign.name",
                         hint=f"run: probe launch {settings.path}")
    return campaign.id


def _prepare(args: argparse.Namespace) -> Settings:
    settings = load(args.config)
    prepare_database(settings)
    return settings


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
    settings = _prepare(args)
    now = parse_now(args.now, settings)
    # CSV for Excel users gets a BOM in a file (Excel reads UTF-8 correctly only with one).
    out = _open_output(args.output, encoding="utf-8-sig" if args.format == "csv" else "utf-8")
    try:
        asyncio.run(_report(settings, args, now, out))
    except BaseException:
        if args.output is not None:
            out.close()
        raise
    _finish(out, args.output, f"{args.format} report")
    return 0


async def _report(settings: Settings, args: argparse.Namespace, now: datetime, out: TextIO) -> None:
    async with _sessions(settings, read_only=True) as sessions, sessions() as session:
        if args.format == "csv":
            cid = await _campaign_id(session, settings)
            fields = await agg.field_names(session, cid)
            if args.by is not None:
                print("note: --by is ignored by --format csv (every row has every field)", file=sys.stderr)
            await render.write_csv(out, fields, agg.stream_targets(session, cid))
            return
        report = await build_report(session, settings.campaign.name, now=now, by=args.by,
                                    source=str(settings.path))
        if args.format == "json":
            out.write(render.render_json(report))
        elif args.format == "table":
            out.write(render.render_table(report))
        else:
            cid = await _campaign_id(session, settings)
            timeline = await agg.answer_timeline(session, cid)
            review = await agg.review_rows(session, cid)
            out.write(render.render_html(report, timeline, review))


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
    settings = _prepare(args)
    asyncio.run(_replies(settings, args, sys.stdout))
    return 0


async def _replies(settings: Settings, args: argparse.Namespace, out: TextIO) -> None:
    widths = {"id": 6, "received_at": 20, "sender": 28, "subject": 32, "target_email": 28, "kind": 14,
              "answer": 8, "override": 8, "match_method": 16, "auth": 12}
    async with _sessions(settings, read_only=True) as sessions, sessions() as session:
        cid = await _campaign_id(session, settings)
        first, count = True, 0
        if args.format == "json":
            out.write("[")
        else:
            out.write("  ".join(_cell(c, w) for c, w in widths.items()).rstrip() + "\n")
        async for chunk in agg.stream_inbound(session, cid, unmatched=args.unmatched, kind=args.kind):
            for row in chunk:
                record = _reply_record(row)
                count += 1
                if args.format == "json":
                    out.write(("\n" if first else ",\n") + json.dumps(record, ensure_ascii=False))
                    first = False
                else:
                    record["received_at"] = (record["received_at"] or "")[:19].replace("T", " ")
                    out.write("  ".join(_cell(record[c], w) for c, w in widths.items()).rstrip() + "\n")
        if args.format == "json":
            out.write("\n]\n" if count else "]\n")
        else:
            print(f"{count} message(s)", file=sys.stderr)


# ---------------------------------------------------------------- review

def _parse_set(text: str) -> tuple[int, Answer | None]:
    ident, sep, answer = text.partition("=")
    key = answer.strip().lower()
    if not sep or not ident.strip().isdigit() or (key not in ANSWER_KEYS and key != "clear"):
        raise InputError(f"--set {text!r} is not ID=ANSWER", field="--set",
                         hint="write it like --set 12=yes (answers: yes, no, unclear, clear); "
                              "ids are listed by: probe replies CONFIG")
    return int(ident), None if key == "clear" else ANSWER_KEYS[key]


def run_review(args: argparse.Namespace) -> int:
    settings = _prepare(args)
    decisions = [_parse_set(s) for s in args.overrides]
    now = parse_now(args.now, settings)
    who = _user()
    if decisions:
        return asyncio.run(_review_set(settings, decisions, who, now))
    return asyncio.run(_review_walk(settings, args.all, who, now, _ask))


def _ask(prompt: str) -> str:
    # The prompt goes to stderr with the rest of the dialogue: stdout stays for machine output.
    sys.stderr.write(prompt)
    sys.stderr.flush()
    return input()


def _user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


async def _review_set(settings: Settings, decisions: list[tuple[int, Answer | None]], who: str,
                      now: datetime) -> int:
    async with _sessions(settings) as sessions, sessions.begin() as session:
        cid = await _campaign_id(session, settings)
        for ident, answer in decisions:
            done = await agg.apply_override(session, cid, ident, answer, by=who, at=now)
            if done is None:
                raise InputError(f"no reply with id {ident} in campaign {settings.campaign.name!r}",
                                 file=str(settings.path), field="--set",
                                 hint=f"list the ids with: probe replies {settings.path}")
            _say_done(done)
    return 0


def _say_done(done: dict[str, Any]) -> None:
    override = done["override"].value if done["override"] is not None else "cleared"
    automatic = done["automatic"].value if done["automatic"] is not None else "none"
    note = "" if done["deciding"] else " (not the reply that decided its target: the figures do not change)"
    print(f"reply {done['id']} ({done['target_email'] or 'unmatched'}): {override} "
          f"(automatic: {automatic}){note}", file=sys.stderr)


async def _review_walk(settings: Settings, include_all: bool, who: str, now: datetime,
                       ask: Callable[[str], str]) -> int:
    async with _sessions(settings) as sessions:
        async with sessions() as session:
            cid = await _campaign_id(session, settings)
            rows = await agg.review_rows(session, cid, include_all=include_all, limit=None)
        if not rows:
            print("nothing to review: no unclear replies without an override", file=sys.stderr)
            return 0
        for i, row in enumerate(rows, start=1):
            print(_describe(row, i, len(rows)), file=sys.stderr)
            while True:
                try:
                    key = (await asyncio.to_thread(ask, "answer? [y]es [n]o [u]nclear [s]kip [q]uit: "))
                except EOFError:
                    key = "q"
                key = key.strip().lower()
                if key in ANSWER_KEYS or key in ("s", "skip", "", "q", "quit"):
                    break
                print("type y, n, u, s or q", file=sys.stderr)
            if key in ("q", "quit"):
                break
            if key in ANSWER_KEYS:
                async with sessions.begin() as session:
                    done = await agg.apply_override(session, cid, row["id"], ANSWER_KEYS[key], by=who, at=now)
                if done is not None:
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


# ---------------------------------------------------------------- export

SEND_COLUMNS = ["target_email", "wave", "state", "due_at", "sent_at", "message_id", "smtp_reply", "attempts",
                "last_error"]
EXPORT_REPLY_COLUMNS = ["id", "received_at", "sender", "subject", "kind", "answer", "override", "override_by",
                        "override_at", "match_method", "target_email", "message_id", "sha256", "raw_file",
                        "spf", "dkim", "dmarc", "domain_passed"]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def run_export(args: argparse.Namespace) -> int:
    settings = _prepare(args)
    folder: Path = args.output
    try:
        (folder / "raw").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {folder}: {exc.strerror}", field="--output",
                         hint="give a folder you can write to") from exc
    sends, replies, raw = asyncio.run(_export(settings, folder))
    print(f"exported {sends} sends, {replies} replies and {raw} raw messages to {folder}", file=sys.stderr)
    return 0


async def _export(settings: Settings, folder: Path) -> tuple[int, int, int]:
    sends = replies = raw_files = 0
    async with _sessions(settings, read_only=True) as sessions, sessions() as session:
        cid = await _campaign_id(session, settings)
        with (folder / "sends.csv").open("w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(SEND_COLUMNS)
            async for chunk in agg.stream_sends(session, cid):
                writer.writerows([_text(row[c]) for c in SEND_COLUMNS] for row in chunk)
                sends += len(chunk)
        with (folder / "replies.csv").open("w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(EXPORT_REPLY_COLUMNS)
            async for chunk in agg.stream_inbound(session, cid, with_raw=True, chunk_size=100):
                for row in chunk:
                    raw_file = ""
                    if row["raw"] is not None:
                        raw_file = f"raw/{row['id']}.eml"
                        (folder / raw_file).write_bytes(row["raw"])
                        raw_files += 1
                    auth = row.get("authenticity") if isinstance(row.get("authenticity"), dict) else {}
                    values = {**row, "override": row["override_answer"], "message_id": row["message_id_header"],
                              "sha256": row["raw_sha256"], "raw_file": raw_file,
                              "spf": auth.get("spf"), "dkim": auth.get("dkim") or auth.get("dkim_verified"),
                              "dmarc": auth.get("dmarc"),
                              "domain_passed": {True: "yes", False: "no"}.get(auth.get("domain_passed"))}
                    writer.writerow([_text(values[c]) for c in EXPORT_REPLY_COLUMNS])
                    replies += 1
    return sends, replies, raw_files
