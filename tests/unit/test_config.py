from __future__ import annotations

import shutil
import textwrap
from datetime import datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from probe.config import Settings, is_loopback, load_config, read_secret
from probe.core.planhash import plan_hash
from probe.core.planning import SendWindow, plan_waves
from probe.errors import ConfigError
from probe.service.launch import compute_plan_hash

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """\
[campaign]
name = "drc-2015"
from = "Rédaction En-Contact <redaction@en-contact.example>"

[schedule]
reminders = []

[templates]
initial = "initial.txt.j2"

[targets]
file = "targets.csv"

[smtp]
host = "smtp.example.org"
"""


def write(tmp_path: Path, text: str, name: str = "campaign.toml") -> Path:
    for f in ("initial.txt.j2", "r1.txt.j2", "r2.txt.j2"):
        (tmp_path / f).write_text("Subject: x\n\nbody\n", encoding="utf-8")
    (tmp_path / "targets.csv").write_text("email\na@example.com\n", encoding="utf-8")
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def with_section(base: str, section: str, body: str) -> str:
    """MINIMAL with `body` appended to [section] (added when absent)."""
    marker = f"[{section}]\n"
    if marker in base:
        return base.replace(marker, marker + textwrap.dedent(body).strip() + "\n")
    return base + f"\n{marker}{textwrap.dedent(body).strip()}\n"


def problems(path: Path) -> str:
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.file == str(path)
    return str(err.value)


# --- the example config ----------------------------------------------------------------------------

def test_example_config_loads(tmp_path: Path) -> None:
    shutil.copy(ROOT / "config.example.toml", tmp_path / "campaign.toml")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    (tmp_path / "targets.csv").write_text("email;prenom\na@example.com;A\n", encoding="utf-8")
    s = load_config(tmp_path / "campaign.toml")
    assert s.path == tmp_path / "campaign.toml" and s.base_dir == tmp_path
    assert s.campaign.name == "drc-2015"
    assert s.campaign.from_ == "Rédaction En-Contact <redaction@en-contact.example>"
    assert s.campaign.from_address == "redaction@en-contact.example"
    assert s.campaign.from_name == "Rédaction En-Contact"
    assert s.campaign.message_id_domain == "en-contact.example"
    assert s.zone == ZoneInfo("Europe/Paris") == s.campaign.zone
    assert s.schedule.start == datetime(2015, 9, 28, 9, tzinfo=ZoneInfo("Europe/Paris"))
    assert s.schedule.reminders == [timedelta(days=6), timedelta(days=12)]
    assert s.schedule.close_after == timedelta(days=7)
    assert s.schedule.window is None and s.schedule.tick_every == timedelta(seconds=60)
    assert s.templates.initial == tmp_path / "templates" / "initial.txt.j2"
    assert s.templates.reminders[1] == tmp_path / "templates" / "reminder2.txt.j2"
    assert s.targets.file == tmp_path / "targets.csv" and s.targets.strict is False
    assert (s.smtp.host, s.smtp.port, s.smtp.security, s.smtp.concurrency) == ("smtp.example.org", 587,
                                                                               "starttls", 4)
    assert s.smtp.password_env == "PROBE_SMTP_PASSWORD" and s.smtp.rate_per_s is None
    assert s.smtp.tls_verify is True and s.smtp.max_attempts == 8 and s.smtp.lease == timedelta(minutes=10)
    assert s.imap is not None and (s.imap.port, s.imap.folder, s.imap.poll_every) == (993, "INBOX",
                                                                                      timedelta(minutes=5))
    assert s.answers.use_defaults is True and s.answers.yes == []
    assert s.database.url == f"sqlite+aiosqlite:///{tmp_path / 'probe.db'}"
    assert s.waves == 3


