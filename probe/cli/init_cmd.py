"""`probe init DIR`: a starter campaign to edit — the founding case's config, three example targets,
the French templates with their English variants. It never overwrites: if any file it would write
exists, it writes nothing and names that file (exit 2).

Everything is copied from the files that ship inside the package (probe.resources), so it works from
an installed wheel as well as from a checkout."""

from __future__ import annotations

import argparse
import shutil
import sys
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


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "init", help="write a starter campaign (config, targets, templates) into DIR",
        description="Write a starter campaign into DIR: campaign.toml (commented; the founding case), "
                    "targets.csv (three example rows) and templates/ (French, with English variants in "
                    "templates/en/). Refuses to overwrite any file.")
    p.add_argument("dir", type=Path, metavar="DIR", help="the campaign folder (created if missing)")
    p.set_defaults(func=run)


def starter_config() -> str:
    text = resources.example_config().read_text(encoding="utf-8")
    if _START_LINE in text:
        line = next(line for line in text.splitlines() if line.startswith(_START_LINE))
        text = text.replace(line, _START_REPLACEMENT, 1)
    return _HEADER + text


def planned_files(folder: Path) -> dict[Path, Path | str]:
    """What init writes: destination → source file (copied) or text."""
    plan: dict[Path, Path | str] = {folder / CONFIG_NAME: starter_config(), folder / TARGETS_NAME: TARGETS_CSV}
    source = resources.templates_dir()
    for template in sorted(p for p in source.rglob("*.j2") if p.is_file()):
        plan[folder / "templates" / template.relative_to(source)] = template
    return plan


def write_starter(folder: Path) -> list[Path]:
    """Write the starter campaign; InputError (nothing written) if any of its files exists."""
    if folder.exists() and not folder.is_dir():
        raise InputError("exists and is not a folder", file=str(folder),
                         hint="give probe init a new or empty folder")
    plan = planned_files(folder)
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
    written = write_starter(folder)
    config = folder / CONFIG_NAME
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    print(f"\nNext: edit {config}, {folder / TARGETS_NAME} and {folder / 'templates'}, then\n"
          f"  probe validate {config}\n  probe launch {config}\n  probe run {config}", file=sys.stderr)
    return 0
