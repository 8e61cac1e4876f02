"""Messages per second over the corpus on one core: raw stdlib parsing as a baseline, then probe's
parse_message, then parse_message + classify (target: >= 2,000 msg/s for the last).

    .venv/bin/python benchmarks/classify.py [--corpus DIR] [--rounds N]

CPU time (time.process_time) of the best of N rounds, so other load on the machine counts less;
all four figures come from the same run, so compare them with each other."""

from __future__ import annotations

import argparse
import email
import sys
import time
from collections.abc import Callable
from email import policy
from pathlib import Path

from probe.core.classify import classify
from probe.core.message import parse_message

# shared/ sits beside the checkout (/work/shared next to /work/main), or two levels up from a worktree.
DEFAULT_CORPUS = next((p / "shared" / "corpus" for p in Path(__file__).resolve().parents
                       if (p / "shared" / "corpus" / "messages").is_dir()), Path("shared/corpus"))


def rate(files: list[bytes], fn: Callable[[bytes], object], rounds: int) -> float:
    best = 0.0
    for _ in range(rounds):
        started = time.process_time()
        for raw in files:
            fn(raw)
        elapsed = time.process_time() - started
        best = max(best, len(files) / elapsed if elapsed > 0 else 0.0)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder with messages/*/*.eml")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per measure; the best is kept")
    args = parser.parse_args(argv)
    paths = sorted((args.corpus / "messages").glob("*/*.eml"))
    if not paths:
        print(f"no messages under {args.corpus / 'messages'}: pass --corpus DIR", file=sys.stderr)
        return 2
    files = [p.read_bytes() for p in paths]
    classify(parse_message(files[0]))  # warm up: first use compiles the patterns
    measures: list[tuple[str, Callable[[bytes], object]]] = [
        ("stdlib email, policy.default (baseline)", lambda r: email.message_from_bytes(r, policy=policy.default)),
        ("stdlib email, compat32 (baseline)", lambda r: email.message_from_bytes(r)),
        ("probe parse_message", parse_message),
        ("probe parse_message + classify", lambda r: classify(parse_message(r))),
    ]
    print(f"{len(files)} messages, {sum(map(len, files)) / 1e6:.1f} MB, best of {args.rounds} rounds, one core")
    for name, fn in measures:
        print(f"  {name:42} {rate(files, fn, args.rounds):8.0f} msg/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
