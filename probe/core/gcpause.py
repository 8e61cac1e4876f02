"""The cyclic garbage collector paused during a bulk step.

Reading 100,000 targets makes several hundred thousand objects that live on (rows, dicts, strings)
and none that form cycles; each of them counts towards the collector's next full pass, and each
full pass walks every object alive (all of SQLAlchemy's too). With the collector on, that was a
third of reading a big targets file and about a fifth of a launch's CPU. Reference counting still
frees everything that is not a cycle; the collector runs again once the step is over."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused_gc() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
