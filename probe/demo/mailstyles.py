"""Raw messages shaped like the ones real mail clients and servers send: a person's reply in the style
of Gmail, Outlook, Apple Mail, iPhone or Thunderbird (top-posted, the question quoted below), an
out-of-office notice (with or without RFC 3834 headers), and an RFC 3464 delivery-status notification.

Pure functions: the original message, the director and the time in, bytes out."""

from __future__ import annotations

import email.policy
import html
import random
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr

from probe.demo.people import Director
from probe.demo.scenario import PARIS
from probe.demo.wording import disclaimer, french_date, out_of_office_text, signature

_FR_MONTHS_SHORT = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.",
                    "nov.", "déc.")
_FR_DAYS_SHORT = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")
_SMTP = email.policy.SMTP


@dataclass(frozen=True)
class Original:
    """What a mail client reads from the message it replies to."""

    message_id: str
    references: str
    subject: str
    from_name: str
    from_addr: str
    reply_to: str
    date: datetime
    text: str
    to: str

    @classmethod
    def of(cls, msg: EmailMessage, received_at: datetime) -> Original:
        name, addr = parseaddr(str(msg.get("From", "")))
        reply_to = getaddresses([str(msg.get("Reply-To", ""))])
        try:
            sent = msg["Date"].datetime if msg.get("Date") else None
        except (TypeError, ValueError, AttributeError):
            sent = None
        body = msg.get_body(preferencelist=("plain", "html"))
        text = body.get_content() if isinstance(body, EmailMessage) else ""
        if body is not None and body.get_content_subtype() == "html":
            text = _html_as_text(text)
        return cls(message_id=str(msg.get("Message-ID", "")).strip(),
                   references=" ".join(str(msg.get("References", "")).split()),
                   subject=str(msg.get("Subject", "")), from_name=name, from_addr=addr,
                   reply_to=reply_to[0][1] if reply_to and reply_to[0][1] else addr,
                   date=sent or received_at, text=text.replace("\r\n", "\n").rstrip() + "\n",
                   to=str(msg.get("To", "")))

    @property
    def local_date(self) -> datetime:
        return self.date.astimezone(PARIS)

    @property
    def sender(self) -> str:
        return f"{self.from_name} <{self.from_addr}>" if self.from_name else self.from_addr


def _html_as_text(markup: str) -> str:
    from probe.core.htmltext import html_to_text

    return html_to_text(markup, drop_quotes=False)


def _quoted(text: str) -> str:
    return "\n".join(("> " + line) if line else ">" for line in text.rstrip("\n").split("\n")) + "\n"


def _as_html(text: str) -> str:
    return "<br>\n".join(html.escape(line) for line in text.rstrip("\n").split("\n"))


def _hhmm(when: datetime) -> str:
    return f"{when.hour:02d}:{when.minute:02d}"


def _attribution(style: str, original: Original, lang: str) -> str:
    d = original.local_date
    who = original.sender
    if lang == "en":
        clock = d.strftime("%I:%M %p").lstrip("0")
        if style == "gmail":
            return f"On {d:%a}, {d:%b} {d.day}, {d.year} at {clock} {who} wrote:"
        return f"On {d:%b} {d.day}, {d.year}, at {_hhmm(d)}, {who} wrote:"
    if style == "gmail":
        return (f"Le {_FR_DAYS_SHORT[d.weekday()]} {d.day} {_FR_MONTHS_SHORT[d.month - 1]} {d.year} à "
                f"{_hhmm(d)}, {who} a écrit :")
    if style == "thunderbird":
        return f"Le {d:%d/%m/%Y} {_hhmm(d)}, {original.from_name or original.from_addr} a écrit :"
    return f"Le {d.day} {_FR_MONTHS_SHORT[d.month - 1]} {d.year} à {_hhmm(d)}, {who} a écrit :"


def _outlook_block(original: Original, director: Director, lang: str, *, legacy: bool) -> list[tuple[str, str]]:
    d = original.local_date
    sender = f"{original.from_name} [mailto:{original.from_addr}]" if legacy else original.sender
    if lang == "en":
        return [("From", sender), ("Sent", f"{d:%A, %B} {d.day}, {d.year} {d.strftime('%I:%M %p').lstrip('0')}"),
                ("To", director.full_name), ("Subject", original.subject)]
    return [("De", sender), ("Envoyé", f"{french_date(d.date())} {_hhmm(d)}"), ("À", director.full_name),
            ("Objet", original.subject)]


