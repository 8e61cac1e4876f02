"""The exception tree of probe. Every error a user can meet is a ProbeError.

    ProbeError                 root; carries file / field / hint so the CLI can say what and how to fix
    ├── InputError             bad user input: exit 2
    │   ├── ConfigError        the campaign TOML (a key, a value, a missing password variable)
    │   ├── TargetsError       the targets CSV (encoding, header, CR/LF in a value, --strict refusals)
    │   ├── TemplateError      a template (syntax, undefined variable, CR/LF in a rendered header)
    │   └── PlanChangedError   config/templates/targets changed since `launch`: run launch again
    ├── MailServerError        an SMTP or IMAP server could not be used (host, port, account named)
    │   ├── SmtpError
    │   └── ImapError
    └── StoreError             the database (URL named): unreachable, schema too old or too new

The CLI alone turns these into text and exit codes (InputError → 2, the others → 1).
"""

from __future__ import annotations


class ProbeError(Exception):
    """Root of every error probe raises on purpose."""

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.field = field
        self.hint = hint

    def __str__(self) -> str:
        where = ": ".join(p for p in (self.file, self.field) if p)
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f"\n  fix: {self.hint}"
        return text


class InputError(ProbeError):
    """Bad input from the user: config, targets, templates, arguments. Exit code 2."""


class ConfigError(InputError):
    """The campaign TOML is wrong or incomplete."""


class TargetsError(InputError):
    """The targets CSV cannot be used as it is."""


class TemplateError(InputError):
    """A template does not compile or does not render for some target."""


class PlanChangedError(InputError):
    """The config, templates or targets changed since the last `probe launch`."""


class MailServerError(ProbeError):
    """An SMTP or IMAP server refused us or could not be reached."""


class SmtpError(MailServerError):
    """The SMTP server could not be used (connection, TLS, authentication)."""


class ImapError(MailServerError):
    """The IMAP server could not be used (connection, TLS, login, folder)."""


class StoreError(ProbeError):
    """The database could not be used."""


class SchemaBehindError(StoreError):
    """The database's schema is older than this probe (or empty): the user runs `probe db upgrade`
    (or `probe launch`). Bad input to fix, so the CLI exits 2 like an InputError."""


def not_launched(name: str, config: str | None) -> InputError:
    """The one "campaign not launched" error: the campaign named in the config has no row yet."""
    return InputError(f"campaign {name!r} is not in the database: it has not been launched", file=config,
                      field="campaign.name", hint=f"run: probe launch {config or 'CONFIG'}")
