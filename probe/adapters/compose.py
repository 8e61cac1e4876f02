"""A rendered template → the email.message.EmailMessage handed to SMTP.

Every header value is checked for CR/LF before it is set (the stdlib would raise a bare
ValueError; we say which header and why). Reminders thread under the earlier waves with
In-Reply-To / References (LIBRARIES.md §9), so a reply to any wave carries a probe Message-ID."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from probe.adapters.templates import RenderedMessage
from probe.errors import TemplateError


def _check(name: str, value: str) -> str:
    if "\r" in value or "\n" in value:
        raise TemplateError(f"header {name} contains a line break (CR or LF)", field=name,
                            hint="remove the line break from the value (probe never cleans header values)")
    return value


def build_message(rendered: RenderedMessage, *, from_: str, to: str, message_id: str, date: datetime,
                  references: Sequence[str] = (), reply_to: str | None = None,
                  list_unsubscribe: str | None = None) -> EmailMessage:
    """From, To, Subject, Date, Message-ID; In-Reply-To/References for reminders; Reply-To (the
    template's own Reply-To wins over the campaign's); the text part, plus the HTML alternative.

    `references` are the Message-IDs of the earlier waves, oldest first. `list_unsubscribe` is an
    address for an optional `List-Unsubscribe: <mailto:…?subject=unsubscribe>` header."""
    if date.tzinfo is None or date.utcoffset() is None:
        raise ValueError("date must be timezone-aware")
    if not (message_id.startswith("<") and message_id.endswith(">") and "@" in message_id):
        raise ValueError(f"message_id must look like <id@domain>, got {message_id!r}")
    msg = EmailMessage()
    msg["From"] = _check("From", from_)
    msg["To"] = _check("To", to)
    msg["Subject"] = _check("Subject", rendered.subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = _check("Message-ID", message_id)
    if references:
        refs = [_check("References", r) for r in references]
        msg["In-Reply-To"] = refs[-1]
        msg["References"] = " ".join(refs)
    template_headers = dict((name.lower(), (name, value)) for name, value in rendered.headers)
    if "reply-to" not in template_headers and reply_to:
        msg["Reply-To"] = _check("Reply-To", reply_to)
    for name, value in rendered.headers:
        if value:  # an optional header whose template rendered empty is left out
            msg[name] = _check(name, value)
    if list_unsubscribe:
        msg["List-Unsubscribe"] = _check("List-Unsubscribe", f"<mailto:{list_unsubscribe}?subject=unsubscribe>")
    msg.set_content(rendered.text, charset="utf-8", cte="quoted-printable")
    if rendered.html is not None:
        msg.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg
