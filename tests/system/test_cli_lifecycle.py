"""The lifecycle through the CLI, as a user meets it: an SMTP account that fails is loud (tick and
status exit 1, naming the key to fix) and free; a start in the past is announced; resolve stays in the
config's campaign; a failed initial email is listed with its id and can be sent again."""

from __future__ import annotations

import json

from tests.fixtures.smtp_server import free_port
from tests.system.test_cli_campaign import probe


def test_smtp_down_is_loud_and_free(campaign_factory, tmp_path):
    camp = campaign_factory(smtp_port=free_port(), db_url=f"sqlite:///{tmp_path}/p.db")
    assert probe("launch", camp.config, "--now", "2015-09-27T12:00").returncode == 0
    for now in ("2015-09-28T09:00", "2015-09-28T09:30"):
        r = probe("tick", camp.config, "--now", now)
        assert r.returncode == 1, r.stderr
        assert "SMTP account cannot be used" in r.stderr and "no attempt was counted" in r.stderr
        assert "smtp.host" in r.stderr and "Traceback" not in r.stderr
    status = probe("status", camp.config, "--now", "2015-09-28T10:00")
    assert status.returncode == 1
    assert "SMTP ACCOUNT FAILING since Mon 2015-09-28 09:00" in status.stdout
    data = json.loads(probe("status", camp.config, "--format", "json").stdout)
    assert data["smtp_account"]["failing_since"].startswith("2015-09-28T07:00")
    assert data["sends"]["scheduled"] == 15 and data["sends"]["retry"] == 0 and data["failed"] == []


def test_start_in_the_past_is_announced(campaign_factory, smtp_server, tmp_path):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=f"sqlite:///{tmp_path}/p.db",
                            sections={"schedule": {"start": "2014-09-28T09:00:00"}})
    r = probe("validate", camp.config, "--now", "2015-09-28T09:00")
    assert r.returncode == 0, r.stderr
    assert "start in the past: it means now; the next pass sends 5 emails" in r.stdout
    r = probe("launch", camp.config, "--now", "2015-09-28T09:00")
    assert r.returncode == 0, r.stderr
    assert "start in the past: it means now; the next pass sends 5 emails" in r.stdout
    r = probe("tick", camp.config, "--now", "2015-09-28T09:00")
    assert r.returncode == 0 and "sent 5," in r.stdout
    assert len(smtp_server.handler.received) == 5


def test_refused_initial_is_listed_and_resent_once_resolve_stays_in_its_campaign(campaign_factory, smtp_server,
                                                                                 tmp_path):
    db = f"sqlite:///{tmp_path}/p.db"
    one = [{"email": "refused@client.example.com", "prenom": "A", "nom": "B", "secteur": "x"}]
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db, targets=one, name="mine")
    other = campaign_factory(smtp_port=smtp_server.port, db_url=db, targets=one, name="other")
    smtp_server.handler.data_script[:] = ["554 5.7.1 Message refused"]
    assert probe("launch", camp.config, "--now", "2015-09-27T12:00").returncode == 0
    assert probe("launch", other.config, "--now", "2015-09-27T12:00").returncode == 0
    assert probe("tick", camp.config, "--now", "2015-09-28T09:00").returncode == 0
    status = json.loads(probe("status", camp.config, "--format", "json").stdout)
    assert status["targets"]["undelivered"] == 1
    (failed,) = status["failed"]
    assert failed["wave"] == 0 and "554" in failed["error"]
    report = json.loads(probe("report", camp.config, "--format", "json", "--now", "2015-10-20T09:00").stdout)
    assert (report["undelivered"], report["reachable"]) == (1, 0)
    # Another campaign's config cannot touch it.
    r = probe("resolve", other.config, str(failed["send_id"]), "--resend")
    assert r.returncode == 2 and "not a send of this campaign" in r.stderr
    assert json.loads(probe("status", camp.config, "--format", "json").stdout)["failed"] == status["failed"]
    r = probe("resolve", camp.config, str(failed["send_id"]), "--resend", "--now", "2015-09-28T10:00")
    assert r.returncode == 0, r.stderr
    assert probe("resolve", camp.config, str(failed["send_id"]), "--resend").returncode == 2   # once
    assert probe("tick", camp.config, "--now", "2015-09-28T10:00").returncode == 0
    assert len(smtp_server.handler.to("refused@client.example.com")) == 1
    status = json.loads(probe("status", camp.config, "--format", "json").stdout)
    assert status["targets"]["contacted"] == 1 and status["failed"] == []
