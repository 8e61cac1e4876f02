"""What the passes need from their process, in a leaf module: the wall clock and the lease owner.

The passes (dispatch, poll, tick, presence) import these from here rather than from the
composition root (`wiring.py`), which imports the passes: that would be an import cycle
(docs/design.md, "Layers")."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime


def wall_clock() -> datetime:
    return datetime.now(UTC)


def process_owner() -> str:
    """Names this process in leases, so a later pass on this host can tell it died."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
