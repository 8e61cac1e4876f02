"""Ingest: N replies waiting in Dovecot, one `probe tick` (poll + parse + classify + match + store,
the whole process), against a bare aioimaplib `UID FETCH a:b (BODY.PEEK[])` of the same messages (in
probe's batches of 25) and the stdlib imaplib doing the same, in the same run (target: probe ≥ 0.5×
aioimaplib).

    .venv/bin/python benchmarks/ingest.py [--replies 10000] [--engines sqlite,postgresql] [--profile DIR]
                                          [--before SRC]

A campaign of N targets is launched (not timed); each target's reply (to its Reply-To token
address: 70 % a short yes/no, 20 % with the quoted original, 10 % out-of-office auto-replies) is
written into the maildir, so every message matches. The tick runs with --now before the first
wave is due, so it sends nothing. Dovecot runs from tests/fixtures/dovecot.py on a loopback port.
Classification alone over the corpus: benchmarks/classify.py. --profile DIR runs each tick under
py-spy (all threads, 250 Hz; its figures are then the profiled ones) and writes DIR/ingest-ENGINE.txt
(raw stacks) and a summary by module and probe function. --before SRC also runs the tick of another
source tree (e.g. `git archive` of the commit before a change, unpacked) on a copy of the same
launched campaign (its database as launch left it: same targets and tokens), reading the same
messages, right after this tree's.
"""

from __future__ import annotations

import argparse
import asyncio
import imaplib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aioimaplib

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from replies import reply  # noqa: E402
from send import summarize_profile, write_campaign  # noqa: E402

from tests.fixtures.dovecot import DovecotServer, DovecotUser, dovecot_available  # noqa: E402

BEFORE_START = "2015-09-27T12:00:00+02:00"    # the first wave is due the next day: nothing is sent
PASSWORD_ENV = "PROBE_BENCH_IMAP_PASSWORD"
# The baselines fetch in UID ranges of probe's own batch size (ImapMailbox.batch_size): one
# `UID FETCH 1:*` of 10,000 bodies overflows aioimaplib's recursive response parser.
BATCH = 25


