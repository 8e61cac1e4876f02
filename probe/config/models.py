"""The sections of the campaign file and `Settings`, the whole file validated (docs/design.md
"Config"). Validators raise `ValueError("message (fix: …)")`; problems.py turns those into lines."""

from __future__ import annotations

import difflib
import re
from datetime import date, datetime, timedelta
from email.utils import parseaddr
from functools import cache
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from probe.config.values import (
    Duration,
    EnvName,
    ExistingFile,
    NonEmpty,
    PositiveDuration,
    check_address,
    check_sender,
    is_loopback,
    normalise_database_url,
    not_negative,
)
from probe.core.dburl import mask_password
from probe.core.durations import DURATION_HELP, parse_duration, parse_rate
from probe.core.planning import SendWindow
from probe.core.templatenames import html_sibling


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _no_items() -> list[Any]:
    # The default of the list fields. Not `list` itself: pydantic reads a default factory's
    # signature, a builtin's comes from its text signature through the tokenizer, and the
    # tokenizer's first use compiles a large pattern (3 ms of every command's start-up).
    return []


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
        return check_sender(value)

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
    close_after: Annotated[Duration, AfterValidator(not_negative)] = timedelta(days=7)
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


class TemplatesConfig(_Section):
    initial: ExistingFile
    reminders: list[ExistingFile] = Field(default_factory=_no_items)

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
    """[experiment] (docs/design.md): the recorded seed and the optional stratum field."""

    seed: int
    stratify_by: NonEmpty | None = None


class VariantConfig(_Section):
    """One [[variants]] entry: its own templates, optional sender and weight."""

    name: NonEmpty
    initial: ExistingFile
    reminders: list[ExistingFile] = Field(default_factory=_no_items)
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
        return None if value is None else check_sender(value)

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
    yes: list[NonEmpty] = Field(default_factory=_no_items)
    no: list[NonEmpty] = Field(default_factory=_no_items)
    opt_out: list[NonEmpty] = Field(default_factory=_no_items)
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
    """[report]: how the research figures are computed (docs/design.md)."""

    eligibility: float | None = Field(default=None, ge=0.0, le=1.0)  # AAPOR e; default: proportional
    within: list[NonEmpty] = Field(default_factory=_no_items)       # extra answered_within times
    business_hours: str | None = None                                # e.g. "mon-fri 09:00-18:00"
    holidays: list[date] = Field(default_factory=_no_items)         # skipped by business hours

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
    variants: list[VariantConfig] = Field(default_factory=_no_items)

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

