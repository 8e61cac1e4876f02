"""The plan hash: one sha256 over what a launch planned from (the config file, every template
file, the targets file and, in an experiment, the assignment). `tick` and `run` compare it with
the stored one and refuse a plan changed since launch. The bytes are read by service/launch.py."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import PurePath


def plan_hash(config_bytes: bytes, targets_bytes: bytes, template_bytes: Mapping[str, bytes]) -> str:
    """sha256 of the config file, every template file (labelled by file name) and the targets file."""
    digest = hashlib.sha256()

    def part(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    part("config", config_bytes)
    for name in sorted(template_bytes, key=str):
        part(f"template:{PurePath(name).name}", template_bytes[name])
    part("targets", targets_bytes)
    return digest.hexdigest()


def with_assignment(digest: str, assignment: Sequence[tuple[str, str, str]] | None) -> str:
    """An experiment's plan hash also covers its assignment (email, stratum, variant lines, sorted),
    so a changed draw is a changed plan."""
    h = hashlib.sha256(digest.encode())
    for line in sorted(assignment or ()):
        h.update(("\0".join(line) + "\n").encode())
    return h.hexdigest()
