"""The new text of a reply: what the person wrote, without the message they answer.

Out go ``>`` quotes, attribution lines ("On … wrote:", "Le … a écrit :", "Am … schrieb …:", also
wrapped over several lines), Outlook header blocks (From/Sent/To/Subject in a dozen languages),
"-----Original Message-----" and forward separators, signatures, device lines and disclaimers.
Text written *under* a quote (bottom posting, inline answers) is kept: a separator, an Outlook
header block or an attribution opens a quoted region, and when what follows it is quoted (``>``, or
the tab indent of s-nail/mailx) the region ends at its last quoted line, or at an "End forwarded
message" line. An unquoted original (Outlook's top posting) is cut to the end, because nothing marks
where it would stop. HTML-only replies go through :mod:`probe.core.htmltext` first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice

from probe.core.htmltext import html_to_text_parts
from probe.core.replyprefix import PREFIX as REPLY_PREFIX

MAX_TEXT_CHARS = 200_000  # the new text sits at the top; a huge body is read only that far
MAX_LINES = 3_000
_SPACES = {ord(c): " " for c in "\u00a0\u202f\u2007\u2009\u200a\u3000"}
# Zero-width characters out and odd spaces made plain, in one translate.
_INVISIBLE_AND_SPACES = {**{ord(c): None for c in "\u200b\u200c\u200d\u2060\ufeff"}, **_SPACES}
_QUOTE_NAMES = frozenset({"quote", "attribution", "outlook-header", "forward", "original-message"})


@dataclass(frozen=True)
class NewText:
    """The reply's own words, and the names of what was cut to get them."""

    text: str
    removed: tuple[str, ...] = ()


# --- line patterns -----------------------------------------------------------------------------
_I = re.IGNORECASE
_QUOTED = re.compile(r"^\s*(?:>|[A-Za-z]{1,12}>(?:\s|$))(?!\s*(?:wrote|a écrit|schrieb|escribió)?\s*[:：]\s*$)")
_SEPARATOR = re.compile(
    r"^[\s*_>|-]*-{2,}[\s*_]*(?P<what>original message|message d'origine|message original|mail original|"
    r"courriel original|e-mail original|original e-?mail|ursprüngliche e-?mail|"
    r"ursprüngliche nachricht|originalnachricht|original-nachricht|mensaje original|"
    r"messaggio originale|oorspronkelijk bericht|origineel bericht|originalmeddelande|"
    r"opprinnelig melding|oprindelig meddelelse|mensagem original|wiadomość oryginalna|"
    r"исходное сообщение|forwarded message|message transféré|message transmis|"
    r"weitergeleitete nachricht|mensaje reenviado|messaggio inoltrato|doorgestuurd bericht|"
    r"mensagem encaminhada|videresendt melding|vidarebefordrat meddelande|"
    r"пересылаемое сообщение)(?:\s+(?:from|de|von|da|van)\s+[^\n]{1,200}?)?[\s*_]*-{2,}[\s*_-]*$", _I)
# Where a forwarded block says it stops (mutt, Evolution, Apple Mail's localized forms).
_FORWARD_END = re.compile(
    r"^[\s>]*-{2,}\s*(?:end (?:of )?forwarded message|fin du message (?:transféré|réexpédié|transmis)|"
    r"ende der weitergeleiteten nachricht|fin del mensaje reenviado|fine (?:del )?messaggio inoltrato|"
    r"einde doorgestuurd bericht|fim da mensagem (?:encaminhada|reencaminhada))\s*-{2,}\s*$", _I)
_FORWARD_LINE = re.compile(
    r"^\s*>?\s*(?:begin forwarded message|début du message (?:réexpédié|transféré|transmis)|"
    r"anfang der weitergeleiteten nachricht|inicio del mensaje reenviado|"
    r"inizio messaggio inoltrato|begin doorgestuurd bericht|início da mensagem reencaminhada)\s*:?\s*$"
    r"|^\s*>?\s*message du \d{1,2}/\d{1,2}/\d{2,4}", _I)
_REPLY_ABOVE = re.compile(r"^\s*[-=#*_ ]*(?:reply above|répondre au-dessus|antworten sie oberhalb)"
                          r"[^\n]{0,40}(?:line|ligne|zeile|[-=#*_]{2,})[-=#*_ .]*$", _I)
