"""The campaign TOML file → frozen, validated Settings (DESIGN.md "Config").

Every problem in the file is reported at once, one line each, as `field: message (fix: …)`, in a
single ConfigError. Relative paths are relative to the config file. Passwords never live in the
file (only the name of the environment variable that holds them) and never appear in an error."""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.headerregistry import Address
from email.utils import parseaddr
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from probe.core.dburl import POSTGRES_DRIVER, POSTGRES_SCHEMES, SQLITE_SCHEMES, mask_password
from probe.core.durations import DURATION_HELP, parse_duration, parse_rate
from probe.core.planning import SendWindow
from probe.errors import ConfigError

__all__ = ["ConfigError", "Settings", "compute_plan_hash", "load_config", "plan_hash", "read_secret"]


# --- value types --------------------------------------------------------------------------------

def _to_duration(value: Any) -> Any:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        return parse_duration(value)
    raise ValueError(f"expected a duration in quotes (fix: {DURATION_HELP}, in quotes)")


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError(f"must be longer than 0 (fix: {DURATION_HELP})")
    return value


def _not_negative(value: timedelta) -> timedelta:
    if value < timedelta(0):
        raise ValueError(f"cannot be negative (fix: {DURATION_HELP})")
    return value


def _existing_file(value: Any, info: ValidationInfo) -> Any:
    if not isinstance(value, str | Path) or not str(value).strip():
        raise ValueError("expected a file path in quotes (fix: write the path relative to the config file)")
    base = (info.context or {}).get("base_dir", Path.cwd())
    path = Path(os.path.normpath(Path(base) / Path(value).expanduser()))
    if not path.is_file():
        raise ValueError(f"file not found: {path} (fix: create it, or correct the path; relative paths "
                         f"start from the config file's folder {base})")
    return path


Duration = Annotated[timedelta, BeforeValidator(_to_duration)]
PositiveDuration = Annotated[timedelta, BeforeValidator(_to_duration), AfterValidator(_positive)]
ExistingFile = Annotated[Path, BeforeValidator(_existing_file)]
NonEmpty = Annotated[str, Field(min_length=1)]


# --- checks shared by several fields ---------------------------------------------------------------

def check_address(addr: str, field: str) -> str:
    """A bare address as email-validator sees it (no DNS): domain lowercased, local part kept."""
    from email_validator import EmailNotValidError, validate_email
    try:
        return validate_email(addr, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"{addr!r} is not a valid address: {exc} (fix: write {field} like "
                         f"\"Name <address@example.org>\")") from None


def check_env_name(value: str) -> str:
    # The value is never echoed: someone may have written the password itself here.
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError("must be the NAME of an environment variable (letters, digits, _), not the password "
                         "(fix: write password_env = \"PROBE_SMTP_PASSWORD\" and export that variable)")
    return value


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost: plaintext to these never leaves the machine."""
    host = host.strip().strip("[]").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_SQLITE = SQLITE_SCHEMES     # one home: probe/core/dburl.py, shared with the store
_POSTGRES = POSTGRES_SCHEMES


def normalise_database_url(url: str, base_dir: Path) -> str:
    """`sqlite:///rel.db` (relative to the config file) or `postgresql://…` → the async driver's URL."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in _SQLITE | _POSTGRES:
        raise ValueError("unsupported database URL (fix: use sqlite:///probe.db, relative to the config file, "
                         "sqlite:////absolute/path.db or postgresql://user@host/dbname)")
    if scheme in _POSTGRES:
        if not rest:
            raise ValueError("the PostgreSQL URL names no server (fix: postgresql://user@host/dbname)")
        return f"{POSTGRES_DRIVER}://{rest}"
    if rest == "":
        return "sqlite+aiosqlite://"
    if not rest.startswith("/"):
        raise ValueError("a SQLite URL has three slashes before a relative path (fix: sqlite:///probe.db, or "
                         "sqlite:////absolute/path.db)")
    file, q, query = rest[1:].partition("?")
    if file in ("", ":memory:"):
        return f"sqlite+aiosqlite:///{file}{q}{query}"
    path = Path(file) if file.startswith("/") else Path(os.path.normpath(base_dir / Path(file).expanduser()))
    return f"sqlite+aiosqlite:///{path}{q}{query}"