async def aioimaplib_fetch(user: DovecotUser, n: int) -> tuple[float, int]:
    started = time.perf_counter()
    imap = aioimaplib.IMAP4(user.host, user.port, timeout=600)
    await imap.wait_hello_from_server()
    await imap.login(user.user, user.password)
    await imap.select("INBOX")
    count = 0
    for first in range(1, n + 1, BATCH):
        response = await imap.uid("fetch", f"{first}:{first + BATCH - 1}", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
        count += sum(1 for line in response.lines if isinstance(line, bytes) and b" FETCH (" in line)
    await imap.logout()
    return time.perf_counter() - started, count


def imaplib_fetch(user: DovecotUser, n: int) -> tuple[float, int]:
    started = time.perf_counter()
    imap = imaplib.IMAP4(user.host, user.port)
    imap.login(user.user, user.password)
    imap.select("INBOX")
    count = 0
    for first in range(1, n + 1, BATCH):
        _, data = imap.uid("FETCH", f"{first}:{first + BATCH - 1}", "(UID FLAGS INTERNALDATE BODY.PEEK[])")
        count += sum(isinstance(item, tuple) for item in data)
    imap.logout()
    return time.perf_counter() - started, count


def tick(config: Path, password: str, prefix: list[str] | None = None,
         src: Path | None = None) -> tuple[float, float, str]:
    env = {**os.environ, PASSWORD_ENV: password}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    before = os.times()
    started = time.perf_counter()
    done = subprocess.run([*(prefix or []), sys.executable, "-m", "probe", "tick", str(config), "--now", BEFORE_START],
                          capture_output=True, text=True, env=env, cwd=src or ROOT)  # -m reads the cwd first
    wall = time.perf_counter() - started
    after = os.times()
    if done.returncode not in (0, 1):
        raise SystemExit(f"probe tick failed ({done.returncode}):\n{done.stderr[-3000:]}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=int, default=10_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--profile", type=Path, help="run each tick under py-spy, stacks into this folder")
    parser.add_argument("--before", type=Path, help="another probe source tree whose tick to time too")
    args = parser.parse_args()
    if not dovecot_available():
        print("dovecot is not installed: apt-get install -y dovecot-imapd", file=sys.stderr)
        return 2
    n = args.replies
    print(f"{n} replies, load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs, "
          f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC", flush=True)
    shm = Path("/dev/shm")
    root = Path(tempfile.mkdtemp(prefix="probe-bench-ingest-",
                                 dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None))
    server = DovecotServer(root)
    dbs: list[str] = []
    try:
        server.start()
        for engine in filter(None, args.engines.split(",")):
            folder = root / engine
            if engine == "sqlite":
                url = f"sqlite:///{folder}/probe.db"
            else:
                name = f"probe_bench_ingest_{uuid.uuid4().hex[:8]}"
                subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f'CREATE DATABASE "{name}"'],
                               check=True)
                dbs.append(name)
                url = f"postgresql://postgres@127.0.0.1/{name}"
            user = DovecotUser(server, server.add_user())
            config = write_campaign(folder, n, url, 2525, 8)
            with config.open("a", encoding="utf-8") as f:
                f.write(f'[imap]\nhost = "127.0.0.1"\nport = {user.port}\nsecurity = "none"\n'
                        f'username = "{user.user}"\npassword_env = "{PASSWORD_ENV}"\n')
            subprocess.run([sys.executable, "-m", "probe", "launch", str(config), "--now", BEFORE_START],
                           check=True, capture_output=True, cwd=ROOT)
            if args.before:
                snapshot(engine, folder, url, dbs)
            tokens = targets_and_tokens(engine, folder, url)
            user.write_maildir([reply(i, email, token) for i, (email, token) in enumerate(tokens)])
            with server.client(user.mail_user) as imap:   # let Dovecot index them once, untimed
                imap.select("INBOX")
            wall, count = asyncio.run(aioimaplib_fetch(user, n))
            base = count / wall
            print(f"  {'bare aioimaplib UID FETCH, 25 a batch (baseline)':44s} {base:7.0f} msg/s  {wall:6.1f} s",
                  flush=True)
            wall, count = imaplib_fetch(user, n)
            print(f"  {'stdlib imaplib UID FETCH, 25 a batch':44s} {count / wall:7.0f} msg/s  {wall:6.1f} s  "
                  f"{count / wall / base:4.2f}× aioimaplib", flush=True)
            spy: list[str] | None = None
            if args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
                raw = args.profile / f"ingest-{engine}.txt"
                spy = [str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw", "--threads",
                       "--rate", "250", "--output", str(raw), "--"]
            wall, cpu, log = tick(config, user.password, spy)
            summary = next((x for x in reversed(log.splitlines()) if "pass at" in x), "(no pass summary)")
            print(f"  {'probe tick (' + engine + '), whole process':44s} {n / wall:7.0f} msg/s  {wall:6.1f} s  "
                  f"{n / wall / base:4.2f}× aioimaplib, CPU {cpu / n * 1000:.2f} ms/msg", flush=True)
            print(f"    {summary.split('pass at', 1)[-1].strip()}", flush=True)
            if args.before:
                restore(engine, folder, url)
                wall, cpu, log = tick(config, user.password, src=args.before.resolve())
                summary = next((x for x in reversed(log.splitlines()) if "pass at" in x), "(no pass summary)")
                print(f"  {'probe tick (' + engine + '), --before tree':44s} {n / wall:7.0f} msg/s  {wall:6.1f} s  "
                      f"{n / wall / base:4.2f}× aioimaplib, CPU {cpu / n * 1000:.2f} ms/msg", flush=True)
                print(f"    {summary.split('pass at', 1)[-1].strip()}", flush=True)
            if args.profile:
                text = summarize_profile(args.profile / f"ingest-{engine}.txt", top=25)
                (args.profile / f"summary-{engine}.txt").write_text(text + "\n")
                print(text, flush=True)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
        for name in dbs:
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False)
    return 0


def snapshot(engine: str, folder: Path, url: str, dbs: list[str]) -> None:
    """Keep a copy of the launched campaign's database, for the --before tree's tick."""
    if engine == "sqlite":
        shutil.copyfile(folder / "probe.db", folder / "probe.db.launched")
        return
    name = url.rsplit("/", 1)[1]
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                    f'CREATE DATABASE "{name}_launched" TEMPLATE "{name}"'], check=True)
    dbs.append(f"{name}_launched")


def restore(engine: str, folder: Path, url: str) -> None:
    """Put the launched campaign back (same config, same URL: the plan's hash is unchanged)."""
    if engine == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            (folder / f"probe.db{suffix}").unlink(missing_ok=True)
        shutil.copyfile(folder / "probe.db.launched", folder / "probe.db")
        return
    name = url.rsplit("/", 1)[1]
    for sql in (f'DROP DATABASE "{name}" WITH (FORCE)', f'ALTER DATABASE "{name}_launched" RENAME TO "{name}"'):
        subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql], check=True)


def targets_and_tokens(engine: str, folder: Path, url: str) -> list[tuple[str, str]]:
    query = "SELECT address, token FROM target ORDER BY id"
    if engine == "sqlite":
        with sqlite3.connect(folder / "probe.db") as conn:
            return [(a, t) for a, t in conn.execute(query)]
    out = subprocess.run(["psql", url, "-AtF", "\t", "-c", query], check=True, capture_output=True, text=True)
    return [tuple(line.split("\t")) for line in out.stdout.splitlines() if line]  # type: ignore[misc]


if __name__ == "__main__":
    raise SystemExit(main())
