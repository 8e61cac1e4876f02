"""ParsedMessage → Classification, through an ordered table of small named rules (Mailman style).

Order (DESIGN.md "Classification vocabulary"): report parts and prose bounce/delay notices decide
first — bounces often carry `Auto-Submitted: auto-replied` too —, then automatic-response signals,
then bulk mail, then a person's reply; whatever is left is `unknown`. Each rule returns a Verdict
carrying the short reason it fired, or None to pass. A human reply then gets its new text and its
answer from newtext.py / answers.py."""

from __future__ import annotations

import re
from collections.abc import Callable

from probe.core import autoreply, bounces
from probe.core.bounces import Verdict
from probe.core.message import ParsedMessage, parse_message
from probe.core.model import Answer, Classification, MessageKind
from probe.core.replyprefix import REPLY_SUBJECT

try:  # written in parallel (H2); the classifier must stay usable while they land
    from probe.core.answers import AnswerWords
except ImportError:  # pragma: no cover
    AnswerWords = object  # type: ignore[assignment,misc]

Rule = Callable[[ParsedMessage], Verdict | None]

_REPLY_SUBJECT = REPLY_SUBJECT  # probe/core/replyprefix.py
_QUOTE_MARK = re.compile(
    r"^(?:>|&gt;)|^-{2,}\s*(?:original message|message d'origine|urspr[üu]ngliche nachricht|mensaje original|"
    r"messaggio originale|forwarded message|message transf[ée]r[ée])|"
    r"^(?:on|le|am|el|il|op|den|w dniu)\b.{0,200}(?:wrote|a [ée]crit|schrieb|escribi[óo]|ha scritto|schreef|skrev|"
    r"napisa)|"
    r"^(?:from|de|von|da)\s*:.{0,200}\n(?:.{0,200}\n){0,3}?(?:sent|envoy[ée]|gesendet|enviado|inviato|date)\s*:",
    re.MULTILINE,  # matched against lowercased text
)
_QUOTED_SUBJECT = re.compile(
    r"^[> \t]*(?:subject|objet|betreff|asunto|oggetto|onderwerp)[ \t]*:[ \t]*(\S[^\n]{0,300})$",
    re.IGNORECASE | re.MULTILINE)
_HTML_QUOTE = re.compile(r"<blockquote|gmail_quote|divRplyFwdMsg|OutlookMessageHeader|moz-cite-prefix|"
                         r"yahoo_quoted|type=\"?cite", re.IGNORECASE)
_NOREPLY = re.compile(r"^(?:no-?reply|do-?not-?reply|donotreply|ne-?pas-?repondre|nepasrepondre|noreply|"
                      r"notifications?|newsletters?|mailer|alerts?)[@.+-]", re.IGNORECASE)


_FORWARD_SUBJECT = re.compile(r"^\s*(?:\[[^\]]{0,60}\]\s*)?(?:tr|fw|fwd|wg|enc|rv|i|doorst|vs|vb)\s*[:：]",
                              re.IGNORECASE)


def _quotes_us(msg: ParsedMessage) -> bool:
    """Whether the forwarded or quoted text names the address this message was sent to (ours: our
    message's From line, or the attribution "… <us> wrote"), by its domain. A forward with no To is
    given the benefit of the doubt."""
    if not msg.to_addrs:
        return True
    body = msg.text[:TEXT_SCAN].lower() + (msg.html[:200_000].lower() if msg.html else "")
    # By domain: a reply sub-address (reply+TOKEN@) is not the From of the message we sent.
    return any("@" + addr.rpartition("@")[2] in body for addr in msg.to_addrs if "@" in addr)


TEXT_SCAN = 50_000


def own_text(msg: ParsedMessage, limit: int = 3000) -> str:
    """The start of the body up to the first quote marker, lowercased: what the sender wrote, roughly.
    Found once per message and limit (several rules ask; ParsedMessage.memo)."""
    key = f"own_text:{limit}"
    known = msg.memo.get(key)
    if known is None:
        head = msg.text_lc[:limit]
        m = _QUOTE_MARK.search(head)
        known = msg.memo[key] = head[: m.start()] if m else head
    return known  # type: ignore[return-value]


def _verdict(kind: MessageKind, reason: str) -> Verdict:
    return Verdict(kind, (reason,))


# --- rules, in order -------------------------------------------------------------------------------

