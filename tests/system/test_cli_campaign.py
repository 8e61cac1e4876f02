"""The campaign commands as a user runs them: real processes, real SMTP server, exit codes and text."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from tests.fixtures.campaign import CampaignDir

PROBE = [sys.executable, "-m", "probe"]


def probe(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([*PROBE, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=env, stdin=subprocess.DEVNULL)


def test_validate_launch_tick_status(campaign_factory, smtp_server, db_url):
    camp: CampaignDir = campaign_factory(smtp_port=smtp_server.port, db_url=db_url)
    r = probe("validate", camp.config)
    assert r.returncode == 0, r.stderr
    assert "targets: 5" in r.stdout and "initial: Mon 2015-09-28 09:00" in r.stdout
    assert smtp_server.handler.received == []  # validate sends nothing

    r = probe("launch", camp.config, "--now", "2015-09-27T12:00")
    assert r.returncode == 0, r.stderr
    assert "5 targets added" in r.stdout and "15 sends planned" in r.stdout
    r = probe("launch", camp.config, "--now", "2015-09-27T12:00")
    assert r.returncode == 0 and "0 targets added" in r.stdout and "0 sends planned" in r.stdout
    assert smtp_server.handler.received == []  # launch connects to no mail server

    r = probe("tick", camp.config, "--now", "2015-09-28T09:00")
    assert r.returncode == 0, r.stderr
    assert "sent 5" in r.stdout
    assert len(smtp_server.handler.wait_for(5)) == 5

    r = probe("status", camp.config, "--format", "json")
    assert r.returncode == 0, r.stderr
    assert '"contacted": 5' in r.stdout


def test_missing_template_variable_is_exit_2_before_any_send(campaign_factory, smtp_server, db_url):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url,
                            initial="Subject: Bonjour {{ prenom }}\n\nCher {{ fonction }},\nOUI ou NON ?\n")
    for command in ("validate", "launch"):
        r = probe(command, camp.config)
        assert r.returncode == 2, r.stderr
        assert "fonction" in r.stderr and "initial.txt.j2" in r.stderr and "Traceback" not in r.stderr
    r = probe("tick", camp.config, "--now", "2015-09-28T09:00")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert smtp_server.handler.received == []


def test_changed_plan_refuses_tick_until_launch(campaign_factory, smtp_server, db_url):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url)
    assert probe("launch", camp.config).returncode == 0
    (camp.path / "templates" / "reminder1.txt.j2").write_text("Subject: Relance\n\nOUI ou NON ?\n")
    r = probe("tick", camp.config, "--now", "2015-09-28T09:00")
    assert r.returncode == 2 and "probe launch" in r.stderr
    assert smtp_server.handler.received == []
    assert probe("launch", camp.config).returncode == 0
    assert probe("tick", camp.config, "--now", "2015-09-28T09:00").returncode == 0


def test_missing_password_variable_is_exit_2_before_any_connection(campaign_factory, smtp_server, db_url):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url,
                            sections={"smtp": {"username": "redaction", "password_env": "PROBE_TEST_SMTP_PW"}})
    env = {k: v for k, v in os.environ.items() if k != "PROBE_TEST_SMTP_PW"}
    assert probe("launch", camp.config, env=env).returncode == 0   # launch needs no password
    r = probe("tick", camp.config, "--now", "2015-09-28T09:00", env=env)
    assert r.returncode == 2
    assert "PROBE_TEST_SMTP_PW" in r.stderr and "Traceback" not in r.stderr
    assert smtp_server.handler.received == []


def test_tick_killed_mid_send_leaves_no_double_initial_email(campaign_factory, smtp_server, db_url):
    """SIGKILL while the server holds DATA: on the next pass that send is `uncertain`, never resent."""
    targets = [{"email": f"d{i}@client.example.com", "prenom": "A", "nom": "B", "secteur": "x"} for i in range(4)]
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url, targets=targets,
                            sections={"smtp": {"concurrency": 1}})
    assert probe("launch", camp.config).returncode == 0
    handler = smtp_server.handler
    handler.block_data = threading.Event()
    tick = subprocess.Popen([*PROBE, "tick", str(camp.config), "--now", "2015-09-28T09:00"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert handler.data_started.wait(30), "the tick never reached DATA"
        os.kill(tick.pid, signal.SIGKILL)
        tick.wait(10)
    finally:
        if tick.poll() is None:
            tick.kill()
        handler.block_data.set()   # the server now completes the DATA it had: the mail may be delivered
    r = probe("tick", camp.config, "--now", "2015-09-28T09:00")
    assert r.returncode == 1, r.stderr       # a problem was found: an uncertain send
    assert "uncertain" in (r.stdout + r.stderr)
    for target in targets:
        assert len(handler.to(target["email"])) <= 1, f"{target['email']} got two initial emails"
    assert sum(len(handler.to(t["email"])) for t in targets) >= 3
    status = probe("status", camp.config)
    assert status.returncode == 1
    assert "UNCERTAIN" in status.stdout
    # A later pass still never resends it.
    assert probe("tick", camp.config, "--now", "2015-09-28T10:00").returncode in (0, 1)
    for target in targets:
        assert len(handler.to(target["email"])) <= 1
