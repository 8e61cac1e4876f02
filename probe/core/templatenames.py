"""Where a wave's HTML alternative sits: beside its text template, by name (docs/design.md
"Templates"). The config lists it among the plan's files; the template loader reads it."""

from __future__ import annotations

from pathlib import Path


def html_sibling(path: Path) -> Path:
    """`initial.txt.j2` → `initial.html.j2`; any other name → `name.html.j2`."""
    name = path.name.removesuffix(".txt.j2").removesuffix(".j2")
    return path.with_name(f"{name}.html.j2")
