"""Send throughput with 1, 2 and 4 `probe tick` workers on one PostgreSQL database (issue 16), into
Postfix's `smtp-sink` (a separate process that accepts and discards: it costs little CPU).

Each run: a fresh database, `probe launch` of N targets (initial email only), then W `probe tick`
processes started together; the time is from their start to the last one's exit (start-up included),
the rate is N / that time. smtp.concurrency is per worker.

    .venv/bin/python benchmarks/workers.py [--targets 3000] [--workers 1 2 4] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PSQL = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qAt"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_campaign(folder: Path, count: int, db_url: str, port: int, concurrency: int) -> Path:
    (folder / "templates").mkdir(parents=True)
    (folder / "templates" / "initial.txt.j2").write_text(
        "Subject: Une question, {{ prenom }}\n\nBonjour {{ prenom }} {{ nom }},\n\nRépondez-vous ?\n",
        encoding="utf-8")
    with (folder / "targets.csv").open("w", encoding="utf-8") as f:
        f.write("email,prenom,nom\n")
        for i in range(count):
            f.write(f"directeur{i}@societe{i % 97}.example.com,P{i},N{i}\n")
    config = folder / "campaign.toml"
    config.write_text(f"""[campaign]
name = "bench-workers"
from = "Rédaction <redaction@en-contact.example.com>"
timezone = "Europe/Paris"
[schedule]
start = "2015-09-28T09:00:00"
reminders = []
[templates]
initial = "templates/initial.txt.j2"
reminders = []
[targets]
file = "targets.csv"
[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
concurrency = {concurrency}
[database]
url = "{db_url}"
""", encoding="utf-8")
    return config


def sent_count(name: str) -> int:
    out = subprocess.run([*PSQL, "-d", name, "-c", "SELECT count(*) FROM send WHERE state = 'sent'"],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip())


def one_run(targets: int, workers: int, concurrency: int, port: int) -> tuple[float, int, float]:
    """(wall seconds, sends recorded, CPU seconds of the workers: user + system, all of them)."""
    name = f"bench_workers_{uuid.uuid4().hex[:8]}"
    subprocess.run([*PSQL, "-c", f'CREATE DATABASE "{name}"'], check=True)
    folder = Path(tempfile.mkdtemp(prefix="probe-bench-workers-"))
    try:
        url = f"postgresql://postgres@127.0.0.1/{name}"
        config = write_campaign(folder, targets, url, port, concurrency)
        probe = [sys.executable, "-m", "probe"]
        for step in (["db", "upgrade"], ["launch"]):
            subprocess.run([*probe, *step, str(config)], check=True, capture_output=True, cwd=folder)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.monotonic()
        procs = [subprocess.Popen([*probe, "tick", str(config)], cwd=folder,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(workers)]
        for p in procs:
            p.wait(timeout=1800)
        elapsed = time.monotonic() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return elapsed, sent_count(name), cpu
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run([*PSQL, "-c", f'DROP DATABASE IF EXISTS "{name}"'], check=False)


def targets_expected(targets: int) -> int:
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=3000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--concurrency", type=int, default=4, help="smtp.concurrency of each worker")
    parser.add_argument("--repeat", type=int, default=1, help="run the whole series this many times")
    args = parser.parse_args()
    sink_bin = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    port = free_port()
    # -c: count only; backlog 256; the sink's own CPU is a few % of a core.
    user = ["-u", "nobody"] if os.geteuid() == 0 else []     # smtp-sink refuses to run as root
    sink = subprocess.Popen([sink_bin, *user, "-c", f"127.0.0.1:{port}", "256"], stdout=subprocess.DEVNULL)
    try:
        time.sleep(0.3)   # a benchmark, not a test: give the sink its socket before the first tick
        base = None
        print(f"{args.targets} targets, smtp.concurrency {args.concurrency} per worker, PostgreSQL, smtp-sink")
        for _ in range(args.repeat):
            for w in args.workers:
                elapsed, sent, cpu = one_run(args.targets, w, args.concurrency, port)
                if sent != targets_expected(args.targets):
                    raise SystemExit(f"workers {w}: only {sent} of {args.targets} sent (is smtp-sink running?)")
                rate = sent / elapsed
                base = base or rate
                # CPU per send is what the load of other processes on a shared machine distorts least.
                print(f"workers {w}: {sent} sent in {elapsed:.1f} s = {rate:.0f} msg/s ({rate / base:.2f}x of "
                      f"the first run); workers' CPU {cpu:.1f} s = {1000 * cpu / sent:.1f} ms per send; "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    main()
