"""Every verdict of a source tree's parser and classifier, as JSON lines, to prove that a speed-up
changed none of them: dump the tree before the change and the tree after, then compare.

    .venv/bin/python benchmarks/verdicts.py --tree /tmp/before --out /tmp/before.jsonl
    .venv/bin/python benchmarks/verdicts.py --out /tmp/after.jsonl --against /tmp/before.jsonl
    .venv/bin/python benchmarks/verdicts.py --digest   (what tests/unit/test_verdicts.py pins)

The inputs: every `.eml` under tests/corpus, as it is and with its addresses and Message-IDs
rewritten (tests/unit/test_corpus.py's `rewrite`); every body-only fixture wrapped as a threaded
reply; benchmarks/ingest.py's replies; and `--synthetic N` generated replies (a fixed seed) built
from the default answer vocabulary, negators, questions, quotes, signatures, case, accents and
punctuation, so rules are exercised on text no fixture holds. Each line has every field of the
ParsedMessage (but the raw bytes) and of the Classification, plus `decide_answer` and
`extract_new_text` of the body fixtures."""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.name not in ("raw", "memo")}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in sorted(value.items())}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def synthetic(n: int, vocab: Any) -> list[bytes]:
    rnd = random.Random(20261204)
    phrases = list(vocab.YES + vocab.WEAK_YES + vocab.NO + vocab.OPT_OUT + vocab.NEUTRAL + vocab.HEDGES
                   + vocab.DELEGATIONS + vocab.ACKNOWLEDGEMENTS)
    words = ("bonjour", "merci", "madame", "monsieur", "hello", "thanks", "je", "vous", "nous", "ne", "pas",
             "not", "don't", "si", "if", "peut-être", "maybe", "question", "prix", "first", "d'abord", "le",
             "document", "vraiment", "really", "plus", "tard", "later", "kein", "nicht", "never", "jamais",
             "why", "pourquoi", "ouiii", "nooon", "yesss", "no.", "5", "👍", "❌", "OUI", "NON", "Sí", "sì",
             "cordialement", "regards", "--", "Envoyé de mon iPhone", "abonné", "désinscrire", "unsubscribe")
    seps = (" ", " ", " ", ", ", ". ", "! ", "? ", " - ", "\n", "\n\n", " ; ", "… ", ": ", " (", ") ", "\"")
    quote = ("\n\nLe 28/09/2015 09:00, Rédaction a écrit :\n> Êtes-vous abonné ? Répondez OUI ou NON.\n> \n",
             "\n\nOn Mon, Sep 28, 2015 at 9:00 AM Editors <ed@example.org> wrote:\n> Are you a subscriber? yes or no\n",
             "\n\n-----Original Message-----\nFrom: Editors <ed@example.org>\nSent: Monday\nTo: x@example.net\n"
             "Subject: Abonnement\n\nAre you interested?\n",
             "\n\nDe : Rédaction\nEnvoyé : lundi\nÀ : moi\nObjet : Abonnement\n\nOui ou non ?\n", "")
    subjects = ("Re: Abonnement : OUI ou NON ?", "RE: Survey", "Re: Re: your question", "AW: Umfrage",
                "Réponse automatique : absent", "Out of Office: away", "Re: oui", "TR: Planning", "Re:",
                "Undeliverable: Survey", "Re: Abonnement - non merci")
    out: list[bytes] = []
    for i in range(n):
        parts: list[str] = []
        for _ in range(rnd.randint(1, 12)):
            token = rnd.choice(phrases) if rnd.random() < 0.45 else rnd.choice(words)
            if rnd.random() < 0.2:
                token = token.upper() if rnd.random() < 0.5 else token.capitalize()
            parts.append(token + rnd.choice(seps))
        body = "".join(parts) + rnd.choice(quote)
        headers = [f"From: Person {i} <p{i}@example.net>", "To: probe+tok@probe.example",
                   f"Subject: {rnd.choice(subjects)}", f"Message-ID: <s{i}@example.net>",
                   "Date: Mon, 28 Sep 2015 11:00:00 +0200", "Content-Type: text/plain; charset=utf-8"]
        if rnd.random() < 0.7:
            headers.append("In-Reply-To: <probe.abc.1@probe.example>")
        if rnd.random() < 0.1:
            headers.append("Auto-Submitted: auto-replied")
        if rnd.random() < 0.05:
            headers.append("Precedence: bulk")
        if rnd.random() < 0.15:
            html = body.replace("\n", "<br>\n")
            out.append(("\r\n".join(headers[:-1]) + "\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; "
                        "boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<div>" + html
                        + "</div>\r\n--b--\r\n").encode())
            continue
        out.append(("\r\n".join(headers) + "\r\n\r\n" + body.replace("\n", "\r\n")).encode())
    return out


