"""A real Sieve server's own mail: Pigeonhole (Dovecot's Sieve) run by dovecot-lda with a private
config in a temp dir, delivering one of our messages to a user whose script rejects it or answers
it with a vacation reply; what Dovecot sends back (through a sendmail script that keeps it) is
classified. A Sieve `reject` comes back as an MDN `deleted` (RFC 5429): a refusal, so a bounce
naming our message and the recipient, never a read receipt."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe.core.classify import classify_bytes
from probe.core.model import MessageKind
from tests.fixtures.services import require_service

LDA = "/usr/lib/dovecot/dovecot-lda"
OURS = "<probe.abcdefghijklmnopqrstuvwx.0@probe.example>"
MESSAGE = f"""From: Redaction <probe@probe.example>
To: marie@example.fr
Subject: Votre abonnement
Date: Mon, 28 Sep 2026 09:00:00 +0200
Message-ID: {OURS}
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8

Souhaitez-vous vous abonner ? Répondez OUI ou NON.
"""
CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols =
ssl = no
mail_location = maildir:{root}/mail
sendmail_path = {root}/sendmail.sh
postmaster_address = postmaster@mx.example.fr
hostname = mx.example.fr
protocol lda {{
  mail_plugins = sieve
}}
plugin {{
  sieve = file:{root}/sieve;active={root}/active.sieve
}}
"""


def _sieve_available() -> bool:
    return Path(LDA).exists() and Path("/usr/lib/dovecot/modules/lib90_sieve_plugin.so").exists()


@pytest.fixture
def server_dir() -> Iterator[Path]:
    """A temp dir nobody can traverse (pytest's tmp_path sits under a root-only 0700 dir)."""
    with tempfile.TemporaryDirectory(prefix="probe-sieve-") as name:
        yield Path(name)


def deliver(tmp: Path, script: str) -> bytes:
    """Deliver MESSAGE to marie@example.fr under `script`; the message Dovecot sent back."""
    require_service(_sieve_available(), "Dovecot's LDA with Pigeonhole Sieve",
                    "apt-get install -y dovecot-sieve dovecot-lmtpd")
    root = tmp / "sieve-server"
    for sub in ("mail", "sieve", "home", "run", "state"):
        (root / sub).mkdir(parents=True)
    (root / "dovecot.conf").write_text(CONFIG.format(root=root), encoding="utf-8")
    (root / "sendmail.sh").write_text(f'#!/bin/sh\ncat > "{root}/sent.eml"\n', encoding="utf-8")
    (root / "active.sieve").write_text(script, encoding="utf-8")
    for path in (tmp, *root.rglob("*"), root):
        path.chmod(0o777 if path.is_dir() else 0o755)  # dovecot-lda runs as nobody: it must write here
    command = [LDA, "-c", str(root / "dovecot.conf"), "-f", "probe@probe.example", "-a", "marie@example.fr"]
    if os.geteuid() == 0:  # mail must not belong to root
        command = [shutil.which("setpriv") or "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                   *command]
    run = subprocess.run(command, input=MESSAGE.encode(), capture_output=True, timeout=30, check=False,
                         env={"HOME": str(root / "home"), "USER": "nobody", "PATH": os.environ.get("PATH", "")})
    log = (root / "dovecot.log").read_text(encoding="utf-8", errors="replace") if (root / "dovecot.log").exists() \
        else ""
    assert run.returncode == 0, (run.stderr, log)
    assert (root / "sent.eml").exists(), log
    return (root / "sent.eml").read_bytes()


def test_sieve_reject_is_a_refusal_not_a_read_receipt(server_dir: Path) -> None:
    raw = deliver(server_dir, 'require "reject";\nreject "Nous ne souhaitons pas recevoir de sollicitations.";\n')
    assert b"disposition-notification" in raw and b"deleted" in raw  # what Pigeonhole really wrote
    _, result = classify_bytes(raw)
    assert result.kind == MessageKind.BOUNCE, result.reasons
    assert result.reasons[0] == "mdn-deleted"
    assert result.original_message_ids == (OURS,)  # matched back to the target through our id
    assert result.failed_recipients == ("marie@example.fr",)
    assert result.answer is None


@pytest.mark.parametrize("script", [
    'require "vacation";\nvacation :days 1 :subject "Absente jusqu\'au 12 octobre" '
    '"Je suis absente du bureau jusqu\'au 12 octobre. Pour toute urgence, contactez Paul.";\n',
    'require "vacation";\nvacation :days 1 "Ik ben afwezig tot 12 oktober. Voor dringende zaken: Paul.";\n',
])
def test_sieve_vacation_is_an_auto_reply(server_dir: Path, script: str) -> None:
    raw = deliver(server_dir, script)
    _, result = classify_bytes(raw)
    assert result.kind == MessageKind.AUTO_REPLY, result.reasons
    assert result.answer is None
