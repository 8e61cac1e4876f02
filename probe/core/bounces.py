"""Delivery reports: RFC 3464 DSNs, RFC 8098 MDNs, machine reports, and the non-standard bounce and
delay notices MTAs still write in prose (qmail, Exim, old Exchange, Lotus, Gmail, Postfix text).

Each function looks at a ParsedMessage and returns a Verdict or None; classify.py orders them."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from probe.core.message import ParsedMessage
from probe.core.model import MessageKind
from probe.core.replyprefix import REPLY_SUBJECT
from probe.core.rx import alternation

T = TypeVar("T")
_ADDRESS = re.compile(r"[A-Za-z0-9._%+=#&'/!-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")
_LOCAL_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+=#&'/!-")
_DOMAIN = re.compile(r"[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")


def addresses_in(text: str) -> Iterator[str]:
    """What `_ADDRESS.finditer(text)` finds, in order, found from each "@" instead of trying every
    position (the local part's class covers most of a text, and each try runs up to 64 characters).
    A match uses the first character after its start that is not of the local part, which must be
    the "@"; so each "@" gives at most one match: its domain as _ADDRESS reads it, and the local part
    from the furthest of the run of local characters before it, 64 characters back, and the end of
    the previous match."""
    end = 0
    at = text.find("@")
    while at >= 0:
        domain = _DOMAIN.match(text, at + 1)
        if domain is not None:
            start = at
            while start > end and at - start < 64 and text[start - 1] in _LOCAL_CHARS:
                start -= 1
            if start < at:
                yield text[start:domain.end()]
                end = domain.end()
        at = text.find("@", max(at + 1, end))
_REPLY_PREFIX = REPLY_SUBJECT  # probe/core/replyprefix.py
# r"\b([245])\.(\d{1,3})\.(\d{1,3})\b" with its leading \b moved after the first digit: before a
# digit, \b means "no word character just before", which (?<!\w.) says one character later. Same
# matches, but starting with a class `re` can scan for instead of trying every position.
_STATUS = re.compile(r"([245])(?<!\w.)\.(\d{1,3})\.(\d{1,3})\b")


@dataclass(frozen=True)
class Verdict:
    kind: MessageKind
    reasons: tuple[str, ...]
    failed_recipients: tuple[str, ...] = ()
    original_message_ids: tuple[str, ...] = ()
    status: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def _rx(*patterns: str) -> re.Pattern[str]:
    """One alternation, matched case-sensitively against lowercased text (see ParsedMessage.text_lc),
    in the trie form of probe.core.rx (the same matches as ``(?:p1)|(?:p2)|…``, found faster)."""
    return re.compile(alternation([p.lower() for p in patterns]))


# Senders that speak for a mail system, not a person.
SYSTEM_SENDER = _rx(
    r"^(?:mailer-daemon|mail-daemon|mailerdaemon|post_?master|mail\.delivery|"
    r"mail-delivery|maildelivery|mdaemon|smtp|bounces?|nobody|root|sysadmin)(?:[@.+-]|$)",
    r"^microsoftexchange[0-9a-f]{0,40}@",
    # mailing-list software answering for a list
    r"^owner-[^@]+@", r"^[^@]+-(?:admin|owner|bounces?|request)@",
)
SYSTEM_NAME = _rx(r"mail delivery (?:subsystem|system|service)", r"mailer[- ]daemon", r"postmaster",
                  r"delivery status", r"mail administrator", r"system administrator", r"ndr administrator",
                  r"^microsoft outlook$", r"^mail delivery$")

# Subjects of failure notices, many languages.
BOUNCE_SUBJECT = _rx(
    r"undeliver(?:able|ed)", r"undelivered mail", r"returned mail", r"return(?:ed|ing) message to sender",
    r"mail delivery (?:failed|failure|problem|system)", r"delivery (?:status notification )?\(?failure\)?",
    r"delivery failure", r"failure notice", r"delivery (?:has )?failed", r"could not be delivered",
    r"address not found", r"non remis", r"non[- ]distribuable", r"non d[ée]livr[ée]", r"[ée]chec de (?:la )?remise",
    r"rapport de non-remise", r"unzustellbar", r"nicht zustellbar", r"unzustellbare", r"fehlgeschlagen",
    r"no entregado", r"no se pudo entregar", r"non recapitabile", r"mancato recapito", r"impossibile recapitare",
    r"message status - undeliverable", r"delivery notification: delivery has failed", r"bounce notification",
    r"sorry, your message could not be delivered", r"there was an error sending your mail",
    r"notification d'[ée]tat de (?:la )?(?:remise|distribution)", r"mail system error",
    r"non-?deliver", r"delivery problem", r"rejected",
    r"failed mail", r"mail failure", r"mail error", r"не доставлено", r"delivery error", r"not delivered",
    r"failure delivery", r"failed delivery", r"delivery unsuccessful", r"unable to deliver",
)
DELAY_SUBJECT = _rx(
    r"delayed mail", r"\(delay\)", r"mail delivery delayed", r"delivery delayed", r"still being retried",
    r"warning: could not send", r"warning.{0,4}could not send", r"warning: message .{0,120} delayed",
    r"delivery status notification \(delay\)", r"remise diff[ée]r[ée]e", r"retard(?:ée?)? de (?:la )?remise",
    r"zustellung verz[öo]gert", r"verz[öo]gert", r"entrega retrasada", r"consegna ritardata",
    r"delivery warning", r"delivery delay", r"\bdelayed\b",
)
STRONG_DELAY_SUBJECT = _rx(
    r"could not send (?:the )?(?:message|mail) for (?:the )?past", r"delayed mail", r"still being retried",
    r"delivery status notification \(delay\)", r"mail delivery (?:delayed|delay)",
    r"delivery delay(?:ed)? notification",
)
# Prose of a permanent failure.
FAILURE_TEXT = _rx(
    r"could not be delivered", r"couldn'?t be delivered", r"was not delivered", r"wasn'?t delivered",
    r"undeliverable", r"delivery (?:to the following recipients? )?(?:has )?failed", r"permanent(?:ly)? (?:error|fail)",
    r"failed permanently", r"delivery failed", r"user unknown", r"unknown user", r"no such (?:user|mailbox|address)",
    r"mailbox (?:unavailable|not found|is full|full|disabled)", r"address (?:not found|rejected|unknown)",
    r"recipient address rejected", r"does not exist", r"doesn'?t exist", r"i'?m sorry to have to inform you",
    r"i'?m afraid i wasn'?t able to deliver", r"unable to deliver", r"not able to deliver",
    r"has been returned", r"message (?:was|has been) (?:rejected|refused|blocked)", r"returned to sender",
    r"giving up", r"gave up", r"delivery attempts? (?:have|has) (?:been )?(?:stopped|failed)",
    r"could not deliver", r"couldn'?t deliver", r"delivery to the following recipient",
    r"the following addresses? had (?:permanent )?(?:fatal )?errors", r"\b55\d[ -]", r"\b5\.\d{1,3}\.\d{1,3}\b",
    r"n'a pas pu (?:être|etre) (?:remis|distribu|livr)", r"impossible de remettre", r"adresse introuvable",
    r"konnte nicht zugestellt", r"nicht zugestellt werden", r"unzustellbar", r"fehler beim zustellen",
    r"no se (?:ha podido|pudo) entregar", r"non (?:è stato possibile|e' stato possibile) recapitare",
    r"not delivered", r"rejected your message", r"host unknown", r"domain (?:not found|does not exist)",
    r"quota exceeded", r"over quota", r"message too large", r"too many hops",
    r"can(?:not|'t) be delivered", r"(?:delivery|transmission)\b[^\n]{0,60}\b(?:aborted|failed)", r"\bwas aborted\b",
    r"not a valid (?:user|recipient|mailbox|address)", r"(?:user|mailbox|recipient) not found", r"invalid mailbox",
    r"was rejected", r"not a member of", r"n'existe pas", r"destinataire inconnu",
    r"utilisateur inconnu", r"adresse (?:invalide|inconnue)", r"did not reach (?:some|all|the|its)",
    r"(?:address|recipient|user|domain|mailbox)[^\n]{0,40}(?:couldn'?t|could not|cannot|can'?t) be (?:found|reached)",
    r"not listed in", r"rejected (?:by|for)", r"error (?:has )?occurred while (?:attempting|trying) to deliver",
    r"(?:has|have|was|were) not been delivered", r"failure reasons?",
    r"had (?:permanent )?(?:fatal )?(?:delivery )?errors", r"returned because",
)
# Prose of a notice that the server is still trying.
DELAY_TEXT = _rx(
    r"still (?:being )?(?:trying|retried|retrying|in the queue|queued)", r"will (?:continue to )?(?:retry|be retried)",
    r"will (?:keep|continue) trying", r"delivery attempts will continue", r"this is a warning(?: message)? only",
    r"warning only", r"no action is required on your part", r"do not need to resend", r"don'?t need to resend",
    r"has not yet been delivered", r"has been delayed", r"is delayed", r"could not be delivered for (?:past )?\d",
    r"could not send message for past", r"will try (?:again|to deliver)", r"temporar(?:y|ily) (?:failure|deferred)",
    r"nouvel(?:le)? essai", r"toujours en cours", r"sera retent", r"wird (?:weiter|erneut) versucht",
    r"se seguir[áa] intentando", r"verr[àa] ritentat", r"will continue to try", r"(?:has been|was) postponed",
    r"advisory[- ]only", r"not yet been delivered", r"pas encore (?:été )?(?:remis|distribu|livr|d[ée]livr)",
    r"ceci est (?:un|uniquement un) avertissement", r"nur eine warnung", r"noch nicht zugestellt",
)



def _dsn_statuses(msg: ParsedMessage) -> str | None:
    for rcpt in msg.dsn:
        if rcpt.status:
            return rcpt.status
    return None


def _ids(msg: ParsedMessage) -> tuple[str, ...]:
    return msg.returned_message_ids


# Per-recipient actions that say the message got through (RFC 3464 `delivered`, `relayed`,
# `expanded`, and what some MTAs write instead).
SUCCESS_ACTIONS = frozenset({"delivered", "relayed", "expanded", "deliverable", "delivered-to-mailbox",
                             "success", "successful", "sent", "accepted", "ok"})


def dsn_report(msg: ParsedMessage) -> Verdict | None:
    """A delivery-status part decides: any failed → bounce; only delayed → delay; a report whose
    actions are all success words, or whose status is 2.x.x, is a success report (unknown) however
    its text reads."""
    if not msg.dsn:
        return None
    actions = {r.action for r in msg.dsn if r.action}
    failed = [r for r in msg.dsn if r.action == "failed"]
    if failed:
        return Verdict(MessageKind.BOUNCE, ("dsn-action-failed",), _recipients(failed, msg),
                       _ids(msg), next((r.status for r in failed if r.status), None))
    if "delayed" in actions:
        delayed = [r for r in msg.dsn if r.action == "delayed"]
        return Verdict(MessageKind.DELIVERY_DELAY, ("dsn-action-delayed",), _recipients(delayed, msg),
                       _ids(msg), _dsn_statuses(msg))
    statuses = [r.status for r in msg.dsn if r.status]
    if (actions and actions <= SUCCESS_ACTIONS) or (statuses and all(s.startswith("2") for s in statuses)):
        return Verdict(MessageKind.UNKNOWN, ("dsn-success",), (), _ids(msg), _dsn_statuses(msg))
    # A report with no usable Action: read the status codes.
    status = _dsn_statuses(msg) or ""
    if status.startswith("5"):
        return Verdict(MessageKind.BOUNCE, ("dsn-status-5xx",), _recipients(msg.dsn, msg), _ids(msg), status)
    if status.startswith("4"):
        return Verdict(MessageKind.DELIVERY_DELAY, ("dsn-status-4xx",), _recipients(msg.dsn, msg), _ids(msg),
                       status)
    # An unreadable report part still says it is a report: the prose rules must not read its
    # "delivered" text as a bounce; they may still find a failure, so pass.
    return None


def _recipients(rcpts: object, msg: ParsedMessage) -> tuple[str, ...]:
    out: list[str] = []
    for r in rcpts:  # type: ignore[attr-defined]
        # Both: Original-Recipient is the address we wrote, Final-Recipient where it ended up.
        for value in (r.original_recipient, r.final_recipient):
            m = _ADDRESS.search(value)
            if m:
                out.append(m.group(0).lower())
    if not out:
        out.extend(_header_failed(msg))
    return tuple(dict.fromkeys(out))


def _header_failed(msg: ParsedMessage) -> list[str]:
    value = msg.header("x-failed-recipients")
    return [a.lower() for a in _ADDRESS.findall(value)]


# The SES JSON arrives as is, or escaped inside the SNS envelope's "Message" string.
_SES_TYPE = re.compile(r'\\?"(?:notificationtype|eventtype)\\?"\s*:\s*\\?"(bounce|complaint|delivery)\\?"')
_SES_BOUNCE = re.compile(r'\\?"bouncetype\\?"\s*:\s*\\?"(permanent|transient|undetermined)\\?"')
_SES_ADDRESS = re.compile(r'\\?"emailaddress\\?"\s*:\s*\\?"([^"\\\s]+@[^"\\\s]+)\\?"')


def ses_notification(msg: ParsedMessage) -> Verdict | None:
    """Amazon SES event notifications (JSON mailed by SNS) for senders who relay through SES."""
    if "type" not in msg.text_lc[:4000]:
        return None
    # _SES_TYPE cannot match without one of its two names (a substring test is memchr-fast; the
    # pattern's leading optional backslash keeps the regex from skipping ahead).
    if "notificationtype" not in msg.text_lc and "eventtype" not in msg.text_lc:
        return None
    kind = _SES_TYPE.search(msg.text_lc)
    if kind is None:
        return None
    if kind.group(1) != "bounce":
        return Verdict(MessageKind.UNKNOWN, (f"ses:{kind.group(1)}",))
    bounce_type = _SES_BOUNCE.search(msg.text_lc)
    recipients = tuple(dict.fromkeys(_SES_ADDRESS.findall(msg.text_lc)))
    status = _text_status(msg.text_lc)
    if bounce_type is not None and bounce_type.group(1) == "transient":
        return Verdict(MessageKind.DELIVERY_DELAY, ("ses:bounce-transient",), recipients, (), status)
    return Verdict(MessageKind.BOUNCE, ("ses:bounce",), recipients, (), status)


_DISPOSITION_TYPE = re.compile(r";\s*([a-z-]+)")


def disposition_type(value: str) -> str:
    """`automatic-action/MDN-sent-automatically; deleted` → `deleted` (RFC 8098 §3.2.6)."""
    m = _DISPOSITION_TYPE.search(value.lower())
    return m.group(1) if m else ""


def mdn_report(msg: ParsedMessage) -> Verdict | None:
    """A disposition notification (RFC 8098) is never a reply. `displayed` (and the rest) is a read
    receipt; `deleted` — a Sieve `reject` (RFC 5429) or a recipient who deleted it unread — says the
    message was refused, so it is a bounce: the target is not reminded and does not count as silent."""
    if msg.report_type != "disposition-notification" and not msg.mdn_fields:
        return None
    original = msg.mdn_fields.get("original-message-id", "")
    ids = tuple(re.findall(r"<[^<>\s]+>", original)) or msg.returned_message_ids
    disposition = msg.mdn_fields.get("disposition", "")
    extra = {"disposition": disposition} if disposition else {}
    if disposition_type(disposition) == "deleted":
        recipients = tuple(dict.fromkeys(
            m.group(0).lower() for key in ("final-recipient", "original-recipient")
            for m in [_ADDRESS.search(msg.mdn_fields.get(key, ""))] if m))
        return Verdict(MessageKind.BOUNCE, ("mdn-deleted",), recipients, ids, None, extra)
    return Verdict(MessageKind.READ_RECEIPT, ("mdn-disposition-notification",), (), ids, None, extra)


_READ_SUBJECT = re.compile(
    r"^\s*(?:read|lu|gelesen|le[íi]do|letto|gelezen|not read|non lu|nicht gelesen|no le[íi]do|non letto)\s*[:：]",
    re.IGNORECASE)
_READ_TEXT = re.compile(
    r"was read on|has been read|a [ée]t[ée] lue? le|wurde am .{0,80}gelesen|ist gelesen worden|fue le[íi]do|"
    r"[èe] stato letto|deleted without being read|supprim[ée] sans avoir [ée]t[ée] lu|ohne gelesen",
    re.IGNORECASE | re.DOTALL)


_DELETED_UNREAD = re.compile(r"deleted without being read|supprim[ée] sans avoir [ée]t[ée] lu|"
                             r"ohne gelesen|gel[öo]scht, ohne|eliminado sin (?:haber sido )?le[íi]do|"
                             r"eliminato senza (?:essere stato )?letto")


def prose_read_receipt(msg: ParsedMessage) -> Verdict | None:
    """Outlook-style read notices sent as plain text: "Read: subject" + "was read on ...". Its "Not
    read: … was deleted without being read" is a refusal, like an MDN `deleted`."""
    if not _READ_SUBJECT.match(msg.subject) or not _READ_TEXT.search(msg.text_lc[:3000]):
        return None
    if _DELETED_UNREAD.search(msg.text_lc[:3000]):
        return Verdict(MessageKind.BOUNCE, ("text:mdn-deleted",), (), msg.returned_message_ids)
    return Verdict(MessageKind.READ_RECEIPT, ("text:read-receipt",), (), msg.returned_message_ids)


_MACHINE_REPORTS = {"feedback-report", "tlsrpt", "dmarc", "multi-report"}


def machine_report(msg: ParsedMessage) -> Verdict | None:
    """Feedback-loop (ARF), TLS and other machine reports are about mail, not answers to it."""
    if msg.report_type in _MACHINE_REPORTS or "message/feedback-report" in msg.part_types:
        return Verdict(MessageKind.UNKNOWN, (f"report:{msg.report_type or 'feedback-report'}",))
    if msg.report_type and msg.report_type not in ("delivery-status", "disposition-notification"):
        return Verdict(MessageKind.UNKNOWN, (f"report:{msg.report_type}",))
    return None


RETURNED_MARKER = _rx(
    r"below this line is a copy of the message", r"original message follows", r"returned mail follows",
    r"this is a copy of (?:your|the) (?:original )?message",
    r"copy of (?:your|the) (?:original )?message (?:follows|below)",
    r"-{2,} ?returned message ?-{2,}", r"undelivered message (?:follows|attached)", r"original message headers",
    r"message d'origine ci-dessous", r"copie (?:de votre|du) message (?:d'origine|original)",
    r"ursprüngliche nachricht (?:folgt|im anhang)", r"mensaje original (?:a continuaci[óo]n|adjunto)",
    r"below is a copy of (?:the|your) (?:original )?message",
    # the standard openings of MTA notices
    r"this is the mailer-daemon", r"this is the mail system at host", r"this is the qmail-send program",
    r"this message was created automatically by mail delivery software",
    r"this is an automatically generated delivery status notification",
)


def _memo(fn: Callable[[ParsedMessage], T]) -> Callable[[ParsedMessage], T]:
    """Run a pure check of a message once: several rules ask the same (ParsedMessage.memo)."""
    key = fn.__name__

    @functools.wraps(fn)
    def cached(msg: ParsedMessage) -> T:
        try:
            return msg.memo[key]  # type: ignore[return-value]
        except KeyError:
            value = msg.memo[key] = fn(msg)
            return value

    return cached


@_memo
def looks_like_system_sender(msg: ParsedMessage) -> bool:
    """From a mail system: daemon or postmaster names, an empty sender, a delivery report part, or a
    text that returns the original message the way MTAs do."""
    if SYSTEM_SENDER.search(msg.from_addr) or SYSTEM_NAME.search(msg.from_name_lc):
        return True
    if RETURNED_MARKER.search(msg.text_lc):
        return True
    return_path = msg.header("return-path").strip().lower()
    if return_path in ("<>", "") and not msg.from_addr:
        return True
    if "<>" in msg.header("from") or SYSTEM_SENDER.search(return_path.strip("<>")):
        return True
    return msg.report_type == "delivery-status" or "message/delivery-status" in msg.part_types


_FINAL_FAILURE = _rx(
    r"gave up|giving up|permanent(?:ly)? (?:fail|error)|failed permanently|could not be delivered to one or more|"
    r"has been returned|will not be (?:retried|delivered)|no further attempts|deleted from (?:the )?queue|"
    r"message (?:has been|was) (?:bounced|rejected)",
)


def _final_failure(text: str) -> bool:
    return bool(_FINAL_FAILURE.search(text))


@_memo
def delay_reason(msg: ParsedMessage) -> str | None:
    """Why `msg` reads as a prose notice that delivery is delayed and still attempted, or None."""
    subject = msg.subject_lc
    reply = bool(_REPLY_PREFIX.match(subject))
    if STRONG_DELAY_SUBJECT.search(subject) and not reply:
        return "subject:delay"
    subject_says = bool(DELAY_SUBJECT.search(subject))
    system = looks_like_system_sender(msg)
    if not system and (msg.in_reply_to or reply):
        return None  # a person replying may well write "delayed" and "still trying"
    if not (system or subject_says or BOUNCE_SUBJECT.search(subject)):
        return None
    body_says = bool(DELAY_TEXT.search(msg.text_lc[:3000]))  # notices say it near the top
    # A person may write "delayed" in a subject: without a system sender both must agree.
    if not ((system and (subject_says or body_says)) or body_says):
        return None
    if not subject_says and _final_failure(msg.text_lc):
        return None
    return "subject:delay" if subject_says else "text:still-trying"


def text_delay(msg: ParsedMessage) -> Verdict | None:
    reason = delay_reason(msg)
    if reason is None:
        return None
    return Verdict(MessageKind.DELIVERY_DELAY, (reason,), _text_recipients(msg), _ids(msg),
                   _text_status(msg.text_lc))


@_memo
def bounce_reason(msg: ParsedMessage) -> str | None:
    """Why `msg` reads as a prose failure notice from a mail system, or None."""
    subject = msg.subject_lc
    system = looks_like_system_sender(msg)
    subject_says = bool(BOUNCE_SUBJECT.search(subject))
    if subject_says and not system and _REPLY_PREFIX.match(subject):
        # "Re: undeliverable parcel" is a person writing, unless it says plainly that delivery failed.
        subject_says = not msg.in_reply_to and bool(STRONG_FAILURE.search(msg.text_lc[:2000]))
    if not (system or subject_says):
        return "text-bounce:returned-message" if _returned_failure(msg) else None
    if FAILURE_TEXT.search(subject) or FAILURE_TEXT.search(msg.text_lc) or FAILURE_TEXT.search(msg.other_lc):
        return "text-bounce:system-sender" if system else "text-bounce:subject"
    if system and subject_says:
        return "text-bounce:system-sender+subject"
    if system and (msg.returned_message_ids or any(t in _RETURNED_TYPES for t in msg.part_types)):
        return "text-bounce:system-sender+returned"
    return None


def text_bounce(msg: ParsedMessage) -> Verdict | None:
    """A prose failure notice (qmail, Exim, Exchange, Lotus, Gmail...), with what it names."""
    reason = bounce_reason(msg)
    if reason is None:
        return None
    return Verdict(MessageKind.BOUNCE, (reason,), _text_recipients(msg), _ids(msg),
                   _text_status(msg.subject_lc + "\n" + msg.text_lc))


_RETURNED_TYPES = ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers")


def _returned_failure(msg: ParsedMessage) -> bool:
    """Any sender returning our message with a failure sentence (notification robots, no-reply)."""
    return any(t in _RETURNED_TYPES for t in msg.part_types[1:]) and bool(STRONG_FAILURE.search(msg.text_lc))


STRONG_FAILURE = _rx(
    r"could not be delivered to", r"couldn'?t be delivered to", r"undeliverable", r"delivery (?:has )?failed",
    r"mailbox (?:is )?(?:full|unavailable)", r"user unknown", r"no such user", r"n'a pas pu (?:être|etre) remis",
    r"konnte nicht zugestellt", r"non (?:è|e') stato possibile recapitare", r"no se (?:ha podido|pudo) entregar",
)


def _text_status(body: str) -> str | None:
    m = _STATUS.search(body)
    return m.group(0) if m else None


def _text_recipients(msg: ParsedMessage, *, scan: bool = True) -> tuple[str, ...]:
    found = _header_failed(msg)
    if not found:
        found = _prose_recipients(msg)
    if not found and msg.tree is not None and scan:
        # flufl.bounce knows many MTAs' layouts but costs ~15 ms a message: last resort only.
        found = _flufl(msg)
    return tuple(dict.fromkeys(found))


def _flufl(msg: ParsedMessage) -> list[str]:
    try:
        from flufl.bounce import all_failures
        temporary, permanent = all_failures(msg.tree)
    except Exception:
        return []
    out: list[str] = []
    for raw in sorted(permanent) + sorted(temporary):
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        m = _ADDRESS.search(text)
        if m:
            out.append(m.group(0).lower())
    return out


def _prose_recipients(msg: ParsedMessage) -> list[str]:
    """Addresses a prose notice names near its top, minus the ones that are surely not the failed
    recipient: the notice's own sender and recipients (us) and mail-system role addresses."""
    head = msg.text_lc[:4000]
    if "@" not in head:   # no address to find (the pattern needs one), and no scan for it
        return []
    own = {msg.from_addr, *msg.to_addrs}
    out: list[str] = []
    for found in addresses_in(head):
        addr = found.strip(".").lower()
        if addr in own or addr in out or SYSTEM_SENDER.search(addr):
            continue
        out.append(addr)
        if len(out) >= 5:
            break
    return out
