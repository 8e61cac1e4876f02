"""Yes, no or unclear: the answer in a reply's new text (and the new words of its subject).

Every answer phrase, acknowledgement, hedge and delegation is found in one pass of one regex (a
trie of the phrases, longest match first), on a case- and accent-folded copy of the text that
keeps every character at its place, so the evidence quoted back is what the person wrote. Then
small rules drop what is not an answer, each leaving its name in ``reasons``:

- ``echo``: "OUI ou NON", "répondez par oui" repeat the question;
- ``question``: answer words inside a question ("Êtes-vous d'accord ?"), unless they open it
  ("Oui, pouvez-vous l'envoyer au siège ?");
- ``mid_sentence``: a bare "no"/"oui" inside a clause ("I have no idea");
- ``negated``: "je ne dis pas oui"; a negated agreement ("not really interested") reads as a no;
- ``acknowledgement`` / ``delegation``: "Oui, j'ai bien reçu…", "OK, je transmets…";
- ``hedge``: "oui peut-être", "maybe yes" (a yes only: "pas pour l'instant, peut-être plus tard" is a no);
- ``conditional``: "si vous êtes d'accord", "if interested";
- ``confirms_opt_out``: the "oui" of "Oui, merci de me désinscrire" (an opt-out, so a no).
What is left decides: yes, no (opt-out phrases are a no and set ``opt_out``), or unclear when
nothing is left or a yes and a no both stand (a weak "ok" gives way to an explicit no). The
reason that decided comes first: ``yes_phrase``, ``weak_yes``, ``no_phrase``, ``negated_yes``,
``opt_out``, ``subject`` (the text said nothing, the subject's new words did), ``conflict``,
``subject_disagrees``, ``no_decision`` or ``empty``; the dropping rules that fired follow.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

from probe.core import answer_words as vocab
from probe.core.model import Answer
from probe.core.rx import alternation
from probe.errors import ConfigError

MAX_DECISION_CHARS = 6000  # an answer is near the top; a long new text is read only that far


# --- folding (one character in, one character out) -------------------------------------------
def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for cp in range(0xC0, 0x250):
        ch = chr(cp)
        if ch in "íìÍÌ":
            continue  # Spanish "sí" and Italian "sì" mean yes; "si" means if
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        if len(base) == 1 and base != ch:
            table[cp] = base.lower()
    table.update({ord(c): "'" for c in "’‘‛ʼ`´′"})
    table.update({ord(c): '"' for c in "“”„«»″"})
    table.update({ord(c): " " for c in "\u00a0\u2007\u202f\u2009\u200a\u2002\u2003\u200b\ufeff\u2060\t"})
    table.update({ord(c): "-" for c in "‐‑‒–—―"})
    table[ord("…")] = "."
    return table


_FOLD = _fold_table()


def fold(text: str) -> str:
    """Lowercase, accents off, quotes and dashes unified; same length as ``text``."""
    low = text.lower()
    if len(low) != len(text):
        low = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    return low.translate(_FOLD)


_TOKEN = re.compile(r"\w+")


def _key(phrase: str) -> str:
    return " ".join(_TOKEN.findall(fold(phrase)))


# --- configurable words ------------------------------------------------------------------------
@dataclass(frozen=True)
class AnswerWords:
    """The phrases that mean yes, no, and "leave me alone" (a no that also sets ``opt_out``)."""

    yes: tuple[str, ...] = ()
    no: tuple[str, ...] = ()
    opt_out: tuple[str, ...] = ()

    @classmethod
    def defaults(cls) -> AnswerWords:
        return cls(yes=vocab.YES + vocab.WEAK_YES, no=vocab.NO, opt_out=vocab.OPT_OUT)

    @classmethod
    def with_extra(cls, yes: Iterable[str] = (), no: Iterable[str] = (), opt_out: Iterable[str] = (),
                   use_defaults: bool = True) -> AnswerWords:
        """The defaults plus a campaign's ``[answers]`` lists, or those lists alone."""
        extra = {"yes": _checked("yes", yes), "no": _checked("no", no), "opt_out": _checked("opt_out", opt_out)}
        base = cls.defaults() if use_defaults else cls()
        return cls(yes=base.yes + extra["yes"], no=base.no + extra["no"], opt_out=base.opt_out + extra["opt_out"])


def _checked(name: str, phrases: Iterable[str]) -> tuple[str, ...]:
    if isinstance(phrases, str):
        phrases = (phrases,)
    out: list[str] = []
    for phrase in phrases:
        if not isinstance(phrase, str) or not _key(phrase):
            raise ConfigError(f"answer phrase {phrase!r} has no letters or digits", field=f"answers.{name}",
                              hint=f'write each {name} phrase as words, e.g. {name} = ["volontiers"]')
        out.append(phrase)
    return tuple(out)


# --- the matcher -------------------------------------------------------------------------------
_SEP = r"[\s,'\-]*"
_ECHO = (
    r"(?:oui|yes|ja|sí|sì|si|sim|y)\s*(?:ou bien|ou|or|oder|o|of|/|\|)\s*(?:non|no|nein|nee|nao|n)(?!\w)"
    r"|(?:non|no|nein)\s*(?:ou|or|oder|o|/|\|)\s*(?:oui|yes|ja|sí|sì|si)(?!\w)"
    r"|(?:repondez|repondre|repondant|reply|answer|respond|tapez|taper|ecrivez|type)\s+"
    r"(?:(?:par|with|simply|simplement|just|juste|only|uniquement|seulement|a|to|this|ce|mail|e-mail|"
    r"email|message|nous|us|me|moi)\s+){0,4}[\"']?\s*(?:oui|non|yes|no|ja|nein|stop|unsubscribe)(?!\w)"
    r"(?:[\"']?\s*(?:ou|or|oder|/|,)\s*[\"']?(?:oui|non|yes|no|ja|nein)(?!\w))?"
)
_NUMBER = r"no\.?\s*\d"
_EMOJI_YES = "\U0001F44D\U0001F44C\u2705\u2714"  # thumbs up, OK hand, check marks: a weak yes
_EMOJI_NO = "\U0001F44E\u274C\U0001F6AB\U0001F645"  # thumbs down, cross mark, no entry, "no" gesture


class _Trie:
    def __init__(self) -> None:
        self.children: dict[str, _Trie] = {}
        self.terminal = False

    def add(self, tokens: list[str]) -> None:
        node = self
        for token in tokens:
            node = node.children.setdefault(token, _Trie())
        node.terminal = True

    def pattern(self) -> str:
        alternatives = []
        for token, child in sorted(self.children.items()):
            piece = re.escape(token) + r"(?!\w)"
            if child.children:
                piece += f"(?:{_SEP}{child.pattern()})" + ("?" if child.terminal else "")
            alternatives.append(piece)
        return "(?:" + "|".join(alternatives) + ")"


@dataclass(frozen=True)
class _Matcher:
    regex: re.Pattern[str]
    kinds: dict[str, str]


# The words of the last call, by identity: a campaign classifies every message with one AnswerWords,
# and hashing its ~600 phrases (lru_cache's key) cost more than a short reply's whole reading.
_last_matcher: tuple[AnswerWords, _Matcher] | None = None


def _matcher(words: AnswerWords) -> _Matcher:
    global _last_matcher
    last = _last_matcher
    if last is not None and last[0] is words:
        return last[1]
    matcher = _build_matcher(words)
    _last_matcher = (words, matcher)
    return matcher


@lru_cache(maxsize=32)
def _build_matcher(words: AnswerWords) -> _Matcher:
    kinds: dict[str, str] = {}
    for kind, phrases in (("neutral", vocab.NEUTRAL), ("hedge", vocab.HEDGES), ("delegation", vocab.DELEGATIONS),
                          ("ack", vocab.ACKNOWLEDGEMENTS), ("yes", words.yes), ("no", words.no),
                          ("opt_out", words.opt_out)):
        for phrase in phrases:
            key = _key(phrase)
            if key:
                kinds[key] = "weak" if kind == "yes" and key in _WEAK_KEYS else kind
    trie = _Trie()
    for key in kinds:
        trie.add(key.split(" "))
    # The phrases' trie regrouped by first characters (probe.core.rx: the same matches), so each
    # position tries a few phrases' first letters instead of every first word in turn.
    regex = re.compile(rf"(?<!\w)(?:(?P<echo>{_ECHO})|(?P<num>{_NUMBER})|(?P<emoji>[{_EMOJI_YES}{_EMOJI_NO}])"
                       rf"|(?P<phr>{alternation([trie.pattern()])}))")
    return _Matcher(regex, kinds)


