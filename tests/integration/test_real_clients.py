"""Replies written by real mail clients run here — Debian's mutt and s-nail — in top, bottom and
inline styles, with their default attribution and quoting and with the "reply with the original
message" forms (a `-------- Original Message --------` line, the original's headers quoted), then
classified: the answer typed anywhere outside the quote is found, the quoted question never is.

Each client replies to one of our messages in an mbox; its editor is a small script that types the
answer where the style says; its sendmail is a script that writes the message to a file. mutt runs
on a pseudo-terminal (it needs one) and the test waits for it to exit, with a deadline.
"""

from __future__ import annotations

import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from probe.core.classify import classify_bytes
from probe.core.model import Answer, MessageKind
from tests.fixtures.services import require_service

OURS = "<probe.abcdefghijklmnopqrstuvwx.0@probe.example>"
QUESTION = "Souhaitez-vous vous abonner à notre magazine ? Répondez simplement OUI ou NON."
ORIGINAL = f"""From probe@probe.example Mon Sep 28 09:00:00 2026
From: =?utf-8?q?R=C3=A9daction?= <probe@probe.example>
To: Marie Dupont <marie@example.fr>
Subject: Votre abonnement
Date: Mon, 28 Sep 2026 09:00:00 +0200
Message-ID: {OURS}
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Bonjour Madame,

{QUESTION}

Bien cordialement,
La rédaction

"""

# The editor the clients call: types PROBE_ANSWER above the quote, below it, or right under the
# quoted question (inline), as a person would.
EDITOR = r'''#!{python}
import os, sys
path = sys.argv[-1]
text = open(path, encoding="utf-8").read()
answer, style = os.environ["PROBE_ANSWER"], os.environ["PROBE_STYLE"]
if style == "top":
    text = answer + "\n\n" + text
elif style == "bottom":
    text = text.rstrip("\n") + "\n\n" + answer + "\n"
else:
    lines = text.split("\n")
    at = next(i for i, line in enumerate(lines) if "OUI ou NON" in line)
    lines[at + 1:at + 1] = ["", answer, ""]
    text = "\n".join(lines)
open(path, "w", encoding="utf-8").write(text)
'''
SENDMAIL = "#!/bin/sh\ncat > \"$PROBE_OUT\"\n"


@dataclass(frozen=True)
class Reply:
    client: str
    style: str
    answer_text: str
    expected: Answer
    settings: tuple[str, ...] = ()  # client settings on top of the defaults


def _tools(tmp: Path) -> tuple[Path, Path]:
    editor, sendmail = tmp / "editor.py", tmp / "sendmail.sh"
    editor.write_text(EDITOR.replace("{python}", sys.executable), encoding="utf-8")
    sendmail.write_text(SENDMAIL, encoding="utf-8")
    editor.chmod(0o755)
    sendmail.chmod(0o755)
    return editor, sendmail


def _env(tmp: Path, reply: Reply, out: Path) -> dict[str, str]:
    return {**os.environ, "HOME": str(tmp), "TERM": "vt100", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "PROBE_ANSWER": reply.answer_text, "PROBE_STYLE": reply.style, "PROBE_OUT": str(out)}


def mutt_reply(tmp: Path, reply: Reply) -> bytes:
    editor, sendmail = _tools(tmp)
    box, out = tmp / "box.mbox", tmp / "out.eml"
    box.write_text(ORIGINAL, encoding="utf-8")
    (tmp / "Mail").mkdir(exist_ok=True)
    rc = tmp / "muttrc"
    rc.write_text("\n".join([
        f'set editor="{editor}"', f'set sendmail="{sendmail}"', "set include=yes", "set autoedit=yes",
        "set fast_reply=yes", "set edit_headers=no", "set askcc=no", "set askbcc=no", "set copy=no",
        "set postpone=no", "set abort_unmodified=no", "set quit=yes", "set mbox_type=mbox", "set move=no",
        'set from="Marie Dupont <marie@example.fr>"', "set use_from=yes", 'set charset="utf-8"',
        'set send_charset="utf-8"', f'set folder="{tmp / "Mail"}"', f'set spoolfile="{box}"', "set wait_key=no",
        *reply.settings, 'push "<reply><send-message><quit>"', ""]), encoding="utf-8")
    env = _env(tmp, reply, out)
    pid, fd = pty.fork()
    if pid == 0:  # the child: mutt on the pseudo-terminal
        os.execve(shutil.which("mutt") or "mutt", ["mutt", "-n", "-F", str(rc), "-f", str(box)], env)
    # A generous limit: mutt takes about a second, but a loaded CI machine can stall a pty for long.
    deadline = time.monotonic() + 120
    status = None
    screen = b""
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)  # drain the screen so mutt never blocks
            if ready:
                try:
                    screen = (screen + os.read(fd, 65536))[-2000:]
                except OSError:
                    pass
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail(f"mutt did not finish within 120 s; its screen ended with {screen!r}")
    finally:
        os.close(fd)
    assert status == 0 and out.exists(), "mutt did not send the reply"
    return out.read_bytes()


