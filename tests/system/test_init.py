"""`probe init DIR`: a starter campaign that loads, validates, and never overwrites anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe import resources
from probe.adapters.targets import load_targets
from probe.cli import main
from probe.config import load_config

PASSWORD_VARIABLES = ("PROBE_SMTP_PASSWORD", "PROBE_IMAP_PASSWORD")


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_init_writes_config_targets_and_templates_that_load(tmp_path: Path) -> None:
    folder = tmp_path / "my-campaign"
    assert main(["init", str(folder)]) == 0
    settings = load_config(folder / "campaign.toml")
    assert settings.campaign.timezone == "Europe/Paris"
    assert [d.days for d in settings.schedule.reminders] == [6, 12]
    assert settings.templates.initial == (folder / "templates" / "initial.txt.j2").resolve()
    # Nothing that changes when mail goes out is switched on in a starter campaign.
    assert settings.smtp.rate_limit is None
    assert settings.schedule.defer_after_out_of_office is False
    assert settings.schedule.send_window is None
    assert settings.schedule.start is None, "a past start would make every wave due at launch"
    assert (settings.smtp.password_env, settings.imap and settings.imap.password_env) == PASSWORD_VARIABLES
    targets = load_targets(settings.targets.file, strict=True)
    assert len(targets.rows) == 3 and targets.problems == []
    assert set(targets.rows[0].fields) == {"email", "civilite", "prenom", "nom", "societe", "secteur"}
    written = set(_tree(folder))
    for name in ("initial.txt.j2", "reminder1.txt.j2", "reminder2.txt.j2"):
        assert f"templates/{name}" in written
        assert f"templates/en/{name}" in written


def test_init_config_is_commented_and_names_no_password(tmp_path: Path) -> None:
    assert main(["init", str(tmp_path)]) == 0
    text = (tmp_path / "campaign.toml").read_text(encoding="utf-8")
    assert text.count("\n#") > 20
    assert "password_env" in text
    assert "\npassword =" not in text and "\npassword=" not in text
    for switched_off in ("rate_limit", "send_window", "defer_after_out_of_office"):
        assert f"# {switched_off}" in text, f"{switched_off} is shown, commented out"
        assert not any(switched_off in line.split("#")[0] for line in text.splitlines()), switched_off


def test_init_refuses_to_overwrite_and_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "targets.csv").write_text("email\nmine@example.org\n", encoding="utf-8")
    before = _tree(tmp_path)
    assert main(["init", str(tmp_path)]) == 2
    assert _tree(tmp_path) == before
    err = capsys.readouterr().err
    assert "targets.csv" in err and "overwrite" in err
    assert "Traceback" not in err


def test_init_twice_refuses_the_second_time(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["init", str(tmp_path)]) == 0
    before = _tree(tmp_path)
    assert main(["init", str(tmp_path)]) == 2
    assert _tree(tmp_path) == before
    assert "campaign.toml" in capsys.readouterr().err


def test_init_refuses_a_file_as_folder(tmp_path: Path) -> None:
    target = tmp_path / "a-file"
    target.write_text("x", encoding="utf-8")
    assert main(["init", str(target)]) == 2
    assert target.read_text(encoding="utf-8") == "x"


def test_validate_passes_on_the_starter_campaign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PASSWORD_VARIABLES:
        monkeypatch.setenv(name, "not-used-validate-connects-to-nothing")
    assert main(["init", str(tmp_path)]) == 0
    assert main(["validate", str(tmp_path / "campaign.toml")]) == 0


def test_validate_without_passwords_says_which_variable_to_set(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in PASSWORD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert main(["init", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["validate", str(tmp_path / "campaign.toml")]) == 2
    err = capsys.readouterr().err
    assert "PROBE_SMTP_PASSWORD" in err or "PROBE_IMAP_PASSWORD" in err
    assert "Traceback" not in err


def test_init_copies_what_ships_in_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An installed wheel has its files in probe/_data: init must read them through probe.resources.
    data = tmp_path / "_data"
    (data / "templates" / "en").mkdir(parents=True)
    (data / "config.example.toml").write_text("# packaged example\n", encoding="utf-8")
    (data / "templates" / "initial.txt.j2").write_text("Subject: packaged\n\nx\n", encoding="utf-8")
    (data / "templates" / "en" / "initial.txt.j2").write_text("Subject: en\n\nx\n", encoding="utf-8")
    monkeypatch.setattr(resources, "data_dir", lambda: data)
    out = tmp_path / "out"
    assert main(["init", str(out)]) == 0
    assert "# packaged example" in (out / "campaign.toml").read_text(encoding="utf-8")
    assert (out / "templates" / "initial.txt.j2").read_text(encoding="utf-8") == "Subject: packaged\n\nx\n"
    assert (out / "templates" / "en" / "initial.txt.j2").exists()
