"""Progress on long work: a line on stderr when stderr is a terminal (a real pty here), nothing when
it is a pipe or a file, and never anything on stdout."""

from __future__ import annotations

import mailbox
import os
import pty
import subprocess
from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.system.test_cli_campaign import PROBE, probe


def run_with_terminal_stderr(*args: str | Path) -> tuple[int, str, str]:
    """Run probe with stderr on a pseudo-terminal and stdout on a pipe."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen([*PROBE, *map(str, args)], stdout=subprocess.PIPE, stderr=follower,
                                stdin=subprocess.DEVNULL)
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 65536)
            except OSError:   # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        out = proc.stdout.read() if proc.stdout else b""
        code = proc.wait(timeout=120)
    finally:
        os.close(leader)
    return code, out.decode(), b"".join(chunks).decode(errors="replace")


@pytest.fixture
def mbox(tmp_path: Path) -> Path:
    path = tmp_path / "replies.mbox"
    box = mailbox.mbox(path)
    for i in range(200):
        m = EmailMessage()
        m["From"] = f"someone{i}@elsewhere.example"
        m["To"] = "redaction@en-contact.example.com"
        m["Subject"] = f"Newsletter {i}"
        m["Message-ID"] = f"<n{i}@elsewhere.example>"
        m["Date"] = "Mon, 28 Sep 2015 10:00:00 +0200"
        m.set_content("Hello\n")
        box.add(m)
    box.close()
    return path


def test_import_launch_and_export_show_progress_on_a_terminal(campaign_factory, smtp_server, tmp_path, mbox):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=f"sqlite:///{tmp_path}/d.db")
    code, out, err = run_with_terminal_stderr("launch", camp.config)
    assert code == 0, err
    assert "\rlaunch: reading targets.csv" in err and "5 targets planned" in err
    assert "launch:" not in out
    code, out, err = run_with_terminal_stderr("import", camp.config, mbox)
    assert code == 0, err
    assert "\rimport: 200 messages in " in err
    assert "import:" not in out
    code, out, err = run_with_terminal_stderr("export", camp.config, "--output", tmp_path / "ev")
    assert code == 0, err
    assert "\rexport: 215 sends and replies in " in err


def test_no_progress_line_when_stderr_is_not_a_terminal(campaign_factory, smtp_server, tmp_path, mbox):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=f"sqlite:///{tmp_path}/d.db")
    r = probe("launch", camp.config)
    assert r.returncode == 0 and "\r" not in r.stderr and "launch: reading" not in r.stderr
    r = probe("import", camp.config, mbox)
    assert r.returncode == 0 and "\r" not in r.stderr and "import:" not in r.stderr
