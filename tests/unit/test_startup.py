"""What the commands that only read load, and how the CLI starts.

`probe status` (the Docker HEALTHCHECK, a cron health check), `probe report` and `probe replies`
must cost about the interpreter's start-up. Their cost was imports, so this guards the imports
structurally: each command runs as its own process (`python -m probe`, as a user runs it) and the
modules loaded when it exits are checked against what only other commands need. The timing itself
is benchmarks/readonly.py's job, not a test's."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import probe.cli
from probe.cli import COMMANDS, build_parser, chosen_command
from tests.fixtures.campaign import make_campaign
from tests.fixtures.dovecot import DovecotUser

NOW = "2015-09-28T09:00:00+02:00"

#: Never on a read path: templates (Jinja2), mail servers, the classifier, the scheduler, the
#: migrations, and the passes that write.
WRITE_PATH_ONLY = (
    "jinja2", "markupsafe", "aiosmtplib", "aioimaplib", "apscheduler", "alembic",
    "probe.adapters.templates", "probe.adapters.smtp", "probe.adapters.imap", "probe.adapters.compose",
    "probe.core.classify", "probe.core.answers", "probe.core.bounces", "probe.core.autoreply",
    "probe.service.dispatch", "probe.service.tick", "probe.service.poll", "probe.service.daemon",
    "probe.service.launch", "probe.service.validate", "probe.store.inbox", "probe.store.sends",
)
#: `status` does not build the report either.
REPORT_ONLY = ("probe.report", "probe.store.aggregates", "probe.store.research")
#: The charts (and the experiment's page section) load with the HTML report only.
HTML_ONLY = ("probe.report.svg", "html")
#: A plain ASCII address (the config's From and Reply-To) is checked without email-validator, whose
#: import compiles its Unicode patterns (probe/core/addresses.py).
ADDRESS_LIBRARY = ("email_validator", "idna")
#: Only a poll that reads a message needs the classifier (its modules and their regular expressions),
#: and only a poll at all needs the IMAP client.
CLASSIFIER = ("probe.core.classify", "probe.core.autoreply", "probe.core.bounces", "probe.core.answers",
              "probe.core.message", "probe.core.matching")
IMAP_CLIENT = ("aioimaplib", "probe.adapters.imap", "probe.adapters.imap_wire")

# Runs `python -m probe ARGS` in this process and writes the loaded module names to OUT on exit
# (atexit: after the command has printed and returned its exit code).
RUNNER = """
import atexit, json, runpy, sys
out, args = sys.argv[1], sys.argv[2:]
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv = ["probe", *args]
runpy.run_module("probe", run_name="__main__", alter_sys=True)
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("startup")
    campaign = make_campaign(root / "campaign", smtp_port=9, db_url=f"sqlite:///{root / 'probe.db'}")
    assert probe.cli.main(["launch", str(campaign.config), "--now", NOW]) == 0
    return campaign.config


def run_probe(tmp_path: Path, *args: str, env: dict[str, str] | None = None
              ) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    out = tmp_path / "modules.json"
    done = subprocess.run([sys.executable, "-c", RUNNER, str(out), *args], capture_output=True, text=True,
                          timeout=120, env=None if env is None else {**os.environ, **env})
    return done, set(json.loads(out.read_text()))


def loaded(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes))


@pytest.mark.parametrize("args, forbidden", [
    (["status"], WRITE_PATH_ONLY + REPORT_ONLY + ADDRESS_LIBRARY),
    (["status", "--format", "json"], WRITE_PATH_ONLY + REPORT_ONLY + ADDRESS_LIBRARY),
    (["report", "--format", "json"], WRITE_PATH_ONLY + ADDRESS_LIBRARY + HTML_ONLY),
    (["replies"], WRITE_PATH_ONLY + ADDRESS_LIBRARY + HTML_ONLY + ("probe.report.experiment",)),
])
def test_a_read_loads_nothing_of_the_write_path(config: Path, tmp_path: Path, args: list[str],
                                                forbidden: tuple[str, ...]) -> None:
    done, modules = run_probe(tmp_path, args[0], str(config), *args[1:])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() and "Traceback" not in done.stderr
    assert loaded(modules, forbidden) == []
    assert "sqlalchemy" in modules and "probe.config" in modules   # it did read the config and the database


