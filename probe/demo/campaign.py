"""The demo's campaign folder: campaign.toml pointing at the embedded servers, the shipped French
templates, and targets.csv with the 50 directors. Written once, before launch, and never rewritten
(the launch stores a hash of these files), so a kept folder stays a valid campaign afterwards."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from probe import resources
from probe.demo.people import Director
from probe.demo.scenario import CLOSE_AFTER, REMINDERS, START

CAMPAIGN_NAME = "drc-2015-demo"
FROM_ADDRESS = "redaction@en-contact.example"
IMAP_PASSWORD_ENV = "PROBE_DEMO_IMAP_PASSWORD"
TARGET_COLUMNS = ("email", "civilite", "prenom", "nom", "societe", "secteur")
TEMPLATE_NAMES = ("initial.txt.j2", "reminder1.txt.j2", "reminder2.txt.j2")


def shipped_templates() -> list[Path]:
    """Every template file that ships with probe, relative to templates_dir(): French at the top,
    the English variants in en/."""
    source = resources.templates_dir()
    return sorted(p.relative_to(source) for p in source.rglob("*.j2") if p.is_file())


def copy_templates(dest: Path) -> list[Path]:
    """Every shipped template into dest/, keeping the en/ folder; returns the files written."""
    source = resources.templates_dir()
    copied = []
    for rel in shipped_templates():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / rel, target)
        copied.append(target)
    missing = [name for name in TEMPLATE_NAMES if not (dest / name).is_file()]
    if missing:
        raise FileNotFoundError(f"probe's shipped templates are missing {', '.join(missing)} in {source}")
    return copied


def write_targets(path: Path, directors: list[Director]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(TARGET_COLUMNS)
        for d in directors:
            fields = d.fields()
            writer.writerow([fields[c] for c in TARGET_COLUMNS])


def config_text(*, smtp_port: int, imap_port: int, imap_user: str) -> str:
    reminders = ", ".join(f'"{r}"' for r in REMINDERS)
    templates = ", ".join(f'"templates/{name}"' for name in TEMPLATE_NAMES[1:])
    return f"""\
# The founding case, replayed by `probe demo` on embedded servers that no longer run.
# `probe report`, `probe replies` and `probe review` work on it as it is; `probe tick` would need the
# servers (their ports below were chosen for one run only).

[campaign]
name = "{CAMPAIGN_NAME}"
from = "Rédaction En-Contact <{FROM_ADDRESS}>"
timezone = "Europe/Paris"

[schedule]
start = "{START.replace(tzinfo=None).isoformat()}"   # Monday 28 September 2015, Paris time
reminders = [{reminders}]          # Sunday 4 and Saturday 10 October
close_after = "{CLOSE_AFTER}"

[templates]
initial = "templates/{TEMPLATE_NAMES[0]}"
reminders = [{templates}]

[targets]
file = "targets.csv"

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"                  # loopback only
concurrency = 4
local_hostname = "demo.en-contact.example"   # the EHLO name; set, so nothing asks DNS for this host

[imap]
host = "127.0.0.1"
port = {imap_port}
security = "none"                  # loopback only
username = "{imap_user}"
password_env = "{IMAP_PASSWORD_ENV}"
folder = "INBOX"

[database]
url = "sqlite:///probe.db"         # beside this file
"""


def write_campaign(folder: Path, directors: list[Director], *, smtp_port: int, imap_port: int) -> Path:
    """Write the demo campaign into folder (which must hold none of these files); return campaign.toml."""
    folder.mkdir(parents=True, exist_ok=True)
    copy_templates(folder / "templates")
    write_targets(folder / "targets.csv", directors)
    config = folder / "campaign.toml"
    config.write_text(config_text(smtp_port=smtp_port, imap_port=imap_port, imap_user=FROM_ADDRESS),
                      encoding="utf-8")
    return config