def unparseable(msg: ParsedMessage) -> Verdict | None:
    if msg.parse_error and not msg.headers:
        return _verdict(MessageKind.UNKNOWN, "unparseable")
    return None


def delivery_report(msg: ParsedMessage) -> Verdict | None:
    verdict = bounces.dsn_report(msg)
    if (verdict is not None and verdict.kind == MessageKind.BOUNCE
            and not (verdict.status or "").startswith("5") and _challenge(msg)):
        # Challenge/response systems dress their "confirm you are human" request as a DSN.
        return _verdict(MessageKind.AUTO_REPLY, "challenge-in-dsn")
    return verdict


def _challenge(msg: ParsedMessage) -> bool:
    return bool(autoreply.CHALLENGE.search(msg.subject_lc) or autoreply.CHALLENGE.search(msg.text_lc[:5000]))


def disposition_report(msg: ParsedMessage) -> Verdict | None:
    return bounces.mdn_report(msg)


def ses_event(msg: ParsedMessage) -> Verdict | None:
    return bounces.ses_notification(msg)


_UNSUBSCRIBE_SUBJECT = re.compile(r"^\s*(?:unsubscribe|d[ée]sabonnement|d[ée]sinscription|abmelden)\s*$")
_UNSUBSCRIBE_TEXT = re.compile(r"sent this e-?mail to unsubscribe|unsubscribe from (?:the|this) (?:message|list)")


def unsubscribe_request(msg: ParsedMessage) -> Verdict | None:
    """A mail client's List-Unsubscribe mailto message (Apple Mail, Gmail): the person's opt-out,
    sent by their client rather than written by them."""
    if _UNSUBSCRIBE_SUBJECT.match(msg.subject_lc) or _UNSUBSCRIBE_TEXT.search(msg.text_lc[:2000]):
        return Verdict(MessageKind.UNKNOWN, ("unsubscribe-request",), extra={"opt_out": "true"})
    return None


def read_notice(msg: ParsedMessage) -> Verdict | None:
    return bounces.prose_read_receipt(msg)


def other_report(msg: ParsedMessage) -> Verdict | None:
    return bounces.machine_report(msg)


def auto_reply_header(msg: ParsedMessage) -> Verdict | None:
    # Before the prose bounce rules, so an out-of-office that mentions a failure stays one; but
    # many MTAs put `Auto-Submitted: auto-replied` on their prose bounces too, so a header on a
    # notice that reads as a bounce or delay (system sender or bounce subject) yields to those rules.
    reason = autoreply.header_signal(msg)
    if reason is None:
        return None
    if (bounces.looks_like_system_sender(msg) or bounces.BOUNCE_SUBJECT.search(msg.subject_lc)
            or bounces.DELAY_SUBJECT.search(msg.subject_lc)) and (bounces.bounce_reason(msg)
                                                                   or bounces.delay_reason(msg)):
        return None
    # The header says "automatic"; the text may say more that a report needs: the person has left
    # (AAPOR "not eligible"), whichever rule fired first.
    if autoreply.NO_LONGER.search(msg.subject_lc) or autoreply.NO_LONGER.search(own_text(msg)):
        return Verdict(MessageKind.AUTO_REPLY, (reason, "no-longer-with-company"))
    return _verdict(MessageKind.AUTO_REPLY, reason)


def prose_delay(msg: ParsedMessage) -> Verdict | None:
    return bounces.text_delay(msg)


def prose_bounce(msg: ParsedMessage) -> Verdict | None:
    return bounces.text_bounce(msg)


def auto_reply_pattern(msg: ParsedMessage) -> Verdict | None:
    reason = autoreply.pattern_signal_in(msg.subject_lc, own_text(msg))
    if reason is None:
        return None
    return _verdict(MessageKind.AUTO_REPLY, reason)


# Marks of mass-mailing software; on a message threaded to nothing they make a "RE:" subject a pose.
# (Not a relay's own headers such as X-Mailgun-*: a person's mail passes through Mailgun or SES too.)
_BULK_HEADERS = ("feedback-id", "list-unsubscribe-post", "x-campaign", "x-campaignid", "x-campaign-id",
                 "x-mc-user", "x-mailchimp-campaign",
                 "x-csa-complaints", "x-report-abuse", "x-newsletter", "x-mailjet-campaign", "x-sib-id",
                 "x-emarsys-campaign", "x-bulk", "x-mass-mail")