def test_defaults(tmp_path: Path) -> None:
    s = load_config(write(tmp_path, MINIMAL))
    assert s.campaign.timezone == "UTC" and s.campaign.keep_bodies is True and s.campaign.reply_to is None
    assert s.schedule.start is None and s.schedule.reminders == [] and s.schedule.defer_after_out_of_office is False
    assert (s.smtp.port, s.smtp.security, s.smtp.username, s.smtp.password_env) == (587, "starttls", None, None)
    assert s.smtp.timeout == timedelta(seconds=60) and s.smtp.allow_plaintext is False
    assert s.imap is None
    assert s.database.url == f"sqlite+aiosqlite:///{tmp_path / 'probe.db'}"


def test_default_reminders_need_two_templates(tmp_path: Path) -> None:
    text = MINIMAL.replace('reminders = []\n', "")
    path = write(tmp_path, text)
    assert problems(path) == (f"{path}: templates.reminders: 0 template(s) for 2 reminder(s) in schedule.reminders"
                              "\n  fix: give one template per reminder offset, in the same order")
    text = with_section(text, "templates", 'reminders = ["r1.txt.j2", "r2.txt.j2"]')
    s = load_config(write(tmp_path, text))
    assert s.schedule.reminders == [timedelta(days=6), timedelta(days=12)]
    assert s.templates.for_wave(2) == tmp_path / "r2.txt.j2"


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = load_config(write(tmp_path, MINIMAL))
    with pytest.raises(ValidationError):
        s.smtp.port = 25  # type: ignore[misc]


# --- SMTP and IMAP security -----------------------------------------------------------------------

@pytest.mark.parametrize(("security", "port"), [("tls", 465), ("starttls", 587), ("none", 25)])
def test_smtp_port_default_follows_security(tmp_path: Path, security: str, port: int) -> None:
    text = MINIMAL.replace('host = "smtp.example.org"', f'host = "127.0.0.1"\nsecurity = "{security}"')
    assert load_config(write(tmp_path, text)).smtp.port == port


@pytest.mark.parametrize(("security", "port"), [("tls", 993), ("none", 143)])
def test_imap_port_default_follows_security(tmp_path: Path, security: str, port: int) -> None:
    text = with_section(MINIMAL, "imap", f'host = "localhost"\nsecurity = "{security}"\nusername = "u"\n'
                                         'password_env = "P"')
    s = load_config(write(tmp_path, text))
    assert s.imap is not None and s.imap.port == port


@pytest.mark.parametrize("host", ["127.0.0.1", "127.9.8.7", "::1", "[::1]", "localhost", "LOCALHOST."])
def test_plaintext_allowed_on_loopback(tmp_path: Path, host: str) -> None:
    text = MINIMAL.replace('host = "smtp.example.org"', f'host = "{host}"\nsecurity = "none"')
    assert load_config(write(tmp_path, text)).smtp.security == "none"


def test_plaintext_refused_elsewhere(tmp_path: Path) -> None:
    text = MINIMAL.replace('host = "smtp.example.org"', 'host = "smtp.example.org"\nsecurity = "none"')
    assert problems(write(tmp_path, text)) == (
        f"{tmp_path / 'campaign.toml'}: smtp.security: \"none\" sends the password and the mail unencrypted to "
        "smtp.example.org\n  fix: use \"starttls\" or \"tls\"; for a trusted relay add allow_plaintext = true")
    allowed = text.replace('security = "none"', 'security = "none"\nallow_plaintext = true')
    assert load_config(write(tmp_path, allowed)).smtp.security == "none"


def test_imap_plaintext_refused_elsewhere(tmp_path: Path) -> None:
    text = with_section(MINIMAL, "imap", 'host = "imap.example.org"\nsecurity = "none"\nusername = "u"\n'
                                         'password_env = "P"')
    assert "imap.security: \"none\" sends the password" in problems(write(tmp_path, text))


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("10.0.0.1", False), ("::1", True),
                                                ("example.org", False), ("localhostx", False),
                                                ("a.localhost", True)])
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_username_needs_password_env(tmp_path: Path) -> None:
    text = MINIMAL.replace('host = "smtp.example.org"', 'host = "smtp.example.org"\nusername = "u"')
    assert problems(write(tmp_path, text)).endswith(
        "smtp.password_env: username is set but password_env is not\n  fix: add password_env = "
        "\"PROBE_SMTP_PASSWORD\", the environment variable holding the password")


