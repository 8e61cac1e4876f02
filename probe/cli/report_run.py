"""`probe report`, `probe replies`, `probe review` and `probe export`: reading a campaign's results.

Each command loads the config, opens the campaign through probe.api (read-only where it only
reads; no migration), then does its async work in one asyncio.run. Machine output goes to stdout
(or --output); notes go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from probe import csvout
from probe.cli.common import load, parse_now
from probe.config import Settings
from probe.core.model import Answer
from probe.errors import InputError, not_launched
from probe.report import render
from probe.report.research import ResearchOptions
from probe.report.summary import build_report
from probe.store import aggregates as agg
from probe.store import research as research_store

ANSWER_KEYS = {"y": Answer.YES, "yes": Answer.YES, "n": Answer.NO, "no": Answer.NO,
               "u": Answer.UNCLEAR, "unclear": Answer.UNCLEAR}


# ---------------------------------------------------------------- plumbing

@asynccontextmanager
async def _sessions(settings: Settings, *, read_only: bool = False) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The campaign's sessions through the one composition root (probe.api.Campaign). read_only: a
    report on a big campaign reads for seconds without blocking a `tick` writing."""
    from probe.api import Campaign

    async with Campaign.open(settings, read_only=read_only) as campaign:
        yield campaign.service.sessions


async def _campaign_id(session: AsyncSession, settings: Settings) -> int:
    campaign = await agg.get_campaign(session, settings.campaign.name)
    if campaign is None:
        raise not_launched(settings.campaign.name, str(settings.path))
    return campaign.id


def _prepare(args: argparse.Namespace) -> Settings:
    # No migration here: only launch and `probe db upgrade` change the schema; a database that is
    # behind makes Campaign.open say "run: probe db upgrade".
    return load(args.config)


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


def csv_separator(settings: Settings, sep: str | None) -> str:
    """`--sep`, else the targets file's own separator (`;` from French Excel), else `,`."""
    from probe.adapters.targets import sniff_delimiter

    try:
        chosen = csvout.parse_sep(sep)
    except ValueError as exc:
        raise InputError(str(exc), field="--sep", hint="write --sep ';' for French Excel, --sep ',' otherwise"
                         ) from None
    if chosen is not None:
        return chosen
    try:
        return sniff_delimiter(settings.targets.file)
    except OSError:
        return ","


def _fold(name: str) -> str:
    from probe.adapters.targets import variable_name

    return variable_name(name)


def resolve_field(by: str, fields: list[str]) -> str:
    """`--by Secteur` (the user's header) → `secteur` (the stored field): the same rule that turns
    a header into a template variable, so case, accents and spaces do not matter."""
    if by in fields:
        return by
    matches = [f for f in fields if _fold(f) == _fold(by)]
    return matches[0] if len(matches) == 1 else by


def report_lang(settings: Settings, lang: str | None) -> str:
    from probe.report.i18n import lang_from_locale

    return lang or lang_from_locale(settings.campaign.locale)


async def _report(settings: Settings, args: argparse.Namespace, now: datetime, out: TextIO) -> None:
    zone = settings.campaign.zone
    async with _sessions(settings, read_only=True) as sessions, sessions() as session:
        if args.format == "csv":
            cid = await _campaign_id(session, settings)
            fields = await agg.field_names(session, cid)
            if args.by is not None:
                print("note: --by is ignored by --format csv (every row has every field)", file=sys.stderr)
            await render.write_csv(out, fields, research_store.with_dispositions(
                session, cid, agg.stream_targets(session, cid)),
                                   sep=csv_separator(settings, args.sep), zone=zone)
            return
        if args.sep is not None:
            print("note: --sep only applies to --format csv", file=sys.stderr)
        by = args.by
        if by is not None:
            campaign = await agg.get_campaign(session, settings.campaign.name)
            if campaign is not None:
                by = resolve_field(by, await agg.field_names(session, campaign.id))
        report = await build_report(session, settings.campaign.name, now=now, by=by,
                                    source=str(settings.path), options=research_options(settings),
                                    variants=[v.name for v in settings.variants])
        if args.format == "json":
            out.write(render.render_json(report))
        elif args.format == "table":
            out.write(render.render_table(report, report_lang(settings, args.lang), zone))
        else:
            cid = await _campaign_id(session, settings)
            timeline = await agg.answer_timeline(session, cid)
            review = await agg.review_rows(session, cid)
            out.write(render.render_html(report, timeline, review, report_lang(settings, args.lang), zone))


def research_options(settings: Settings) -> ResearchOptions:
    from probe.api import research_options as options

    return options(settings)  # one definition, shared with the library face


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
                    # The table is for a person: the campaign's wall-clock time, to the minute.
                    received = row["received_at"]
                    record["received_at"] = (received.astimezone(settings.campaign.zone).strftime("%Y-%m-%d %H:%M")
                                             if isinstance(received, datetime) else "")
                    out.write("  ".join(_cell(record[c], w) for c, w in widths.items()).rstrip() + "\n")
        if args.format == "json":
            out.write("\n]\n" if count else "]\n")
        else:
            print(f"{count} message(s)", file=sys.stderr)


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
    settings = _prepare(args)
    decisions = [_parse_set(s) for s in args.overrides]
    codes = [_parse_set(s, field="--code") for s in getattr(args, "codes", [])]
    now = parse_now(args.now, settings)
    who = _user()
    sample = getattr(args, "sample", None)
    if sample is not None and sample < 1:
        raise InputError(f"--sample {sample} is not a number of replies", field="--sample",
                         hint="give how many replies to draw, like --sample 50")
    if sample is None and (args.seed is not None or args.list_sample):
        raise InputError("--seed and --list go with --sample", field="--sample",
                         hint="write it like: probe review CONFIG --sample 50 --seed 1")
    if getattr(args, "not_eligible", []) or getattr(args, "eligible", []):
        asyncio.run(_review_eligibility(settings, args.not_eligible, args.eligible, who, now))
        if not (decisions or codes or sample is not None):
            return 0
    if decisions:
        done = asyncio.run(_review_set(settings, decisions, who, now))
        if not (sample is not None or codes):
            return done
    if sample is not None or codes:
        return asyncio.run(_review_sample(settings, sample, args.seed, codes, args.list_sample, who, now, _ask))
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
            # Here, not at the top: the inbox module (and the send lifecycle it imports) is a write
            # path that `report` and `replies` do not need.
            from probe.store.inbox import changed_answers

            changed = await changed_answers(session, cid)
        for c in changed:   # the first clear answer replaced a provisional unclear (lifecycle table)
            print(f"answer changed: {c.email}: {c.first} → {c.now} (reply {c.deciding_message_id})", file=sys.stderr)
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