_HEADER = re.compile(
    r"^\s*[*_]*\s*(?P<key>from|de|von|da|van|från|fra|od|от|expéditeur|envoyé par|sender|"
    r"sent|date|to|cc|bcc|subject|reply-to|envoyé|à|a|objet|gesendet|an|betreff|datum|kopie|"
    r"enviado|para|asunto|fecha|inviato|oggetto|data|risposta|verzonden|aan|onderwerp|skickat|"
    r"till|ämne|sendt|til|emne|assunto|temat|wysłano|do|отправлено|кому|тема|дата|"
    # Thunderbird's localized "Original Message" header names
    r"sujet|pour|répondre à|mittente|destinatario|remitente|destinatarios|responder a|rispondi a|"
    r"antwort an|verzonden op|beantwoorden aan)"
    r"\s*[*_]*\s*[:：]", _I)
_FROM_KEYS = frozenset({"from", "de", "von", "da", "van", "från", "fra", "od", "от", "expéditeur",
                        "envoyé par", "sender", "mittente", "remitente"})
_TERMINATOR = re.compile(r"(?:[:：]|wrote|writes|[ée]crit|escribi[óo]|scritto|escreveu|skrev|"
                         r"geschreven|schreef|-{2,})\s*$", _I)
_ANCHORED_ATTRIBUTION = re.compile(
    r"^[->\s]*(?:"
    r"(?:on|at|quoting)\b.{3,300}\b(?:wrote|writes|said)\s*:?"
    r"|le\b.{3,300}\ba\s+[ée]crit\s*:?"
    r"|am\b.{3,300}\bschrieb\b.{0,120}:?"
    r"|el\b.{3,300}\bescribi[óo]\s*:?"
    r"|(?:il|in data)\b.{3,300}\bha\s+scritto\s*:?"
    r"|op\b.{3,300}\b(?:schreef|geschreven)\b.{0,80}:?"
    r"|em\b.{3,300}\bescreveu\s*:?"
    r"|(?:den|på|pa)\b.{3,300}\bskrev\b.{0,80}:?"
    r"|(?:dnia|w dniu)\b.{3,300}\bnapisał(?:\(a\))?\s*:?"
    r"|dne\b.{3,300}\bnapsal(?:\(a\))?\s*:?"
    r")\s*-*\s*$", _I)
_GENERIC_ATTRIBUTION = re.compile(
    r"^[->\s]*.{0,250}(?:\bwrote|\bschrieb\b.{0,60}|\ba\s+[ée]crit|\bescribi[óo]|\bha\s+scritto|"
    r"\bescreveu|\bskrev\b.{0,60}|\bnapisał(?:\(a\))?|\bnapsal(?:\(a\))?|\bнаписал[аи]?|\bпише[т]?|"
    r"写道|寫道|のメッセージ|書きました|\bkirjoitti|\byazdı)\s*[:：]?\s*-*\s*$", _I)
_GMAIL_DATE_ATTRIBUTION = re.compile(
    r"^\s*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b.{0,200}(?:<[^<>\s]+@[^<>\s]+>\s*:?|gmt\s*[+-]\d{1,2}:?\d{2}.*|:)\s*$",
    _I)
_ATTRIBUTION_VERB = re.compile(
    r"wrote|writes|said|crit|schrieb|escribi|scritto|geschreven|schreef|escreveu|skrev|napisa|napsal|написа|"
    r"пише|写道|寫道|のメッセージ|書きました|kirjoitti|yazdı")  # on lowered text
_DATE_OR_ADDRESS = re.compile(r"\d|@")
_GMAIL_DATE_START = re.compile(r"^\s*\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b")

# --- signatures and disclaimers ----------------------------------------------------------------
_SIG_DELIMITER = re.compile(r"^\s*(?:--|-- |—|__)\s*$")
_DEVICE_LINE = re.compile(
    r"^\s*[(<]*\s*(?:sent from|sent with|sent via|sent using|envoyé de|envoyé depuis|envoyé avec|"
    r"envoyé à partir|von meinem|gesendet von|gesendet mit|enviado desde|enviado con|inviato da|"
    r"verzonden met|verzonden vanaf|verstuurd vanaf|sendt fra|skickat från|enviado do|"
    r"get outlook for|obtenir outlook pour|télécharger outlook|from my (?:iphone|ipad|android|mobile))"
    r"(?P<rest>.*)$", _I)