def test_password_env_needs_username(tmp_path: Path) -> None:
    text = MINIMAL.replace('host = "smtp.example.org"', 'host = "smtp.example.org"\npassword_env = "P"')
    assert "smtp.password_env: password_env is set but username is not" in problems(write(tmp_path, text))


def test_password_env_must_be_a_name_and_is_never_echoed(tmp_path: Path) -> None:
    text = MINIMAL.replace('host = "smtp.example.org"',
                           'host = "smtp.example.org"\nusername = "u"\npassword_env = "s3cr3t pa$$"')
    out = problems(write(tmp_path, text))
    assert "smtp.password_env: must be the NAME of an environment variable" in out
    assert "s3cr3t" not in out


def test_password_in_file_is_refused_and_never_echoed(tmp_path: Path) -> None:
    text = MINIMAL.replace('host = "smtp.example.org"', 'host = "smtp.example.org"\npassword = "hunter2"')
    out = problems(write(tmp_path, text))
    assert "smtp.password: unknown key" in out and "never put the password in the file" in out
    assert "hunter2" not in out


# --- every problem at once, with the fix -----------------------------------------------------------

BAD = """\
[campaign]
name = "drc-2015"
from = "Rédaction <redaction@en-contact>"
timezone = "Europe/Pariss"
reply_too = "x@example.org"

[schedule]
reminders = ["6d", "5d"]
close_after = "7 days"
send_window = "mon-fry 09:00-18:00"

[templates]
initial = "nope.txt.j2"
reminders = ["r1.txt.j2"]

[targets]
fille = "targets.csv"

[smtp]
host = "smtp.example.org"
port = "abc"
concurrency = 100
rate_limit = "lots"

[smtpp]
x = 1
"""


def test_all_problems_in_one_error(tmp_path: Path) -> None:
    path = write(tmp_path, BAD)
    out = problems(path)
    expected = [
        f"{path}: 14 problems:",
        "  campaign.from: 'redaction@en-contact' is not a valid address: The part after the @-sign is not valid. "
        "It should have a period. (fix: write from like \"Name <address@example.org>\")",
        "  campaign.timezone: unknown time zone 'Europe/Pariss' (fix: did you mean \"Europe/Paris\"?)",
        "  campaign.reply_too: unknown key (fix: did you mean `reply_to`?)",
        "  schedule.reminders: offsets must be strictly increasing, each counted from the initial send (fix: "
        "write them like [\"6d\", \"12d\"], not [\"6d\", \"6d\"])",
        "  schedule.close_after: '7 days' is not a duration (fix: write a duration like 90s, 15m, 12h, 6d, 1w "
        "or 1d12h)",
        "  schedule.send_window: 'mon-fry 09:00-18:00': 'mon-fry' is not a day or a range of days like mon-fri "
        "(fix: write it like \"mon-fri 09:00-18:00\", \"mon,wed,fri 08:30-12:00\" or \"daily 09:00-18:00\")",
        f"  templates.initial: file not found: {tmp_path / 'nope.txt.j2'} (fix: create it, or correct the path; "
        f"relative paths start from the config file's folder {tmp_path})",
        "  targets.file: required key is missing (fix: add file = \"targets.csv\" under [targets])",
        "  targets.fille: unknown key (fix: did you mean `file`?)",
        "  smtp.port: Input should be a valid integer, unable to parse string as an integer (got 'abc') "
        "(fix: write a whole number, without quotes)",
        "  smtp.concurrency: Input should be less than or equal to 64 (got 100) (fix: use a smaller number)",
        "  smtp.rate_limit: 'lots' is not a rate (fix: write a rate like 60/min, 10/s or 1000/h)",
        "  smtpp: unknown key (fix: did you mean `smtp`?)",
        "  templates.reminders: 1 template(s) for 2 reminder(s) in schedule.reminders (fix: give one template "
        "per reminder offset, in the same order)",
    ]
    assert out.splitlines() == expected
    assert len(out.splitlines()) - 1 == 14