def _message_id(style: str, director: Director, rng: random.Random) -> str:
    hexid = uuid.UUID(int=rng.getrandbits(128))
    if style == "gmail":
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        return f"<CA+{''.join(rng.choice(alphabet) for _ in range(40))}@mail.gmail.com>"
    if style.startswith("outlook"):
        server = f"AM{rng.randint(2, 6)}PR0{rng.randint(1, 9)}MB{rng.randint(1000, 9999)}"
        return f"<{server}{hexid.hex[:12].upper()}@{server}.eurprd0{rng.randint(1, 8)}.prod.outlook.com>"
    if style == "thunderbird":
        return f"<{hexid.hex[:8].upper()}.{rng.randint(1000000, 9999999)}@{director.domain}>"
    return f"<{str(hexid).upper()}@{director.domain}>"


def _headers(msg: EmailMessage, director: Director, original: Original, when: datetime, style: str,
             lang: str, rng: random.Random, *, threaded: bool = True) -> None:
    prefix = "RE: " if style.startswith("outlook") else "Re: "
    subject = original.subject
    msg["From"] = Address(director.full_name, addr_spec=director.email)
    msg["To"] = original.reply_to
    msg["Subject"] = subject if subject.lower().startswith(("re:", "re :")) else prefix + subject
    msg["Date"] = format_datetime(when.astimezone(PARIS))
    msg["Message-ID"] = _message_id(style, director, rng)
    if threaded and original.message_id:
        msg["In-Reply-To"] = original.message_id
        msg["References"] = " ".join(p for p in (original.references, original.message_id) if p)
    if style.startswith("outlook"):
        msg["Thread-Topic"] = subject
        msg["Thread-Index"] = "AdD5" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(24))
        msg["Accept-Language"] = "fr-FR, en-US" if lang == "fr" else "en-US"
        msg["X-MS-Has-Attach"] = ""
        if style == "outlook_legacy":
            msg["X-Mailer"] = "Microsoft Outlook 14.0"
    elif style == "apple":
        msg["X-Mailer"] = "Apple Mail (2.3094)"
    elif style == "iphone":
        msg["X-Mailer"] = "iPhone Mail (13A344)"
    elif style == "thunderbird":
        msg["User-Agent"] = "Mozilla/5.0 (Windows NT 6.1; WOW64; rv:38.0) Gecko/20100101 Thunderbird/38.2.0"
    msg["MIME-Version"] = "1.0"


def human_reply(director: Director, original: Original, new_text: str, when: datetime, *, style: str,
                lang: str, with_disclaimer: bool, rng: random.Random) -> bytes:
    """A person's top-posted reply to `original`, quoting it the way `style`'s mail client does."""
    mobile = style == "iphone"
    own = new_text.rstrip() + "\n\n" + signature(director, lang, mobile=mobile) + "\n"
    if with_disclaimer:
        own += "\n" + disclaimer(director) + "\n"
    msg = EmailMessage()
    _headers(msg, director, original, when, style, lang, rng, threaded=style != "outlook_legacy")

    if style in ("gmail", "apple", "thunderbird"):
        attribution = _attribution(style, original, lang)
        text = f"{own}\n{attribution}\n{_quoted(original.text)}"
        msg.set_content(text, cte="quoted-printable")
        if style == "gmail":
            markup = (f'<div dir="ltr">{_as_html(own)}</div><br><div class="gmail_quote"><div dir="ltr" '
                      f'class="gmail_attr">{html.escape(attribution)}<br></div><blockquote class="gmail_quote" '
                      'style="margin:0px 0px 0px 0.8ex;border-left:1px solid rgb(204,204,204);padding-left:1ex">'
                      f"{_as_html(original.text)}</blockquote></div>\n")
            msg.add_alternative(markup, subtype="html", cte="quoted-printable")
        elif style == "apple":
            markup = (f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head>'
                      f'<body style="word-wrap: break-word;">{_as_html(own)}<br><div><blockquote type="cite">'
                      f"<div>{html.escape(attribution)}</div><br><div>{_as_html(original.text)}</div>"
                      "</blockquote></div></body></html>\n")
            msg.add_alternative(markup, subtype="html", cte="quoted-printable")
    elif mobile:
        attribution = _attribution("apple", original, lang)
        msg.set_content(f"{own}\n{_quoted(attribution + chr(10) + chr(10) + original.text)}", cte="8bit")
    else:
        legacy = style == "outlook_legacy"
        block = _outlook_block(original, director, lang, legacy=legacy)
        space = " " if lang == "fr" else ""
        head = "\n".join(f"{k}{space}: {v}" for k, v in block)
        rule = "-----Message d'origine-----" if legacy and lang == "fr" else (
            "-----Original Message-----" if legacy else "_" * 32)
        text = f"{own}\n{rule}\n{head}\n\n{original.text}"
        markup = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head>'
                  '<body dir="ltr"><div style="font-family:Calibri,Arial,Helvetica,sans-serif;font-size:12pt;'
                  f'color:rgb(0,0,0)">{_as_html(own)}</div><hr style="display:inline-block;width:98%" '
                  'tabindex="-1"><div id="divRplyFwdMsg" dir="ltr"><font face="Calibri, sans-serif" '
                  'style="font-size:11pt" color="#000000">'
                  + "<br>".join(f"<b>{k}{space}:</b> {html.escape(v)}" for k, v in block)
                  + f'</font><div>&nbsp;</div></div><div>{_as_html(original.text)}</div></body></html>\n')
        if style == "outlook_html":
            msg.set_content(markup, subtype="html", cte="quoted-printable")
        else:
            msg.set_content(text, cte="quoted-printable")
            msg.add_alternative(markup, subtype="html", cte="quoted-printable")
        # After set_content, which drops every Content-* header.
        msg["Content-Language"] = "fr-FR" if lang == "fr" else "en-US"
    return msg.as_bytes(policy=_SMTP)


