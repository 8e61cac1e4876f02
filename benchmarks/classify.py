"""Messages per second over the corpus on one core: raw stdlib parsing as a baseline, then probe's
parse_message, then parse_message + classify (target: >= 3,000 msg/s for the last, issue 15), and
the same over benchmarks/ingest.py's replies (short yes/no replies, quoted ones, out-of-office).

    .venv/bin/python benchmarks/classify.py [--corpus DIR] [--rounds N] [--before SRC [--pairs K]]

CPU time (time.process_time) of the best of N rounds, so other load on the machine counts less;
all figures come from the same run, so compare them with each other. --before SRC also measures
another source tree (e.g. `git archive` of the commit before a change, unpacked): each tree in its
own process, alternated K times, the best of each kept."""

from __future__ import annotations

import argparse
import email
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from email import policy
from pathlib import Path

from probe.core.classify import classify
from probe.core.message import parse_message

DEFAULT_CORPUS = Path(__file__).resolve().parents[1] / "tests" / "corpus"
REPLIES = 2000


def rate(files: list[bytes], fn: Callable[[bytes], object], rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        started = time.process_time()
        for raw in files:
            fn(raw)
        elapsed = time.process_time() - started
        best = max(best, len(files) / elapsed if elapsed > 0 else 0.0)
    return best


def measure(corpus: Path, rounds: int) -> dict[str, float]:
    from replies import reply  # benchmarks/replies.py: no probe import, so SRC's probe stays the one read

    paths = sorted((corpus / "messages").glob("*/*.eml"))
    files = [p.read_bytes() for p in paths]
    answers = [reply(i, f"directeur{i}@societe{i % 997}.example.com", f"tok{i:05d}") for i in range(REPLIES)]
    for raw in files + answers[:20]:  # warm up: first use compiles the patterns and builds the matcher
        classify(parse_message(raw))
    measures: list[tuple[str, list[bytes], Callable[[bytes], object]]] = [
        ("stdlib email, policy.default (baseline)", files,
         lambda r: email.message_from_bytes(r, policy=policy.default)),
        ("stdlib email, compat32 (baseline)", files, lambda r: email.message_from_bytes(r)),
        ("probe parse_message", files, parse_message),
        ("probe parse_message + classify", files, lambda r: classify(parse_message(r))),
        (f"ingest.py's {REPLIES} replies: parse + classify", answers, lambda r: classify(parse_message(r))),
    ]
    return {name: rate(data, fn, rounds) for name, data, fn in measures}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder with messages/*/*.eml")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per measure; the best is kept")
    parser.add_argument("--before", type=Path, help="another probe source tree to measure too")
    parser.add_argument("--pairs", type=int, default=3, help="with --before: alternations of the two trees")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one tree's figures, for --before
    args = parser.parse_args(argv)
    paths = sorted((args.corpus / "messages").glob("*/*.eml"))
    if not paths:
        print(f"no messages under {args.corpus / 'messages'}: pass --corpus DIR", file=sys.stderr)
        return 2
    if args.json:
        import probe

        print(json.dumps({"tree": str(Path(probe.__file__).parents[1]), **measure(args.corpus, args.rounds)}))
        return 0
    print(f"{len(paths)} messages, {sum(p.stat().st_size for p in paths) / 1e6:.1f} MB, best of {args.rounds} "
          f"rounds, one core, load average {os.getloadavg()[0]:.1f}")
    if not args.before:
        for name, value in measure(args.corpus, args.rounds).items():
            print(f"  {name:46} {value:8.0f} msg/s")
        return 0
    best: dict[str, dict[str, float]] = {"this tree": {}, "--before": {}}
    trees: dict[str, str] = {}
    for _ in range(args.pairs):
        for label, src in (("--before", args.before.resolve()), ("this tree", None)):
            env = dict(os.environ)
            if src is not None:
                env["PYTHONPATH"] = str(src)
            out = subprocess.run([sys.executable, __file__, "--json", "--rounds", str(args.rounds),
                                  "--corpus", str(args.corpus)], env=env, check=True, capture_output=True, text=True)
            figures = json.loads(out.stdout)
            trees[label] = figures.pop("tree")
            for name, value in figures.items():
                best[label][name] = max(best[label].get(name, 0.0), value)
    print(f"  {'':46} {'this tree':>10} {'--before':>10}   (best of {args.pairs} alternations)")
    for name in best["this tree"]:
        after, before = best["this tree"][name], best["--before"][name]
        print(f"  {name:46} {after:8.0f}/s {before:8.0f}/s  {after / before - 1:+6.1%}")
    print(f"  load average at the end {os.getloadavg()[0]:.1f}; probe read from {trees['this tree']} and "
          f"{trees['--before']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
