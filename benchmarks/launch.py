"""100,000 targets: `probe validate` and `probe launch` end to end (the DESIGN.md goal: under 30 s),
against a raw baseline in the same run (csv module + sqlite3 executemany of the same rows).

    .venv/bin/python benchmarks/launch.py [--targets 100000] [--postgres]

Each probe command and the baseline run in their own process; the peak RSS printed is that
process's (os.wait4), taken while this parent is still small, since Linux carries a parent's RSS
at fork into the child's ru_maxrss.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def write_campaign(folder: Path, count: int, db_url: str) -> Path:
    shutil.copytree(ROOT / "templates", folder / "templates", ignore=shutil.ignore_patterns("en"))
    with (folder / "targets.csv").open("w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, delimiter=";")
        out.writerow(["email", "civilite", "prenom", "nom", "societe", "secteur"])
        for i in range(count):
            out.writerow([f"directeur{i}@societe{i % 997}.example.com", "Mme", f"Prénom{i}", f"Nom{i}",
                          f"Société {i % 997}", ("Banque", "Assurance", "Télécoms")[i % 3]])
    config = folder / "campaign.toml"
    config.write_text(f"""[campaign]
name = "bench"
from = "Rédaction <redaction@en-contact.example.com>"
timezone = "Europe/Paris"
[schedule]
start = "2015-09-28T09:00:00"
reminders = ["6d", "12d"]
[templates]
initial = "templates/initial.txt.j2"
reminders = ["templates/reminder1.txt.j2", "templates/reminder2.txt.j2"]
[targets]
file = "targets.csv"
[smtp]
host = "127.0.0.1"
port = 2525
security = "none"
[database]
url = "{db_url}"
""", encoding="utf-8")
    return config


def run_child(command: list[str]) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one child process."""
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{' '.join(command)} failed:\n{err.read().decode()[-3000:]}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def timed(*args: str) -> tuple[float, float, float]:
    return run_child([sys.executable, "-m", "probe", *args])


def raw_baseline(folder: Path) -> float:
    started = time.perf_counter()
    with (folder / "targets.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    con = sqlite3.connect(folder / "raw.db")
    con.execute("CREATE TABLE target (id INTEGER PRIMARY KEY, email TEXT UNIQUE, fields TEXT)")
    con.execute("CREATE TABLE send (id INTEGER PRIMARY KEY, target_id INTEGER, wave INTEGER, due TEXT)")
    con.executemany("INSERT INTO target (id, email, fields) VALUES (?, ?, ?)",
                    ((i, r["email"].lower(), repr(r)) for i, r in enumerate(rows)))
    con.executemany("INSERT INTO send (target_id, wave, due) VALUES (?, ?, ?)",
                    ((i, w, "2015-09-28") for i in range(len(rows)) for w in range(3)))
    con.commit()
    con.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--targets", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true", help="also on postgresql://postgres@127.0.0.1/…")
    parser.add_argument("--raw-baseline", type=Path, help=argparse.SUPPRESS)   # the baseline's own process
    args = parser.parse_args()
    if args.raw_baseline:
        raw_baseline(args.raw_baseline)
        return
    print(f"{args.targets} targets × 3 waves, load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs, "
          f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        engines = [("sqlite", f"sqlite:///{folder}/probe.db")]
        if args.postgres:
            name = f"probe_bench_{int(time.time())}"
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f'CREATE DATABASE "{name}"'],
                           check=True)
            engines.append(("postgresql", f"postgresql://postgres@127.0.0.1/{name}"))
        baseline = None
        try:
            for engine, url in engines:
                config = write_campaign(folder / engine, args.targets, url) if (folder / engine).mkdir() is None \
                    else None
                assert config is not None
                if baseline is None:
                    baseline, base_cpu, base_rss = run_child([sys.executable, __file__, "--raw-baseline",
                                                              str(folder / engine)])
                    print(f"raw baseline (csv + sqlite3 executemany, {args.targets} targets × 3, own process): "
                          f"{baseline:.1f} s, CPU {base_cpu:.1f} s, peak RSS {base_rss:.0f} MB", flush=True)
                validate, v_cpu, v_rss = timed("validate", str(config))
                launch, l_cpu, l_rss = timed("launch", str(config))
                relaunch, _, _ = timed("launch", str(config))
                # CPU beside wall: on a shared machine the wall ratio moves with the others' load.
                print(f"{engine}: validate {validate:.1f} s (CPU {v_cpu:.1f} s, peak RSS {v_rss:.0f} MB), "
                      f"launch {launch:.1f} s (CPU {l_cpu:.1f} s, peak RSS {l_rss:.0f} MB); "
                      f"validate+launch {validate + launch:.1f} s = {(validate + launch) / baseline:.1f}× the "
                      f"baseline (CPU {(v_cpu + l_cpu) / base_cpu:.1f}×); relaunch unchanged {relaunch:.1f} s",
                      flush=True)
        finally:
            if args.postgres:
                subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                                f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False)


if __name__ == "__main__":
    main()
