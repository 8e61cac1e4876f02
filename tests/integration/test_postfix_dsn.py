"""A real MTA's own DSNs: a private Postfix instance (its own config, queue and data directories in a
temp dir, listening on a free loopback port) relays one of our messages to an in-process "remote
server" (aiosmtpd) that refuses it; Postfix writes its own bounce or delay notice to the envelope
sender, whose domain its transport map routes to a second aiosmtpd "inbox" that keeps it, and that
notice is classified. The system's Postfix instance (/etc/postfix) is never touched."""

from __future__ import annotations

import os
import shutil
import signal
import smtplib
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from probe.adapters.compose import build_message
from probe.adapters.templates import RenderedMessage
from probe.core.classify import classify_bytes
from probe.core.matching import match_candidates
from probe.core.model import MatchMethod, MessageKind
from probe.core.tokens import message_id
from tests.fixtures.services import require_service
from tests.fixtures.smtp_server import RecordingHandler, free_port

POSTFIX = "/usr/sbin/postfix"
DAEMONS = "/usr/lib/postfix/sbin"
TOKEN = "abcdefghijklmnopqrstuvwx"
OURS = message_id(TOKEN, 0, "probe.example")
SENDER = "probe@sender.test"
TARGET = "nobody@remote.test"

MAIN_CF = """\
compatibility_level = 3.6
config_directory = {root}/etc
queue_directory = {root}/queue
data_directory = {root}/data
meta_directory = /etc/postfix
daemon_directory = {daemons}
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.probe.test
mydomain = probe.test
myorigin = probe.test
mydestination =
relay_domains =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_peername_lookup = no
smtp_host_lookup = native
smtp_tls_security_level = none
smtpd_tls_security_level = none
transport_maps = texthash:{root}/etc/transport
maillog_file = {root}/postfix.log
maillog_file_prefixes = {root}
syslog_name = probe-test-postfix
biff = no
# Seconds, not the default minutes and days: the test waits for the notice.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 1s
bounce_queue_lifetime = 1h
maximal_queue_lifetime = 1h
delay_warning_time = {delay_warning}
"""
# Every service Postfix needs to relay and to notify, none chrooted; smtpd on our own port.
MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


def _postfix_available() -> bool:
    return Path(POSTFIX).exists() and Path(DAEMONS, "master").exists()


@dataclass
class Smtp:
    port: int
    handler: RecordingHandler


def _serve(name: str) -> tuple[Controller, Smtp]:
    handler = RecordingHandler()
    port = free_port()
    # Its own greeting name: Postfix refuses to relay to a server that greets with its own name.
    controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname=name)
    controller.start()
    return controller, Smtp(port, handler)


@pytest.fixture
def remote() -> Iterator[Smtp]:
    controller, server = _serve("mx.remote.test")
    yield server
    controller.stop()


@pytest.fixture
def inbox() -> Iterator[Smtp]:
    controller, server = _serve("mx.sender.test")
    yield server
    controller.stop()


