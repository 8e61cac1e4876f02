"""The value types of the campaign file (durations, existing files, environment-variable names)
and the checks several sections share (addresses, loopback hosts, database URLs)."""

from __future__ import annotations

import ipaddress
import os
import re
from datetime import timedelta
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
)

from probe.core.addresses import plain_address
from probe.core.dburl import POSTGRES_DRIVER, POSTGRES_SCHEMES, SQLITE_SCHEMES
from probe.core.durations import DURATION_HELP, parse_duration


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


def not_negative(value: timedelta) -> timedelta:
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
    plain = plain_address(addr)
    if plain is not None:   # the common address: no need to import the library (core/addresses.py)
        return plain
    from email_validator import EmailNotValidError, validate_email
    try:
        return validate_email(addr, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"{addr!r} is not a valid address: {exc} (fix: write {field} like "
                         f"\"Name <address@example.org>\")") from None


def check_sender(value: str) -> str:
    """A From: value ("Name <address>" or a bare address) → its normalised form (campaign.from, a
    variant's from)."""
    if "\r" in value or "\n" in value:
        raise ValueError("contains a line break (fix: write \"Name <address@example.org>\" on one line)")
    name, addr = parseaddr(value)
    if not addr or "@" not in addr:
        raise ValueError(f"{value!r} is not an address "
                         "(fix: write \"Name <address@example.org>\" or just the address)")
    local, _, domain = check_address(addr, "from").rpartition("@")
    return str(Address(display_name=name, username=local, domain=domain))


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


def normalise_database_url(url: str, base_dir: Path) -> str:
    """`sqlite:///rel.db` (relative to the config file) or `postgresql://…` → the async driver's URL."""
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in SQLITE_SCHEMES | POSTGRES_SCHEMES:
        raise ValueError("unsupported database URL (fix: use sqlite:///probe.db, relative to the config file, "
                         "sqlite:////absolute/path.db or postgresql://user@host/dbname)")
    if scheme in POSTGRES_SCHEMES:
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