def snail_reply(tmp: Path, reply: Reply) -> bytes:
    editor, sendmail = _tools(tmp)
    box, out = tmp / "box.mbox", tmp / "out.eml"
    box.write_text(ORIGINAL, encoding="utf-8")
    options: list[str] = []
    for setting in ("quote", *reply.settings):
        options += ["-S", setting]
    env = {**_env(tmp, reply, out), "EDITOR": str(editor)}
    run = subprocess.run(["s-nail", "-n", "-#", "-~", "-S", f"mta={sendmail}", "-S", "from=marie@example.fr",
                          "-S", "expandaddr", "-S", "ttycharset=utf-8", *options, "-f", str(box)],
                         input="reply 1\n~e\n~.\n", text=True, env=env, capture_output=True, timeout=120, check=False)
    assert run.returncode == 0 and out.exists(), run.stderr
    return out.read_bytes()


ORIGINAL_MESSAGE = ('set attribution="-------- Original Message --------"', "set header=yes")
REPLIES = [
    Reply("mutt", "top", "Oui, avec plaisir.", Answer.YES),
    Reply("mutt", "bottom", "Non merci, pas pour nous.", Answer.NO),
    Reply("mutt", "inline", "OUI", Answer.YES),
    Reply("mutt", "bottom", "Oui, je m'abonne.", Answer.YES, ORIGINAL_MESSAGE),
    Reply("mutt", "top", "Non, merci.", Answer.NO, ORIGINAL_MESSAGE),
    Reply("mutt", "inline", "Non.", Answer.NO, ORIGINAL_MESSAGE),
    Reply("mutt", "bottom", "Yes, please.", Answer.YES, ('set attribution="-----Original Message-----"',)),
    Reply("mutt", "bottom", "Oui volontiers", Answer.YES, ('set attribution="Le %d, %n a écrit :"',)),
    Reply("mutt", "bottom", "Nein, danke.", Answer.NO, ('set attribution="Am %d schrieb %n:"',)),
    Reply("mutt", "inline", "Sí, me interesa.", Answer.YES, ('set attribution="El %d, %n escribió:"',)),
    Reply("s-nail", "top", "Oui merci", Answer.YES),
    Reply("s-nail", "bottom", "Non, pas intéressée.", Answer.NO),  # the default tab-indented quote
    Reply("s-nail", "inline", "Oui", Answer.YES),
    Reply("s-nail", "bottom", "Non merci", Answer.NO, ("quote=allheaders", "indentprefix=> ")),
    Reply("s-nail", "bottom", "Oui, d'accord.", Answer.YES,
          ("quote=allheaders", "indentprefix=> ", "quote-inject-head=-------- Original Message --------")),
    Reply("s-nail", "inline", "Sì, volentieri.", Answer.YES, ("indentprefix=> ",)),
]


@pytest.mark.parametrize("reply", REPLIES, ids=lambda r: f"{r.client}-{r.style}-{'+'.join(r.settings) or 'default'}")
def test_real_client_reply_is_read_right(tmp_path: Path, reply: Reply) -> None:
    require_service(shutil.which(reply.client) is not None, reply.client, f"apt-get install -y {reply.client}")
    raw = (mutt_reply if reply.client == "mutt" else snail_reply)(tmp_path, reply)
    assert b"OUI ou NON" in raw  # the client did quote our question
    _, result = classify_bytes(raw)
    assert result.kind == MessageKind.HUMAN_REPLY, result.reasons
    assert result.answer == reply.expected, (result.new_text, result.reasons)
    assert reply.answer_text.split()[0].strip(",.") in result.new_text
    assert "OUI ou NON" not in result.new_text and "Souhaitez" not in result.new_text
    assert result.extra.get("boundary") is None  # a boundary was found: nothing to flag