def test_a_send_only_tick_loads_neither_the_classifier_nor_the_imap_client(config: Path, tmp_path: Path) -> None:
    # No [imap] and nothing due yet (the day before the start): the pass polls nothing, sends nothing.
    done, modules = run_probe(tmp_path, "tick", str(config), "--now", "2015-09-27T09:00:00+02:00")
    assert done.returncode == 0, done.stderr
    assert "0 new messages" in done.stdout and "sent 0" in done.stdout
    assert loaded(modules, CLASSIFIER + IMAP_CLIENT + ADDRESS_LIBRARY) == []
    assert "probe.service.tick" in modules and "probe.service.dispatch" in modules   # it did run a pass


def test_a_tick_whose_mailbox_has_nothing_new_loads_no_classifier(tmp_path: Path, dovecot_user: DovecotUser
                                                                   ) -> None:
    imap = {"host": "127.0.0.1", "port": dovecot_user.port, "security": "none", "username": dovecot_user.user,
            "password_env": "PROBE_IMAP_PASSWORD", "folder": "INBOX", "timeout": "5s"}
    campaign = make_campaign(tmp_path / "campaign", smtp_port=9, imap=imap,
                             db_url=f"sqlite:///{tmp_path / 'probe.db'}")
    assert probe.cli.main(["launch", str(campaign.config), "--now", NOW]) == 0
    done, modules = run_probe(tmp_path, "tick", str(campaign.config), "--now", "2015-09-27T09:00:00+02:00",
                              env={"PROBE_IMAP_PASSWORD": dovecot_user.password})
    assert done.returncode == 0, done.stderr
    assert "0 new messages" in done.stdout
    assert "probe.adapters.imap" in modules   # it did poll
    assert loaded(modules, CLASSIFIER) == []


def test_a_database_behind_the_head_exits_2_naming_db_upgrade_without_alembic(config: Path,
                                                                              tmp_path: Path) -> None:
    db = config.parent.parent / "probe.db"
    with sqlite3.connect(db) as conn:
        (head,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
    try:
        done, modules = run_probe(tmp_path, "status", str(config))
    finally:
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE alembic_version SET version_num = ?", (head,))
    assert done.returncode == 2, done.stderr
    assert "probe db upgrade" in done.stderr and "Traceback" not in done.stderr
    assert loaded(modules, ("alembic",)) == []   # the version is one SELECT against the known head


def test_the_command_table_matches_what_the_modules_register() -> None:
    full = build_parser()
    (sub,) = [a for a in full._actions if a.dest == "command"]
    assert set(sub.choices) == set(COMMANDS)
    for command, module in COMMANDS.items():
        (one,) = [a for a in build_parser(command)._actions if a.dest == "command"]
        assert command in one.choices, (command, module)


def test_the_chosen_command_is_the_first_word_that_is_not_an_option() -> None:
    assert chosen_command(["status", "x.toml"]) == "status"
    assert chosen_command(["--debug", "-v", "report", "x.toml", "--format", "json"]) == "report"
    assert chosen_command(["db", "upgrade", "x.toml"]) == "db"
    assert chosen_command(["--help"]) is None
    assert chosen_command(["--version"]) is None
    assert chosen_command(["-h", "status"]) is None             # the top-level help lists every command
    assert chosen_command(["stauts", "x.toml"]) is None          # the whole parser says what exists
    assert chosen_command([]) is None


def test_help_and_a_misspelt_command_still_list_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        probe.cli.main(["--help"])
    out = capsys.readouterr().out
    assert all(command in out for command in COMMANDS)
    with pytest.raises(SystemExit):
        probe.cli.main(["-h", "status"])
    assert capsys.readouterr().out == out
    with pytest.raises(SystemExit) as exit_:
        probe.cli.main(["stauts", "x.toml"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'stauts'" in err and "'status'" in err and "'send-test'" in err


def test_a_caller_passing_argv_keeps_its_garbage_collector(config: Path, capsys: pytest.CaptureFixture[str]
                                                           ) -> None:
    import gc

    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    assert probe.cli.main(["status", str(config)]) == 0
    capsys.readouterr()
    assert gc.isenabled() and gc.get_freeze_count() == frozen
