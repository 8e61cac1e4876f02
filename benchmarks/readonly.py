"""Commands that only read (`status`, `report --format json`, `replies`) on a small campaign, each a
whole process, against the interpreter's start-up in the same run (target: ≤ 2× `python -c
"import sqlalchemy"`).

    .venv/bin/python benchmarks/readonly.py [--targets 200] [--rounds 5] [--engines sqlite,postgresql]
                                            [--before SRC] [--tick]

Prints, for each, the median wall time and the median CPU time (user + system of the child) of
--rounds runs, each with its ratio to `import sqlalchemy`, and the modules whose import costs the
most in `probe status` (python -X importtime, cumulative). The rounds are interleaved (every
command once, then again), so a change in the machine's load falls on all of them alike; on a
shared machine the CPU ratio is the steadier figure. --before SRC times another source tree too
(e.g. `git archive COMMIT | tar -x -C SRC`), against the same database. --tick also times an empty
`probe tick` (no [imap], nothing due yet: the day before the start), the start-up of every cron
pass, against `python -c "import sqlalchemy, aiosqlite, aiosmtplib, jinja2"`.

Every process runs with Python's bytecode cache, as an installed probe does (pip compiles it): an
inherited PYTHONDONTWRITEBYTECODE would recompile probe's own modules on every run (about 0.3 s)
while sqlalchemy's come precompiled, and one untimed run of each command first writes the cache.
"""

from __future__ import annotations

import argparse
import os
import resource
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
EMPTY_TICK = "2015-09-27T09:00:00+02:00"   # the day before the campaign's start: nothing due


def environment(src: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return env


def run_once(command: list[str], src: Path | None = None) -> tuple[float, float]:
    """(wall s, CPU s of the child) of one process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=src or ROOT,
                          env=environment(src))
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):   # status exits 1 when there are uncertain sends
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr.decode()[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(commands: dict[str, tuple[list[str], Path | None]], rounds: int
            ) -> dict[str, tuple[float, float, float]]:
    """Median (wall, CPU) and the least CPU of each command over `rounds` interleaved rounds, after one
    warm-up run. On a loaded machine the least CPU is the closest to a quiet machine's."""
    samples: dict[str, list[tuple[float, float]]] = {label: [] for label in commands}
    for command, src in commands.values():
        run_once(command, src)   # writes the bytecode cache
    for _ in range(rounds):
        for label, (command, src) in commands.items():
            samples[label].append(run_once(command, src))
    return {label: (statistics.median(w for w, _ in s), statistics.median(c for _, c in s), min(c for _, c in s))
            for label, s in samples.items()}


def import_costs(config: Path, top: int = 12) -> list[tuple[float, str]]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "probe", "status", str(config)],
                          capture_output=True, text=True, cwd=ROOT, env=environment())
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
    parser.add_argument("--before", type=Path, help="another probe source tree to time too")
    parser.add_argument("--tick", action="store_true", help="also time an empty `probe tick`")
    args = parser.parse_args()
    py = sys.executable
    base_label = 'python -c "import sqlalchemy" (baseline)'
    commands: dict[str, tuple[list[str], Path | None]] = {
        "python -c pass": ([py, "-c", "pass"], None),
        base_label: ([py, "-c", "import sqlalchemy"], None),
    }
    tick_base = "import sqlalchemy, aiosqlite, aiosmtplib, jinja2 (tick)"   # the ticks' ratios are to this
    if args.tick:
        commands[tick_base] = ([py, "-c", "import sqlalchemy, aiosqlite, aiosmtplib, jinja2"], None)
    dbs = []
    try:
        with tempfile.TemporaryDirectory(prefix="probe-bench-ro-") as tmp:
            configs = {}
            for engine in filter(None, args.engines.split(",")):
                if engine == "sqlite":
                    url = f"sqlite:///{tmp}/probe.db"
                else:
                    name = f"probe_bench_ro_{uuid.uuid4().hex[:8]}"
                    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f'CREATE DATABASE "{name}"'],
                                   check=True)
                    dbs.append(name)
                    url = f"postgresql://postgres@127.0.0.1/{name}"
                config = configs[engine] = write_campaign(Path(tmp) / engine, args.targets, url, 2525, 8)
                subprocess.run([py, "-m", "probe", "launch", str(config), "--now", NOW], check=True,
                               capture_output=True, cwd=ROOT, env=environment())
                for what in (["status"], ["report", "--format", "json"], ["replies"]):
                    line = [py, "-m", "probe", what[0], str(config), *what[1:]]
                    commands[f"probe {' '.join(what)} ({engine})"] = (line, None)
                    if args.before:
                        commands[f"  before: probe {' '.join(what)} ({engine})"] = (line, args.before.resolve())
                if args.tick:   # the day before the start: nothing is due, no [imap]: nothing to poll
                    line = [py, "-m", "probe", "tick", str(config), "--now", EMPTY_TICK]
                    commands[f"probe tick, empty ({engine})"] = (line, None)
                    if args.before:
                        commands[f"  before: probe tick, empty ({engine})"] = (line, args.before.resolve())
            print(f"median of {args.rounds} interleaved rounds, load average {os.getloadavg()[0]:.1f} at the "
                  f"start, {os.cpu_count()} CPUs, {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC", flush=True)
            results = measure(commands, args.rounds)
            print(f"  {'':56s} {'wall':>7s} {'ratio':>6s} {'CPU':>7s} {'ratio':>6s} {'min CPU':>8s} {'ratio':>6s}")
            for label, (wall, cpu, least) in results.items():
                # The ticks against their own baseline: the send path's libraries.
                base = results[tick_base if "tick" in label else base_label]
                print(f"  {label:56s} {wall:6.2f}s {wall / base[0]:5.2f}× {cpu:6.2f}s {cpu / base[1]:5.2f}× "
                      f"{least:7.2f}s {least / base[2]:5.2f}×")
            print(f"  load average {os.getloadavg()[0]:.1f} at the end")
            if "sqlite" in configs:
                print("  imports of `probe status` (cumulative s, top-level packages):")
                for seconds, name in import_costs(configs["sqlite"]):
                    print(f"    {seconds:6.3f} s  {name}")
    finally:
        for name in dbs:
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
