"""A field experiment through the CLI: 200 targets, two arms stratified by sector, the real SMTP
server out and Dovecot in, replies appended for a known subset; each arm's rates and the difference
checked against values computed here independently. The assignment is the same on SQLite and
PostgreSQL, and stays put when targets are added."""

from __future__ import annotations

import csv
import json
import math
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.fixtures.campaign import CampaignDir
from tests.integration.test_replies import human_reply, imap_section
from tests.system.test_cli_campaign import probe

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2015, 9, 28, 9, 0, tzinfo=PARIS)
Z = 1.959963984540054

FORMAL = """Subject: Madame, Monsieur {{ nom }} : acceptez-vous ?

Madame, Monsieur, nous vous prions de bien vouloir répondre OUI ou NON ({{ variant }}).
"""
SHORT = """Subject: Oui ou non, {{ prenom }} ?

Un mot suffit : OUI ou NON.
"""


def experiment_campaign(campaign_factory, smtp_port: int, db_url: str, size: int, imap=None,
                        extra: str = "") -> CampaignDir:
    targets = [{"email": f"dir{i:03d}@org{i % 40}.example.com", "prenom": f"P{i}", "nom": f"N{i}",
                "secteur": ("banque", "assurance", "telecoms")[i % 3]} for i in range(size)]
    camp = campaign_factory(smtp_port=smtp_port, db_url=db_url, targets=targets, imap=imap,
                            sections={"smtp": {"concurrency": 4}})
    for name, text in (("formal", FORMAL), ("short", SHORT)):
        for t in ("", "-r1", "-r2"):
            (camp.path / "templates" / f"{name}{t}.txt.j2").write_text(text, encoding="utf-8")
    config = re.sub(r"\[templates\]\n(?:[^\[\n][^\n]*\n)*", "", camp.config.read_text(encoding="utf-8"))
    # The README's four lines (and a variant each): a researcher's whole experiment config.
    config += """
[experiment]
seed = 2015
stratify_by = "secteur"

[[variants]]
name = "formal"
initial = "templates/formal.txt.j2"
reminders = ["templates/formal-r1.txt.j2", "templates/formal-r2.txt.j2"]

[[variants]]
name = "short"
initial = "templates/short.txt.j2"
reminders = ["templates/short-r1.txt.j2", "templates/short-r2.txt.j2"]
""" + extra
    camp.config.write_text(config, encoding="utf-8")
    return camp


def wilson(x: int, n: int) -> tuple[float, float]:
    p = x / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    return centre - half, centre + half


def read_assignment(folder: Path) -> list[dict[str, str]]:
    with (folder / "assignment.csv").open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def test_two_arm_experiment_end_to_end(campaign_factory, smtp_server, db_url, dovecot_user, tmp_path):
    size = 200
    camp = experiment_campaign(campaign_factory, smtp_server.port, db_url, size, imap=imap_section(dovecot_user))
    env = dict(os.environ, PROBE_TEST_IMAP_PASSWORD=dovecot_user.password)
    r = probe("validate", camp.config, env=env)
    assert r.returncode == 0, r.stderr
    r = probe("launch", camp.config, env=env)
    assert r.returncode == 0, r.stderr
    r = probe("export", camp.config, "--output", tmp_path / "before", env=env)
    assert r.returncode == 0, r.stderr
    assignment = {row["email"]: row for row in read_assignment(tmp_path / "before")}
    assert len(assignment) == size
    plan = json.loads((tmp_path / "before" / "plan.json").read_text())
    assert plan["seed"] == 2015 and [v["name"] for v in plan["variants"]] == ["formal", "short"]
    # Balanced within each sector: 67/67/66 targets split at most one apart.
    for stratum, row in plan["strata"].items():
        assert abs(row["formal"] - row["short"]) <= 1, (stratum, row)

    r = probe("tick", camp.config, "--now", T0.isoformat(), env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    sent = {m.rcpt_tos[0]: m.message for m in smtp_server.handler.wait_for(size, timeout_s=300)}
    # Each target got its own variant's email.
    for email, msg in sent.items():
        arm = assignment[email.lower()]["variant"]
        assert str(msg["Subject"]).startswith("Madame" if arm == "formal" else "Oui ou non")
    # Known subset: 40 % of the formal arm answer "oui", 20 % of the short arm.
    arms: dict[str, list[str]] = {"formal": [], "short": []}
    for email in sorted(assignment):
        arms[assignment[email]["variant"]].append(email)
    answering = {"formal": arms["formal"][:40], "short": arms["short"][:20]}
    raws = [human_reply(sent[e], "Oui, volontiers.", mid=f"x{k}")
            for k, e in enumerate(answering["formal"] + answering["short"])]
    dovecot_user.write_maildir(raws)
    r = probe("tick", camp.config, "--now", (T0 + timedelta(days=1)).isoformat(), env=env, timeout=600)
    assert r.returncode == 0, r.stderr
    now = (T0 + timedelta(days=2)).isoformat()
    r = probe("report", camp.config, "--format", "json", "--now", now, env=env)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)

    na, nb = len(arms["formal"]), len(arms["short"])
    assert na + nb == size and abs(na - nb) <= 3          # at most one apart in each of 3 strata
    assert report["variants"]["formal"]["answered"] == 40
    assert report["variants"]["short"]["answered"] == 20
    assert report["variants"]["formal"]["answer_rate"] == pytest.approx(40 / na)
    assert report["variants"]["short"]["rates"]["RR1"]["value"] == pytest.approx(20 / nb)
    assert report["balance"] == plan["strata"]
    # Independently: Newcombe's hybrid score interval for p_short − p_formal, and the pooled z-test.
    pa, pb = 40 / na, 20 / nb
    la, ua = wilson(40, na)
    lb, ub = wilson(20, nb)
    low = (pb - pa) - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)
    high = (pb - pa) + math.sqrt((ub - pb) ** 2 + (pa - la) ** 2)
    pooled = 60 / size
    z = (pb - pa) / math.sqrt(pooled * (1 - pooled) * (1 / na + 1 / nb))
    p_value = math.erfc(abs(z) / math.sqrt(2))
    diffs = {d["figure"]: d for d in report["differences"]}
    assert set(diffs) == {"answer_rate", "RR1"}
    d = diffs["answer_rate"]
    assert (d["a"], d["b"], d["test"]) == ("formal", "short", "two-proportion z-test")
    assert d["diff"] == pytest.approx(pb - pa)
    assert d["ci95"] == pytest.approx([low, high], abs=1e-9)
    assert d["p_value"] == pytest.approx(p_value, rel=1e-9)
    assert d["p_value"] < 0.01 and high < 0
    # The balance check: sector is the stratum, so it is balanced by construction (p near 1).
    assert report["balance_fields"]["secteur"]["p_value"] > 0.9
    assert "breaks the randomisation" in report["experiment_warning"]
    # Side by side in the table and on the HTML page.
    table = probe("report", camp.config, "--now", now, env=env).stdout
    assert "formal" in table and "short" in table and "breaks the randomisation" in table
    r = probe("report", camp.config, "--format", "html", "--output", tmp_path / "r.html", "--now", now, env=env)
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "r.html").read_text()
    assert "Experiment" in page and "short − formal" in page
    by = json.loads(probe("report", camp.config, "--format", "json", "--by", "variant", "--now", now,
                          env=env).stdout)
    assert by["by"]["variant"]["formal"]["answered"] == 40