async def _review_eligibility(settings: Settings, not_eligible: list[int], eligible: list[int], who: str,
                              now: datetime) -> None:
    async with _sessions(settings) as sessions, sessions.begin() as session:
        cid = await _campaign_id(session, settings)
        for ident, ruling in [*((i, True) for i in not_eligible), *((i, False) for i in eligible)]:
            email = await research_store.set_not_eligible(session, cid, ident, ruling, by=who, at=now)
            if email is None:
                raise InputError(f"no reply with id {ident} matched to a target in campaign "
                                 f"{settings.campaign.name!r}", file=str(settings.path),
                                 field="--not-eligible" if ruling else "--eligible",
                                 hint=f"list the ids with: probe replies {settings.path}")
            state = "not eligible (NE)" if ruling else "eligible again"
            print(f"target {email} (reply {ident}): {state}", file=sys.stderr)


async def _review_sample(settings: Settings, size: int | None, seed: int | None,
                         codes: list[tuple[int, Answer | None]], list_only: bool, who: str, now: datetime,
                         ask: Callable[[str], str]) -> int:
    """Draw the blind coding sample up to `size` replies, then record codes (--code) or walk it."""
    async with _sessions(settings) as sessions:
        async with sessions.begin() as session:
            cid = await _campaign_id(session, settings)
            if size is not None:
                have = len(await research_store.sample_rows(session, cid, uncoded_only=False))
                added = await research_store.draw_sample(session, cid, size - have, seed, now)
                print(f"coding sample: {have + added} replies ({added} drawn now"
                      f"{'' if seed is None else f', seed {seed}'})", file=sys.stderr)
            for ident, code in codes:
                if not await research_store.record_code(session, cid, ident, code, by=who, at=now):
                    raise InputError(f"reply {ident} is not in the coding sample of {settings.campaign.name!r}",
                                     file=str(settings.path), field="--code",
                                     hint=f"list the sample with: probe review {settings.path} --sample N --list")
        if codes:
            print(f"{len(codes)} code(s) recorded; automatic answers unchanged", file=sys.stderr)
            return 0
        async with sessions() as session:
            rows = await research_store.sample_rows(session, cid)
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
            while True:
                try:
                    key = (await asyncio.to_thread(ask, "what does it answer? [y]es [n]o [u]nclear [s]kip [q]uit: "))
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
                    await research_store.record_code(session, cid, row["id"], ANSWER_KEYS[key], by=who, at=now)
    return 0


# ---------------------------------------------------------------- export

SEND_COLUMNS = ["target_email", "wave", "state", "due_at", "sent_at", "message_id", "smtp_reply", "attempts",
                "last_error"]
EXPORT_REPLY_COLUMNS = ["id", "received_at", "sender", "subject", "kind", "answer", "override", "override_by",
                        "override_at", "match_method", "target_email", "message_id", "sha256", "raw_file",
                        "spf", "dkim", "dmarc", "domain_passed"]


def _text(value: Any, zone: tzinfo = UTC) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return csvout.local_time(value, zone)
    return str(value)


def run_export(args: argparse.Namespace) -> int:
    settings = _prepare(args)
    folder: Path = args.output
    try:
        (folder / "raw").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {folder}: {exc.strerror}", field="--output",
                         hint="give a folder you can write to") from exc
    sep = csv_separator(settings, args.sep)
    sends, replies, raw = asyncio.run(_export(settings, folder, sep))
    print(f"exported {sends} sends, {replies} replies and {raw} raw messages to {folder}", file=sys.stderr)
    return 0


async def _export(settings: Settings, folder: Path, sep: str = ",") -> tuple[int, int, int]:
    from probe.cli.progress import Progress

    sends = replies = raw_files = 0
    zone = settings.campaign.zone
    progress = Progress("export", unit="sends and replies")
    async with _sessions(settings, read_only=True) as sessions, sessions() as session:
        cid = await _campaign_id(session, settings)
        with (folder / "sends.csv").open("w", encoding="utf-8-sig", newline="") as f:
            writer = csvout.SafeWriter(f, sep)
            writer.writerow(SEND_COLUMNS)
            async for chunk in agg.stream_sends(session, cid):
                writer.writerows([_text(row[c], zone) for c in SEND_COLUMNS] for row in chunk)
                sends += len(chunk)
                progress.advance(len(chunk))
        with (folder / "replies.csv").open("w", encoding="utf-8-sig", newline="") as f:
            writer = csvout.SafeWriter(f, sep)
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
                    writer.writerow([_text(values[c], zone) for c in EXPORT_REPLY_COLUMNS])
                    replies += 1
                    progress.advance()
        from probe.cli.experiment_export import export_experiment

        await export_experiment(session, settings, cid, folder, sep)
    progress.done()
    return sends, replies, raw_files
