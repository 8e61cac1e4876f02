"""The founding case through the CLI, as cron would run it: aiosmtpd out, Dovecot in, SQLite and
PostgreSQL, then `probe report --format json` checked figure by figure against what was played.
The full-size run (2,000 targets) is behind `-m slow`."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.integration.test_replies import dsn, human_reply, imap_section, out_of_office
from tests.system.test_cli_campaign import probe

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2015, 9, 28, 9, 0, tzinfo=PARIS)
ANSWERS = ["Oui, avec plaisir.", "Non merci.", "OUI", "Je transmets à mon assistante."]   # yes, no, yes, unclear


def play(size: int, campaign_factory, smtp_server, db_url, dovecot_user) -> tuple[dict, dict]:
    targets = [{"email": f"directeur{i}@client{i}.example.com", "prenom": f"P{i}", "nom": f"N{i}",
                "secteur": ("banque", "assurance", "telecoms")[i % 3]} for i in range(size)]
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url, targets=targets,
                            imap=imap_section(dovecot_user), sections={"smtp": {"concurrency": 4}})
    env = dict(os.environ, PROBE_TEST_IMAP_PASSWORD=dovecot_user.password)

    def tick(when: datetime) -> None:
        r = probe("tick", camp.config, "--now", when.isoformat(), env=env, timeout=600)
        assert r.returncode == 0, r.stderr

    assert probe("launch", camp.config, env=env).returncode == 0
    tick(T0)
    sent = {r.rcpt_tos[0]: r.message for r in smtp_server.handler.wait_for(size, timeout_s=300)}
    answering = size * 3 // 10                     # 30 % answer: a quarter after each reminder
    early = answering // 2
    ooo = size // 10
    expected = {"yes": 0, "no": 0, "unclear": 0}
    raws: list[tuple[bytes, datetime]] = []
    for i in range(early):
        text = ANSWERS[i % 4]
        expected[("yes", "no", "yes", "unclear")[i % 4]] += 1
        raws.append((human_reply(sent[targets[i]["email"]], text, mid=f"a{i}"), T0 + timedelta(days=1)))
    for i in range(answering, answering + ooo):
        raws.append((out_of_office(sent[targets[i]["email"]]), T0 + timedelta(minutes=1)))
    bounced = targets[-1]["email"]
    raws.append((dsn(sent[bounced], bounced), T0 + timedelta(minutes=2)))
    dovecot_user.write_maildir([raw for raw, _ in raws])
    tick(T0 + timedelta(days=6))                   # reminder 1 to the silent, the OOO included
    for i in range(early, answering):
        original = smtp_server.handler.to(targets[i]["email"])[-1].message
        text = ANSWERS[i % 4]
        expected[("yes", "no", "yes", "unclear")[i % 4]] += 1
        dovecot_user.append(human_reply(original, text, mid=f"b{i}"), date=T0 + timedelta(days=7))
    tick(T0 + timedelta(days=12))
    tick(T0 + timedelta(days=20))
    r = probe("report", camp.config, "--format", "json", "--now", (T0 + timedelta(days=20)).isoformat(), env=env)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    facts = {"size": size, "answering": answering, "early": early, "ooo": ooo, "answers": expected}
    return report, facts


def check(report: dict, facts: dict) -> None:
    size, answering, early, ooo = facts["size"], facts["answering"], facts["early"], facts["ooo"]
    assert report["targets"] == size
    assert report["bounced"] == 1
    assert report["reachable"] == size - 1
    assert report["answered"] == answering
    assert report["answers"] == facts["answers"]
    assert report["auto_replies"] == ooo
    assert report["no_answer"] == size - 1 - answering
    assert report["sent"] == {"0": size, "1": size - 1 - early, "2": size - 1 - answering}
    assert report["answered_by_wave"] == {"0": early, "1": answering - early, "2": 0}
    low, high = report["answer_rate_ci95"]
    assert report["answer_rate"] == pytest.approx(answering / (size - 1))
    assert low < report["answer_rate"] < high
    assert report["time_to_answer_s"]["median"] > 0
    # AAPOR: I = yes/no answers, P = unclear, UO = the bounce, NC = the rest; RR6 is the answer rate.
    unclear = facts["answers"]["unclear"]
    assert report["dispositions"] == {"I": answering - unclear, "P": unclear, "R": 0,
                                      "NC": size - 1 - answering, "UO": 1, "NE": 0}
    assert report["rates"]["RR1"]["value"] == pytest.approx((answering - unclear) / size)
    assert report["rates"]["RR6"]["value"] == pytest.approx(report["answer_rate"])
    # Half answered a day after the first email; the silent are censored at the report's time.
    assert report["answered_within"]["2d"]["value"] == pytest.approx(early / (size - 1))
    assert report["answered_within"]["14d"]["value"] == pytest.approx(answering / (size - 1))


def test_founding_case_50_directors(campaign_factory, smtp_server, db_url, dovecot_user):
    check(*play(50, campaign_factory, smtp_server, db_url, dovecot_user))


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_founding_case_at_2000_targets(campaign_factory, smtp_server, db_url, dovecot_user):
    check(*play(2000, campaign_factory, smtp_server, db_url, dovecot_user))