_BULK_MAILER = re.compile(r"mailchimp|sendgrid|mailjet|sendinblue|brevo|mailgun|hubspot|marketo|campaign monitor|"
                          r"constant contact|emarsys|klaviyo|phplist|mailpoet|sarbacane|acymailing|newsletter")
_UNSUBSCRIBE_FOOTER = re.compile(
    r"unsubscribe|se d[ée]sinscrire|se d[ée]sabonner|d[ée]sinscription|d[ée]sabonnement|abmelden|abbestellen|"
    r"darse de baja|dar de baja|cancella(?:re)? l'iscrizione|disiscriviti|afmelden|uitschrijven|"
    r"manage (?:your )?(?:email )?preferences|g[ée]rer (?:vos|mes) pr[ée]f[ée]rences|view (?:it |this email )?in "
    r"(?:your|a) browser|voir (?:la version|ce message) (?:en ligne|dans (?:votre|un) navigateur)")


def _bulk_signal(msg: ParsedMessage) -> str | None:
    """Why an unthreaded message reads as mass mail, or None."""
    headers = msg.headers  # names lowercased, as _BULK_HEADERS are
    for name in _BULK_HEADERS:
        if headers.get(name):
            return f"bulk-header:{name}"
    if _BULK_MAILER.search(msg.header("x-mailer").lower()):
        return "bulk-mailer"
    # The sender's own text only: a person replying to a newsletter quotes its footer.
    if _UNSUBSCRIBE_FOOTER.search(own_text(msg)[-1500:]):
        return "bulk-unsubscribe-footer"
    return None


def bulk_mail(msg: ParsedMessage) -> Verdict | None:
    """Newsletters, lists and machine notifications: not a person's reply even when they say "Re:"."""
    if not (msg.in_reply_to or msg.references):
        signal = _bulk_signal(msg)
        if signal is not None:
            return _verdict(MessageKind.UNKNOWN, signal)
    if msg.header("list-unsubscribe"):
        return _verdict(MessageKind.UNKNOWN, "list-unsubscribe")
    if msg.header("list-id"):
        return _verdict(MessageKind.UNKNOWN, "list-id")
    precedence = msg.header("precedence").strip().lower()
    if precedence in ("bulk", "list", "junk"):
        return _verdict(MessageKind.UNKNOWN, f"precedence:{precedence}")
    auto = msg.header("auto-submitted").strip().lower()
    if auto and not auto.startswith("no"):
        return _verdict(MessageKind.UNKNOWN, f"auto-submitted:{auto.split('(')[0].strip()}")
    if _NOREPLY.search(msg.from_addr):
        return _verdict(MessageKind.UNKNOWN, "sender:no-reply")
    return None


def person_reply(msg: ParsedMessage) -> Verdict | None:
    if msg.in_reply_to:
        return _verdict(MessageKind.HUMAN_REPLY, "threaded:in-reply-to")
    if msg.references:
        return _verdict(MessageKind.HUMAN_REPLY, "threaded:references")
    subject = _REPLY_SUBJECT.match(msg.subject)
    quoting = bool(_QUOTE_MARK.search(msg.text_lc)) or bool(msg.html and _HTML_QUOTE.search(msg.html[:200_000]))
    if subject and quoting and _FORWARD_SUBJECT.match(msg.subject) and not _quotes_us(msg):
        # An unthreaded forward of something we did not write ("TR: Planning de la réunion"):
        # someone passing mail around, not an answer to ours.
        return _verdict(MessageKind.UNKNOWN, "forward:not-ours")
    if subject and quoting:
        return _verdict(MessageKind.HUMAN_REPLY, "subject:reply+quoting")
    if subject:
        rest = msg.subject[subject.end():].strip()
        # Spam poses as a reply with a bare "Re:" and HTML, unthreaded; a mail client replying
        # threads, quotes, or at least writes plain text.
        if rest and msg.text.strip() and msg.html is None:
            return _verdict(MessageKind.HUMAN_REPLY, "subject:reply")
        return None
    if quoting and msg.from_addr:
        return _verdict(MessageKind.HUMAN_REPLY, "quoting")
    return None


RULES: tuple[Rule, ...] = (
    unparseable,
    delivery_report,
    disposition_report,
    read_notice,
    other_report,
    ses_event,
    unsubscribe_request,
    auto_reply_header,
    prose_delay,
    prose_bounce,
    auto_reply_pattern,
    bulk_mail,
    person_reply,
)