_WEAK_KEYS = frozenset(_key(p) for p in vocab.WEAK_YES)
_BARE_KEYS = frozenset(_key(p) for p in vocab.BARE)
_STANDALONE_KEYS = frozenset(_key(p) for p in vocab.STANDALONE)
_INTERJECTIONS = frozenset(_key(p) for p in (
    "oui", "ouais", "ouaip", "non", "nan", "yes", "yeah", "yep", "yup", "no", "nope", "nah", "ok", "okay",
    "oki", "okey", "ja", "nein", "sí", "sì", "nee", "sim", "não", "stop"))
_QUESTION_OK = frozenset(_key(p) for p in ("why not", "pourquoi pas", "porque no", "warum nicht", "perché no"))
_COMPOUND = re.compile(r"-\w")
_ACKABLE_KEYS = frozenset(_key(p) for p in vocab.ACKNOWLEDGEABLE)
_NEGATOR = re.compile(vocab.NEGATORS)
_CONDITIONAL = re.compile(r"\b(?:si|s'|if|whether|wenn|falls|se|unless|sauf)\b")
_LAST_WORDS = re.compile(r"(?:\S+\s*){0,3}$")


def _last_words(text: str) -> str:
    """The last three words of `text` (the pattern matches any text, if only the empty end)."""
    found = _LAST_WORDS.search(text)
    return found.group() if found else ""
_FILLER_BEFORE = frozenset(_key(p) for p in vocab.FILLER_BEFORE)
_FILLER_AFTER = frozenset(_key(p) for p in vocab.FILLER_AFTER)
_CLAUSE_BREAK = re.compile(r"[,()\"]|\s-\s|[.!?;:]")
_SENTENCE_END = re.compile(r"[.!?;:]+(?=\s|$)|\n")
_DECISIVE = ("yes", "weak", "no", "opt_out")


@dataclass(slots=True)
class _Event:
    kind: str
    start: int
    end: int
    key: str
    sentence: int = 0
    dropped: str = ""
    negated: bool = False


@dataclass(frozen=True)
class AnswerDecision:
    """The answer, whether the person asked to be left alone, why, and the words that decided."""

    answer: Answer
    opt_out: bool = False
    reasons: tuple[str, ...] = ()
    evidence: str = ""


def _sentences(norm: str) -> tuple[list[int], list[bool]]:
    """Sentence start offsets and whether each sentence is a question."""
    starts, questions = [0], []
    for m in _SENTENCE_END.finditer(norm):
        if m.group() == "\n":
            line_start = norm.rfind("\n", 0, m.start()) + 1
            following = norm[m.end():m.end() + 1]
            if m.start() - line_start >= 60 and following.islower():
                continue  # a hard-wrapped line, not the end of a sentence
        questions.append("?" in m.group())
        starts.append(m.end())
    questions.append(norm.rstrip().endswith("?"))
    return starts, questions


def _only_filler(segment: str, filler: frozenset[str]) -> bool:
    if len(segment) > 80:
        return False  # greetings and courtesy words are short
    return all(word in filler for word in _TOKEN.findall(segment))


@dataclass(slots=True)
class _Context:  # built once per text read, never changed
    norm: str
    sentence_starts: list[int]
    questions: list[bool]
    break_starts: list[int]  # clause breaks (",", "(", " - ", end of sentence)
    break_ends: list[int]

    def sentence(self, n: int) -> tuple[int, int]:
        hi = self.sentence_starts[n + 1] if n + 1 < len(self.sentence_starts) else len(self.norm)
        return self.sentence_starts[n], hi

    def clause(self, start: int, end: int, lo: int, hi: int) -> tuple[int, int]:
        i = bisect_right(self.break_ends, start) - 1
        j = bisect_right(self.break_starts, end - 1)
        c_lo = max(lo, self.break_ends[i]) if i >= 0 else lo
        c_hi = min(hi, self.break_starts[j]) if j < len(self.break_starts) else hi
        return c_lo, c_hi


