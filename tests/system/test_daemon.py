"""`probe run`: the daemon on a simulated clock, and its clean stop on SIGTERM/SIGINT."""

from __future__ import annotations

import json
import signal
import subprocess
import threading

import pytest

from tests.system.test_cli_campaign import PROBE, probe


def start_daemon(config, *args: str) -> subprocess.Popen:
    return subprocess.Popen([*PROBE, "run", str(config), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)


def wait_for_line(process: subprocess.Popen, needle: str, timeout_s: float = 30) -> bool:
    """Read the process's stderr until a line contains `needle` (in a thread, so it can time out)."""
    found = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            if needle in line:
                found.set()
                return

    threading.Thread(target=read, daemon=True).start()
    return found.wait(timeout_s)


def sends_by_state(config) -> dict[str, int]:
    r = probe("status", config, "--format", "json")
    return json.loads(r.stdout)["sends"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_daemon_sends_on_its_simulated_clock_and_stops_cleanly(campaign_factory, smtp_server, tmp_path, sig):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=f"sqlite:///{tmp_path}/d.db",
                            sections={"schedule": {"tick_every": "1m"}})
    assert probe("launch", camp.config).returncode == 0
    # One real second is one campaign minute: the 09:00 wave is due about a second after start.
    daemon = start_daemon(camp.config, "--now", "2015-09-28T08:59:30", "--speed", "60")
    try:
        smtp_server.handler.wait_for(5, timeout_s=60)
        daemon.send_signal(sig)
        _out, err = daemon.communicate(timeout=30)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.returncode == 0, err
    states = sends_by_state(camp.config)
    assert states["sent"] == 5 and states["claimed"] == 0 and states["uncertain"] == 0


def test_sigterm_lets_the_send_in_flight_finish_and_be_recorded(campaign_factory, smtp_server, tmp_path):
    targets = [{"email": f"d{i}@client.example.com", "prenom": "A", "nom": "B", "secteur": "x"} for i in range(3)]
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=f"sqlite:///{tmp_path}/d.db", targets=targets,
                            sections={"smtp": {"concurrency": 1}})
    assert probe("launch", camp.config).returncode == 0
    handler = smtp_server.handler
    handler.block_data = threading.Event()
    daemon = start_daemon(camp.config, "--now", "2015-09-28T09:00:00", "--speed", "1", "--verbose")
    try:
        assert handler.data_started.wait(60)
        daemon.send_signal(signal.SIGTERM)
        # Release the server only once the daemon has taken the signal in.
        assert wait_for_line(daemon, "stopping"), "the daemon did not acknowledge SIGTERM"
        handler.block_data.set()
        daemon.wait(timeout=30)
    finally:
        handler.block_data.set()
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.returncode == 0
    states = sends_by_state(camp.config)
    # The message in flight was delivered and recorded; nothing was left claimed or uncertain,
    # and no new send was started after the signal.
    assert states["sent"] == 1 and states["claimed"] == 0 and states["uncertain"] == 0
    assert len(handler.received) == 1


def test_run_refuses_bad_speed(campaign_factory, smtp_server, tmp_path):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=f"sqlite:///{tmp_path}/d.db")
    assert probe("launch", camp.config).returncode == 0
    r = subprocess.run([*PROBE, "run", str(camp.config), "--speed", "0"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "--speed" in r.stderr



