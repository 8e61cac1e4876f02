"""CPU per message of rendering and composing one send, the EmailMessage way (one object per send,
then as_bytes with the SMTP policy: what probe did before) against probe's direct writer, in the
same run, on the repository's templates: a French reminder (threaded) and the English initial
message with its HTML alternative.

    .venv/bin/python benchmarks/compose.py [--messages 3000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.policy import SMTP
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from probe.adapters.compose import _headers, build_email_message, build_message  # noqa: E402
from probe.adapters.templates import RenderedMessage, TemplateSet  # noqa: E402


def best_us(fn: Callable[[int], object], n: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for i in range(n):
            fn(i)
        best = min(best, (time.process_time() - started) / n * 1e6)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    date = datetime.now(UTC)
    print(f"{args.messages} messages, best of {args.rounds}, CPU per message, load average "
          f"{os.getloadavg()[0]:.1f}, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC")
    cases = [("French reminder 1, text, threaded", [ROOT / "templates" / n for n in
                                                     ("initial.txt.j2", "reminder1.txt.j2")], 1),
             ("English initial, text + HTML", [ROOT / "templates" / "en" / "initial.txt.j2"], 0)]
    for title, paths, wave in cases:
        ts = TemplateSet.from_paths(paths)

        def fields(i: int) -> dict[str, str]:
            return {"email": f"d{i}@societe.example.com", "civilite": "Mme", "prenom": f"Élodie{i}",
                    "nom": f"Nom{i}", "societe": f"Société {i % 997}", "secteur": "Banque"}

        def kwargs(i: int, wave: int = wave) -> dict[str, object]:
            return dict(from_="Rédaction <redaction@en-contact.example.com>", to=f"d{i}@societe.example.com",
                        message_id=f"<probe.{i:024d}.{wave}@en-contact.example.com>", date=date,
                        references=[f"<probe.{i:024d}.0@en-contact.example.com>"] if wave else [],
                        reply_to=f"redaction+{i:024d}@en-contact.example.com")

        def render_one(i: int, ts: TemplateSet = ts, wave: int = wave) -> RenderedMessage:
            return ts.render(fields(i), wave, "bench", i + 2)

        rendered = [render_one(i) for i in range(args.messages)]

        def old(i: int, rendered: list[RenderedMessage] = rendered, kwargs: Callable = kwargs) -> bytes:
            r = rendered[i]
            return build_email_message(_headers(r, **kwargs(i), list_unsubscribe=None), r.text,
                                       r.html).as_bytes(policy=SMTP)

        def new(i: int, rendered: list[RenderedMessage] = rendered, kwargs: Callable = kwargs) -> bytes:
            return build_message(rendered[i], **kwargs(i)).as_bytes(policy=SMTP)

        render = best_us(render_one, args.messages, args.rounds)
        before = best_us(old, args.messages, args.rounds)
        after = best_us(new, args.messages, args.rounds)
        print(f"  {title}:")
        print(f"    render (Jinja2)                                {render:7.0f} µs")
        print(f"    compose, one EmailMessage + as_bytes (before)  {before:7.0f} µs")
        print(f"    compose, direct bytes (now)                    {after:7.0f} µs   {before / after:.0f}× less")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