# A word holding a doubled letter. Only from a word's start (?<!\w): a match always starts there (from
# inside a word without a double nothing matches), so the same matches, without trying the rest of
# every word's positions again.
_STRETCHED = re.compile(r"(?<!\w)\w*(\w)\1\w*")
_TRIPLED = re.compile(r"(\w)\1{2,}")


def destretch(norm: str) -> str:
    """"ouiiii", "yesss", "noooon", "siiii" read as the word they stretch; same length (the letters
    dropped become trailing spaces), so evidence offsets still point into the original text.
    Three letters in a row collapse anywhere; a doubled last letter only when that makes a yes/no
    interjection ("ouii", "yess", "nonn"), since doubled letters are common in words."""
    def fix(m: re.Match[str]) -> str:
        word = m.group(0)
        short = _TRIPLED.sub(r"\1", word)
        if short not in _INTERJECTIONS and len(short) > 2 and short[-1] == short[-2] and short[:-1] in _INTERJECTIONS:
            short = short[:-1]
        return word if short == word else short.ljust(len(word))
    return _STRETCHED.sub(fix, norm)


# A yes that waits on a price, a document or a condition is not yet a yes ("Oui, si le prix est
# raisonnable", "Yes, but first send me the price list"): the condition or "first" marker and the
# thing asked for in the yes's sentence or the next one.
_CONDITION = re.compile(
    r"\b(?:if|si|s'il|a condition|sous reserve|pourvu|provided|providing|as long as|assuming|depending on|"
    r"selon|wenn|falls|sofern|vorausgesetzt|je nach|se|purche|a condizione|a patto|siempre que|"
    r"siempre y cuando|con tal de|a condicion|dependiendo|dipende|depende|suivant)\b")
_FIRST = re.compile(r"\b(?:first|beforehand|before|d'abord|au prealable|prealablement|avant|zuerst|vorher|"
                    r"vorab|primero|antes|prima|innanzitutto)\b")
_INFO = re.compile(
    r"\b(?:prix|tarifs?|cout|couts|devis|montant|price|prices|pricing|cost|costs|quote|fee|fees|rates?|"
    r"preis\w*|kosten|angebot|precio\w*|coste|costo|prezz\w*|listino|document\w*|doc|brochure|plaquette|"
    r"catalogue|catalog|dossier|info\w*|details?|conditions?|offre|offer|contrat|contract|unterlagen|"
    r"condizioni|condiciones|bedingungen|specimen|exemplaire|sample|echantillon|essai|trial|proposition|"
    r"proposal|presupuesto|preventivo)\b")
_YOU_NEED = re.compile(r"\b(?:vous avez besoin|you need|you have any|vous souhaitez|you want|vous voulez|"
                       r"sie brauchen|necesita|avete bisogno|if needed|si besoin|au besoin)\b")


def conditional_interest(text: str, after: int) -> bool:
    """Whether the yes ending at ``after`` in ``text`` is made to wait on a condition or a document."""
    window = fold(text[after:after + 300])
    ends = [m.end() for m in _SENTENCE_END.finditer(window)]
    window = window[:ends[1]] if len(ends) > 1 else window  # its sentence and the next one
    for marker in (_CONDITION, _FIRST):
        for m in marker.finditer(window):
            near = window[max(0, m.start() - 80):m.end() + 80]
            if _INFO.search(near) and not _YOU_NEED.search(near):
                return True
    return False