def out_of_office(director: Director, original: Original, when: datetime, *, until: date,
                  auto_submitted: bool, variant: int, rng: random.Random) -> bytes:
    """An automatic absence notice. With auto_submitted, the RFC 3834 headers a Sieve vacation or
    Exchange sets; without, only the subject and the wording say what it is (many servers do that)."""
    msg = EmailMessage()
    msg["From"] = Address(director.full_name, addr_spec=director.email)
    msg["To"] = original.from_addr
    subject = original.subject
    msg["Subject"] = (f"Réponse automatique : {subject}" if auto_submitted else
                      ("Absent du bureau" if variant % 2 else f"Absence : {subject}"))
    msg["Date"] = format_datetime(when.astimezone(PARIS))
    msg["Message-ID"] = _message_id("outlook" if auto_submitted else "apple", director, rng)
    if original.message_id:
        msg["In-Reply-To"] = original.message_id
        msg["References"] = original.message_id
    if auto_submitted:
        msg["Auto-Submitted"] = "auto-replied"
        msg["X-Auto-Response-Suppress"] = "All"
        msg["Precedence"] = "bulk"
    msg["MIME-Version"] = "1.0"
    msg.set_content(out_of_office_text(director, until, variant), cte="quoted-printable")
    return msg.as_bytes(policy=_SMTP)


def delivery_failure(director: Director, original_raw: bytes, envelope_from: str, when: datetime, *,
                     rng: random.Random) -> bytes:
    """A Postfix-shaped RFC 3464 DSN: the recipient's domain has no such user (5.1.1)."""
    mta = f"mx1.{director.domain}"
    queue_id = "".join(rng.choice("0123456789ABCDEF") for _ in range(10))
    boundary = f"{queue_id}.{int(when.timestamp())}/{mta}"
    rcpt = director.email
    stamp = format_datetime(when.astimezone(PARIS))
    head_end = original_raw.find(b"\r\n\r\n")
    original_headers = original_raw[: head_end if head_end >= 0 else len(original_raw)].decode(
        "ascii", "replace").replace("\r\n", "\n")
    diagnostic = f"550 5.1.1 <{rcpt}>: Recipient address rejected: User unknown in virtual mailbox table"
    text = f"""From: MAILER-DAEMON@{mta} (Mail Delivery System)
To: {envelope_from}
Subject: Undelivered Mail Returned to Sender
Date: {stamp}
Message-Id: <{when:%Y%m%d%H%M%S}.{queue_id}@{mta}>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="{boundary}"
Content-Transfer-Encoding: 8bit

This is a MIME-encapsulated message.

--{boundary}
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host {mta}.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system

<{rcpt}>: host {mta}[192.0.2.25] said: {diagnostic} (in reply to RCPT TO command)

--{boundary}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; {mta}
X-Postfix-Queue-ID: {queue_id}
X-Postfix-Sender: rfc822; {envelope_from}
Arrival-Date: {stamp}

Final-Recipient: rfc822; {rcpt}
Original-Recipient: rfc822;{rcpt}
Action: failed
Status: 5.1.1
Remote-MTA: dns; {mta}
Diagnostic-Code: smtp; {diagnostic}

--{boundary}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

{original_headers}

--{boundary}--
"""
    return text.replace("\n", "\r\n").encode("utf-8")