_DEVICE_WORDS = re.compile(
    r"iphone|ipad|ipod|android|mobile|phone|téléphone|handy|móvil|cellulare|blackberry|galaxy|samsung|"
    r"htc|cell|device|appareil|tablet|tablette|windows|mail|outlook|yahoo|gmail|smartphone|airmail|"
    r"huawei|xiaomi|pixel|nokia|sony|k-9|ios|aol|proton", _I)
_CLOSING = re.compile(
    r"^\s*(?i:(?:bien |très |tres )?cordialement|bien à vous|bien a vous|(?:bien )?amicalement|"
    r"(?:sincères |meilleures |mes )?salutations(?: distinguées)?|bonne (?:journée|soirée|fin de journée)|"
    r"belle journée|à bientôt|a bientot|bises|amitiés|respectueusement|"
    r"(?:best|kind|warm|many|warmest|kindest) regards|regards|best wishes|all the best|best|cheers|"
    r"sincerely(?: yours)?|yours(?: truly| sincerely| faithfully)?|thanks(?: again| in advance)?|"
    r"thank you|merci(?: d'avance| encore| beaucoup)?|"
    r"mit freundlichen grüßen|mit freundlichen grüssen|viele grüße|beste grüße|liebe grüße|gruß|grüße|"
    r"saludos(?: cordiales)?|un saludo|atentamente|cordiali saluti|distinti saluti|saluti|"
    r"met vriendelijke groet(?:en)?|groeten|med vänlig hälsning|vänliga hälsningar|med venlig hilsen|"
    r"atenciosamente|abraços|mvh|m\.v\.h\.|kh|hilsen|venlig hilsen|vennlig hilsen|hälsningar|mvh\.|"
    r"pozdrawiam|z poważaniem|z powazaniem|pozdrowienia|groetjes|met groet|vriendelijke groeten)"
    r"(?!\w)(?!.*(?i:\b(?:oui|non|yes|no|ja|nein)\b))"
    # then at most a name on the same line: "Cordialement, Jean Dupont"
    r"[\s,.!:;-]*(?:[A-ZÀ-ÖØ-Þ][\w.'’-]*(?:\s+[A-ZÀ-ÖØ-Þ][\w.'’-]*){0,3})?\s*[,.!]?\s*$")
_DISCLAIMER = re.compile(
    r"(?:\bce (?:message|courriel|e-?mail|mail)\b.{0,80}\b(?:confidenti|destiné|strictement)|"
    r"\bce message et (?:toutes |l'ensemble des |ses |les )?(?:pièces jointes|fichiers)|"
    r"\bles informations contenues dans ce|\bavis de confidentialité|\bavertissement\s*:|"
    r"\bthis (?:e-?mail|message|communication)\b.{0,80}\b(?:confidential|intended (?:solely|only)|privileged)|"
    r"\bthe information (?:contained )?in this (?:e-?mail|message)|\bfor the (?:sole|exclusive) use of|"
    r"\bintended (?:solely |only )?for the (?:use of the )?(?:addressee|recipient|named)|\bconfidentiality notice|"
    r"\bdisclaimer\s*:|\bif you are not the intended recipient|\bsi vous n'êtes pas (?:le|la|les) destinataire|"
    r"\bdiese (?:e-?mail|nachricht)\b.{0,80}\bvertraulich|\beste (?:mensaje|correo)\b.{0,80}\bconfidencial|"
    r"\bquesto messaggio\b.{0,80}\b(?:riservat|confidenzial|analizzato)|\bdeze e-?mail\b.{0,80}\bvertrouwelijk|"
    r"\bpensez à l'environnement|\bplease consider the environment|\bantes de imprimir|"
    r"\bscanned (?:for viruses|by)|\bnon infett|"
    r"\b(?:this|the) (?:e-?mail|message) (?:originated|came|comes|was sent) from outside|"
    r"\b(?:ce|cet) (?:courriel|message|e-?mail|mail) provient de l'extérieur|^\s*\[(?:external|externe)\])", _I)
_LIST_FOOTER = re.compile(r"^\s*_{10,}\s*$")
_DASH_NAME = re.compile(r"^\s*(?:-|—|–|//)\s?[A-Z][\w.'-]*(?: [A-Z][\w.'-]*){0,3}\s*$")
_DISCLAIMER_HINT = re.compile(
    r"confidenti|confidencial|destinat|recipient|disclaimer|avertissement|vertraulich|riservat|vertrouwelijk|environ|"
    r"imprimir|scanned|infett|outside|extérieur|extern|sole use|exclusive use|intended")  # on lowered text: 7x faster
