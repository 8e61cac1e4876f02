"""`probe init DIR`: a starter campaign to edit — the founding case's config, three example targets,
the French templates with their English variants. It never overwrites: if any file it would write
exists, it writes nothing and names that file (exit 2).

Everything is copied from the files that ship inside the package (probe.resources), so it works from
an installed wheel as well as from a checkout."""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from probe import resources
from probe.errors import InputError

CONFIG_NAME = "campaign.toml"
TARGETS_NAME = "targets.csv"

TARGETS_CSV = """\
email,civilite,prenom,nom,societe,secteur
nathalie.durand@banque-lombard.example,Mme,Nathalie,Durand,Banque Lombard,Banque
philippe.martin@telecom-azur.example,M.,Philippe,Martin,Télécom Azur,Télécoms
sophie.bernard@maison-berthier.example,Mme,Sophie,Bernard,Maison Berthier,Distribution
"""

_HEADER = """\
# Written by `probe init`: a starter campaign to edit (the founding case).
#   1. targets.csv: one row per person; `email` is required, every other column is a template field.
#   2. templates/: the three French emails (initial, two reminders); English variants are in
#      templates/en/ (point [templates] at them to write in English).
#   3. [smtp] and [imap] below: your accounts; export the password variables they name.
#   4. probe validate campaign.toml, then probe launch campaign.toml, then probe run (or tick from cron).
#
"""

# The example's fixed start (28 September 2015) is in the past: launched as it is, every wave would be
# due at once. A starter campaign starts when it is launched unless the user writes a date.
_START_LINE = 'start = "2015-09-28T09:00:00"'
_START_REPLACEMENT = ('# start = "2015-09-28T09:00:00"                         # optional; default: at launch '
                      "(write your own date;\n"
                      "                                                        # the founding case began "
                      "on 28 September 2015)")


@dataclass(frozen=True)
class Provider:
    smtp: tuple[str, int, str]      # host, port, security
    imap: tuple[str, int, str]
    note: str                       # comment lines written above [smtp]


PROVIDERS: dict[str, Provider] = {
    "gmail": Provider(
        ("smtp.gmail.com", 465, "tls"), ("imap.gmail.com", 993, "tls"),
        "Gmail / Google Workspace: username = your full address. Google refuses your normal password\n"
        "here: turn on 2-Step Verification, then create an app password (Google Account → Security →\n"
        "App passwords) and export it in both variables. IMAP must be enabled in Gmail's settings.\n"
        "Gmail files a copy of every message sent through smtp.gmail.com in Sent: no sent_folder needed."),
    "outlook": Provider(
        ("smtp.office365.com", 587, "starttls"), ("outlook.office365.com", 993, "tls"),
        "Outlook.com / Microsoft 365: username = your full address. With two-step verification on,\n"
        "create an app password (account.microsoft.com → Security) and export it in both variables.\n"
        "Microsoft 365 is retiring Basic authentication for SMTP AUTH (client submission) in\n"
        "Exchange Online, and its admins often switch SMTP AUTH off per mailbox: probe logs in with a\n"
        "password, so ask your admin that SMTP AUTH is allowed for this mailbox, or use another\n"
        "account. Run `probe check campaign.toml` to see at once whether the login is accepted."),
    "fastmail": Provider(
        ("smtp.fastmail.com", 465, "tls"), ("imap.fastmail.com", 993, "tls"),
        "Fastmail: username = your full address; create an app password (Settings → Privacy &\n"
        "Security → App passwords, access: IMAP and SMTP) and export it in both variables."),
    "ovh": Provider(
        ("ssl0.ovh.net", 465, "tls"), ("ssl0.ovh.net", 993, "tls"),
        "OVHcloud (MX Plan / e-mail of a web hosting): username = your full address, the password of\n"
        "that mailbox. (An OVH Exchange account uses its own host, shown in the OVH control panel.)"),
    "generic": Provider(
        ("smtp.example.org", 587, "starttls"), ("imap.example.org", 993, "tls"),
        "Your provider's SMTP (submission) and IMAP servers: 587 with starttls or 465 with tls; IMAP\n"
        "993 with tls. Many providers want an app password rather than your usual one."),
}


