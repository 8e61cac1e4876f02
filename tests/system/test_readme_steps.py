"""README "Your own campaign", run as written: every step of its command block in order (init with a
provider, the edit, the password variables, check, validate --show, send-test, launch, run, report
--lang fr) against aiosmtpd with AUTH and Dovecot; then its cron line through `sh`, with $HOME
pointing at a folder laid out as the README says; and its systemd unit's command line."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from probe.cli import build_parser
from tests.system.test_check import SMTP_PASSWORD, SMTP_USER, auth_smtp  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PROBE = [sys.executable, "-m", "probe"]


def steps() -> list[str]:
    block = re.search(r"Then, step by step.*?```sh\n(.*?)```", README, flags=re.S)
    assert block, "the step-by-step block of 'Your own campaign' is missing"
    return [line.split("  #", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def point_at_test_servers(config: Path, smtp_port: int, imap_port: int, imap_user: str) -> None:
    """Step 2, `$EDITOR`: what a user changes — the accounts (here: loopback test servers)."""
    text = config.read_text(encoding="utf-8")

    def section(name: str, keys: dict[str, str]) -> None:
        nonlocal text
        m = re.search(rf"(?ms)^\[{name}\][^\n]*\n(.*?)(?=^\[|\Z)", text)
        assert m, name
        body = m.group(1)
        for key, value in keys.items():
            body, n = re.subn(rf"(?m)^{key} = [^#\n]*", f"{key} = {value}   ", body, count=1)
            assert n == 1, (name, key)
        text = text[:m.start(1)] + body + text[m.end(1):]

    section("smtp", {"host": '"127.0.0.1"', "port": str(smtp_port), "security": '"none"',
                     "username": f'"{SMTP_USER}"'})
    section("imap", {"host": '"127.0.0.1"', "port": str(imap_port), "security": '"none"',
                     "username": f'"{imap_user}"'})
    config.write_text(text, encoding="utf-8")


def test_your_own_campaign_step_by_step(tmp_path: Path, auth_smtp, dovecot_user) -> None:  # noqa: F811
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROBE_")}
    received = auth_smtp.handler
    seen = []
    for line in steps():
        words = shlex.split(line)
        seen.append(words[1] if words[0] == "probe" else words[0])
        if words[0] == "$EDITOR":
            point_at_test_servers(tmp_path / "my-campaign" / "campaign.toml", auth_smtp.port, dovecot_user.port,
                                  dovecot_user.user)
            continue
        if words[0] == "export":
            names = [w.split("=", 1)[0] for w in words[1:]]
            assert names == ["PROBE_SMTP_PASSWORD", "PROBE_IMAP_PASSWORD"]
            env.update(PROBE_SMTP_PASSWORD=SMTP_PASSWORD, PROBE_IMAP_PASSWORD=dovecot_user.password)
            continue
        assert words[0] == "probe", line
        if words[1] == "run":
            daemon = subprocess.Popen([*PROBE, *words[1:]], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                received.wait_for(len(received.received) + 3, timeout_s=60)   # the three initial emails
                daemon.send_signal(signal.SIGTERM)
                _, err = daemon.communicate(timeout=60)
            finally:
                if daemon.poll() is None:
                    daemon.kill()
            assert daemon.returncode == 0, err
            assert "probe run: campaign 'drc-2015' started" in err
            continue
        r = subprocess.run([*PROBE, *words[1:]], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=120, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, f"{line}\n{r.stdout}\n{r.stderr}"
        if words[1] == "check":
            assert r.stdout.count("ok    ") == 2
        elif words[1] == "validate":
            assert "Subject: Abonnement au magazine En-Contact" in r.stdout
        elif words[1] == "send-test":
            assert [m.rcpt_tos for m in received.received] == [["me@example.org"]] * 3
        elif words[1] == "report":
            assert "ont répondu : 0 des 3 cibles joignables" in r.stdout
    assert seen == ["init", "$EDITOR", "export", "check", "validate", "send-test", "launch", "run", "report"]
    targets = {m.rcpt_tos[0] for m in received.received[3:]}
    assert targets == {"nathalie.durand@banque-lombard.example", "philippe.martin@telecom-azur.example",
                       "sophie.bernard@maison-berthier.example"}


def test_the_cron_line_runs_as_written(tmp_path: Path, auth_smtp) -> None:  # noqa: F811
    line = next(line for line in README.splitlines() if line.startswith("*/5 * * * *"))
    command = line.split(None, 5)[5]
    home = tmp_path / "home"
    (home / ".config" / "probe").mkdir(parents=True)
    (home / ".config" / "probe" / "secrets.env").write_text(
        f"PROBE_SMTP_PASSWORD={SMTP_PASSWORD}\nPROBE_IMAP_PASSWORD=unused\n")
    (home / "probe" / ".venv" / "bin").mkdir(parents=True)
    (home / "probe" / ".venv" / "bin" / "probe").symlink_to(Path(sys.executable).parent / "probe")
    assert subprocess.run([*PROBE, "init", str(home / "my-campaign")], capture_output=True).returncode == 0
    config = home / "my-campaign" / "campaign.toml"
    text = config.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^host = "smtp\.example\.org"', 'host = "127.0.0.1"', text)
    text = re.sub(r"(?m)^port = 587\b", f"port = {auth_smtp.port}", text)
    text = re.sub(r'(?m)^security = "starttls"', 'security = "none"', text)
    text = re.sub(r"(?ms)^\[imap\].*?(?=^\[)", "", text)
    text = re.sub(r'(?m)^username = "[^"]*"', f'username = "{SMTP_USER}"', text, count=1)
    config.write_text(text, encoding="utf-8")
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}   # what cron gives: no venv, no passwords
    assert subprocess.run([*PROBE, "launch", str(config)], capture_output=True, env={**env, **{
        "PATH": os.environ["PATH"]}}).returncode == 0
    r = subprocess.run(["sh", "-c", command], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr + (home / "my-campaign" / "probe.log").read_text()
    assert "pass at" in (home / "my-campaign" / "probe.log").read_text()
    assert len(auth_smtp.handler.wait_for(3)) == 3


def test_the_systemd_unit_runs_the_daemon_with_the_same_secrets_file() -> None:
    unit = re.search(r"```ini\n(.*?)```", README, flags=re.S)
    assert unit
    keys = dict(line.split("=", 1) for line in unit.group(1).splitlines() if "=" in line and line[:1] != "#")
    exec_start = shlex.split(keys["ExecStart"])
    assert exec_start[0].endswith("/.venv/bin/probe") and exec_start[1] == "run"
    args = build_parser().parse_args(exec_start[1:])
    assert callable(args.func)
    assert keys["EnvironmentFile"].endswith("/.config/probe/secrets.env")
    assert keys["Restart"] == "on-failure", "a closed campaign (exit 0) is not restarted"