_JUNK_LINE = re.compile(r"^[\s\-_=*~#+.•ᐧ|]*$")


def _is_header_block(lines: list[str], i: int) -> bool:
    """Two or more header lines (one of them From-like) or three distinct keys, close together."""
    keys: list[str] = []
    blanks = 0
    for line in lines[i:i + 9]:
        if not line.strip():
            blanks += 1
            if blanks > 1 or len(keys) >= 3:
                break
            continue
        match = _HEADER.match(line)
        if match:
            key = match.group("key").lower()
            if key in keys:
                break  # a header block names each field once
            keys.append(key)
        elif not keys:
            return False
    distinct = set(keys)
    return len(distinct) >= 3 or (len(distinct) >= 2 and bool(distinct & _FROM_KEYS))


class _Attributions:
    """Attribution lines ("On … wrote:"), found on demand from the top, with a bounded cost."""

    BUDGET = 200  # costly window checks per message: a real reply needs a handful

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.starts: dict[int, int] = {}  # last line -> first line of its attribution (-1: none)
        self.budget = self.BUDGET

    def ending_at(self, i: int) -> int | None:
        """The last line of an attribution that starts at line ``i``, if one does."""
        for end in range(i, min(i + 4, len(self.lines))):
            if end > i and not self.lines[end].strip():
                return None
            if self._start(end) == i:
                return end
        return None

    def _start(self, end: int) -> int:
        if end not in self.starts:
            self.starts[end] = self._find_start(end)
        return self.starts[end]

    def _find_start(self, end: int) -> int:
        lines = self.lines
        line = lines[end]
        if self.budget <= 0 or len(line) > 400 or _QUOTED.match(line) or not (
                _TERMINATOR.search(line.rstrip()[-16:]) or _GMAIL_DATE_START.match(line)):
            return -1
        above = lines[end - 1] if end else ""
        if not (_ATTRIBUTION_VERB.search((above + " " + line).lower()) or _GMAIL_DATE_START.match(line)
                or _GMAIL_DATE_START.match(above)):
            return -1  # the costly window patterns only where a "wrote" verb or a Gmail date is
        self.budget -= 1
        anchored = generic = -1
        start = end
        joined = ""
        while start >= 0 and end - start < 4 and lines[start].strip() and not _QUOTED.match(lines[start]):
            joined = (lines[start].strip() + " " + joined).strip() if joined else lines[start].strip()
            if len(joined) > 450:
                break
            if _ANCHORED_ATTRIBUTION.match(joined) and _DATE_OR_ADDRESS.search(joined):
                anchored = start
            elif generic < 0 and _DATE_OR_ADDRESS.search(joined) and (
                    _GENERIC_ATTRIBUTION.match(joined) or _GMAIL_DATE_ATTRIBUTION.match(joined)):
                generic = start
            start -= 1
        if anchored < 0 and generic >= 0:
            generic = _extend_wrapped(lines, generic, end)
        return anchored if anchored >= 0 else generic


def _extend_wrapped(lines: list[str], start: int, end: int) -> int:
    """Take in the line(s) above a generic attribution when it was wrapped inside a name or address."""
    for _ in range(2):
        if start == 0 or not lines[start - 1].strip() or _QUOTED.match(lines[start - 1]):
            break
        window = " ".join(lines[start:end + 1])
        above = lines[start - 1].rstrip()
        if above.endswith(("<", ",", '"')) or window.count(">") > window.count("<"):
            start -= 1
        else:
            break
    return start


def _next_content(lines: list[str], i: int) -> str | None:
    for line in lines[i:]:
        if line.strip():
            return line
    return None


def _skip_blank(lines: list[str], i: int) -> int:
    while i < len(lines) and not lines[i].strip():
        i += 1
    return i


def _quoted_block_end(lines: list[str], i: int) -> int | None:
    """When the content from line ``i`` on is a quoted block — ``>`` lines, or lines indented by a
    tab (s-nail/mailx's default indent prefix) —, the index just after its last quoted line."""
    k = _skip_blank(lines, i)
    if k >= len(lines):
        return None
    if _QUOTED.match(lines[k]):
        def quoted(line: str) -> bool:
            return bool(_QUOTED.match(line))
    elif lines[k].startswith("\t"):
        def quoted(line: str) -> bool:
            return line.startswith("\t")
    else:
        return None
    last = k
    for j in range(k, len(lines)):
        if quoted(lines[j]):
            last = j
        elif lines[j].strip():
            break
    return last + 1


