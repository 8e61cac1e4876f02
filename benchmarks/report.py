"""Time `probe report --format json` (build_report) on a campaign of 1,000,000 targets.

    .venv/bin/python benchmarks/report.py [--targets N] [--engines sqlite,postgresql] [--by sector]

Seeds a synthetic campaign (tests/fixtures/seed.py:synthetic_chunks: ~3 sends per target, ~39 %
of targets with a reply) by bulk insert — stdlib sqlite3 executemany for SQLite, COPY for
PostgreSQL — into a fresh database migrated to head, computes the targets' outcome facts
(probe.store.facts.refresh_campaign, what migration 0009's backfill does; timed as `facts_s`), runs
ANALYZE (PostgreSQL: VACUUM ANALYZE of the rewritten targets, as autovacuum would), then times, in
the same run:

- baseline: SELECT COUNT(*) FROM target (what a trivial full scan costs on this machine);
- baseline: targets GROUP BY state + sends GROUP BY wave, state (the bare GROUP BY of the figures);
- build_report(by=None) rendered to JSON (the figures of `probe report --format json`);
- build_report(by="sector") (20 segments), unless --by "".

The timings run in a child process, whose peak memory is printed too: it must stay far below the
size of the data. Then the index the report would like, send(campaign_id, wave, state), is created
and the timings are taken again ("with_index"), to show what it buys.

Building the databases takes minutes: `--reuse DIR` keeps them (DIR/bench.db, and the PostgreSQL
database named in DIR/postgresql) and measures the existing ones on the next run. `--before SRC`
also times another source tree (`git archive main | tar -x -C SRC`) on the same databases,
interleaved with this one `--rounds` times, so both are measured in the same period.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from probe.report.render import render_json
from probe.report.summary import build_report
from probe.store.engine import make_engine, make_sessionmaker, upgrade
from probe.store.facts import refresh_campaign
from tests.fixtures.seed import (
    MESSAGE_COLUMNS,
    SEND_COLUMNS,
    T0,
    TARGET_COLUMNS,
    create_postgres_database,
    drop_postgres_database,
    synthetic_chunks,
)

NAME = "bench"
NOW = datetime(2016, 1, 1, tzinfo=UTC)


def _campaign_row() -> tuple[object, ...]:
    return (1, NAME, "Europe/Paris", "0" * 64, 3, 7 * 86400, True, T0, T0)


CAMPAIGN_COLUMNS = ("id", "name", "timezone", "plan_hash", "waves", "close_after_s", "keep_bodies",
                    "created_at", "launched_at")


def _sqlite_value(value: object) -> object:
    # The text form SQLAlchemy's SQLite DateTime writes (UTCDateTime stores naive UTC).
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def seed_sqlite(path: Path, n: int) -> float:
    started = time.perf_counter()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")  # 1 GB: random-order unique indexes stay in memory
    with conn:
        for table, columns, rows in [("campaign", CAMPAIGN_COLUMNS, [_campaign_row()])]:
            _sqlite_insert(conn, table, columns, rows)
        for targets, sends, messages in synthetic_chunks(1, n):
            _sqlite_insert(conn, "target", TARGET_COLUMNS, targets)
            _sqlite_insert(conn, "send", SEND_COLUMNS, sends)
            _sqlite_insert(conn, "inbound_message", MESSAGE_COLUMNS, messages)
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


def _sqlite_insert(conn: sqlite3.Connection, table: str, columns: tuple[str, ...], rows: list) -> None:
    sql = f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({", ".join("?" * len(columns))})'
    conn.executemany(sql, ([_sqlite_value(v) for v in row] for row in rows))


async def seed_postgresql(url: str, n: int) -> float:
    import asyncpg

    started = time.perf_counter()
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.copy_records_to_table("campaign", records=[_campaign_row()], columns=CAMPAIGN_COLUMNS)
        for targets, sends, messages in synthetic_chunks(1, n):
            await conn.copy_records_to_table("target", records=targets, columns=TARGET_COLUMNS)
            await conn.copy_records_to_table("send", records=sends, columns=SEND_COLUMNS)
            await conn.copy_records_to_table("inbound_message", records=messages, columns=MESSAGE_COLUMNS)
        for table in ("campaign", "target", "send", "inbound_message"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                               f"(SELECT max(id) FROM {table}))")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return time.perf_counter() - started


async def fill_facts(url: str) -> float:
    """The bulk load wrote no facts: compute them all, as the migration's backfill would."""
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        async with make_sessionmaker(engine).begin() as s:
            await refresh_campaign(s, 1)
        elapsed = time.perf_counter() - started
        async with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                # Every target row was rewritten: what autovacuum would do next, so that the
                # report's index-only scans need no heap fetches (the visibility map).
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql("VACUUM ANALYZE target")
            else:
                await conn.exec_driver_sql("ANALYZE")
                await conn.commit()
        return elapsed
    finally:
        await engine.dispose()


