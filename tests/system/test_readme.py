"""The README tells the truth: every command it shows parses, every command exists in it, and the
five steps of "your own campaign" work as written (with the config pointed at the test server)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from probe.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PROBE = [sys.executable, "-m", "probe"]


def shell_lines() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, flags=re.S)
    lines = []
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                lines.append(line)
    return lines


def probe_invocations() -> list[list[str]]:
    found = []
    for line in shell_lines():
        for part in re.split(r"&&|;|\|", line):
            words = shlex.split(part)
            if words and words[0].endswith("probe"):
                found.append(words[1:])
            elif words[:2] == ["docker", "run"] and "probe" in words:   # the image, then the command
                found.append(words[len(words) - words[::-1].index("probe"):])
    return found


def test_the_readme_starts_with_the_two_commands():
    first_block = re.search(r"```sh\n(.*?)```", README, flags=re.S).group(1).strip().splitlines()
    assert first_block[0].endswith("probe demo")
    assert first_block[1] == "./scripts/test"
    assert (ROOT / "scripts" / "test").stat().st_mode & 0o111


@pytest.mark.parametrize("argv", probe_invocations(), ids=lambda a: " ".join(a)[:60])
def test_every_command_shown_parses(argv):
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on anything it does not know
        pytest.fail(f"`probe {' '.join(argv)}` does not parse (exit {exc.code})")
    assert callable(args.func)


def test_every_command_is_documented():
    parser = build_parser()
    commands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices
    missing = [name for name in commands if f"probe {name}" not in README]
    assert not missing, f"commands not shown in README.md: {missing}"
    for name, sub in commands.items():
        assert sub.description or sub.format_help(), name


def test_your_own_campaign_in_five_steps(tmp_path, smtp_server):
    def probe(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([*PROBE, *args], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)

    assert probe("init", "my-campaign").returncode == 0                       # 1
    config = tmp_path / "my-campaign" / "campaign.toml"
    text = config.read_text(encoding="utf-8")                                 # 2: edit
    text = re.sub(r'(?m)^host = "smtp\.example\.org"$', 'host = "127.0.0.1"', text)
    text = re.sub(r'(?m)^port = 587\b.*$', f"port = {smtp_server.port}", text)
    text = re.sub(r'(?m)^security = "starttls".*$', 'security = "none"', text)
    text = re.sub(r"(?ms)^\[imap\].*?(?=^\[)", "", text)
    text = re.sub(r'(?m)^username = .*\n^password_env = "PROBE_SMTP_PASSWORD".*\n', "", text)
    config.write_text(text, encoding="utf-8")
    r = probe("validate", str(config))                                        # 3
    assert r.returncode == 0, r.stdout + r.stderr
    r = probe("launch", str(config))                                          # 4
    assert r.returncode == 0, r.stderr
    assert "3 targets added" in r.stdout
    r = probe("tick", str(config))                                            # 5 (the cron line)
    assert r.returncode == 0, r.stderr
    assert len(smtp_server.handler.wait_for(3)) == 3
