"""With [imap] pointing nowhere, `tick` exits 1 and names the key to fix: imap.host (and the port),
not imap.timeout. Both cases stay on this machine: a closed loopback port, and a name under the
reserved `.invalid` domain that never resolves (RFC 6761)."""

from __future__ import annotations

import pytest

from tests.fixtures.smtp_server import free_port
from tests.system.test_cli_campaign import probe


@pytest.mark.parametrize("host", ["127.0.0.1", "imap.probe-test.invalid"])
def test_tick_with_an_unreachable_imap_host_says_check_imap_host(campaign_factory, smtp_server, tmp_path,
                                                                  monkeypatch, host):
    monkeypatch.setenv("PROBE_IMAP_PASSWORD", "x")
    imap = {"host": host, "port": free_port(), "security": "none" if host == "127.0.0.1" else "tls", "username": "u",
            "password_env": "PROBE_IMAP_PASSWORD", "timeout": "5s"}
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=f"sqlite:///{tmp_path}/d.db", imap=imap)
    assert probe("launch", camp.config).returncode == 0
    r = probe("tick", camp.config, "--now", "2015-09-28T09:00:00")
    assert r.returncode == 1
    assert "check imap.host" in r.stderr and "imap.port" in r.stderr
    assert "imap.timeout" not in r.stderr and "Traceback" not in r.stderr
    assert smtp_server.handler.received == [], "nothing sent when the mailbox cannot be read"