async def measure(url: str, by: str | None) -> dict[str, float]:
    engine = make_engine(url)
    out: dict[str, float] = {}
    try:
        sessions = make_sessionmaker(engine)
        async with sessions() as s:
            started = time.perf_counter()
            count = (await s.execute(sa.text("SELECT COUNT(*) FROM target"))).scalar_one()
            out["baseline_count_s"] = time.perf_counter() - started
            out["targets"] = count
        async with sessions() as s:
            # The bare GROUP BY the report's figures come down to: targets by state, sends by wave
            # and state (what a report kept on the target rows would cost at best).
            started = time.perf_counter()
            await s.execute(sa.text("SELECT state, COUNT(*) FROM target WHERE campaign_id = 1 GROUP BY state"))
            await s.execute(sa.text("SELECT wave, state, COUNT(*) FROM send WHERE campaign_id = 1 "
                                    "GROUP BY wave, state"))
            out["baseline_group_by_s"] = time.perf_counter() - started
        async with sessions() as s:
            started = time.perf_counter()
            report = await build_report(s, NAME, now=NOW)
            text = render_json(report)
            out["report_json_s"] = time.perf_counter() - started
            out["answered"] = report["answered"]
            out["json_bytes"] = len(text)
        if by:
            async with sessions() as s:
                started = time.perf_counter()
                report = await build_report(s, NAME, now=NOW, by=by)
                out[f"report_by_{by}_s"] = time.perf_counter() - started
                out["segments"] = len(report["by"][by])
    finally:
        await engine.dispose()
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def peak_rss_mb() -> float:
    """This process's high-water RSS (VmHWM). Not getrusage: on Linux ru_maxrss survives fork+exec,
    so a child would report its parent's (seeding) peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# IF NOT EXISTS: the schema may have it already (then both timings measure the same thing).
SUGGESTED_INDEX = "CREATE INDEX IF NOT EXISTS ix_send_campaign_wave_state ON send (campaign_id, wave, state)"


def measure_in_child(url: str, by: str | None, tree: Path | None = None) -> dict[str, float]:
    """Time the report in a fresh process: its peak RSS is the report's, not the seeding's. `tree`:
    another source tree's benchmarks/report.py (and so its probe package) instead of this one."""
    script = tree / "benchmarks" / "report.py" if tree else Path(__file__)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, str(script), "--measure", url, "--by", by or ""],
                          capture_output=True, text=True, check=True, cwd=script.parent.parent)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = json.loads(done.stdout)
    # The whole child's CPU (start-up and baselines included): on a loaded machine, with SQLite
    # (in-process), a steadier comparison of two trees than the wall time.
    out["child_cpu_s"] = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return out