def _header_block_end(lines: list[str], i: int) -> int:
    """The index after the unquoted header lines (and their continuations) that start at ``i``."""
    j = i
    while j < len(lines) and lines[j].strip() and (_HEADER.match(lines[j]) or (j > i and lines[j][:1] in " \t")):
        j += 1
    return j


def _forward_end(lines: list[str], i: int) -> int | None:
    """The index after an "End forwarded message" line at or after ``i``, if there is one."""
    for j in range(i, min(len(lines), i + MAX_LINES)):
        if _FORWARD_END.match(lines[j]):
            return j + 1
    return None


def _region_end(lines: list[str], i: int, *, forward: bool = False) -> int | None:
    """Where the quoted region opened at line ``i`` (the line after a separator, an attribution or
    the start of a header block) ends, or None when nothing marks its end (cut to the end)."""
    if forward:
        end = _forward_end(lines, i)
        if end is not None:
            return end
    k = _skip_blank(lines, i)
    if k < len(lines) and not _QUOTED.match(lines[k]) and _HEADER.match(lines[k]) and _is_header_block(lines, k):
        k = _header_block_end(lines, k)  # "-------- Original Message --------" then the headers
    return _quoted_block_end(lines, k)


def _strip_quotes(lines: list[str]) -> tuple[list[str], list[str]]:
    """Lines of new text (quotes and the unquoted original out) and what was removed."""
    removed: list[str] = []
    attributions = _Attributions(lines)
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if _QUOTED.match(line):
            removed.append("quote")
            i += 1
            continue
        sep = _SEPARATOR.match(line)
        forward_line = sep is None and _FORWARD_LINE.match(line)
        if sep or forward_line:
            what = sep.group("what").lower() if sep else "forward"
            forwarded = any(w in what for w in ("forward", "transf", "transmis", "weiterg", "reenv",
                                                "inoltr", "doorg", "encaminh", "videres", "vidareb",
                                                "пересыл"))
            removed.append("forward" if forwarded else "original-message")
            end = _region_end(lines, i + 1, forward=forwarded)
            if end is None:
                break
            i = end
            continue
        if _REPLY_ABOVE.match(line):
            removed.append("quote")
            break
        end = attributions.ending_at(i) if line.strip() else None
        if end is not None:
            removed.append("attribution")
            following = _next_content(lines, end + 1)
            if following is not None and _QUOTED.match(following):
                i = end + 1
                continue
            block_end = _quoted_block_end(lines, end + 1)
            if block_end is not None:
                removed.append("quote")
                i = block_end
                continue
            removed.append("quote")
            break
        if _HEADER.match(line) and _is_header_block(lines, i):
            removed.append("outlook-header")
            block_end = _quoted_block_end(lines, _header_block_end(lines, i))
            if block_end is None:
                break
            i = block_end
            continue
        kept.append(line)
        i += 1
    return kept, removed


def _cut_signature(lines: list[str]) -> tuple[list[str], list[str]]:
    """Cut at the signature, device line or disclaimer that ends the new text."""
    lines = list(lines)
    removed: list[str] = []
    has_text = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if _SIG_DELIMITER.match(line):
            return lines[:i], [*removed, "signature"]
        device = _DEVICE_LINE.match(line)
        if device and len(line) < 120:
            rest = device.group("rest")
            first_clause = _CLAUSE_END.split(rest, maxsplit=1)[0]
            if first_clause.strip() == rest.strip() or _DEVICE_WORDS.search(first_clause):
                return lines[:i], [*removed, "signature"]
        if _DISCLAIMER_HINT.search(line.lower()) and _DISCLAIMER.search(line):
            if has_text:
                return lines[:i], [*removed, "disclaimer"]
            # A banner above the text ("CAUTION: external e-mail"): drop its paragraph only.
            end = i
            while end < len(lines) and lines[end].strip():
                end += 1
            del lines[i:end]
            removed.append("disclaimer")
            continue
        if has_text and (_CLOSING.match(line) or _LIST_FOOTER.match(line) or _DASH_NAME.match(line)):
            tail = list(islice((t for t in lines[i + 1:i + 400] if t.strip()), 9))
            if len(tail) <= 8 and all(len(t) < 100 for t in tail) and i + 400 > len(lines):
                return lines[:i], [*removed, "signature"]
        if line.strip():
            has_text = True
        i += 1
    return lines, removed