def _read(text: str, words: AnswerWords) -> list[_Event]:
    norm = destretch(fold(text[:MAX_DECISION_CHARS]))
    matcher = _matcher(words)
    starts, questions = _sentences(norm)
    breaks = list(_CLAUSE_BREAK.finditer(norm))
    ctx = _Context(norm, starts, questions, [m.start() for m in breaks], [m.end() for m in breaks])
    events: list[_Event] = []
    for m in matcher.regex.finditer(norm):
        if m.group("num"):
            continue
        key = " ".join(_TOKEN.findall(m.group())) or m.group()
        if m.group("emoji"):
            kind = "weak" if m.group() in _EMOJI_YES else "no"
        else:
            kind = "echo" if m.group("echo") else matcher.kinds.get(key, "")
        if kind and kind != "neutral":
            events.append(_Event(kind, m.start(), m.end(), key, bisect_right(starts, m.start()) - 1))
    previous_end = 0
    for i, ev in enumerate(events):
        if ev.kind in _DECISIVE:
            _judge(ev, ctx, previous_end, events, i)
        if not ev.dropped:
            previous_end = ev.end  # a dropped word ("si", "if") still conditions what follows
    return events


def _neighbours(events: list[_Event], i: int, step: int) -> Iterator[_Event]:
    j = i + step
    while 0 <= j < len(events) and events[j].sentence == events[i].sentence:
        yield events[j]
        j += step


def _judge(ev: _Event, ctx: _Context, previous_end: int, events: list[_Event], i: int) -> None:
    """Mark ``ev`` dropped (with the rule's name), or turn a negated agreement into a no."""
    norm = ctx.norm
    lo, hi = ctx.sentence(ev.sentence)
    c_lo, c_hi = ctx.clause(ev.start, ev.end, lo, hi)
    first = _only_filler(norm[c_lo:ev.start], _FILLER_BEFORE)
    last = _only_filler(norm[ev.end:c_hi], _FILLER_AFTER)
    if ev.key in _STANDALONE_KEYS and not (first and last):
        ev.dropped = "mid_sentence"  # Spanish "si" is yes only alone: "si vous voulez" is "if you want"
        return
    if ev.key in _BARE_KEYS and (not (first or last) or _COMPOUND.match(norm, ev.end)):
        ev.dropped = "mid_sentence"  # "I have no idea", "non-fumeur"
        return
    before = next(_neighbours(events, i, -1), None)
    if (ev.kind in ("yes", "weak") and before is not None and before.kind == "no" and before.end > c_lo
            and not _TOKEN.search(norm, before.end, ev.start)):
        ev.dropped = "negated"  # "pas du tout intéressé": the no phrase already says it
        return
    gap = norm[max(previous_end, c_lo, ev.start - 60):ev.start]
    # A no phrase carries its own negation ("ce ne sera pas nécessaire"): only yes words,
    # bare interjections and opt-outs are turned around by a negation in front of them.
    if (ev.kind != "no" or ev.key in _INTERJECTIONS) and _NEGATOR.search(_last_words(gap)):
        if ev.kind in ("yes", "weak") and ev.key not in _INTERJECTIONS:
            ev.kind = "no"
            ev.negated = True
        else:
            ev.dropped = "negated"
            return
    if ev.kind != "opt_out" and _CONDITIONAL.search(_last_words(gap)):
        ev.dropped = "conditional"  # "si vous êtes d'accord, …", "if interested"
        return
    if ctx.questions[ev.sentence] and ev.kind != "opt_out" and ev.key not in _QUESTION_OK:
        sentence_first = _only_filler(norm[lo:ev.start], _FILLER_BEFORE)
        if not (sentence_first and _TOKEN.search(norm, ev.end, hi)):
            ev.dropped = "question"
            return
    after = next(_neighbours(events, i, 1), None)
    if ev.key in _ACKABLE_KEYS:
        for e in (after, before):
            if e is not None and e.kind in ("ack", "delegation"):
                ev.dropped = "acknowledgement" if e.kind == "ack" else "delegation"
                return
    if ev.kind in ("yes", "weak") and after is not None and after.kind == "opt_out":
        ev.dropped = "confirms_opt_out"  # "Oui, merci de me désinscrire"
        return
    for step in (1, -1):
        if ev.kind == "no":
            break  # "pas pour l'instant, peut-être plus tard" is still a no
        for e in _neighbours(events, i, step):
            if (e.start - ev.end if step == 1 else ev.start - e.end) > 25:
                break
            if e.kind == "hedge":
                ev.dropped = "hedge"
                return


