"""Send throughput: the whole `probe tick` process (start-up included) dispatching N messages with
smtp.concurrency = 8 into Postfix's smtp-sink, against bare aiosmtplib loops in the same run.

    .venv/bin/python benchmarks/send.py [--messages 3000 | --big] [--engines sqlite,postgresql]
                                        [--before SRC] [--profile DIR]

For each engine, a fresh campaign of N targets is launched (not timed), then `probe tick` is timed
from spawn to exit; its CPU is the child's user+system time. The baselines send the same messages
(rendered by probe's templates, not timed) from this process over the same number of connections:

- aiosmtplib send_message() of pre-built EmailMessage objects (flattening included);
- aiosmtplib sendmail() of pre-flattened bytes (the wire at its cheapest from Python).

--before SRC times the tick of another source tree too (e.g. `git archive` of the commit before a
change, unpacked), on its own fresh campaign, so a speed-up shows before/after in one run.
--profile DIR also records one pass with py-spy (all threads, so the aiosqlite worker shows) and
prints where the time goes by module. smtp-sink (apt-get install -y postfix) listens on a free
loopback port and is stopped by its pid; without it, a minimal asyncio sink of this script's own
(`--serve-sink PORT`, its own process) stands in: it costs more CPU than smtp-sink, on the same
cores, for the baseline and probe alike.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path

import aiosmtplib

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from probe.adapters.compose import _headers, build_email_message  # noqa: E402
from probe.adapters.templates import TemplateSet  # noqa: E402

SINK = Path("/usr/sbin/smtp-sink")
FROM = "Rédaction <redaction@en-contact.example.com>"
NOW = "2015-09-28T09:00:00+02:00"     # wave 0 is due: every target gets one message


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SinkProtocol(asyncio.Protocol):
    """A stand-in for smtp-sink when Postfix is not installed: answers every command at once, reads
    DATA up to the lone dot and discards it (no parsing beyond lines, like smtp-sink)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""
        self.in_data = False
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        replies = []
        while True:
            if self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    break
                self.buffer = self.buffer[end + 5:]
                self.in_data = False
                replies.append(b"250 2.0.0 Ok: queued\r\n")
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                break
            verb = self.buffer[:4].upper()
            self.buffer = self.buffer[end + 2:]
            if verb in (b"EHLO", b"HELO"):
                replies.append(b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10240000\r\n")
            elif verb == b"DATA":
                # The message's first line may follow in the same read: "\r\n.\r\n" is searched
                # from just before the buffer's start.
                self.buffer = b"\r\n" + self.buffer
                self.in_data = True
                replies.append(b"354 End data with <CR><LF>.<CR><LF>\r\n")
            elif verb == b"QUIT":
                replies.append(b"221 Bye\r\n")
                self.transport.write(b"".join(replies))
                self.transport.close()
                return
            else:
                replies.append(b"250 2.0.0 Ok\r\n")
        if replies:
            self.transport.write(b"".join(replies))


def serve_sink(port: int) -> None:
    async def serve() -> None:
        server = await asyncio.get_running_loop().create_server(SinkProtocol, "127.0.0.1", port, backlog=256)
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


@contextmanager
def smtp_sink() -> Iterator[int]:
    port = free_port()
    if SINK.exists():
        # -u nobody: required when run as root; backlog 256 so 8 clients never wait on accept.
        command = [str(SINK), "-u", "nobody", f"127.0.0.1:{port}", "256"]
    else:
        command = [sys.executable, __file__, "--serve-sink", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    error = proc.stderr.read().decode() if proc.stderr else ""
                    raise SystemExit(f"smtp-sink did not start: {error}") from None
                time.sleep(0.05)
        yield port
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def write_campaign(folder: Path, count: int, db_url: str, port: int, concurrency: int) -> Path:
    folder.mkdir(parents=True)
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
from = "{FROM}"
reply_to = "redaction@en-contact.example.com"
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
port = {port}
security = "none"
concurrency = {concurrency}
[database]
url = "{db_url}"
""", encoding="utf-8")
    return config


def probe(args: list[str], src: Path | None = None, prefix: list[str] | None = None,
          script: Path | None = None) -> tuple[float, float, str]:
    """(wall s, CPU s of the child, its stdout + stderr) of one probe command."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = str(src)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    command = [str(script)] if script else ["-m", "probe"]
    done = subprocess.run([*(prefix or []), sys.executable, *command, *args], capture_output=True, text=True,
                          env=env, cwd=src or ROOT)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"probe {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout + done.stderr


def sent_count(output: str) -> int:
    marker = ", sent "
    for line in reversed(output.splitlines()):
        if marker in line and "pass at" in line:
            return int(line.split(marker, 1)[1].split(",", 1)[0])
    raise SystemExit(f"no pass summary in the output of probe tick:\n{output[-2000:]}")


def prebuilt_messages(count: int) -> list[tuple[str, EmailMessage]]:
    """The same messages as the tick sends (wave 0, probe's templates), built the stdlib way."""
    ts = TemplateSet.from_paths([ROOT / "templates" / "initial.txt.j2"])
    date = datetime.now(UTC)
    out = []
    for i in range(count):
        to = f"directeur{i}@societe{i % 997}.example.com"
        fields = {"email": to, "civilite": "Mme", "prenom": f"Prénom{i}", "nom": f"Nom{i}",
                  "societe": f"Société {i % 997}", "secteur": ("Banque", "Assurance", "Télécoms")[i % 3]}
        rendered = ts.render(fields, 0, "bench", i + 2)
        token = uuid.uuid4().hex[:24]
        headers = _headers(rendered, from_=FROM, to=to, message_id=f"<probe.{token}.0@en-contact.example.com>",
                           date=date, references=(), reply_to=f"redaction+{token}@en-contact.example.com",
                           list_unsubscribe=None)
        out.append((to, build_email_message(headers, rendered.text, rendered.html)))
    return out


async def bare_loop(port: int, items: list[tuple[str, EmailMessage | bytes]], connections: int) -> None:
    queue = list(reversed(items))

    async def worker() -> None:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False, use_tls=False)
        await client.connect()
        try:
            while queue:
                to, message = queue.pop()
                if isinstance(message, bytes):
                    await client.sendmail("redaction@en-contact.example.com", [to], message)
                else:
                    await client.send_message(message)
        finally:
            await client.quit()

    await asyncio.gather(*(worker() for _ in range(connections)))


def timed_loop(port: int, items: list, connections: int) -> tuple[float, float]:
    cpu0, wall0 = time.process_time(), time.perf_counter()
    asyncio.run(bare_loop(port, items, connections))
    return time.perf_counter() - wall0, time.process_time() - cpu0


def database(engine: str, folder: Path, dbs: list[str]) -> str:
    if engine == "sqlite":
        return f"sqlite:///{folder}/probe.db"
    name = f"probe_bench_send_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f'CREATE DATABASE "{name}"'], check=True)
    dbs.append(name)
    return f"postgresql://postgres@127.0.0.1/{name}"


def tick_once(engine: str, work: Path, label: str, n: int, port: int, concurrency: int, dbs: list[str],
              src: Path | None = None, prefix: list[str] | None = None,
              script: Path | None = None) -> tuple[float, float, str]:
    folder = work / f"{engine}-{label}"
    config = write_campaign(folder, n, database(engine, work / f"{engine}-{label}", dbs), port, concurrency)
    probe(["launch", str(config), "--now", NOW], src)
    wall, cpu, output = probe(["tick", str(config), "--now", NOW], src, prefix, script)
    sent = sent_count(output)
    if sent != n:
        raise SystemExit(f"probe tick ({label}) sent {sent} of {n}:\n{output[-3000:]}")
    return wall, cpu, output


def line(name: str, n: int, wall: float, cpu: float, base: float | None) -> str:
    rate = n / wall
    ratio = f"  {rate / base:5.2f}× the send_message loop" if base else ""
    return f"  {name:44s} {rate:7.0f} msg/s  {wall:6.1f} s  CPU {cpu / n * 1000:6.2f} ms/msg{ratio}"


def module_of(frame: str) -> str:
    """`name (path:line)` → the file, relative to its package root as py-spy prints it."""
    return frame.rsplit(" (", 1)[1].rsplit(":", 1)[0] if " (" in frame else frame


def category(thread: str, frames: list[str]) -> str:
    leaf = frames[-1]
    path = module_of(leaf)
    if "_connection_worker_thread" in thread:
        # aiosqlite runs each connection's sqlite3 calls in its own thread: core.py:63 is
        # `function()`, SQLite at work in C (lock waits included); anything else is its queue.
        return "sqlite3 in aiosqlite's threads (C)" if path == "aiosqlite/core.py" and leaf.endswith(":63)") \
            else "idle: aiosqlite threads waiting for work"
    if path == "selectors.py":
        return "idle: event loop waiting (network, database answers)"
    if path.startswith("probe/"):
        return path
    return path.split("/", 1)[0].removesuffix(".py")


def summarize_profile(raw: Path, top: int = 18) -> str:
    """py-spy raw (collapsed stacks) → the main thread's samples by module and by probe function,
    and the aiosqlite threads' samples (SQLite in C vs waiting for work)."""
    main: Counter[str] = Counter()
    workers: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    for text in raw.read_text().splitlines():
        stack, _, count_text = text.rpartition(" ")
        count = int(count_text)
        thread, *frames = stack.split(";")
        if not frames:
            continue
        name = category(thread, frames)
        if "_connection_worker_thread" in thread:
            workers[name] += count
            continue
        main[name] += count
        if not name.startswith("idle"):
            mine = [f for f in frames if module_of(f).startswith("probe/")]
            where = (f"{mine[-1].split(' (')[0]} ({module_of(mine[-1])})" if mine
                     else "(event-loop callbacks: aiosqlite results, socket I/O)")
            by_function[where] += count
    total, busy, wtotal = sum(main.values()), sum(by_function.values()), sum(workers.values())
    out = [f"main thread: {total} samples, {busy} busy ({100 * busy / max(total, 1):.0f} %); by module of the "
           "innermost frame (% of the main thread's samples):"]
    out += [f"  {100 * c / total:5.1f} %  {m}" for m, c in main.most_common(top)]
    out.append("main thread busy, by the innermost probe function on the stack (% of busy samples):")
    out += [f"  {100 * c / busy:5.1f} %  {m}" for m, c in by_function.most_common(top)]
    out.append(f"aiosqlite threads: {wtotal} samples:")
    out += [f"  {100 * c / wtotal:5.1f} %  {m}" for m, c in workers.most_common()]
    return "\n".join(out)


def summarize_statements(output: str, sends: int) -> str:
    line = next((x for x in output.splitlines() if x.startswith("PROFILE ")), None)
    if line is None:
        return "(no statement profile)"
    data = json.loads(line.removeprefix("PROFILE "))
    rows = sorted(data["statements"].items(), key=lambda kv: -kv[1][1])
    count = sum(int(v[0]) for _, v in rows)
    out = [f"pass {data['wall_s']:.1f} s; {count} statements ({count / sends:.1f} a send), "
           f"{data['transactions']['commit']} commits ({data['transactions']['commit'] / sends:.1f} a send); "
           "statement latency summed over the workers:"]
    out += [f"  {int(n):6d} × {total / n * 1000:6.2f} ms = {total:6.1f} s  {sql}" for sql, (n, total) in rows[:14]]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--big", action="store_true", help="10,000 messages")
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--before", type=Path, help="another probe source tree to time too")
    parser.add_argument("--profile", type=Path, help="record one SQLite pass with py-spy into this folder")
    parser.add_argument("--serve-sink", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sink:
        serve_sink(args.serve_sink)
        return 0
    n = 10_000 if args.big else args.messages
    dbs: list[str] = []
    sink = "smtp-sink" if SINK.exists() else "the script's own asyncio sink (no smtp-sink: apt-get install -y postfix)"
    print(f"{n} messages, concurrency {args.concurrency}, load average {os.getloadavg()[0]:.1f}, "
          f"{os.cpu_count()} CPUs, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, into {sink}", flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="probe-bench-send-") as tmp, smtp_sink() as port:
            work = Path(tmp)
            messages = prebuilt_messages(n)
            flat = [(to, m.as_bytes(policy=SMTP_POLICY)) for to, m in messages]
            wall, cpu = timed_loop(port, messages, args.concurrency)       # type: ignore[arg-type]
            base = n / wall
            print(line("bare aiosmtplib send_message (baseline)", n, wall, cpu, None), flush=True)
            wall, cpu = timed_loop(port, flat, args.concurrency)           # type: ignore[arg-type]
            flat_rate = n / wall
            print(line("bare aiosmtplib, pre-flattened bytes", n, wall, cpu, base), flush=True)
            for engine in filter(None, args.engines.split(",")):
                wall, cpu, _ = tick_once(engine, work, "now", n, port, args.concurrency, dbs)
                print(line(f"probe tick, {engine}", n, wall, cpu, base)
                      + f", {n / wall / flat_rate:4.2f}× bytes", flush=True)
                if args.before:
                    wall, cpu, _ = tick_once(engine, work, "before", n, port, args.concurrency, dbs, args.before)
                    print(line(f"probe tick, {engine}, --before tree", n, wall, cpu, base), flush=True)
            if args.profile:
                args.profile.mkdir(parents=True, exist_ok=True)
                raw = args.profile / "tick.txt"
                spy = [str(Path(sys.executable).parent / "py-spy"), "record", "--format", "raw", "--threads",
                       "--rate", "250", "--output", str(raw), "--"]
                _, _, output = tick_once("sqlite", work, "profile", n, port, args.concurrency, dbs, prefix=spy,
                                         script=ROOT / "benchmarks" / "profile_tick.py")
                summary = summarize_profile(raw) + "\n" + summarize_statements(output, n)
                (args.profile / "summary.txt").write_text(summary + "\n")
                print(summary)
    finally:
        for name in dbs:
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc",
                            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'], check=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