def test_problems_are_attached(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, BAD))
    fields = [p.field for p in err.value.problems]  # type: ignore[attr-defined]
    assert "smtp.port" in fields and "campaign.timezone" in fields


@pytest.mark.parametrize(("section", "line", "expected"), [
    ("campaign", 'keep_body = false', "campaign.keep_body: unknown key (fix: did you mean `keep_bodies`?)"),
    ("smtp", 'passwrd_env = "P"', "smtp.passwrd_env: unknown key (fix: did you mean `password_env`?)"),
    ("smtp", 'rate = "60/min"', "smtp.rate: unknown key (fix: did you mean `rate_limit`?)"),
    ("schedule", 'reminder = ["6d"]', "schedule.reminder: unknown key (fix: did you mean `reminders`?)"),
    ("schedule", 'sendwindow = "mon-fri"', "schedule.sendwindow: unknown key (fix: did you mean `send_window`?)"),
    ("database", 'uri = "sqlite:///x.db"', "database.uri: unknown key (fix: did you mean `url`?)"),
    ("answers", 'oui = ["ok"]', "answers.oui: unknown key (fix: remove it; the keys of [answers] are: yes, no, "
                                "opt_out, use_defaults)"),
])
def test_unknown_key_suggests(tmp_path: Path, section: str, line: str, expected: str) -> None:
    out = problems(write(tmp_path, with_section(MINIMAL, section, line)))
    assert expected.split(": ", 1)[1].split(" (fix: ")[0] in out
    field, rest = expected.split(": ", 1)
    message, fix = rest.split(" (fix: ")
    assert out == f"{tmp_path / 'campaign.toml'}: {field}: {message}\n  fix: {fix.removesuffix(')')}"


def test_missing_sections(tmp_path: Path) -> None:
    out = problems(write(tmp_path, '[campaign]\nname = "x"\nfrom = "a@example.org"\n'))
    assert "templates: required key is missing (fix: add a [templates] section)" in out
    assert "targets: required key is missing (fix: add a [targets] section)" in out
    assert "smtp: required key is missing (fix: add a [smtp] section)" in out


def test_missing_imap_keys(tmp_path: Path) -> None:
    out = problems(write(tmp_path, with_section(MINIMAL, "imap", 'host = "imap.example.org"')))
    assert "imap.username: required key is missing (fix: add username = \"redaction@example.org\" under [imap])" in out
    assert "imap.password_env: required key is missing (fix: add password_env = \"PROBE_IMAP_PASSWORD\"" in out


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "nope.toml")
    assert str(err.value) == (f"{tmp_path / 'nope.toml'}: config file not found\n"
                              "  fix: check the path, or write a starter campaign with `probe init DIR`")


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace('host = "smtp.example.org"', "host = smtp.example.org"))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert err.value.field == "line 15, column 8"
    assert str(err.value).startswith(f"{path}: line 15, column 8: TOML syntax error: Invalid value")
    assert "strings need double quotes" in str(err.value)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(MINIMAL.encode("cp1252"))
    with pytest.raises(ConfigError, match="not UTF-8 text") as err:
        load_config(path)
    assert err.value.hint == "save the file as UTF-8"