@dataclass(frozen=True)
class _Verdict:
    answer: Answer | None  # None: nothing decided
    opt_out: bool
    reasons: tuple[str, ...]
    evidence: tuple[int, int] | None


def _verdict(events: list[_Event]) -> _Verdict:
    kept = [e for e in events if e.kind in _DECISIVE and not e.dropped]
    notes = [e.dropped for e in events if e.dropped]
    kinds = {e.kind for e in events}
    notes += [k for k in ("echo", "hedge", "delegation", "ack") if k in kinds]
    notes = list(dict.fromkeys("acknowledgement" if n == "ack" else n for n in notes))
    strong_yes = [e for e in kept if e.kind == "yes"]
    weak_yes = [e for e in kept if e.kind == "weak"]
    no = [e for e in kept if e.kind in ("no", "opt_out")]
    opt_out = any(e.kind == "opt_out" for e in kept)
    if no and strong_yes:
        return _Verdict(Answer.UNCLEAR, opt_out, ("conflict", *notes), None)
    if no:
        first = no[0]
        why = ["opt_out" if first.kind == "opt_out" else ("negated_yes" if first.negated else "no_phrase")]
        if opt_out and why[0] != "opt_out":
            why.append("opt_out")
        if weak_yes:
            why.append("weak_yes_overruled")
        return _Verdict(Answer.NO, opt_out, (*why, *notes), (first.start, first.end))
    if strong_yes or weak_yes:
        first = (strong_yes or weak_yes)[0]
        return _Verdict(Answer.YES, False, ("yes_phrase" if strong_yes else "weak_yes", *notes),
                        (first.start, first.end))
    return _Verdict(None, False, ("no_decision", *notes), None)


def decide_answer(new_text: str, subject_new: str = "", words: AnswerWords | None = None) -> AnswerDecision:
    """Read the answer in ``new_text``; the subject's new part decides only when the text does not."""
    words = words or _DEFAULT_WORDS
    body = _verdict(_read(new_text or "", words))
    subject = _subject_verdict(subject_new, words) if subject_new and subject_new.strip() else None
    if body.answer is Answer.YES and body.evidence is not None and conditional_interest(new_text, body.evidence[1]):
        return AnswerDecision(Answer.UNCLEAR, body.opt_out, ("conditional_interest", *body.reasons),
                              _evidence(new_text, body.evidence))
    if body.answer in (Answer.YES, Answer.NO):
        if subject is not None and subject.answer in (Answer.YES, Answer.NO) and subject.answer != body.answer:
            return AnswerDecision(Answer.UNCLEAR, body.opt_out or subject.opt_out,
                                  ("conflict", "subject_disagrees"), "")
        return AnswerDecision(body.answer, body.opt_out or bool(subject and subject.opt_out), body.reasons,
                              _evidence(new_text, body.evidence))
    if body.answer is None and subject is not None and subject.answer in (Answer.YES, Answer.NO):
        return AnswerDecision(subject.answer, subject.opt_out, ("subject", *subject.reasons),
                              _evidence(subject_new, subject.evidence))
    reasons = body.reasons
    if not (new_text or "").strip():
        reasons = ("empty", *(subject.reasons if subject else ()))
    opt_out = body.opt_out or bool(subject and subject.opt_out)
    return AnswerDecision(Answer.UNCLEAR, opt_out, reasons, "")


# The subject's new words, by text, with the words they were read with: a campaign's replies carry
# its few subjects, so each is read once (the verdict is immutable, and shared).
_subject_verdicts: dict[str, tuple[AnswerWords, _Verdict]] = {}


def _subject_verdict(subject_new: str, words: AnswerWords) -> _Verdict:
    known = _subject_verdicts.get(subject_new)
    if known is not None and known[0] is words:
        return known[1]
    verdict = _verdict(_read(subject_new, words))
    if len(_subject_verdicts) >= 1024:
        _subject_verdicts.clear()
    _subject_verdicts[subject_new] = (words, verdict)
    return verdict


def _evidence(text: str, span: tuple[int, int] | None) -> str:
    return text[span[0]:span[1]] if span else ""


_DEFAULT_WORDS = AnswerWords.defaults()
