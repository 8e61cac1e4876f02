"""Who really wrote it, end to end: replies APPENDed to a real Dovecot with the receiving server's
Authentication-Results are polled, their SPF / DKIM / DMARC stored on the inbound row (migration
0005), shown by `probe replies` and the export, and counted by the report (`answers_authenticated`:
answers from a sender whose domain passed DMARC or aligned DKIM). SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from datetime import timedelta

import pytest
from sqlalchemy import select

from probe.api import Campaign
from probe.cli.report_run import _reply_record
from probe.config import load_config
from probe.report.summary import build_report
from probe.service.wiring import open_service
from probe.store.exports import stream_inbound
from probe.store.tables import InboundMessage
from tests.integration.test_replies import OUR, T0, human_reply, imap_section


@pytest.fixture
def imap_env(monkeypatch, dovecot_user):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PROBE_TEST_IMAP_PASSWORD", dovecot_user.password)
    return dovecot_user


def _with_results(raw: bytes, results: str) -> bytes:
    return f"Authentication-Results: mx.en-contact.example.com; {results}\r\n".encode() + raw


async def test_authentication_results_are_stored_shown_and_counted(campaign_factory, smtp_server, db_url,
                                                                    imap_env, tmp_path):
    camp = campaign_factory(smtp_port=smtp_server.port, db_url=db_url, imap=imap_section(imap_env))
    emails = [t["email"] for t in camp.targets]
    settings = load_config(camp.config)
    async with open_service(settings) as service:
        await service.launch(T0)
        await service.tick(T0)
        smtp_server.handler.wait_for(len(emails))
        sent = {e: smtp_server.handler.to(e)[0].message for e in emails}
        day1 = T0 + timedelta(days=1)
        domain = [e.rpartition("@")[2] for e in emails]
        imap_env.append(_with_results(human_reply(sent[emails[0]], "OUI", mid="p0"),
                                      f"spf=pass smtp.mailfrom={domain[0]}; dkim=pass header.d={domain[0]}; "
                                      f"dmarc=pass header.from={domain[0]}"), date=day1)
        imap_env.append(_with_results(human_reply(sent[emails[1]], "Non merci", mid="p1"),
                                      f"spf=fail smtp.mailfrom={domain[1]}; dkim=none; dmarc=fail "
                                      f"header.from={domain[1]}"), date=day1)
        imap_env.append(human_reply(sent[emails[2]], "Oui", mid="p2"), date=day1)  # no results at all
        await service.tick(T0 + timedelta(days=2))
        async with service.sessions() as session:
            rows = {r.sender: r for r in (await session.execute(select(InboundMessage))).scalars()}
            report = await build_report(session, settings.campaign.name, now=T0 + timedelta(days=2))
            listed = [_reply_record(row) async for chunk in stream_inbound(session, service.require_campaign())
                      for row in chunk]
    assert rows[emails[0]].authenticity["dmarc"] == "pass" and rows[emails[0]].authenticity["domain_passed"] is True
    assert rows[emails[1]].authenticity["spf"] == "fail" and rows[emails[1]].authenticity["domain_passed"] is False
    assert rows[emails[2]].authenticity is None
    assert report["answered"] == 3 and report["answers_authenticated"] == 1
    shown = {r["sender"]: r["auth"] for r in listed}
    assert shown[emails[0]] == "dmarc=pass" and shown[emails[1]] == "dmarc=fail" and shown[emails[2]] == ""

    out = tmp_path / "evidence"
    async with Campaign.open(settings) as campaign:
        await campaign.export(out, sep=",")  # what `probe export` runs
    exported = {r["sender"]: r for r in csv.DictReader((out / "replies.csv").open(encoding="utf-8-sig"))}
    assert exported[emails[0]]["dmarc"] == "pass" and exported[emails[0]]["domain_passed"] == "yes"
    assert exported[emails[1]]["domain_passed"] == "no" and exported[emails[2]]["domain_passed"] == ""
    assert OUR  # the mailbox the replies were addressed to