# --- single fields ------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    ('"2015-09-28T09:00:00"', datetime(2015, 9, 28, 9, tzinfo=ZoneInfo("Europe/Paris"))),
    ("2015-09-28T09:00:00", datetime(2015, 9, 28, 9, tzinfo=ZoneInfo("Europe/Paris"))),  # TOML local datetime
    ('"2015-09-28 09:00"', datetime(2015, 9, 28, 9, tzinfo=ZoneInfo("Europe/Paris"))),
    ('"2015-09-28T09:00:00+00:00"', datetime(2015, 9, 28, 11, tzinfo=ZoneInfo("Europe/Paris"))),
    ("2015-09-28T07:00:00Z", datetime(2015, 9, 28, 9, tzinfo=ZoneInfo("Europe/Paris"))),
])
def test_start_is_aware(tmp_path: Path, value: str, expected: datetime) -> None:
    text = MINIMAL.replace('name = "drc-2015"', 'name = "drc-2015"\ntimezone = "Europe/Paris"')
    text = with_section(text, "schedule", f"start = {value}")
    start = load_config(write(tmp_path, text)).schedule.start
    assert start == expected and start is not None and start.tzinfo is not None


def test_start_not_a_date(tmp_path: Path) -> None:
    out = problems(write(tmp_path, with_section(MINIMAL, "schedule", 'start = "next monday"')))
    assert "schedule.start: Input should be a valid datetime" in out
    assert 'fix: write a date and time like "2015-09-28T09:00:00"' in out


@pytest.mark.parametrize(("lines", "message"), [
    ('reminders = ["6d", "6d"]', "schedule.reminders: offsets must be strictly increasing"),
    ('reminders = ["0s"]', "schedule.reminders[0]: must be longer than 0"),
    ('reminders = [6]', "schedule.reminders[0]: expected a duration in quotes"),
    ('tick_every = "0s"', "schedule.tick_every: must be longer than 0"),
    ('close_after = "-1d"', "schedule.close_after: '-1d' is not a duration"),
    ('send_window = "mon-fri 18:00-09:00"', "schedule.send_window: 'mon-fri 18:00-09:00': a send window must end"),
])
def test_schedule_values(tmp_path: Path, lines: str, message: str) -> None:
    text = MINIMAL.replace("reminders = []\n", "")
    text = with_section(text, "templates", 'reminders = ["r1.txt.j2"]')
    assert message in problems(write(tmp_path, with_section(text, "schedule", lines)))


def test_schedule_parsed(tmp_path: Path) -> None:
    text = with_section(MINIMAL, "schedule", 'send_window = "mon-fri 09:00-18:00"\nclose_after = "1d12h"\n'
                                             'tick_every = "15m"')
    s = load_config(write(tmp_path, text)).schedule
    assert s.window == SendWindow(frozenset(range(5)), time(9), time(18))
    assert s.close_after == timedelta(hours=36) and s.tick_every == timedelta(minutes=15)


@pytest.mark.parametrize(("value", "per_s"), [("60/min", 1.0), ("10/s", 10.0), ("1000/h", 1000 / 3600)])
def test_rate_limit(tmp_path: Path, value: str, per_s: float) -> None:
    text = with_section(MINIMAL, "smtp", f'rate_limit = "{value}"')
    assert load_config(write(tmp_path, text)).smtp.rate_per_s == pytest.approx(per_s)


@pytest.mark.parametrize(("url", "expected", "display"), [
    ("sqlite:///probe.db", "sqlite+aiosqlite:///{base}/probe.db", None),
    ("sqlite:///data/../x.db", "sqlite+aiosqlite:///{base}/x.db", None),
    ("sqlite:////var/lib/probe.db", "sqlite+aiosqlite:////var/lib/probe.db", None),
    ("sqlite+aiosqlite:///rel.db", "sqlite+aiosqlite:///{base}/rel.db", None),
    ("sqlite:///:memory:", "sqlite+aiosqlite:///:memory:", None),
    ("postgresql://probe@127.0.0.1/probe", "postgresql+asyncpg://probe@127.0.0.1/probe", None),
    ("postgres://u:pw@h:5432/db", "postgresql+asyncpg://u:pw@h:5432/db", "postgresql+asyncpg://u:***@h:5432/db"),
    ("postgresql+psycopg://u:p%40ss@h/db", "postgresql+asyncpg://u:p%40ss@h/db", "postgresql+asyncpg://u:***@h/db"),
    ("postgresql+asyncpg://h/db", "postgresql+asyncpg://h/db", None),
])
def test_database_url(tmp_path: Path, url: str, expected: str, display: str | None) -> None:
    db = load_config(write(tmp_path, with_section(MINIMAL, "database", f'url = "{url}"'))).database
    assert db.url == expected.format(base=tmp_path)
    assert db.display_url == (display or db.url)


