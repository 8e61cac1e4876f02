"""A real SMTP server in its own process, for tests that kill or fault the sender.

    python -m tests.reliability.smtp_log_server PORT LOGFILE [--faults SEED] [--timeout-s S]

Every message it accepts is appended to LOGFILE as `accepted<TAB>Message-ID<TAB>recipient`, one line,
flushed before the 250 goes out: that file is the ground truth of what was delivered, whatever
happens to the sender. With --faults, it misbehaves at random (seeded) on a message's first
attempts, and logs each fault as `fault<TAB>kind<TAB>Message-ID-or-recipient`:
421/451 at RCPT or DATA, the connection dropped at MAIL or mid-DATA (before the reply: not
delivered), the reply lost after delivery (delivered, logged, then dropped), a stall longer than
the client's timeout (during DATA: delivered late), and permanent 550 (RCPT) / 554 (DATA) for
addresses starting with `dead` / `spam`."""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import signal
import threading
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

TRANSIENT_ATTEMPTS = 3   # faults only on a message's first attempts: every message gets through at last


class LogHandler:
    def __init__(self, log: Path, faults: random.Random | None, timeout_s: float) -> None:
        self.log = log.open("a", encoding="utf-8", buffering=1)
        self.faults = faults
        self.timeout_s = timeout_s
        self.attempts: dict[str, int] = {}
        self.lock = threading.Lock()

    def write(self, *fields: str) -> None:
        with self.lock:
            self.log.write("\t".join(fields) + "\n")
            self.log.flush()

    def roll(self, key: str, rate: float) -> bool:
        if self.faults is None or self.attempts.get(key, 0) > TRANSIENT_ATTEMPTS:
            return False
        return self.faults.random() < rate

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if self.roll("mail", 0.03):
            self.write("fault", "drop-at-mail", address)
            server.transport.close()
            return "421 4.3.0 gone"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        local = address.split("@")[0].lower()
        if local.startswith("dead"):
            self.write("fault", "550-rcpt", address)
            return "550 5.1.1 no such user"
        key = address.lower()
        self.attempts[key] = self.attempts.get(key, 0) + 1
        if self.roll(key, 0.12):
            code = self.faults.choice(["421 4.7.0 try again later", "451 4.3.2 greylisted"])  # type: ignore[union-attr]
            self.write("fault", code[:3] + "-rcpt", address)
            return code
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        match = re.search(rb"(?im)^Message-ID:\s*(<[^>]+>)", content)
        mid = match.group(1).decode() if match else "?"
        rcpt = ",".join(envelope.rcpt_tos)
        local = rcpt.split("@")[0].lower()
        if local.startswith("spam"):
            self.write("fault", "554-data", mid)
            return "554 5.7.1 message refused"
        key = rcpt.lower()
        if self.roll(key, 0.25):
            kind = self.faults.choice(["451-data", "drop-mid-data", "reply-lost", "stall"])  # type: ignore[union-attr]
            self.write("fault", kind, mid)
            if kind == "451-data":
                return "451 4.3.0 local error in processing"
            if kind == "drop-mid-data":
                server.transport.close()
                return "421 4.3.0 gone"
            if kind == "reply-lost":
                self.write("accepted", mid, rcpt)
                server.transport.close()
                return "250 2.0.0 Ok but nobody hears it"
            await asyncio.sleep(self.timeout_s + 1.0)   # the client gives up during DATA; delivered late
            self.write("accepted", mid, rcpt)
            return "250 2.0.0 Ok: late"
        self.write("accepted", mid, rcpt)
        return "250 2.0.0 Ok: queued"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("log", type=Path)
    parser.add_argument("--faults", type=int, default=None, metavar="SEED")
    parser.add_argument("--timeout-s", type=float, default=2.0)
    args = parser.parse_args()
    handler = LogHandler(args.log, random.Random(args.faults) if args.faults is not None else None, args.timeout_s)
    controller = Controller(handler, hostname="127.0.0.1", port=args.port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
