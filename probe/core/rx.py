"""One alternation of many patterns, factored by their literal prefixes so `re` tries few of them.

Python's `re` tries every alternative of `a…|b…|c…` at every position of the text (it has no
prefix index for alternations), so the large cue lists of bounces.py and autoreply.py cost more than
the rest of a message's classification. `alternation` rewrites ``p1|p2|…`` into a trie of their
leading literal characters (``de(?:layed|ferred)|…``): at each position only the alternatives that
start with the character seen are tried.

The rewrite matches exactly what the plain alternation matches, at the same spans, alternative for
alternative (tests/unit/test_rx.py checks this on every pattern it is used for):
- ``P(?:r1|r2)`` is ``Pr1|Pr2`` for backtracking, in the same order;
- alternatives that start with different literal characters can never match at the same position,
  so regrouping them changes nothing; an alternative that does not start with a literal (``\\b``,
  a class, a group, an anchor, an empty one) keeps its place: literal alternatives are regrouped
  only within the runs between such alternatives;
- a leading non-capturing group ``(?:a|b)rest`` is expanded to ``arest|brest`` (same order), and
  ``\\b(?:a|b)rest`` to ``\\barest|\\bbrest``;
- a leading ``\\b`` before a word character ``c`` is ``c(?<!\\w.)``: before a word character, a
  boundary means "no word character just before", which the look-behind says one character later.
Patterns with capturing groups or back-references are left as they are (joined with ``|``)."""

from __future__ import annotations

import re
from collections.abc import Iterator

# Characters that stand for themselves outside a class (not special to `re`).
_SPECIAL = frozenset("\\()[]{}|.*+?^$")
_QUANTIFIER = frozenset("?*+{")


def _structure(pattern: str, start: int = 0) -> Iterator[tuple[int, str, int]]:
    """Each ``(``, ``)`` and ``|`` of `pattern` from `start` that is outside a class and not escaped:
    its index, the character, and the group depth after it."""
    depth = 0
    i = start
    in_class = False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
        elif c == "[":
            in_class = True
            if pattern[i + 1:i + 2] == "^":
                i += 1
            if pattern[i + 1:i + 2] == "]":
                i += 1  # a leading "]" is a member
        elif c in "()|":
            depth += 1 if c == "(" else -1 if c == ")" else 0
            yield i, c, depth
        i += 1


def split_top(pattern: str) -> list[str]:
    """The top-level alternatives of `pattern` (``|`` outside groups and classes)."""
    parts: list[str] = []
    start = 0
    for i, c, depth in _structure(pattern):
        if c == "|" and depth == 0:
            parts.append(pattern[start:i])
            start = i + 1
    parts.append(pattern[start:])
    return parts


def _group_end(pattern: str, start: int) -> int:
    """Index just past the group that opens at `start`, or -1."""
    for i, c, depth in _structure(pattern, start):
        if c == ")" and depth == 0:
            return i + 1
    return -1


def _expand(alternative: str) -> list[str]:
    """``(?:a|b)rest`` → [``arest``, ``brest``], ``\\b(?:a|b)rest`` → [``\\barest``, ``\\bbrest``]
    (recursively); anything else as it is."""
    prefix = "\\b" if alternative.startswith("\\b(?:") else ""
    if not alternative.startswith(prefix + "(?:"):
        return [alternative]
    end = _group_end(alternative, len(prefix))
    if end < 0 or alternative[end:end + 1] in _QUANTIFIER:
        return [alternative]
    rest = alternative[end:]
    out: list[str] = []
    for inner in split_top(alternative[len(prefix) + 3:end - 1]):
        out.extend(_expand(prefix + inner + rest))
    return out


def _literal_head(alternative: str, ignorecase: bool) -> tuple[str, str]:
    """(first character, the rest) when `alternative` starts with a literal that no quantifier
    follows, or with \\b and a literal word character (then the rest starts with the look-behind
    that stands for the \\b); ("", alternative) otherwise. Under IGNORECASE only an ASCII letter
    or digit, lowercased, is a head: no text character matches two of those, while a non-ASCII one
    may fold onto another, as "ſ" onto "s"."""
    boundary = alternative.startswith("\\b")
    at = 2 if boundary else 0
    c = alternative[at:at + 1]
    if not c or c in _SPECIAL or alternative[at + 1:at + 2] in _QUANTIFIER:
        return "", alternative
    if boundary and not (c.isalnum() or c == "_"):
        return "", alternative
    if ignorecase:
        if not (c.isascii() and c.isalnum()):
            return "", alternative
        c = c.lower()
    return c, ("(?<!\\w.)" if boundary else "") + alternative[at + 1:]


def _trie(alternatives: list[str], ignorecase: bool) -> str:
    """``a1|a2|…`` with runs of literal-led alternatives grouped by their first character."""
    pieces: list[str] = []
    run: dict[str, list[str]] = {}  # first character → the rests, in order (dicts keep insertion order)

    def flush() -> None:
        for c, rests in run.items():
            pieces.append(re.escape(c) + (_group(rests, ignorecase) if rests != [""] else ""))
        run.clear()

    for alt in alternatives:
        head, rest = _literal_head(alt, ignorecase)
        if head:
            run.setdefault(head, []).append(rest)
        else:
            flush()
            pieces.append(alt)
    flush()
    return "|".join(pieces)


def _group(rests: list[str], ignorecase: bool) -> str:
    if len(rests) == 1:
        return rests[0] if not _needs_group(rests[0]) else f"(?:{rests[0]})"
    return f"(?:{_trie(rests, ignorecase)})"


def _needs_group(rest: str) -> bool:
    return len(split_top(rest)) > 1


def alternation(patterns: list[str] | tuple[str, ...], *, ignorecase: bool = False) -> str:
    """The trie form of ``(?:p1)|(?:p2)|…``: same matches, same spans, fewer alternatives tried.
    `ignorecase`: the pattern will be compiled with re.IGNORECASE (then "a…" and "A…" may both
    match at one position, so heads are grouped by their lowercase, and only ASCII ones)."""
    plain = "|".join(f"(?:{p})" for p in patterns)
    if any(re.compile(p).groups for p in patterns):  # groups or back-references: keep them as written
        return plain
    alternatives: list[str] = []
    for p in patterns:
        for alt in split_top(p):
            alternatives.extend(_expand(alt))
    trie = _trie(alternatives, ignorecase)
    PLAIN[trie] = (plain, re.IGNORECASE if ignorecase else 0)
    return trie


#: trie form → the plain alternation it stands for and its flags (tests/unit/test_rx.py compares them)
PLAIN: dict[str, tuple[str, int]] = {}