def test_database_password_not_in_repr(tmp_path: Path) -> None:
    s = load_config(write(tmp_path, with_section(MINIMAL, "database", 'url = "postgresql://u:topsecret@h/db"')))
    assert s.database.url == "postgresql+asyncpg://u:topsecret@h/db"
    assert "topsecret" not in repr(s) and "topsecret" not in str(s.database) and "u:***@h" in repr(s.database)


@pytest.mark.parametrize("url", ["mysql://u:topsecret@h/db", "topsecret", "sqlite:relative.db"])
def test_database_url_refused_without_echo(tmp_path: Path, url: str) -> None:
    out = problems(write(tmp_path, with_section(MINIMAL, "database", f'url = "{url}"')))
    assert "database.url:" in out and "sqlite:///probe.db" in out
    assert "topsecret" not in out


@pytest.mark.parametrize(("value", "message"), [
    ('"a@example.org\\r\\nBcc: x@example.org"', "campaign.from: contains a line break"),
    ('"Rédaction"', "campaign.from: 'Rédaction' is not an address"),
    ('"x@example"', "campaign.from: 'x@example' is not a valid address"),
    ("42", "campaign.from: Input should be a valid string (got 42)"),
])
def test_from_refused(tmp_path: Path, value: str, message: str) -> None:
    text = MINIMAL.replace('from = "Rédaction En-Contact <redaction@en-contact.example>"', f"from = {value}")
    assert message in problems(write(tmp_path, text))


def test_from_bare_address_and_domain(tmp_path: Path) -> None:
    text = MINIMAL.replace('from = "Rédaction En-Contact <redaction@en-contact.example>"',
                           'from = "Redaction@En-Contact.Example"')
    c = load_config(write(tmp_path, text)).campaign
    assert c.from_ == "Redaction@en-contact.example" and c.from_name == ""
    assert c.message_id_domain == "en-contact.example"


@pytest.mark.parametrize(("value", "ok"), [
    ('"redaction+{token}@en-contact.example"', True),
    ('"replies@en-contact.example"', True),
    ('"Rédaction <r+{token}@en-contact.example>"', True),
    ('"r+{tok}@en-contact.example"', False),
    ('"{token}"', False),
    ('"r@en-contact.example\\nBcc: x@y.org"', False),
])
def test_reply_to(tmp_path: Path, value: str, ok: bool) -> None:
    path = write(tmp_path, with_section(MINIMAL, "campaign", f"reply_to = {value}"))
    if ok:
        assert "{token}" in value or load_config(path).campaign.reply_to
        load_config(path)
    else:
        assert "campaign.reply_to:" in problems(path)


def test_message_id_domain(tmp_path: Path) -> None:
    path = write(tmp_path, with_section(MINIMAL, "campaign", 'message_id_domain = "Probe.Example.ORG"'))
    assert load_config(path).campaign.message_id_domain == "probe.example.org"
    path = write(tmp_path, with_section(MINIMAL, "campaign", 'message_id_domain = "not a domain"'))
    assert "campaign.message_id_domain: 'not a domain' is not a domain name" in problems(path)


def test_paths_relative_to_config_file(tmp_path: Path) -> None:
    sub = tmp_path / "camp"
    sub.mkdir()
    (sub / "ca.pem").write_text("x")
    path = write(sub, with_section(MINIMAL, "smtp", 'ca_file = "ca.pem"'))
    s = load_config(path)
    assert s.smtp.ca_file == sub / "ca.pem" and s.templates.initial == sub / "initial.txt.j2"


