"""bounces.addresses_in finds exactly what bounces._ADDRESS.finditer finds (it is the fast path of
the prose recipients' scan): on the corpus texts and on random texts of the characters that matter."""

from __future__ import annotations

import random
from pathlib import Path

from probe.core.bounces import _ADDRESS, addresses_in
from probe.core.message import parse_message

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def test_same_as_the_regex_on_the_corpus() -> None:
    for path in sorted(CORPUS.rglob("*.eml")):
        msg = parse_message(path.read_bytes())
        for text in (msg.text_lc[:4000], msg.text, msg.other_text[:4000]):
            assert list(addresses_in(text)) == [m.group(0) for m in _ADDRESS.finditer(text)], path


def test_same_as_the_regex_on_random_texts() -> None:
    rnd = random.Random(15)
    pieces = ["a", "B", "7", ".", "-", "_", "%", "+", "@", "@", " ", "é", "\n", "<", ">", "x" * 30, "y" * 70,
              "..", "@@", "a.b", "-c"]
    for _ in range(30_000):
        text = "".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 14)))
        assert list(addresses_in(text)) == [m.group(0) for m in _ADDRESS.finditer(text)], repr(text)
