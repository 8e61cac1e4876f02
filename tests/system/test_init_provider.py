"""`probe init DIR --provider P`: the provider's SMTP/IMAP hosts, ports and security, a note on app
passwords (and on Microsoft 365's SMTP AUTH), nothing switched on that changes when mail goes out."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe.cli import main
from probe.config import load_config

EXPECTED = {
    "gmail": (("smtp.gmail.com", 465, "tls"), ("imap.gmail.com", 993, "tls")),
    "outlook": (("smtp.office365.com", 587, "starttls"), ("outlook.office365.com", 993, "tls")),
    "fastmail": (("smtp.fastmail.com", 465, "tls"), ("imap.fastmail.com", 993, "tls")),
    "ovh": (("ssl0.ovh.net", 465, "tls"), ("ssl0.ovh.net", 993, "tls")),
    "generic": (("smtp.example.org", 587, "starttls"), ("imap.example.org", 993, "tls")),
}


@pytest.mark.parametrize("provider", sorted(EXPECTED))
def test_init_writes_the_providers_servers(tmp_path: Path, provider: str) -> None:
    folder = tmp_path / provider
    assert main(["init", str(folder), "--provider", provider]) == 0
    settings = load_config(folder / "campaign.toml")
    smtp, imap = EXPECTED[provider]
    assert (settings.smtp.host, settings.smtp.port, settings.smtp.security) == smtp
    assert settings.imap is not None
    assert (settings.imap.host, settings.imap.port, settings.imap.security) == imap
    assert settings.smtp.rate_limit is None and settings.schedule.defer_after_out_of_office is False
    assert settings.schedule.send_window is None and settings.schedule.start is None
    text = (folder / "campaign.toml").read_text(encoding="utf-8")
    sections = [line.split()[0] for line in text.splitlines() if line.startswith("[")]
    assert sections.count("[smtp]") == 1 and sections.count("[imap]") == 1
    assert "send_window" not in "".join(line.split("#")[0] for line in text.splitlines())


@pytest.mark.parametrize("provider", ["gmail", "outlook", "fastmail"])
def test_the_note_says_app_password(tmp_path: Path, provider: str) -> None:
    assert main(["init", str(tmp_path), "--provider", provider]) == 0
    assert "app password" in (tmp_path / "campaign.toml").read_text(encoding="utf-8")


def test_the_outlook_note_warns_about_basic_smtp_auth(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path), "--provider", "outlook"]) == 0
    text = (tmp_path / "campaign.toml").read_text(encoding="utf-8")
    assert "Microsoft 365 is retiring Basic authentication for SMTP AUTH" in text


def test_provider_init_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "campaign.toml").write_text("mine\n", encoding="utf-8")
    assert main(["init", str(tmp_path), "--provider", "gmail"]) == 2
    assert (tmp_path / "campaign.toml").read_text(encoding="utf-8") == "mine\n"
    assert "overwrite" in capsys.readouterr().err


def test_an_unknown_provider_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["init", str(tmp_path), "--provider", "yahoo"])
    assert exc.value.code == 2 and not any(tmp_path.iterdir())
