"""Commands that only read (`status`, `report --format json`, `replies`) on a small campaign, each a
whole process, against the interpreter's start-up in the same run (target: ≤ 2× `python -c
"import sqlalchemy"`).

    .venv/bin/python benchmarks/readonly.py [--targets 200] [--rounds 5] [--engines sqlite,postgresql]

Prints the median wall time of --rounds runs of each, its ratio to `import sqlalchemy`, and the
modules whose import costs the most in `probe status` (python -X importtime, cumulative).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from send import NOW, write_campaign

ROOT = Path(__file__).resolve().parents[1]


def median_wall(command: list[str], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
        samples.append(time.perf_counter() - started)
        if done.returncode not in (0, 1):   # status exits 1 when there are uncertain sends
            raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return statistics.median(samples)


def import_costs(config: Path, top: int = 12) -> list[tuple[float, str]]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "probe", "status", str(config)],
                          capture_output=True, text=True, cwd=ROOT)
    costs: list[tuple[float, str]] = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        if cumulative.isdigit() and name.count(".") == 0 and not name.startswith(" "):
            costs.append((int(cumulative) / 1e6, name))
    return sorted(costs, reverse=True)[:top]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--engines", default="sqlite,postgresql")
    args = parser.parse_args()
    py = sys.executable
    print(f"median of {args.rounds}, load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs, "
          f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC", flush=True)
    bare = median_wall([py, "-c", "pass"], args.rounds)
    base = median_wall([py, "-c", "import sqlalchemy"], args.rounds)
    print(f"  {'python -c pass':40s} {bare:6.2f} s")
    label = 'python -c "import sqlalchemy" (baseline)'
    print(f"  {label:40s} {base:6.2f} s", flush=True)
    dbs = []
    try:
        with tempfile.TemporaryDirectory(prefix="probe-bench-ro-") as tmp:
            for engine in filter(None, args.engines.split(",")):
                if engine == "sqlite":
                    url = f"sqlite:///{tmp}/probe.db"
                else:
                    name = f"probe_bench_ro_{uuid.uuid4().hex[:8]}"
                    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f'CREATE DATABASE "{name}"'],
                                   check=True)
                    dbs.append(name)
                    url = f"postgresql://postgres@127.0.0.1/{name}"
                config = write_campaign(Path(tmp) / engine, args.targets, url, 2525, 8)
                subprocess.run([py, "-m", "probe", "launch", str(config), "--now", NOW], check=True,
                               capture_output=True, cwd=ROOT)
                for what in (["status"], ["report", "--format", "json"], ["replies"]):
                    wall = median_wall([py, "-m", "probe", what[0], str(config), *what[1:]], args.rounds)
                    label = f"probe {' '.join(what)} ({engine})"
                    print(f"  {label:40s} {wall:6.2f} s  {wall / base:4.1f}× import sqlalchemy", flush=True)
                if engine == "sqlite":
                    print("  imports of `probe status` (cumulative s, top-level packages):")
                    for seconds, name in import_costs(config):
                        print(f"    {seconds:6.3f} s  {name}")
    finally:
        for name in dbs:
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