_CLAUSE_END = re.compile(r"[,.;!]")
_BLANK_RUN = re.compile(r"\n{3,}")


def _tidy(lines: list[str]) -> str:
    while lines and _JUNK_LINE.match(lines[-1]):
        lines.pop()
    while lines and not lines[0].strip():
        lines.pop(0)
    text = "\n".join(line.rstrip() for line in lines)
    return _BLANK_RUN.sub("\n\n", text) if "\n\n\n" in text else text


def _from_plain(text: str, pre_removed: Sequence[str] = ()) -> NewText:
    text = text[:MAX_TEXT_CHARS].replace("\r\n", "\n").replace("\r", "\n")
    text = text.translate(_INVISIBLE_AND_SPACES)
    lines, removed = _strip_quotes(text.split("\n", MAX_LINES)[:MAX_LINES])
    lines, more = _cut_signature(lines)
    removed = [*pre_removed, *removed, *more]
    return NewText(_tidy(lines), tuple(dict.fromkeys(removed)))


def extract_new_text(text: str, html: str | None = None) -> NewText:
    """The new text of a reply from its plain-text body and/or its HTML body.

    The plain text is read first; the HTML is used when there is no plain text, when the plain
    text gives nothing, or when only the HTML marks the quote (a plain part derived from HTML).
    """
    text = text or ""
    if text.strip():
        result = _from_plain(text)
        if not html or (result.text and _QUOTE_NAMES & set(result.removed)):
            return result
        html_text, html_removed = html_to_text_parts(html)
        if result.text and not _QUOTE_NAMES & set(html_removed):
            return result
        from_html = _from_plain(html_text, html_removed)
        return from_html if from_html.text or not result.text else result
    if html:
        html_text, html_removed = html_to_text_parts(html)
        return _from_plain(html_text, html_removed)
    return NewText("", ())


# --- subject -----------------------------------------------------------------------------------
_REPLY_PREFIX = REPLY_PREFIX  # probe/core/replyprefix.py
_LEADING_PREFIXES = re.compile(rf"^(?:\s*{_REPLY_PREFIX}\s*)+", _I)
_INNER_PREFIX = re.compile(rf"[\s\-–—|/]+{_REPLY_PREFIX}", _I)
_SUBJECT_SEPARATOR = re.compile(r"\s+[-–—|/]\s+|\s*[:：]\s+")
_EDGE_PUNCT = " \t-–—|/:：,;.()[]"


def _fold(s: str) -> str:
    return " ".join(s.casefold().split())


def subject_new_part(subject: str, original_subjects: Sequence[str] = ()) -> str:
    """The words a person added to the subject ("RE: Votre abonnement - OUI" → "OUI")."""
    return _subject_new_part(subject or "", tuple(original_subjects))


@lru_cache(maxsize=1024)  # a campaign's replies mostly carry its few subjects: each is read once
def _subject_new_part(subject: str, original_subjects: tuple[str, ...]) -> str:
    s = " ".join((subject or "").split())[:2000]
    inner = _INNER_PREFIX.search(s)
    if inner and _LEADING_PREFIXES.sub("", s[:inner.start()]).strip(_EDGE_PUNCT):
        head = _LEADING_PREFIXES.sub("", s[:inner.start()])
        return head.strip(_EDGE_PUNCT)  # "OUI - RE: Votre abonnement"
    s = _LEADING_PREFIXES.sub("", s).strip()
    originals = sorted({_fold(_LEADING_PREFIXES.sub("", o)) for o in original_subjects if o and o.strip()},
                       key=len, reverse=True)
    folded = _fold(s)
    for original in originals:
        at = folded.find(original)
        if original and at >= 0:
            rest = (s[:at] + " " + s[at + len(original):]) if len(folded) == len(s) else \
                folded[:at] + " " + folded[at + len(original):]
            return " ".join(rest.split()).strip(_EDGE_PUNCT)
    if not originals:
        parts = _SUBJECT_SEPARATOR.split(s)
        if len(parts) > 1 and parts[-1].strip(_EDGE_PUNCT) and len(parts[-1].split()) <= 6:
            return parts[-1].strip(_EDGE_PUNCT)
    return s.strip(_EDGE_PUNCT)
