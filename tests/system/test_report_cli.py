"""`probe report | replies | review | export` in-process: outputs, exit codes, overrides, evidence files.

The campaign is seeded straight into the config's SQLite database (tests/fixtures/seed.py); the
figures are those of tests/integration/test_report.py.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
from pathlib import Path

import pytest

import probe.cli
from probe.store.engine import make_engine, make_sessionmaker, upgrade
from tests.fixtures.seed import seed_known

CONFIG = """\
[campaign]
name = "known"
from = "Redaction <redaction@en-contact.example>"
timezone = "Europe/Paris"

[schedule]
reminders = ["6d", "12d"]

[templates]
initial = "templates/initial.txt.j2"
reminders = ["templates/r1.txt.j2", "templates/r2.txt.j2"]

[targets]
file = "targets.csv"

[smtp]
host = "127.0.0.1"
port = 2525
security = "none"

[database]
url = "sqlite:///probe.db"
"""
NOW = "2015-11-01T00:00:00+00:00"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "templates").mkdir()
    for name in ("initial", "r1", "r2"):
        (tmp_path / "templates" / f"{name}.txt.j2").write_text("Subject: Abonnement\n\nOUI ou NON ?\n")
    (tmp_path / "targets.csv").write_text("email,sector\nt01@retail.example,retail\n")
    path = tmp_path / "campaign.toml"
    path.write_text(CONFIG)
    url = f"sqlite+aiosqlite:///{tmp_path / 'probe.db'}"
    upgrade(url)

    async def seed() -> None:
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine).begin() as s:
                await seed_known(s)
        finally:
            await engine.dispose()

    asyncio.run(seed())
    return path


@pytest.fixture
def probe_cli(capsys: pytest.CaptureFixture[str]):
    def run(*argv: str | Path) -> tuple[int, str, str]:
        code = probe.cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_report_json_on_stdout(config: Path, probe_cli) -> None:
    code, out, err = probe_cli("report", config, "--format", "json", "--now", NOW)
    assert code == 0, err
    report = json.loads(out)
    assert (report["targets"], report["reachable"], report["answered"]) == (25, 24, 11)
    assert report["answers"] == {"yes": 7, "no": 3, "unclear": 1}
    assert report["status"] == "closed"


def test_report_table_by_field(config: Path, probe_cli) -> None:
    code, out, _ = probe_cli("report", config, "--by", "sector", "--now", NOW)
    assert code == 0
    assert "11 of 24 reachable targets answered (45.8 %" in out
    assert "by sector" in out and "too small to rank" in out


def test_report_csv_and_html_to_files(config: Path, probe_cli, tmp_path: Path) -> None:
    code, out, err = probe_cli("report", config, "--format", "csv", "--output", tmp_path / "r.csv")
    assert code == 0 and out == "" and "r.csv" in err
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r.csv").read_text(encoding="utf-8-sig"))))
    assert len(rows) == 25 and rows[0]["email"] == "t01@retail.example"
    code, out, _ = probe_cli("report", config, "--format", "html", "--by", "sector", "--output", tmp_path / "r.html")
    assert code == 0
    html = (tmp_path / "r.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<script>" not in html


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--by", "region"], "no field 'region'"),
        (["--now", "yesterday"], "--now"),
        (["--output", "/nonexistent/dir/r.txt"], "cannot write"),
    ],
)
def test_report_bad_input_is_exit_2(config: Path, probe_cli, argv: list[str], message: str) -> None:
    code, _, err = probe_cli("report", config, *argv)
    assert code == 2
    assert message in err and "Traceback" not in err


def test_report_on_a_campaign_never_launched(config: Path, probe_cli) -> None:
    config.write_text(CONFIG.replace('name = "known"', 'name = "other"'))
    code, _, err = probe_cli("report", config)
    assert code == 2
    assert "not in the database" in err and "probe launch" in err


def test_replies_lists_every_message_and_filters(config: Path, probe_cli) -> None:
    code, out, _ = probe_cli("replies", config, "--format", "json")
    assert code == 0
    replies = json.loads(out)
    assert len(replies) == 17   # 11 human replies, 3 auto-replies, a bounce, a read receipt, a spam
    assert {r["kind"] for r in replies} == {"human_reply", "auto_reply", "bounce", "read_receipt", "unknown"}
    code, out, _ = probe_cli("replies", config, "--unmatched", "--format", "json")
    assert [r["subject"] for r in json.loads(out)] == ["Gagnez un iPhone"]
    code, out, _ = probe_cli("replies", config, "--kind", "auto_reply")
    assert code == 0 and len(out.splitlines()) == 1 + 3
    assert "t07@retail.example" in out


def _find(probe_cli, config: Path, email: str) -> dict:
    _, out, _ = probe_cli("replies", config, "--kind", "human_reply", "--format", "json")
    return next(r for r in json.loads(out) if r["target_email"] == email)


def test_review_set_changes_the_report_and_is_listed(config: Path, probe_cli) -> None:
    t11 = _find(probe_cli, config, "t11@retail.example")
    assert (t11["answer"], t11["override"]) == ("unclear", None)
    code, _, err = probe_cli("review", config, "--set", f"{t11['id']}=no", "--now", NOW)
    assert code == 0, err
    assert "no (automatic: unclear)" in err
    t11 = _find(probe_cli, config, "t11@retail.example")
    assert (t11["answer"], t11["override"]) == ("unclear", "no")
    assert t11["override_by"]
    _, out, _ = probe_cli("report", config, "--format", "json", "--now", NOW)
    assert json.loads(out)["answers"] == {"yes": 7, "no": 4, "unclear": 0}
    # clear puts the automatic answer back
    probe_cli("review", config, "--set", f"{t11['id']}=clear")
    _, out, _ = probe_cli("report", config, "--format", "json", "--now", NOW)
    assert json.loads(out)["answers"] == {"yes": 7, "no": 3, "unclear": 1}


@pytest.mark.parametrize("value", ["12", "x=yes", "12=maybe", "999999=yes"])
def test_review_bad_set_is_exit_2(config: Path, probe_cli, value: str) -> None:
    code, _, err = probe_cli("review", config, "--set", value)
    assert code == 2
    assert "--set" in err


def test_review_walks_unclear_replies(config: Path, probe_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(["what?", "y"])
    monkeypatch.setattr("builtins.input", lambda: next(answers))
    code, _, err = probe_cli("review", config)
    assert code == 0
    assert "Je transmets <b>à</b> mon collègue" in err and "no answer word" in err
    assert "type y, n, u, s or q" in err
    _, out, _ = probe_cli("report", config, "--format", "json", "--now", NOW)
    assert json.loads(out)["answers"] == {"yes": 8, "no": 3, "unclear": 0}
    code, _, err = probe_cli("review", config)
    assert "nothing to review" in err


def test_export_is_complete_and_consistent(config: Path, probe_cli, tmp_path: Path) -> None:
    out_dir = tmp_path / "evidence"
    code, _, err = probe_cli("export", config, "--output", out_dir)
    assert code == 0, err
    sends = list(csv.DictReader((out_dir / "sends.csv").open(encoding="utf-8-sig")))
    replies = list(csv.DictReader((out_dir / "replies.csv").open(encoding="utf-8-sig")))
    _, out, _ = probe_cli("report", config, "--format", "json", "--now", NOW)
    report = json.loads(out)
    for wave, n in report["sent"].items():
        done = [s for s in sends if s["wave"] == wave and s["state"] == "sent"]
        assert len(done) == n
        assert all(s["message_id"].startswith("<probe.") and s["smtp_reply"].startswith("250 ") for s in done)
    assert sum(s["state"] == "uncertain" for s in sends) == report["uncertain"]
    assert len(replies) == 17
    for reply in replies:
        raw = (out_dir / reply["raw_file"]).read_bytes()
        assert hashlib.sha256(raw).hexdigest() == reply["sha256"]
    human = [r for r in replies if r["kind"] == "human_reply" and r["target_email"]]
    assert len({r["target_email"] for r in human}) == report["answered"]


def test_report_reads_while_a_pass_holds_the_write_lock(config: Path, probe_cli) -> None:
    import sqlite3
    import time

    writer = sqlite3.connect(config.parent / "probe.db", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE campaign SET last_pass_at = NULL")
        started = time.monotonic()
        code, out, err = probe_cli("report", config, "--format", "json", "--now", NOW)
        assert code == 0, err
        assert json.loads(out)["targets"] == 25
        assert time.monotonic() - started < 8, "the report waited for the writer's lock"
    finally:
        writer.execute("ROLLBACK")
        writer.close()