EnvName = Annotated[str, AfterValidator(check_env_name)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --- sections ------------------------------------------------------------------------------------

class CampaignConfig(_Section):
    name: NonEmpty
    from_: str = Field(alias="from")
    timezone: str = "UTC"
    keep_bodies: bool = True
    verify_dkim: bool = False  # check incoming DKIM signatures ourselves (DNS lookups), beside Authentication-Results
    message_id_domain: str | None = Field(default=None, validate_default=True)
    reply_to: str | None = None
    #: The report's language by default ("fr_FR" → French); `probe report --lang` overrides it.
    locale: str | None = None

    @field_validator("locale")
    @classmethod
    def _locale(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z]{2,3}([_-][A-Za-z0-9]{2,8})*(\.[\w-]+)?", value):
            raise ValueError(f"{value!r} is not a locale (fix: write it like \"fr_FR\" or \"en_GB\")")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value != value.strip() or any(c in value for c in "\r\n"):
            raise ValueError("must not start or end with spaces or contain line breaks "
                             "(fix: write it on one line, like \"drc-2015\")")
        return value

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str) -> str:
        if "\r" in value or "\n" in value:
            raise ValueError("contains a line break (fix: write \"Name <address@example.org>\" on one line)")
        name, addr = parseaddr(value)
        if not addr or "@" not in addr:
            raise ValueError(f"{value!r} is not an address "
                             "(fix: write \"Name <address@example.org>\" or just the address)")
        local, _, domain = check_address(addr, "from").rpartition("@")
        return str(Address(display_name=name, username=local, domain=domain))

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            close = difflib.get_close_matches(value, _zones(), n=1, cutoff=0.6)
            hint = f"did you mean \"{close[0]}\"?" if close else "use an IANA name like \"Europe/Paris\" or \"UTC\""
            raise ValueError(f"unknown time zone {value!r} (fix: {hint})") from None
        return value

    @field_validator("message_id_domain")
    @classmethod
    def _msgid_domain(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            from_ = info.data.get("from_")
            return parseaddr(from_)[1].rpartition("@")[2].lower() if from_ else None
        if not re.fullmatch(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?", value) or ".." in value:
            raise ValueError(f"{value!r} is not a domain name "
                             "(fix: write a domain you own, like \"en-contact.example\")")
        return value.lower()

    @field_validator("reply_to")
    @classmethod
    def _reply_to(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "\r" in value or "\n" in value:
            raise ValueError("contains a line break (fix: write the address on one line)")
        stripped = value.replace("{token}", "")
        if "{" in stripped or "}" in stripped:
            raise ValueError("the only placeholder allowed is {token} "
                             "(fix: write it like \"redaction+{token}@en-contact.example\")")
        name, addr = parseaddr(value.replace("{token}", "t" * 24))
        if not addr:
            raise ValueError(f"{value!r} is not an address "
                             "(fix: write an address, or \"local+{token}@domain\")")
        check_address(addr, "reply_to")
        if "{token}" in value and "{token}" in name:
            raise ValueError("{token} must be in the address, not the display name "
                             "(fix: write it like \"redaction+{token}@en-contact.example\")")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def from_address(self) -> str:
        return parseaddr(self.from_)[1]

    @property
    def from_name(self) -> str:
        return parseaddr(self.from_)[0]


class ScheduleConfig(_Section):
    start: datetime | None = None
    reminders: list[PositiveDuration] = Field(
        default_factory=lambda: [timedelta(days=6), timedelta(days=12)])
    close_after: Annotated[Duration, AfterValidator(_not_negative)] = timedelta(days=7)
    send_window: str | None = None
    defer_after_out_of_office: bool = False
    tick_every: PositiveDuration = timedelta(seconds=60)
    #: "domain": the initial sends to one recipient domain are spread over the send window at launch
    #: (an organisation's staff do not get the two versions of an experiment in the same minute).
    spread_by: Literal["domain"] | None = None

    @field_validator("start")
    @classmethod
    def _start(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        if value is not None and value.tzinfo is None:
            zone = (info.context or {}).get("zone")
            if zone is not None:
                value = value.replace(tzinfo=zone)
        return value

    @field_validator("reminders")
    @classmethod
    def _increasing(cls, value: list[timedelta]) -> list[timedelta]:
        for a, b in pairwise(value):
            if b <= a:
                raise ValueError("offsets must be strictly increasing, each counted from the initial send "
                                 "(fix: write them like [\"6d\", \"12d\"], not [\"6d\", \"6d\"])")
        return value

    @field_validator("send_window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is not None:
            SendWindow.parse(value)
        return value

    @property
    def window(self) -> SendWindow | None:
        return SendWindow.parse(self.send_window) if self.send_window else None


def html_sibling(path: Path) -> Path:
    """`initial.txt.j2` → `initial.html.j2` (DESIGN.md: the HTML alternative sits beside the text)."""
    name = path.name.removesuffix(".txt.j2").removesuffix(".j2")
    return path.with_name(f"{name}.html.j2")


class TemplatesConfig(_Section):
    initial: ExistingFile
    reminders: list[ExistingFile] = Field(default_factory=list)

    def for_wave(self, wave: int) -> Path:
        return self.initial if wave == 0 else self.reminders[wave - 1]

    def files(self) -> list[Path]:
        """Every template file of the plan, HTML alternatives included, in wave order."""
        out: list[Path] = []
        for path in [self.initial, *self.reminders]:
            out.append(path)
            html = html_sibling(path)
            if html != path and html.is_file():
                out.append(html)
        return out


class ExperimentConfig(_Section):
    """[experiment] (DESIGN.md "Experiments"): the recorded seed and the optional stratum field."""

    seed: int
    stratify_by: NonEmpty | None = None


class VariantConfig(_Section):
    """One [[variants]] entry: its own templates, optional sender and weight."""

    name: NonEmpty
    initial: ExistingFile
    reminders: list[ExistingFile] = Field(default_factory=list)
    from_: str | None = Field(default=None, alias="from")
    weight: float = 1.0

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if value != value.strip() or any(c in value for c in "\r\n,"):
            raise ValueError("must be one line without commas or spaces around it "
                             "(fix: a short name like \"formal\")")
        return value

    @field_validator("weight")
    @classmethod
    def _weight(cls, value: float) -> float:
        if not value > 0:
            raise ValueError(f"weight {value} must be more than 0 "
                             "(fix: write a positive number like 1 or 2; leave it out for equal arms)")
        return value

    @field_validator("from_")
    @classmethod
    def _from(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if "\r" in value or "\n" in value:
            raise ValueError("contains a line break (fix: write \"Name <address@example.org>\" on one line)")
        name, addr = parseaddr(value)
        if not addr or "@" not in addr:
            raise ValueError(f"{value!r} is not an address "
                             "(fix: write \"Name <address@example.org>\" or just the address)")
        local, _, domain = check_address(addr, "from").rpartition("@")
        return str(Address(display_name=name, username=local, domain=domain))

    def as_templates(self) -> TemplatesConfig:
        return TemplatesConfig(initial=self.initial, reminders=list(self.reminders))


class TargetsConfig(_Section):
    file: ExistingFile
    strict: bool = False


def refuse_plaintext(security: str, info: ValidationInfo, fix: str) -> str:
    """security = "none" only towards this machine, unless the file says allow_plaintext = true."""
    host = info.data.get("host")
    if security == "none" and host and not is_loopback(host) and not info.data.get("allow_plaintext"):
        raise ValueError(f"\"none\" sends the password and the mail unencrypted to {host} (fix: {fix})")
    return security


class SmtpConfig(_Section):
    host: NonEmpty
    allow_plaintext: bool = False
    security: Literal["tls", "starttls", "none"] = Field(default="starttls", validate_default=True)
    port: int | None = Field(default=None, ge=1, le=65535, validate_default=True)
    username: str | None = None
    password_env: EnvName | None = Field(default=None, validate_default=True)
    concurrency: int = Field(default=4, ge=1, le=64)
    rate_limit: str | None = None
    domain_rate_limit: str | None = None       # per recipient domain, across all workers
    tls_verify: bool = True
    ca_file: ExistingFile | None = None
    timeout: PositiveDuration = timedelta(seconds=60)
    local_hostname: str | None = None
    max_attempts: int = Field(default=8, ge=1, le=100)
    # How long a message-level temporary failure (4xx to RCPT/DATA) is retried before the send is
    # failed (the target then `undelivered`): Postfix's maximal_queue_lifetime, 5 days.
    retry_for: PositiveDuration = timedelta(days=5)
    lease: PositiveDuration = timedelta(minutes=10)

    @field_validator("security")
    @classmethod
    def _plaintext(cls, value: str, info: ValidationInfo) -> str:
        return refuse_plaintext(value, info, 'use "starttls" or "tls"; for a trusted relay add allow_plaintext = true')

    @field_validator("port")
    @classmethod
    def _port(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None:
            return {"tls": 465, "starttls": 587, "none": 25}.get(info.data.get("security", ""), 587)
        return value

    @field_validator("password_env")
    @classmethod
    def _pair(cls, value: str | None, info: ValidationInfo) -> str | None:
        return _check_pair(value, info.data.get("username"), "smtp")

    @field_validator("rate_limit", "domain_rate_limit")
    @classmethod
    def _rate(cls, value: str | None) -> str | None:
        if value is not None:
            parse_rate(value)
        return value

    @property
    def rate_per_s(self) -> float | None:
        return parse_rate(self.rate_limit) if self.rate_limit else None

    @property
    def domain_rate_per_s(self) -> float | None:
        return parse_rate(self.domain_rate_limit) if self.domain_rate_limit else None


def _check_pair(password_env: str | None, username: str | None, section: str) -> str | None:
    if username and not password_env:
        raise ValueError(f"username is set but password_env is not (fix: add password_env = "
                         f"\"PROBE_{section.upper()}_PASSWORD\", the environment variable holding the password)")
    if password_env and not username:
        raise ValueError("password_env is set but username is not (fix: add username = \"the login\", "
                         "or remove password_env to connect without AUTH)")
    return password_env


class ImapConfig(_Section):
    host: NonEmpty
    allow_plaintext: bool = False
    security: Literal["tls", "none"] = Field(default="tls", validate_default=True)
    port: int | None = Field(default=None, ge=1, le=65535, validate_default=True)
    username: NonEmpty
    password_env: EnvName
    folder: NonEmpty = "INBOX"
    poll_every: PositiveDuration = timedelta(minutes=5)
    tls_verify: bool = True
    ca_file: ExistingFile | None = None
    timeout: PositiveDuration = timedelta(seconds=30)
    sent_folder: str | None = None
    #: Where `probe resolve --auto` looks for copies of uncertain sends (the folder the provider
    #: files sent mail in). Unset: the account's \\Sent special-use folder, plus sent_folder if set.
    sent_search_folder: NonEmpty | None = None

    @field_validator("security")
    @classmethod
    def _plaintext(cls, value: str, info: ValidationInfo) -> str:
        return refuse_plaintext(value, info, 'use "tls"; for a trusted server add allow_plaintext = true')

    @field_validator("port")
    @classmethod
    def _port(cls, value: int | None, info: ValidationInfo) -> int | None:
        return value if value is not None else (143 if info.data.get("security") == "none" else 993)


class AnswersConfig(_Section):
    yes: list[NonEmpty] = Field(default_factory=list)
    no: list[NonEmpty] = Field(default_factory=list)
    opt_out: list[NonEmpty] = Field(default_factory=list)
    use_defaults: bool = True


class DatabaseConfig(_Section):
    url: str = Field(default="sqlite:///probe.db", validate_default=True)
    #: How long one transaction waits for SQLite's write lock (another probe command holds it) before
    #: the pass ends with "the database is busy". PostgreSQL waits on row locks and ignores it.
    busy_timeout: PositiveDuration = timedelta(minutes=5)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str, info: ValidationInfo) -> str:
        return normalise_database_url(value, Path((info.context or {}).get("base_dir", Path.cwd())))

    @property
    def display_url(self) -> str:
        return mask_password(self.url)

    def __repr_args__(self) -> Any:
        # repr() and str() show the URL with its password masked (logs, tracebacks).
        yield "url", self.display_url
        yield "busy_timeout", self.busy_timeout


class ReportConfig(_Section):
    """[report]: how the research figures are computed (DESIGN.md "report")."""

    eligibility: float | None = Field(default=None, ge=0.0, le=1.0)  # AAPOR e; default: proportional
    within: list[NonEmpty] = Field(default_factory=list)            # extra answered_within times
    business_hours: str | None = None                                # e.g. "mon-fri 09:00-18:00"
    holidays: list[date] = Field(default_factory=list)              # skipped by business hours

    @field_validator("within")
    @classmethod
    def _within(cls, value: list[str]) -> list[str]:
        for text in value:
            if parse_duration(text).total_seconds() <= 0:
                raise ValueError(f"{text!r} must be a positive duration ({DURATION_HELP})")
        return value

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value is not None:
            SendWindow.parse(value)
        return value


class Settings(BaseModel):
    """The whole campaign file, validated. `path` is the config file, `base_dir` its folder."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: Path
    base_dir: Path
    campaign: CampaignConfig
    schedule: ScheduleConfig
    templates: TemplatesConfig | None = None   # may be omitted when [[variants]] give the templates
    targets: TargetsConfig
    smtp: SmtpConfig
    imap: ImapConfig | None = None
    answers: AnswersConfig
    database: DatabaseConfig
    report: ReportConfig = Field(default_factory=ReportConfig)
    experiment: ExperimentConfig | None = None
    variants: list[VariantConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _waves_match_templates(self) -> Settings:
        # Checked on the raw file too (so it shows beside other problems); this guards direct use.
        for tpl in self.template_sets().values():
            if len(tpl.reminders) != len(self.schedule.reminders):
                raise ValueError("templates.reminders and schedule.reminders differ in length")
        return self

    def template_sets(self) -> dict[str | None, TemplatesConfig]:
        """The templates of each variant by name ({None: [templates]} outside an experiment)."""
        if self.variants:
            return {v.name: v.as_templates() for v in self.variants}
        return {None: self.templates} if self.templates is not None else {}

    def template_files(self) -> list[Path]:
        """Every template file of every variant, HTML alternatives included."""
        return list(dict.fromkeys(p for t in self.template_sets().values() for p in t.files()))

    @property
    def zone(self) -> ZoneInfo:
        return self.campaign.zone

    @property
    def waves(self) -> int:
        return 1 + len(self.schedule.reminders)


@cache
def _zones() -> list[str]:
    return sorted(available_timezones())


# --- turning pydantic's errors into lines a user can act on ---------------------------------------

@dataclass(frozen=True)
class Problem:
    field: str
    message: str
    fix: str

    def line(self) -> str:
        return f"{self.field}: {self.message} (fix: {self.fix})"


_EXAMPLES = {
    "campaign.name": 'name = "drc-2015"',
    "campaign.from": 'from = "Rédaction <redaction@example.org>"',
    "templates.initial": 'initial = "templates/initial.txt.j2"',
    "targets.file": 'file = "targets.csv"',
    "smtp.host": 'host = "smtp.example.org"',
    "imap.host": 'host = "imap.example.org"',
    "imap.username": 'username = "redaction@example.org"',
    "imap.password_env": 'password_env = "PROBE_IMAP_PASSWORD"',
}
_SENSITIVE = re.compile(r"pass|secret|token|url", re.IGNORECASE)
_TYPE_FIXES = {
    "bool": "write true or false, without quotes",
    "int": "write a whole number, without quotes",
    "string": "write the value in double quotes",
    "list": 'write a list like ["a", "b"]',
    "datetime": 'write a date and time like "2015-09-28T09:00:00" (local to campaign.timezone) '
                'or with an offset "2015-09-28T09:00:00+02:00"',
    "literal": "use one of the values listed",
    "greater": "use a larger number",
    "less": "use a smaller number",
    "too_short": "it cannot be empty",
    "dict": "write it as a [section] table",
    "model": "write it as a [section] table",
}


def _model_at(loc: tuple[Any, ...], root: type[BaseModel]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return None
        model = _model_in(field.annotation)
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _keys(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [f.alias or n for n, f in model.model_fields.items() if n not in ("path", "base_dir")]


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _type_fix(kind: str) -> str:
    for prefix, fix in _TYPE_FIXES.items():
        if kind.startswith(prefix):
            return fix
    return "see config.example.toml for the expected form"


def problems_from(exc: ValidationError, root: type[BaseModel]) -> list[Problem]:
    problems: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        kind, field = err["type"], _dotted(loc)
        if kind == "extra_forbidden":
            key = str(loc[-1])
            keys = _keys(_model_at(loc[:-1], root))
            where = f"[{_dotted(loc[:-1])}]" if loc[:-1] else "the top level"
            close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6) or [
                k for k in keys if len(key) >= 3 and (k.startswith(key) or key.startswith(k))][:1]
            if "pass" in key.lower() and "env" not in key.lower():
                fix = ('never put the password in the file: write password_env = "PROBE_SMTP_PASSWORD" and '
                       "export that variable")
            elif close:
                fix = f"did you mean `{close[0]}`?"
            else:
                fix = f"remove it; the keys of {where} are: {', '.join(keys)}"
            problems.append(Problem(field, "unknown key", fix))
            continue
        if kind == "missing":
            section, _, key = field.rpartition(".")
            example = _EXAMPLES.get(field, f"{key} = …")
            fix = f"add {example} under [{section}]" if section else f"add a [{key}] section"
            problems.append(Problem(field, "required key is missing", fix))
            continue
        message = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if "(fix: " in message:
            message, _, fix = message.partition(" (fix: ")
            fix = fix.removesuffix(")")
        elif kind == "value_error" and " (write " in message and message.endswith(")"):
            cut = message.rfind(" (write ")
            message, fix = message[:cut], message[cut + 2:-1]
        else:
            fix = _type_fix(kind)
            value = err.get("input")
            if not _SENSITIVE.search(field) and isinstance(value, str | int | float | bool) and len(repr(value)) < 80:
                message += f" (got {value!r})"
        problems.append(Problem(field or "(file)", message, fix))
    return problems


# --- loading and error reporting ------------------------------------------------------------------

def _raise(path: Path, problems: list[Problem]) -> None:
    if len(problems) == 1:
        p = problems[0]
        err = ConfigError(p.message, file=str(path), field=p.field, hint=p.fix)
    else:
        lines = "\n".join(f"  {p.line()}" for p in problems)
        err = ConfigError(f"{len(problems)} problems:\n{lines}", file=str(path))
    err.problems = problems  # type: ignore[attr-defined]
    raise err


def load_config(path: Path) -> Settings:
    """Read and validate a campaign file; ConfigError (exit 2) lists every problem it finds."""
    path = Path(path).expanduser().absolute()
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("config file not found", file=str(path),
                          hint="check the path, or write a starter campaign with `probe init DIR`") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror}", file=str(path),
                          hint="check the path and its permissions") from None
    try:
        data = tomllib.loads(raw_bytes.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", file=str(path),
                          hint="save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        field = f"line {m.group(1)}, column {m.group(2)}" if m else None
        raise ConfigError(f"TOML syntax error: {re.sub(r' [(]at line.*', '', str(exc))}", file=str(path),
                          field=field, hint="strings need double quotes, tables are [section], one key = value a "
                                            "line (see config.example.toml)") from None
    base_dir = path.parent
    zone = None
    campaign = data.get("campaign")
    if isinstance(campaign, dict) and isinstance(campaign.get("timezone", "UTC"), str):
        try:
            zone = ZoneInfo(campaign.get("timezone", "UTC"))
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            zone = None
    problems: list[Problem] = []
    document: dict[str, Any] = dict(data)
    for reserved in ("path", "base_dir"):
        if reserved in document:
            problems.append(Problem(reserved, "unknown key", "remove it: the file's top level holds only [sections]"))
            del document[reserved]
    for section in ("schedule", "answers", "database"):
        document.setdefault(section, {})
    problems.extend(_cross_checks(data))
    try:
        settings = Settings.model_validate({**document, "path": path, "base_dir": base_dir},
                                           context={"base_dir": base_dir, "zone": zone})
    except ValidationError as exc:
        problems = problems_from(exc, Settings) + problems
        _raise(path, _dedupe(problems))
    if problems:
        _raise(path, problems)
    return settings


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str]] = set()
    out: list[Problem] = []
    for p in problems:
        if p.field == "(file)" and "differ in length" in p.message:
            continue  # the model-level guard repeats the raw cross-check
        if (p.field, p.message) not in seen:
            seen.add((p.field, p.message))
            out.append(p)
    return out


def _cross_checks(data: dict[str, Any]) -> list[Problem]:
    templates, schedule = data.get("templates"), data.get("schedule", {})
    out = _experiment_checks(data)
    if not isinstance(schedule, dict):
        return out
    rem = schedule.get("reminders", ["6d", "12d"])
    sets = [("templates", templates)]
    variants = data.get("variants")
    if isinstance(variants, list):
        sets += [(f"variants[{i}]", v) for i, v in enumerate(variants)]
    for where, section in sets:
        if not isinstance(section, dict):
            continue
        tpl = section.get("reminders", [])
        if isinstance(tpl, list) and isinstance(rem, list) and len(tpl) != len(rem):
            out.append(Problem(f"{where}.reminders",
                               f"{len(tpl)} template(s) for {len(rem)} reminder(s) in schedule.reminders",
                               "give one template per reminder offset, in the same order"))
    return out


def _experiment_checks(data: dict[str, Any]) -> list[Problem]:
    """[experiment] and [[variants]] together, names unique; [templates] or [[variants]] present."""
    variants, experiment = data.get("variants"), data.get("experiment")
    out: list[Problem] = []
    if variants is None:
        if "templates" not in data:
            # Worded as pydantic's own "missing" line (one form for every required section).
            out.append(Problem("templates", "required key is missing", "add a [templates] section"))
        if experiment is not None:
            out.append(Problem("experiment", "an [experiment] without [[variants]]",
                               "add two or more [[variants]] (name, initial, reminders), or remove [experiment]"))
        return out
    if not isinstance(variants, list) or not variants:
        return [Problem("variants", "expected a list of [[variants]] tables",
                        'write each variant as [[variants]] with name = "…", initial = "…", reminders = […]')]
    if experiment is None:
        out.append(Problem("experiment", "[[variants]] without an [experiment] section",
                           "add [experiment] with seed = 2015 (any whole number, recorded for the assignment)"))
    seen: dict[str, int] = {}
    for i, v in enumerate(variants):
        name = v.get("name") if isinstance(v, dict) else None
        if isinstance(name, str):
            if name in seen:
                out.append(Problem(f"variants[{i}].name", f"variant name {name!r} is used twice "
                                   f"(variants[{seen[name]}] too)", "give each variant its own name"))
            seen.setdefault(name, i)
    if "templates" in data:
        out.append(Problem("templates", "both [templates] and [[variants]]",
                           "remove [templates]: in an experiment each variant names its own templates"))
    return out


# --- secrets and the plan hash --------------------------------------------------------------------

def read_secret(env_name: str | None, *, file: str, field: str) -> str | None:
    """The password held by the environment variable the config names (None when it names none)."""
    if env_name is None:
        return None
    value = os.environ.get(env_name)
    if not value:
        state = "is not set" if value is None else "is empty"
        what = field.rpartition(".")[0] or "the account"
        raise ConfigError(f"environment variable {env_name} {state}", file=file, field=field,
                          hint=f"export {env_name}=… (the password of the [{what}] account) before running probe")
    from probe.logs import register_secret

    register_secret(value)   # masked by value in every log line and error message from now on
    return value


def plan_hash(settings: Settings, targets_bytes: bytes, template_bytes: dict[Any, bytes]) -> str:
    """sha256 of what a launch planned from: the config file, every template file, the targets file."""
    digest = hashlib.sha256()

    def part(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    part("config", settings.path.read_bytes())
    for name in sorted(template_bytes, key=str):
        part(f"template:{Path(name).name}", template_bytes[name])
    part("targets", targets_bytes)
    return digest.hexdigest()


def compute_plan_hash(settings: Settings, assignment: Sequence[tuple[str, str, str]] | None = None) -> str:
    """The plan hash; in an experiment it covers every variant's templates and the assignment
    (email, stratum, variant lines, sorted), so a changed draw is a changed plan."""
    templates = {str(p): p.read_bytes() for p in settings.template_files()}
    digest = plan_hash(settings, settings.targets.file.read_bytes(), templates)
    if not settings.variants:
        return digest
    h = hashlib.sha256(digest.encode())
    for line in sorted(assignment or ()):
        h.update(("\0".join(line) + "\n").encode())
    return h.hexdigest()