@dataclass
class PrivatePostfix:
    root: Path
    port: int

    def log(self) -> str:
        path = self.root / "postfix.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def _master_pid(root: Path) -> int | None:
    try:
        return int((root / "queue" / "pid" / "master.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def postfix(request: pytest.FixtureRequest, remote: Smtp, inbox: Smtp) -> Iterator[PrivatePostfix]:
    require_service(_postfix_available(), "Postfix", "apt-get install -y postfix")
    require_service(os.geteuid() == 0, "root (a private Postfix instance starts as root)", "run the tests as root")
    delay_warning = getattr(request, "param", "0h")
    # Not tmp_path: Postfix's daemons run as the postfix user, and pytest's base dir is root-only.
    with tempfile.TemporaryDirectory(prefix="probe-postfix-") as name:
        root = Path(name)
        root.chmod(0o755)
        for sub in ("etc", "queue", "data"):
            (root / sub).mkdir()
        shutil.chown(root / "data", "postfix")
        port = free_port()
        etc = root / "etc"
        (etc / "main.cf").write_text(MAIN_CF.format(root=root, daemons=DAEMONS, delay_warning=delay_warning),
                                     encoding="utf-8")
        (etc / "master.cf").write_text(MASTER_CF.format(port=port), encoding="utf-8")
        (etc / "transport").write_text(f"remote.test smtp:[127.0.0.1]:{remote.port}\n"
                                       f"sender.test smtp:[127.0.0.1]:{inbox.port}\n", encoding="utf-8")
        (root / "postfix.log").touch()
        env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
        start = subprocess.run([POSTFIX, "-c", str(etc), "start"], capture_output=True, text=True, timeout=60,
                               check=False, env=env)
        server = PrivatePostfix(root, port)
        try:
            assert start.returncode == 0, (start.stdout, start.stderr, server.log())
            _wait(lambda: _accepts(port), "the private Postfix to accept connections", server)
            yield server
        finally:
            pid = _master_pid(root)
            subprocess.run([POSTFIX, "-c", str(etc), "stop"], capture_output=True, timeout=60, check=False,
                           env=env)
            # Be sure the master (and with it its children) is gone before its directories are removed.
            if pid is not None and not _wait_quietly(lambda: not _alive(pid), 15.0):
                os.kill(pid, signal.SIGKILL)


def _accepts(port: int) -> bool:
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as smtp:
            return smtp.noop()[0] == 250
    except OSError:
        return False


def _wait_quietly(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Poll `condition` until it holds or timeout_s passes (an Event's wait between polls)."""
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.05)
    return True


def _wait(condition: Callable[[], bool], what: str, server: PrivatePostfix, timeout_s: float = 30.0) -> None:
    assert _wait_quietly(condition, timeout_s), f"timed out waiting for {what}; Postfix's log:\n{server.log()}"


def _send(server: PrivatePostfix) -> None:
    """Our message as probe composes it (text and HTML alternative), to TARGET through Postfix."""
    rendered = RenderedMessage("Votre abonnement", (), "Souhaitez-vous vous abonner ? Répondez OUI ou NON.\n",
                               "<p>Souhaitez-vous vous abonner ? Répondez <b>OUI</b> ou <b>NON</b>.</p>\n")
    msg = build_message(rendered, from_=f"Rédaction <{SENDER}>", to=TARGET, message_id=OURS,
                        date=datetime(2026, 9, 28, 9, 0, tzinfo=timezone(timedelta(hours=2))))
    with smtplib.SMTP("127.0.0.1", server.port, timeout=30) as smtp:
        smtp.sendmail(SENDER, [TARGET], msg.as_bytes())


def _notice(server: PrivatePostfix, inbox: Smtp) -> bytes:
    """The first notice Postfix sent back to our envelope sender."""
    _wait(lambda: bool(inbox.handler.to(SENDER)), "Postfix's notice to the sender", server)
    got = inbox.handler.to(SENDER)[0]
    assert got.mail_from in ("", "<>"), got.mail_from  # a notice has the null sender
    return got.raw


def _matched_to_us(raw: bytes) -> None:
    msg, result = classify_bytes(raw)
    candidates = match_candidates(in_reply_to=msg.in_reply_to, references=msg.references, to_addrs=msg.to_addrs,
                                  from_addr=msg.from_addr, classification=result)
    assert any(c.method == MatchMethod.BOUNCE_ORIGINAL and c.value == TOKEN for c in candidates), candidates
    assert any(c.method == MatchMethod.BOUNCE_RECIPIENT and c.value == TARGET for c in candidates), candidates


@pytest.mark.parametrize(("rcpt", "data", "status"), [
    (["550 5.1.1 <nobody@remote.test>: Recipient address rejected: User unknown"], [], "5.1.1"),
    ([], ["552 5.3.4 Message size exceeds fixed maximum message size"], "5.3.4"),
    ([], ["554 5.7.1 Message rejected as spam by Content Filtering"], "5.7.1"),
], ids=["rcpt-550-5.1.1", "data-552-5.3.4", "data-554-5.7.1"])
def test_postfix_bounce_is_a_bounce_of_our_message(postfix: PrivatePostfix, remote: Smtp, inbox: Smtp,
                                                   rcpt: list[str], data: list[str], status: str) -> None:
    remote.handler.rcpt_script[TARGET] = list(rcpt)
    remote.handler.data_script.extend(data)
    _send(postfix)
    raw = _notice(postfix, inbox)
    assert b"message/delivery-status" in raw and b"Action: failed" in raw  # what Postfix really wrote
    _, result = classify_bytes(raw)
    assert result.kind == MessageKind.BOUNCE, result.reasons
    assert result.failed_recipients == (TARGET,)
    assert result.status == status
    assert result.original_message_ids == (OURS,)
    assert result.answer is None
    _matched_to_us(raw)


@pytest.mark.parametrize("postfix", ["1s"], indirect=True)
def test_postfix_delay_warning_is_a_delivery_delay(postfix: PrivatePostfix, remote: Smtp, inbox: Smtp) -> None:
    # Refused for now at every attempt: Postfix keeps it queued and, past delay_warning_time, says so.
    remote.handler.rcpt_script[TARGET] = ["450 4.2.1 <nobody@remote.test>: Mailbox temporarily unavailable"] * 1000
    _send(postfix)
    raw = _notice(postfix, inbox)
    assert b"message/delivery-status" in raw and b"Action: delayed" in raw
    _, result = classify_bytes(raw)
    assert result.kind == MessageKind.DELIVERY_DELAY, result.reasons
    assert result.failed_recipients == (TARGET,)
    assert result.status == "4.2.1"
    assert result.original_message_ids == (OURS,)
    _matched_to_us(raw)
