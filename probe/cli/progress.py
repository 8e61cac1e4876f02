"""A progress line on stderr for long work (launch of a big targets file, import of a large mbox,
export), shown only when stderr is a terminal: cron mail, logs and pipes never see it, and stdout
never does. No dependency: one line rewritten with a carriage return, at most a few times a second."""

from __future__ import annotations

import sys
import time
from typing import TextIO

#: Redraw at most this often (seconds): a terminal is slow compared with parsing a message.
MIN_REDRAW_S = 0.2


class Progress:
    def __init__(self, what: str, total: int | None = None, *, unit: str = "", stream: TextIO | None = None,
                 force: bool = False) -> None:
        self.what = what
        self.total = total
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = force or _is_terminal(self.stream)
        self.count = 0
        self._started = time.monotonic()
        self._drawn = 0.0
        self._width = 0

    def advance(self, n: int = 1) -> None:
        self.count += n
        if self.enabled and time.monotonic() - self._drawn >= MIN_REDRAW_S:
            self._draw()

    def note(self, text: str) -> None:
        """A phase of work that cannot be counted (e.g. "writing the plan")."""
        if self.enabled:
            self._write(f"{self.what}: {text}")

    def finish(self, text: str) -> None:
        """End a phase line (note) with its outcome."""
        if self.enabled:
            elapsed = time.monotonic() - self._started
            self._write(f"{self.what}: {text} ({elapsed:.1f} s)")
            self.stream.write("\n")
            self.stream.flush()

    def done(self) -> None:
        if not self.enabled:
            return
        elapsed = time.monotonic() - self._started
        self._write(f"{self.what}: {self.count:,}{self._unit()} in {elapsed:.1f} s")
        self.stream.write("\n")
        self.stream.flush()

    def _unit(self) -> str:
        return f" {self.unit}" if self.unit else ""

    def _draw(self) -> None:
        self._drawn = time.monotonic()
        if self.total:
            share = min(self.count / self.total, 1.0)
            text = f"{self.what}: {self.count:,}/{self.total:,}{self._unit()} ({share:.0%})"
        else:
            text = f"{self.what}: {self.count:,}{self._unit()}"
        self._write(text)

    def _write(self, text: str) -> None:
        pad = max(self._width - len(text), 0)
        self._width = len(text)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
