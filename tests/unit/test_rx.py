"""probe.core.rx: the trie form of an alternation matches exactly what the plain form matches, at
the same spans, from every position: on the corpus texts and on texts made of the patterns' own
words, for every alternation the classifier builds (bounces.py, autoreply.py)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from probe.core import autoreply, bounces, rx  # noqa: F401  (importing them fills rx.PLAIN)
from probe.core.message import parse_message
from probe.core.rx import alternation, split_top

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def _texts() -> list[str]:
    texts: list[str] = []
    for path in sorted(CORPUS.rglob("*.eml")):
        msg = parse_message(path.read_bytes())
        texts += [msg.text_lc, msg.subject_lc, msg.other_lc, msg.from_addr, msg.from_name_lc]
    return [t for t in texts if t]


def _words_of(pattern: str) -> list[str]:
    """Rough literal pieces of a pattern's alternatives (syntax stripped), to build texts that match."""
    out = []
    for alt in split_top(pattern):
        out.append(re.sub(r"\\[bBsSdDwW]|[()\[\]?*+{}^$|\\]|\.\{\d*,?\d*\}", "", alt).replace("?:", ""))
    return [w for w in out if w]


def _made_texts(plain: str, rnd: random.Random) -> list[str]:
    words = _words_of(plain)
    fillers = (" ", "  ", "\n", ", ", ". ", "-", "x", "5.1.1 ", "550 ", "the ", "le ", "de ", "a")
    texts = []
    for _ in range(60):
        parts = [rnd.choice(words) if rnd.random() < 0.6 else rnd.choice(fillers) for _ in range(rnd.randint(1, 6))]
        texts.append("".join(parts))
    return texts


def _same(trie: re.Pattern[str], plain: re.Pattern[str], text: str) -> None:
    if len(text) <= 400:
        for pos in range(len(text) + 1):
            a, b = trie.match(text, pos), plain.match(text, pos)
            assert (a and a.span()) == (b and b.span()), (plain.pattern[:80], text, pos)
    assert [m.span() for m in trie.finditer(text)] == [m.span() for m in plain.finditer(text)], plain.pattern[:80]


def test_every_classifier_alternation_matches_as_its_plain_form() -> None:
    assert len(rx.PLAIN) >= 15
    texts = _texts()
    rnd = random.Random(15)
    for trie_src, (plain_src, flags) in rx.PLAIN.items():
        trie, plain = re.compile(trie_src, flags), re.compile(plain_src, flags)
        extra = [t.upper() for t in texts[:200]] if flags else []
        for text in texts + extra + _made_texts(plain_src, rnd):
            _same(trie, plain, text)


def test_return_date_patterns_as_their_plain_form() -> None:
    """The out-of-office date patterns embed the trie form of their cue words (IGNORECASE)."""
    plain_cue = "(?:" + autoreply._CUE_WORDS + ")"
    texts = [*_texts(), "De retour le 12 octobre", "BACK ON MONDAY 3 MARCH", "Zurück am 5.10.", "ſ Kelvin \u212a"]
    for compiled in (autoreply._DAY_MONTH, autoreply._MONTH_DAY, autoreply._NUMERIC):
        plain = re.compile(compiled.pattern.replace(autoreply._CUE, plain_cue, 1), compiled.flags)
        assert plain.pattern != compiled.pattern
        for text in texts:
            assert [m.span() + m.groups() for m in compiled.finditer(text)] == \
                [m.span() + m.groups() for m in plain.finditer(text)]


@pytest.mark.parametrize("patterns, text", [
    (["warning", "warning only", "warn"], "a warning only here; warn"),
    (["(?:has been|was) postponed", "was"], "it was postponed, was it"),
    (["ab", r"\bab", "abc", "a?b", "[ab]c", ""], "xab abc bc"),
    (["a(?:b|c)?d", "a(?:b|c)", "ac"], "ad abd ac acd"),
    (["x{2}", "xx?y"], "xxy xy"),
    ([r"\bab", "ab", r"\b(?:ab|b)c", r"\b5\d", "x5"], "ab xab abc xabc bc xbc 51 x51 5 a5"),
])
def test_small_alternations(patterns: list[str], text: str) -> None:
    _same(re.compile(alternation(patterns)), re.compile("|".join(f"(?:{p})" for p in patterns)), text)


@pytest.mark.parametrize("patterns, text", [
    (["Ab", "aB", "ac", "ſt", "st", "kx", "\u212ax", "é", "É"], "AB ab ac ST st ſt KX \u212aX é É"),
])
def test_small_alternations_ignorecase(patterns: list[str], text: str) -> None:
    trie = re.compile(alternation(patterns, ignorecase=True), re.IGNORECASE)
    _same(trie, re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE), text)


def test_capturing_groups_are_left_as_written() -> None:
    assert alternation(["(a)b", "c"]) == "(?:(a)b)|(?:c)"


def test_split_top_ignores_bars_in_groups_and_classes() -> None:
    assert split_top(r"a(?:b|c)|[|]|\||d") == ["a(?:b|c)", "[|]", r"\|", "d"]


def test_stretched_words_are_found_as_without_the_word_start_guard() -> None:
    """answers._STRETCHED starts only at a word's start: the same matches as the unguarded pattern."""
    from probe.core.answers import _STRETCHED

    plain = re.compile(r"\w*(\w)\1\w*")
    rnd = random.Random(7)
    texts = _texts()[:300] + ["".join(rnd.choice("ao nn-éé_11\n") for _ in range(rnd.randint(0, 15)))
                              for _ in range(20_000)]
    for text in texts:
        assert [m.span() for m in _STRETCHED.finditer(text)] == [m.span() for m in plain.finditer(text)]
