"""Run one probe command in this process with every SQL statement timed (SQLAlchemy cursor events),
then print on stdout, after the command's own output, one JSON line: per statement shape, how many
times it ran and the seconds between sending it and getting its result back (as the coroutine that
ran it waited: lock waits and the other workers' turns on the event loop included), and how many
transactions were committed.

    .venv/bin/python benchmarks/profile_tick.py tick CONFIG --now ISO

benchmarks/send.py --profile runs it under py-spy; it is also usable by itself."""

from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probe.cli import main

STATS: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
COUNTS = {"commit": 0, "rollback": 0}


def shape(statement: str) -> str:
    text = " ".join(statement.split())
    return text if len(text) <= 110 else text[:107] + "..."


@event.listens_for(Engine, "before_cursor_execute")
def _before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    conn.info.setdefault("probe_bench_started", []).append(time.perf_counter())


@event.listens_for(Engine, "after_cursor_execute")
def _after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    started = conn.info["probe_bench_started"].pop()
    entry = STATS[shape(statement)]
    entry[0] += 1
    entry[1] += time.perf_counter() - started


@event.listens_for(Engine, "commit")
def _commit(conn: Any) -> None:
    COUNTS["commit"] += 1


@event.listens_for(Engine, "rollback")
def _rollback(conn: Any) -> None:
    COUNTS["rollback"] += 1


if __name__ == "__main__":
    started = time.perf_counter()
    code = main(sys.argv[1:])
    wall = time.perf_counter() - started
    sys.stdout.flush()
    print("PROFILE " + json.dumps({"wall_s": wall, "transactions": COUNTS,
                                   "statements": {k: v for k, v in STATS.items()}}))
    raise SystemExit(code)
