"""Experiments through the CLI without mail servers: config errors (exit 2, file, key, fix), validate
rendering each variant, the assignment identical on SQLite and PostgreSQL and stable when targets
are added, a variant's own sender."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.fixtures.campaign import write_csv
from tests.fixtures.db import pg_database
from tests.system.test_cli_campaign import probe
from tests.system.test_experiment import experiment_campaign, read_assignment

SQLITE = "sqlite:///probe.db"


def _export(config: Path, folder: Path) -> list[dict[str, str]]:
    r = probe("export", config, "--output", folder)
    assert r.returncode == 0, r.stderr
    return read_assignment(folder)


@pytest.mark.postgres
def test_assignment_identical_on_sqlite_and_postgresql(campaign_factory, _pg_template, tmp_path):
    camp = experiment_campaign(campaign_factory, 2525, SQLITE, 60)
    text = camp.config.read_text()
    assert probe("launch", camp.config).returncode == 0
    on_sqlite = _export(camp.config, tmp_path / "sqlite")
    with pg_database(_pg_template) as url:
        camp.config.write_text(text.replace(SQLITE, url))
        r = probe("launch", camp.config)
        assert r.returncode == 0, r.stderr
        on_pg = _export(camp.config, tmp_path / "pg")
        plan_pg = json.loads((tmp_path / "pg" / "plan.json").read_text())
    assert on_sqlite == on_pg and len(on_pg) == 60
    assert (tmp_path / "sqlite" / "assignment.csv").read_bytes() == (tmp_path / "pg" / "assignment.csv").read_bytes()
    plan_sqlite = json.loads((tmp_path / "sqlite" / "plan.json").read_text())
    # (plan_hash differs: it covers the config file, whose [database] url differs here.)
    assert plan_sqlite["assignment_sha256"] == plan_pg["assignment_sha256"]


def test_added_targets_are_assigned_alone(campaign_factory, tmp_path):
    camp = experiment_campaign(campaign_factory, 2525, SQLITE, 30)
    assert probe("launch", camp.config).returncode == 0
    before = {r["email"]: r for r in _export(camp.config, tmp_path / "a")}
    hash_before = json.loads((tmp_path / "a" / "plan.json").read_text())["plan_hash"]
    more = [*camp.targets, *({"email": f"late{i}@org{i}.example.com", "prenom": "L", "nom": "N",
                              "secteur": "banque"} for i in range(7))]
    write_csv(camp.path / "targets.csv", more)
    assert probe("tick", camp.config, "--now", "2015-09-28T09:00").returncode == 2   # the plan changed
    r = probe("launch", camp.config)
    assert r.returncode == 0, r.stderr
    after = {r["email"]: r for r in _export(camp.config, tmp_path / "b")}
    plan = json.loads((tmp_path / "b" / "plan.json").read_text())
    assert all(after[e] == row for e, row in before.items())            # nobody moved
    assert len(after) == 37
    banque = plan["strata"]["banque"]
    assert abs(banque["formal"] - banque["short"]) <= 1                  # still balanced
    assert plan["plan_hash"] != hash_before
    # A relaunch with nothing changed draws nothing new and keeps the plan hash.
    assert probe("launch", camp.config).returncode == 0
    assert {r["email"]: r for r in _export(camp.config, tmp_path / "c")} == after
    assert json.loads((tmp_path / "c" / "plan.json").read_text())["plan_hash"] == plan["plan_hash"]
    assert probe("tick", camp.config, "--now", "2015-09-27T09:00").returncode == 0  # the plan matches again


@pytest.mark.parametrize(("edit", "field", "fix"), [
    (("templates/short.txt.j2", "templates/nowhere.txt.j2"), "variants[1].initial", "create it"),
    (('name = "short"', 'name = "formal"'), "variants[1].name", "give each variant its own name"),
    (('name = "short"', 'name = "short"\nweight = 0'), "variants[1].weight", "positive number"),
    (('stratify_by = "secteur"', 'stratify_by = "region"'), "experiment.stratify_by",
     "use one of: prenom, nom, secteur"),
    (("seed = 2015\n", ""), "experiment.seed", "seed = "),
])
def test_bad_experiment_config_is_exit_2_naming_key_and_fix(campaign_factory, edit, field, fix):
    camp = experiment_campaign(campaign_factory, 2525, SQLITE, 6)
    camp.config.write_text(camp.config.read_text().replace(*edit))
    r = probe("validate", camp.config)
    assert r.returncode == 2, r.stdout + r.stderr
    assert str(camp.config) in r.stderr and field in r.stderr and fix in r.stderr
    assert "Traceback" not in r.stderr


def test_validate_renders_each_variant_for_its_targets(campaign_factory):
    camp = experiment_campaign(campaign_factory, 2525, SQLITE, 6)
    (camp.path / "templates" / "short-r2.txt.j2").write_text("Subject: {{ fonction }}\n\nx\n")
    r = probe("validate", camp.config)
    assert r.returncode == 2
    assert "short-r2.txt.j2" in r.stderr and "fonction" in r.stderr


def test_variant_from_and_variant_field_reach_the_message(campaign_factory, smtp_server, tmp_path):
    camp = experiment_campaign(campaign_factory, smtp_server.port, SQLITE, 10)
    camp.config.write_text(camp.config.read_text().replace(
        'name = "short"', 'name = "short"\nfrom = "Autre Nom <autre@en-contact.example.com>"'))
    assert probe("launch", camp.config).returncode == 0
    r = probe("tick", camp.config, "--now", "2015-09-28T09:00")
    assert r.returncode == 0, r.stderr
    arms = {row["email"]: row["variant"] for row in _export(camp.config, tmp_path / "x")}
    received = smtp_server.handler.wait_for(10)
    for m in received:
        arm = arms[m.rcpt_tos[0].lower()]
        if arm == "short":
            assert "autre@en-contact.example.com" in str(m.message["From"])
        else:
            assert "redaction@en-contact.example.com" in str(m.message["From"])
            assert "(formal)" in m.message.get_content()    # `variant` is a template variable
    with (tmp_path / "x" / "assignment.csv").open(encoding="utf-8-sig") as f:
        assert next(csv.reader(f)) == ["email", "stratum", "variant"]


def test_spread_by_domain_at_launch(campaign_factory, tmp_path):
    camp = experiment_campaign(campaign_factory, 2525, SQLITE, 80)   # 40 domains, 2 targets each
    camp.config.write_text(camp.config.read_text().replace("[schedule]\n", '[schedule]\nspread_by = "domain"\n'
                                                           'send_window = "mon-fri 09:00-18:00"\n'))
    r = probe("launch", camp.config)
    assert r.returncode == 0, r.stderr
    r = probe("export", camp.config, "--output", tmp_path / "x")
    with (tmp_path / "x" / "sends.csv").open(encoding="utf-8-sig") as f:
        initial = [row for row in csv.DictReader(f) if row["wave"] == "0"]
    by_domain: dict[str, list[str]] = {}
    for row in initial:
        by_domain.setdefault(row["target_email"].rpartition("@")[2], []).append(row["due_at"])
    assert len(by_domain) == 40
    for domain, dues in by_domain.items():
        # Two colleagues: one at the 09:00 opening, the other half the window later (13:30).
        assert sorted(d[11:16] for d in dues) == ["09:00", "13:30"], (domain, dues)
