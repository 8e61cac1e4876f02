"""Broken configs, targets files and templates, table-driven through the CLI (issue 12).

Each case breaks one thing in a working campaign and runs `probe validate` and `probe launch`:
exit 2, no traceback, a message that names the file, the key or line, and the fix — and nothing
in the database. Template sandbox escapes and a CR/LF header injection from a target field are
among the cases: refused, never rendered."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from probe.cli import main
from tests.fixtures.campaign import DEFAULT_TARGETS, INITIAL, CampaignDir, make_campaign


@dataclass(frozen=True)
class Case:
    id: str
    expect: tuple[str, ...]                                    # all of them in stderr (file, key or line, …)
    sections: dict[str, dict] = field(default_factory=dict)     # config keys changed
    initial: str = INITIAL
    edit: Callable[[CampaignDir], None] | None = None          # anything else, after writing
    strict: bool = False
    commands: tuple[str, ...] = ("validate", "launch")


def replace_in(path_name: str, old: str, new: str) -> Callable[[CampaignDir], None]:
    def edit(camp: CampaignDir) -> None:
        path = camp.path / path_name
        text = path.read_text(encoding="utf-8")
        assert old in text, (old, text)
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return edit


def write(path_name: str, data: bytes) -> Callable[[CampaignDir], None]:
    def edit(camp: CampaignDir) -> None:
        (camp.path / path_name).write_bytes(data)
    return edit


def target_row(**values: str) -> Callable[[CampaignDir], None]:
    def edit(camp: CampaignDir) -> None:
        rows = [dict(r) for r in DEFAULT_TARGETS]
        rows[1].update(values)
        columns = list(rows[0])
        lines = [",".join(columns)] + [",".join(r[c] for c in columns) for r in rows]
        (camp.path / "targets.csv").write_bytes(("\n".join(lines) + "\n").encode())
    return edit


CONFIG = "campaign.toml"
CASES = [
    # the TOML itself
    Case("toml-syntax", (CONFIG, "line"), edit=replace_in(CONFIG, 'name = "test-campaign"', 'name = "test-campaign')),
    Case("unknown-key", (CONFIG, "campaign.nmae"), sections={"campaign": {"nmae": "x"}}),
    Case("missing-name", (CONFIG, "campaign.name"), edit=replace_in(CONFIG, 'name = "test-campaign"\n', "")),
    Case("bad-from", (CONFIG, "campaign.from"), sections={"campaign": {"from": "Rédaction <not an address>"}}),
    Case("bad-timezone", (CONFIG, "campaign.timezone"), sections={"campaign": {"timezone": "Europe/Pariss"}}),
    Case("bad-duration", (CONFIG, "schedule.reminders"), sections={"schedule": {"reminders": ["6 days", "12d"]}}),
    Case("reminders-not-increasing", (CONFIG, "schedule.reminders"),
         sections={"schedule": {"reminders": ["12d", "6d"]}}),
    Case("negative-close-after", (CONFIG, "schedule.close_after"), sections={"schedule": {"close_after": "-1d"}}),
    Case("bad-start", (CONFIG, "schedule.start"), sections={"schedule": {"start": "2015-13-45T09:00:00"}}),
    Case("bad-window", (CONFIG, "schedule.send_window"), sections={"schedule": {"send_window": "mon-fri 25:00-18:00"}}),
    Case("duration-not-a-string", (CONFIG, "schedule.close_after"), sections={"schedule": {"close_after": 7}}),
    Case("missing-template", (CONFIG, "templates.initial"),
         sections={"templates": {"initial": "templates/nope.txt.j2"}}),
    Case("missing-targets", (CONFIG, "targets.file"), sections={"targets": {"file": "nope.csv"}}),
    Case("port-out-of-range", (CONFIG, "smtp.port"), sections={"smtp": {"port": 70000}}),
    Case("port-not-a-number", (CONFIG, "smtp.port"), sections={"smtp": {"port": "587x"}}),
    Case("bad-security", (CONFIG, "smtp.security"), sections={"smtp": {"security": "ssl"}}),
    Case("plaintext-to-remote", (CONFIG, "smtp.security"), sections={"smtp": {"host": "smtp.example.org"}}),
    Case("password-in-password-env", (CONFIG, "smtp.password_env"),
         sections={"smtp": {"username": "u", "password_env": "hunter2!x"}}),
    Case("username-without-password", (CONFIG, "smtp"), sections={"smtp": {"username": "u"}}),
    Case("password-variable-unset", (CONFIG, "PROBE_REL_NOT_SET_PW"),
         sections={"smtp": {"username": "u", "password_env": "PROBE_REL_NOT_SET_PW"}},
         commands=("validate",)),   # launch connects to nothing and needs no password (DESIGN)
    Case("zero-concurrency", (CONFIG, "smtp.concurrency"), sections={"smtp": {"concurrency": 0}}),
    Case("bad-rate-limit", (CONFIG, "smtp.rate_limit"), sections={"smtp": {"rate_limit": "fast"}}),
    Case("bad-database-url", (CONFIG, "database.url"), sections={"database": {"url": "mysql://db/probe"}}),
    Case("bad-busy-timeout", (CONFIG, "database.busy_timeout"), sections={"database": {"busy_timeout": "forever"}}),
    Case("imap-without-host", (CONFIG, "imap.host"),
         sections={"imap": {"username": "u", "password_env": "PROBE_REL_IMAP_PW", "security": "none"}}),
    # the targets file
    Case("no-email-column", ("targets.csv", "email"),
         edit=write("targets.csv", b"prenom,nom,secteur\nA,B,x\n")),
    Case("empty-targets", ("targets.csv",), edit=write("targets.csv", b"")),
    Case("crlf-bcc-in-a-field", ("targets.csv", "line 3", "prenom"),
         edit=target_row(prenom='"Jean\r\nBcc: spy@evil.example"')),
    Case("lf-in-a-field", ("targets.csv", "line 3"), edit=target_row(prenom='"Jean\nX-Evil: 1"')),
    Case("invalid-address-strict", ("targets.csv", "line 3"), edit=target_row(email="not-an-address"), strict=True),
    Case("duplicate-address-strict", ("targets.csv", "line 3"),
         edit=target_row(email=DEFAULT_TARGETS[0]["email"]), strict=True),
    # the templates
    Case("template-syntax", ("initial.txt.j2", "line"), initial="Subject: Bonjour {{ prenom\n\nOUI ou NON ?\n"),
    Case("undefined-variable", ("initial.txt.j2", "fonction"), initial="Subject: Bonjour\n\nCher {{ fonction }},\n"),
    Case("no-subject", ("initial.txt.j2", "Subject"), initial="From-Name: x\n\nOUI ou NON ?\n"),
    Case("sandbox-mro", ("initial.txt.j2", "sandbox"), initial="Subject: x\n\n{{ ''.__class__.__mro__ }}\n"),
    Case("sandbox-subclasses", ("initial.txt.j2", "sandbox"),
         initial="Subject: x\n\n{{ ''.__class__.__mro__[1].__subclasses__() }}\n"),
    Case("sandbox-globals", ("initial.txt.j2", "sandbox"), initial="Subject: x\n\n{{ cycler.__init__.__globals__ }}\n"),
    Case("sandbox-field-internals", ("initial.txt.j2", "sandbox"),
         initial="Subject: x\n\n{{ prenom.__class__.__base__ }}\n"),
    Case("sandbox-format-string", ("initial.txt.j2", "sandbox"),
         initial="Subject: x\n\n{{ '{0.__class__.__init__.__globals__}'.format(prenom) }}\n"),
    Case("crlf-from-a-filter", ("initial.txt.j2", "Subject", "line break"),
         initial="Subject: {{ prenom ~ '\\r\\nBcc: spy@evil.example' }}\n\nx\n"),
]


def rows_in(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                  if t in {"campaign", "target", "send"}]
        return sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_broken_input_is_exit_2_with_file_key_and_fix_and_writes_nothing(case, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PROBE_REL_IMAP_PW", "x")
    monkeypatch.delenv("PROBE_REL_NOT_SET_PW", raising=False)
    db = tmp_path / "probe.db"
    camp = make_campaign(tmp_path / "campaign", smtp_port=2525, db_url=f"sqlite:///{db}", sections=case.sections,
                         initial=case.initial)
    if case.edit is not None:
        case.edit(camp)
    extra = ["--strict"] if case.strict else []
    for command in case.commands:
        code = main([command, str(camp.config), *extra])
        err = capsys.readouterr().err
        assert code == 2, f"{command}: exit {code}\n{err}"
        assert "Traceback" not in err and "internal error" not in err, err
        for text in case.expect:
            assert text.lower() in err.lower(), f"{command}: {text!r} not named in:\n{err}"
        assert "fix" in err.lower() or "run:" in err.lower(), f"{command}: no fix given:\n{err}"
        assert "hunter2" not in err        # a password written in the wrong place is never echoed
    assert rows_in(db) == 0
