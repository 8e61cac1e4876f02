"""Issue 12, "a window of doubt no wider than DATA": `probe tick` SIGKILLed while two messages sit in
DATA and further claims wait in its queue → after the next pass only the two that were on the wire are
`uncertain`; the claims never handed to SMTP went back to the queue and were sent, each once."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections import Counter
from typing import Any

from tests.fixtures.smtp_server import RecordingHandler
from tests.system.test_cli_campaign import PROBE, probe

TARGETS = 10
CONCURRENCY = 2


class CountingHandler(RecordingHandler):
    def __init__(self) -> None:
        super().__init__()
        self.in_data = 0
        self.block_data = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.in_data += 1
        return await super().handle_DATA(server, session, envelope)


def sends(config) -> dict[str, int]:  # type: ignore[no-untyped-def]
    r = probe("status", config, "--format", "json")
    assert r.returncode in (0, 1), r.stderr                   # 1: some sends are uncertain
    return {k: v for k, v in json.loads(r.stdout)["sends"].items() if v}


def wait_until(check, timeout_s: float = 60) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


def test_sigkill_mid_data_leaves_only_the_sends_on_the_wire_uncertain(campaign_factory, smtp_server, db_url):
    handler = CountingHandler()
    smtp_server.handler.__dict__.update(handler.__dict__)       # the running server's handler, blocking DATA
    smtp_server.handler.__class__ = CountingHandler
    targets = [{"email": f"t{i}@d{i % 3}.example.com", "prenom": "P", "nom": "N", "secteur": "x"}
               for i in range(TARGETS)]
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url, targets=targets, sections={
        "schedule": {"reminders": [], "close_after": "7d"}, "templates": {"reminders": []},
        "smtp": {"concurrency": CONCURRENCY}})
    assert probe("launch", camp.config).returncode == 0
    tick = subprocess.Popen([*PROBE, "tick", str(camp.config), "--now", "2015-09-28T09:30:00"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: smtp_server.handler.in_data == CONCURRENCY)
        # Claims run ahead of the connections: more are claimed than are on the wire.
        wait_until(lambda: sends(camp.config).get("claimed", 0) > CONCURRENCY)
        tick.send_signal(signal.SIGKILL)
        tick.wait(timeout=30)
    finally:
        if tick.poll() is None:
            tick.kill()
            tick.wait()
        smtp_server.handler.block_data.set()
    on_the_wire = smtp_server.handler.in_data
    r = probe("tick", camp.config, "--now", "2015-09-28T09:31:00")
    assert r.returncode == 1, r.stderr                        # exit 1: uncertain sends to settle
    states = sends(camp.config)
    assert states == {"uncertain": on_the_wire, "sent": TARGETS - on_the_wire}
    received = Counter(m.rcpt_tos[0] for m in smtp_server.handler.received)
    # Every send not on the wire went out once; the two cut off in DATA at most once (here: the server
    # dropped them with the connection).
    assert max(received.values()) == 1 and TARGETS - on_the_wire <= len(received) <= TARGETS