def test_timezone_without_suggestion(tmp_path: Path) -> None:
    text = MINIMAL.replace('name = "drc-2015"', 'name = "drc-2015"\ntimezone = "Nowhere"')
    assert 'campaign.timezone: unknown time zone \'Nowhere\'\n  fix: use an IANA name like "Europe/Paris"' in \
        problems(write(tmp_path, text))


# --- secrets ------------------------------------------------------------------------------------

def test_read_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    assert read_secret(None, file="c.toml", field="smtp.password_env") is None
    monkeypatch.setenv("PROBE_TEST_PW", "s3cret")
    assert read_secret("PROBE_TEST_PW", file="c.toml", field="smtp.password_env") == "s3cret"


@pytest.mark.parametrize(("value", "state"), [(None, "is not set"), ("", "is empty")])
def test_read_secret_missing(monkeypatch: pytest.MonkeyPatch, value: str | None, state: str) -> None:
    monkeypatch.delenv("PROBE_TEST_PW", raising=False)
    if value is not None:
        monkeypatch.setenv("PROBE_TEST_PW", value)
    with pytest.raises(ConfigError) as err:
        read_secret("PROBE_TEST_PW", file="c.toml", field="smtp.password_env")
    assert str(err.value) == (f"c.toml: smtp.password_env: environment variable PROBE_TEST_PW {state}\n"
                              "  fix: export PROBE_TEST_PW=… (the password of the [smtp] account) before running probe")


# --- plan hash ----------------------------------------------------------------------------------

def test_plan_hash_follows_every_input(tmp_path: Path) -> None:
    text = MINIMAL.replace("reminders = []\n", 'reminders = ["6d"]\n')
    text = with_section(text, "templates", 'reminders = ["r1.txt.j2"]')
    s = load_config(write(tmp_path, text))
    first = compute_plan_hash(s)
    assert first == compute_plan_hash(s) and len(first) == 64
    templates = {str(p): p.read_bytes() for p in s.templates.files()}
    assert plan_hash(s.path.read_bytes(), s.targets.file.read_bytes(), templates) == first
    hashes = {first}
    (tmp_path / "targets.csv").write_text("email\na@example.com\nb@example.com\n")
    hashes.add(compute_plan_hash(s))
    (tmp_path / "r1.txt.j2").write_text("Subject: y\n\nbody\n")
    hashes.add(compute_plan_hash(s))
    (tmp_path / "r1.html.j2").write_text("<p>html</p>")  # a new HTML alternative changes the plan
    assert tmp_path / "r1.html.j2" in s.templates.files()
    hashes.add(compute_plan_hash(s))
    s.path.write_text(s.path.read_text() + "\n# a comment\n")
    hashes.add(compute_plan_hash(s))
    assert len(hashes) == 5


def test_settings_model_guards_wave_count(tmp_path: Path) -> None:
    s = load_config(write(tmp_path, MINIMAL))
    data = s.model_dump(by_alias=True)
    data["schedule"]["reminders"] = ["6d"]
    with pytest.raises(ValidationError, match="differ in length"):
        Settings.model_validate(data, context={"base_dir": tmp_path})


def test_config_to_plan_over_the_dst_change(tmp_path: Path) -> None:
    text = MINIMAL.replace('name = "drc-2015"', 'name = "drc-2015"\ntimezone = "Europe/Paris"')
    text = text.replace("reminders = []\n", 'reminders = ["6d", "12d"]\nstart = "2015-10-20T09:00:00"\n'
                                              'send_window = "mon-fri 09:00-18:00"\n')
    text = with_section(text, "templates", 'reminders = ["r1.txt.j2", "r2.txt.j2"]')
    s = load_config(write(tmp_path, text))
    assert s.schedule.start is not None
    waves = plan_waves(s.schedule.start, s.schedule.reminders, s.zone, s.schedule.window)
    assert [w.astimezone(s.zone).strftime("%a %d %H:%M %z") for w in waves] == [
        "Tue 20 09:00 +0200", "Mon 26 09:00 +0100", "Mon 02 09:00 +0100"]