def inputs(synthetic_n: int) -> list[tuple[str, bytes]]:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(1, str(ROOT / "benchmarks"))
    from tests.unit.test_corpus import rewrite, wrap_body  # the checks' own transformations

    corpus = ROOT / "tests" / "corpus"
    items: list[tuple[str, bytes]] = []
    for path in sorted(corpus.rglob("*.eml")):
        raw = path.read_bytes()
        name = str(path.relative_to(corpus))
        items.append((name, raw))
        items.append((name + "#rewritten", rewrite(raw)))
    for n, path in enumerate(sorted(p for p in corpus.rglob("*.txt") if "bodies" in p.parts)):
        items.append((str(path.relative_to(corpus)) + "#wrapped", wrap_body(path.read_bytes(), n)))
    import re

    import replies

    for i in range(40):  # its Message-IDs carry a random part: made fixed here
        raw = replies.reply(i, f"d{i}@societe.example.com", f"tok{i:05d}")
        items.append((f"ingest#{i}", re.sub(rb"<reply\d+\.\w+@", b"<reply%d@" % i, raw)))
    from probe.core import answer_words

    items += [(f"synthetic#{i}", raw) for i, raw in enumerate(synthetic(synthetic_n, answer_words))]
    return items


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, help="the source tree whose probe to run (default: this one)")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--digest", action="store_true", help="print the corpus digest and stop")
    parser.add_argument("--against", type=Path, help="a dump to compare with; exit 1 on any difference")
    parser.add_argument("--synthetic", type=int, default=20_000)
    args = parser.parse_args()
    if args.digest:
        sys.path.insert(0, str(ROOT))
        from tests.unit.test_verdicts import corpus_digest

        print(corpus_digest())
        return 0
    if args.out is None:
        parser.error("--out is required")
    items = inputs(args.synthetic)  # from this tree's tests (rewrite, wrap_body) and vocabulary
    if args.tree:
        for name in [m for m in sys.modules if m == "probe" or m.startswith("probe.")]:
            del sys.modules[name]
        sys.path.insert(0, str(args.tree.resolve()))
    import probe
    from probe.core.answers import decide_answer
    from probe.core.classify import classify
    from probe.core.message import parse_message
    from probe.core.newtext import extract_new_text
    print(f"probe from {Path(probe.__file__).parent}, {len(items)} messages", file=sys.stderr)
    with args.out.open("w", encoding="utf-8") as out:
        for name, raw in items:
            msg = parse_message(raw)
            row: dict[str, Any] = {"name": name, "parsed": plain(msg), "class": plain(classify(msg))}
            if name.endswith("#wrapped"):
                new = extract_new_text(msg.text, msg.html)
                row["new"] = plain(new)
                row["decide"] = plain(decide_answer(new.text, ""))
            out.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
    if not args.against:
        return 0
    mine = args.out.read_text(encoding="utf-8").splitlines()
    theirs = args.against.read_text(encoding="utf-8").splitlines()
    differ = [(a, b) for a, b in zip(mine, theirs, strict=False) if a != b]
    if len(mine) != len(theirs):
        print(f"{len(mine)} lines here, {len(theirs)} in {args.against}")
    for a, b in differ[:20]:
        before, after = json.loads(b), json.loads(a)
        print(before["name"])
        for key in ("parsed", "class", "new", "decide"):
            for field in sorted(set(before.get(key) or {}) | set(after.get(key) or {})):
                was, now = (before.get(key) or {}).get(field), (after.get(key) or {}).get(field)
                if was != now:
                    print(f"  {key}.{field}: {str(was)[:300]!r} -> {str(now)[:300]!r}")
    print(f"{len(differ)} of {len(mine)} verdicts differ")
    return 1 if differ or len(mine) != len(theirs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
