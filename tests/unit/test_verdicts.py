"""Every verdict on the corpus, pinned: kind, answer, opt_out, reasons and new text of each `.eml`
under tests/corpus, as one SHA-256. A speed-up of the parser or the classifier must leave it as it
is. A change of a verdict on purpose changes it: check what moved with
`benchmarks/verdicts.py --tree <old tree> --out old.jsonl` then `--out new.jsonl --against old.jsonl`,
and pin the new digest (`benchmarks/verdicts.py --digest`)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from probe.core.classify import classify_bytes

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
DIGEST = "ddc40233415dc78d0e4eb000d6a604cbf827bb805250830e341c0f63bc88f16b"


def corpus_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(CORPUS.rglob("*.eml")):
        _, c = classify_bytes(path.read_bytes())
        row = [str(path.relative_to(CORPUS)), c.kind.value, c.answer and c.answer.value, c.opt_out,
               list(c.reasons), c.new_text]
        digest.update(json.dumps(row, ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()


def test_corpus_verdicts_are_unchanged() -> None:
    assert corpus_digest() == DIGEST
