"""The files for running several workers stay true to the CLI: every probe command docker-compose.yml
and the systemd unit run parses, the compose workers build the repo's Dockerfile and wait for the
schema, and systemd itself accepts the template unit."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from probe.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
UNIT = ROOT / "contrib" / "systemd" / "probe@.service"


def parses(argv: list[str]) -> None:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"`probe {' '.join(argv)}` does not parse (exit {exc.code})")
    assert callable(args.func)


def compose_commands() -> list[list[str]]:
    found = [json.loads(m) for m in re.findall(r"^\s+command: (\[.*\])$", COMPOSE, flags=re.M)]
    for line in re.findall(r"^#\s+docker compose run --rm worker (.*)$", COMPOSE, flags=re.M):
        found.append(shlex.split(line))
    return found


def test_compose_runs_real_commands_in_order() -> None:
    commands = compose_commands()
    assert ["db", "upgrade", "/data/campaign.toml"] in commands and ["run", "/data/campaign.toml"] in commands
    for argv in commands:
        parses(argv)
    assert "build: ." in COMPOSE and "image: postgres:" in COMPOSE and "pg_isready" in COMPOSE
    worker = COMPOSE.split("\n  worker:\n", 1)[1]
    assert "service_completed_successfully" in worker and "service_healthy" in worker
    assert "PROBE_SMTP_PASSWORD" in worker and "PGPASSWORD" in worker
    assert "stop_grace_period" in worker     # SIGTERM lets in-flight sends finish


def test_systemd_unit_runs_probe_run_and_systemd_accepts_it(tmp_path: Path) -> None:
    text = UNIT.read_text(encoding="utf-8")
    exec_start = re.search(r"^ExecStart=(.*)$", text, flags=re.M)
    assert exec_start is not None
    words = shlex.split(exec_start.group(1))
    assert words[0].endswith("/probe")
    parses(words[1:])
    assert words[1] == "run" and "%i" in words[2]
    assert re.search(r"^RestartPreventExitStatus=2$", text, flags=re.M)     # bad config: do not loop
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    probe_bin = Path(sys.executable).parent / "probe"
    (tmp_path / "probe@.service").write_text(text.replace(words[0], str(probe_bin)), encoding="utf-8")
    (tmp_path / "probe@demo.service").symlink_to("probe@.service")
    done = subprocess.run([analyze, "verify", str(tmp_path / "probe@demo.service")],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "Unknown" not in done.stderr and "ignoring" not in done.stderr, done.stderr
