"""The layers of DESIGN.md hold: the core does no I/O and reads no clock; dependencies point inward."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "probe"

FORBIDDEN = {
    "core": {"asyncio", "sqlalchemy", "pydantic", "jinja2", "aiosmtplib", "aioimaplib", "apscheduler", "socket",
             "subprocess", "probe.store", "probe.adapters", "probe.service", "probe.report", "probe.cli",
             "probe.config", "probe.demo"},
    "store": {"probe.adapters", "probe.service", "probe.report", "probe.cli", "aiosmtplib", "aioimaplib"},
    "adapters": {"probe.store", "probe.service", "probe.report", "probe.cli"},
    "service": {"probe.report", "probe.cli", "probe.demo"},
    "report": {"probe.adapters", "probe.service", "probe.cli"},
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_point_inward(layer):
    bad = []
    for path in sorted((ROOT / layer).rglob("*.py")):
        for name in imports_of(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[layer]):
                bad.append(f"{path.relative_to(ROOT.parent)} imports {name}")
    assert not bad, "\n".join(bad)


def test_core_reads_no_clock():
    bad = []
    for path in sorted((ROOT / "core").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for needle in ("datetime.now(", "datetime.utcnow(", "time.time(", "date.today(", "time.monotonic("):
            if needle in text:
                bad.append(f"{path.name}: {needle}")
    assert not bad, bad


def test_the_kinds_offered_by_replies_are_the_vocabulary():
    from probe.cli.report_cmd import KINDS
    from probe.core.model import MessageKind

    assert [k.value for k in MessageKind] == KINDS


def test_help_does_not_import_the_database_layer():
    import subprocess
    import sys

    code = "import sys, probe.cli; probe.cli.build_parser(); print('sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