async def add_postgres_index(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(SUGGESTED_INDEX)
        await conn.execute("VACUUM ANALYZE send")   # visibility map: index-only scans
    finally:
        await conn.close()


def reuse_engine(engine: str, n: int, by: str | None, workdir: Path, before: Path | None,
                 rounds: int) -> dict[str, object]:
    """Build the database once into `workdir` (kept), then time this tree and `before` in turns."""
    seed_s = facts_s = 0.0
    if engine == "sqlite":
        path = workdir / "bench.db"
        url = f"sqlite+aiosqlite:///{path}"
        if not path.exists():
            building = workdir / "bench.db.building"
            building.unlink(missing_ok=True)
            tmp_url = f"sqlite+aiosqlite:///{building}"
            upgrade(tmp_url)
            seed_s = seed_sqlite(building, n)
            facts_s = asyncio.run(fill_facts(tmp_url))
            building.rename(path)
    else:
        marker = workdir / "postgresql"
        if marker.exists():
            url = marker.read_text().strip()
        else:
            url = asyncio.run(create_postgres_database(f"probe_bench_{uuid.uuid4().hex[:8]}"))
            upgrade(url)
            seed_s = asyncio.run(seed_postgresql(url, n))
            facts_s = asyncio.run(fill_facts(url))
            marker.write_text(url)
    result: dict[str, object] = {"seed_s": round(seed_s, 1), "facts_s": round(facts_s, 1), "rounds": []}
    for _ in range(rounds):
        one: dict[str, object] = {}
        for label, tree in ([("before", before)] if before else []) + [("after", None)]:
            r = measure_in_child(url, by, tree)
            r["load_average"] = os.getloadavg()[0]
            print(_line(f"{engine} {label}" if before else engine, r, by) + f" load={r['load_average']:.1f}",
                  flush=True)
            one[label] = r
        result["rounds"].append(one)  # type: ignore[attr-defined]
    return result


def run_engine(engine: str, n: int, by: str | None, workdir: Path, keep: bool) -> dict[str, object]:
    if engine == "sqlite":
        path = workdir / "bench.db"
        url = f"sqlite+aiosqlite:///{path}"
        upgrade(url)
        seed_s = seed_sqlite(path, n)
        facts_s = asyncio.run(fill_facts(url))
        result: dict[str, object] = measure_in_child(url, by)
        print(_line(engine, result, by), flush=True)
        result["db_mb"] = round(path.stat().st_size / 1e6)
        with sqlite3.connect(path) as conn:
            conn.execute(SUGGESTED_INDEX)
            conn.execute("ANALYZE")
        result["with_index"] = measure_in_child(url, by)
    else:
        name = f"probe_bench_{uuid.uuid4().hex[:8]}"
        url = asyncio.run(create_postgres_database(name))
        try:
            upgrade(url)
            seed_s = asyncio.run(seed_postgresql(url, n))
            facts_s = asyncio.run(fill_facts(url))
            result = measure_in_child(url, by)
            print(_line(engine, result, by), flush=True)
            asyncio.run(add_postgres_index(url))
            result["with_index"] = measure_in_child(url, by)
        finally:
            if not keep:
                asyncio.run(drop_postgres_database(name))
    result["seed_s"] = round(seed_s, 1)
    result["facts_s"] = round(facts_s, 1)
    return result


def _line(engine: str, r: dict, by: str | None) -> str:
    line = (f"{engine:10s} targets={int(r['targets']):,} baseline COUNT(*)={r['baseline_count_s'] * 1000:.0f}ms "
            f"GROUP BY={r['baseline_group_by_s'] * 1000:.0f}ms report --format json={r['report_json_s']:.2f}s "
            f"({r['report_json_s'] / r['baseline_group_by_s']:.1f}× GROUP BY, "
            f"{r['report_json_s'] / r['baseline_count_s']:.0f}× COUNT(*))")
    if by:
        line += f" report --by {by}={r[f'report_by_{by}_s']:.2f}s ({int(r['segments'])} segments)"
    line += f" peak RSS={r['peak_rss_mb']:.0f}MB"
    return line + (f" child CPU={r['child_cpu_s']:.2f}s" if "child_cpu_s" in r else "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1_000_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--by", default="sector", help='segment field to time too ("" to skip)')
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--reuse", metavar="DIR", type=Path,
                        help="keep the databases in DIR and measure them again on later runs")
    parser.add_argument("--before", metavar="SRC", type=Path, help="also time this source tree (with --reuse)")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved timings per tree (with --reuse)")
    parser.add_argument("--measure", metavar="URL", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(asyncio.run(measure(args.measure, args.by or None))))
        return 0
    if args.reuse:
        args.reuse.mkdir(parents=True, exist_ok=True)
        out = {engine: reuse_engine(engine, args.targets, args.by or None, args.reuse, args.before, args.rounds)
               for engine in args.engines.split(",")}
        print(json.dumps({"targets": args.targets, "load_average": os.getloadavg(), "results": out}, indent=2))
        return 0
    results = {}
    with tempfile.TemporaryDirectory(prefix="probe-bench-") as tmp:
        workdir = Path(tmp) if not args.keep else Path(tempfile.mkdtemp(prefix="probe-bench-keep-"))
        for engine in args.engines.split(","):
            print(f"{engine}: seeding {args.targets:,} targets...", file=sys.stderr, flush=True)
            results[engine] = run_engine(engine, args.targets, args.by or None, workdir, args.keep)
            r = results[engine]
            print(f"{_line(engine, r, args.by)} (seeded in {r['seed_s']}s, facts computed in {r['facts_s']}s)",
                  flush=True)
            print(_line("  +index", r["with_index"], args.by) + "   (+ send(campaign_id, wave, state))", flush=True)
    print(json.dumps({"targets": args.targets, "load_average": os.getloadavg(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