def classify(msg: ParsedMessage, words: AnswerWords | None = None) -> Classification:
    """Kind, answer and evidence of one message. Never raises."""
    try:
        return _classify(msg, words)
    except Exception as exc:
        return Classification(MessageKind.UNKNOWN, reasons=("classifier-error",),
                              extra={"error": f"{type(exc).__name__}: {exc}"[:300]})


def classify_bytes(raw: bytes, words: AnswerWords | None = None) -> tuple[ParsedMessage, Classification]:
    msg = parse_message(raw)
    return msg, classify(msg, words)


def _classify(msg: ParsedMessage, words: AnswerWords | None) -> Classification:
    for rule in RULES:
        verdict = rule(msg)
        if verdict is not None:
            break
    else:
        verdict = _verdict(MessageKind.UNKNOWN, "no-rule")
    if verdict.kind == MessageKind.HUMAN_REPLY:
        return _human(msg, verdict, words)
    return_date = None
    if verdict.kind == MessageKind.AUTO_REPLY:
        return_date = autoreply.return_date(msg, own_text(msg))
    extra = {k: v for k, v in verdict.extra.items() if k != "opt_out"}
    if msg.parse_error:
        extra["parse_error"] = msg.parse_error
    if msg.limits_hit:
        extra["limits"] = ",".join(msg.limits_hit)
    return Classification(
        kind=verdict.kind,
        opt_out=verdict.extra.get("opt_out") == "true",
        reasons=verdict.reasons,
        failed_recipients=verdict.failed_recipients,
        original_message_ids=verdict.original_message_ids,
        status=verdict.status,
        return_date=return_date,
        extra=extra,
    )


def _human(msg: ParsedMessage, verdict: Verdict, words: AnswerWords | None) -> Classification:
    from probe.core.answers import decide_answer  # imported on the first human reply (start-up)
    from probe.core.newtext import extract_new_text, subject_new_part
    new = extract_new_text(msg.text, msg.html)
    # Our subject, as the quoted header block shows it, tells which subject words are new.
    originals = tuple(m.group(1).strip() for m in _QUOTED_SUBJECT.finditer(msg.text[:50_000]))[:3]
    subject_new = subject_new_part(msg.subject, originals)
    decision = decide_answer(new.text, subject_new, words)
    extra = {"evidence": decision.evidence} if decision.evidence else {}
    if subject_new:
        extra["subject_new"] = subject_new
    boundary = unsure_boundary(new.text, new.removed, decision.reasons)
    unsure: tuple[str, ...] = ()
    if boundary is not None:
        extra["boundary"] = boundary
        unsure = (f"unsure:boundary-{boundary}",)
    return Classification(
        kind=MessageKind.HUMAN_REPLY,
        answer=Answer(decision.answer),
        opt_out=decision.opt_out,
        new_text=new.text,
        reasons=verdict.reasons + tuple(decision.reasons) + unsure,
        extra=extra,
    )


_BOUNDARY_NAMES = frozenset({"quote", "attribution", "outlook-header", "forward", "original-message"})
_HEADER_LINES = re.compile(r"^[ \t*]*(?:from|de|von|da|van|sent|envoy[ée]|gesendet|enviado|inviato|date|datum|fecha|"
                           r"data)[ \t*]*:.*\n(?:.*\n){0,3}?[ \t*]*(?:subject|objet|betreff|asunto|oggetto|"
                           r"onderwerp|to|à|an|para|a)[ \t*]*:", re.IGNORECASE | re.MULTILINE)
LONG_NEW_TEXT = 1500  # characters: past this, a reply with no boundary likely carries the original unmarked


def unsure_boundary(text: str, removed: tuple[str, ...], answer_reasons: tuple[str, ...]) -> str | None:
    """Why the new text of a human reply may not be what the person wrote, or None:
    ``"empty"`` (nothing left after quotes and signature) or ``"none"`` (no quote boundary was found
    although the text seems to hold the original: our question echoed, a header block, or a long
    text). Such replies are listed by `probe review` with the unclear ones."""
    if not text.strip():
        return "empty"
    if _BOUNDARY_NAMES & set(removed):
        return None
    if "echo" in answer_reasons or _HEADER_LINES.search(text[:20_000]) or len(text) > LONG_NEW_TEXT:
        return "none"
    return None