def _padded(line: str) -> Callable[[re.Match[str]], str]:
    """A re.sub replacement: `line`, padded to the width of what it replaces (the comments stay aligned)."""
    return lambda m: line.ljust(len(m.group(0)))


def apply_provider(text: str, provider: str) -> str:
    """Point [smtp] and [imap] of the starter config at the provider's servers, with its note."""
    spec = PROVIDERS[provider]
    for section, (host, port, security) in (("smtp", spec.smtp), ("imap", spec.imap)):
        match = re.search(rf"(?ms)^\[{section}\][^\n]*\n(.*?)(?=^\[|\Z)", text)
        if match is None:  # pragma: no cover - the shipped example has both sections
            continue
        body = match.group(1)
        body = re.sub(r'(?m)^host = "[^"]*"', f'host = "{host}"', body, count=1)
        body = re.sub(r"(?m)^port = \d+", _padded(f"port = {port}"), body, count=1)
        body = re.sub(r'(?m)^security = "[^"]*"', _padded(f'security = "{security}"'), body, count=1)
        text = text[:match.start(1)] + body + text[match.end(1):]
    note = "".join(f"# {line}\n" for line in [f"--provider {provider}:", *spec.note.splitlines()])
    return re.sub(r"(?m)^\[smtp\]", lambda m: note + m.group(0), text, count=1)


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "init", help="write a starter campaign (config, targets, templates) into DIR",
        description="Write a starter campaign into DIR: campaign.toml (commented; the founding case), "
                    "targets.csv (three example rows) and templates/ (French, with English variants in "
                    "templates/en/). Refuses to overwrite any file.")
    p.add_argument("dir", type=Path, metavar="DIR", help="the campaign folder (created if missing)")
    p.add_argument("--provider", choices=sorted(PROVIDERS), default="generic",
                   help="write the SMTP and IMAP servers of this provider (with a note on app "
                        "passwords); default: generic placeholders to edit")
    p.set_defaults(func=run)


def starter_config(provider: str = "generic") -> str:
    text = resources.example_config().read_text(encoding="utf-8")
    if _START_LINE in text:
        line = next(line for line in text.splitlines() if line.startswith(_START_LINE))
        text = text.replace(line, _START_REPLACEMENT, 1)
    if provider != "generic":
        text = apply_provider(text, provider)
    return _HEADER + text


def planned_files(folder: Path, provider: str = "generic") -> dict[Path, Path | str]:
    """What init writes: destination → source file (copied) or text."""
    plan: dict[Path, Path | str] = {folder / CONFIG_NAME: starter_config(provider),
                                    folder / TARGETS_NAME: TARGETS_CSV}
    source = resources.templates_dir()
    for template in sorted(p for p in source.rglob("*.j2") if p.is_file()):
        plan[folder / "templates" / template.relative_to(source)] = template
    return plan


def write_starter(folder: Path, provider: str = "generic") -> list[Path]:
    """Write the starter campaign; InputError (nothing written) if any of its files exists."""
    if folder.exists() and not folder.is_dir():
        raise InputError("exists and is not a folder", file=str(folder),
                         hint="give probe init a new or empty folder")
    plan = planned_files(folder, provider)
    existing = [path for path in plan if path.exists() or path.is_symlink()]
    if existing:
        names = ", ".join(str(p) for p in existing[:3])
        if len(existing) > 3:
            names += f" and {len(existing) - 3} more"
        raise InputError(f"already exists (would overwrite {names}); probe init never overwrites: "
                         "nothing was written",
                         file=str(existing[0]),
                         hint="choose a new folder, or move these files away first")
    written = []
    for dest, source in plan.items():
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, Path):
            shutil.copyfile(source, dest)
        else:
            dest.write_text(source, encoding="utf-8")
        written.append(dest)
    return written


def run(args: argparse.Namespace) -> int:
    folder: Path = args.dir
    written = write_starter(folder, getattr(args, "provider", "generic"))
    config = folder / CONFIG_NAME
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    print(f"\nNext: edit {config}, {folder / TARGETS_NAME} and {folder / 'templates'}, then\n"
          f"  probe check {config}          # logs in to SMTP and IMAP, sends nothing\n"
          f"  probe validate {config} --show 1\n  probe send-test {config} --to YOUR-ADDRESS\n"
          f"  probe launch {config}\n  probe run {config}", file=sys.stderr)
    return 0
