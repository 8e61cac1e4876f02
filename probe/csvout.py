"""Every CSV probe writes (report, export, replies) goes through here, so all of them agree on:

- spreadsheet safety (DESIGN.md): a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage
  return is prefixed with `'`, so a target's company `=HYPERLINK(…)` or a reply's subject is shown
  as text by LibreOffice and Excel instead of being run as a formula;
- the separator: the one of the targets file (`;` when it came from French Excel, where a `,` file
  lands whole in column A), unless the user says `--sep`;
- times in the campaign's time zone with their offset, to the second; durations readable by a
  person (`1 d 4 h`) beside the seconds a script reads.

A leaf module: the standard library only, usable from every layer."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import Any, TextIO

#: First characters that make a spreadsheet treat a cell as a formula (or shift it into one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: What `--sep` accepts, by the names a user may type.
SEPARATORS = {",": ",", ";": ";", "comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "\t": "\t"}


def safe_cell(value: Any) -> str:
    """The text of one cell, defused: `=1+1` → `'=1+1`; None → empty."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class SafeWriter:
    """csv.writer whose every cell goes through safe_cell."""

    def __init__(self, out: TextIO, sep: str = ",") -> None:
        self._writer = csv.writer(out, delimiter=sep, lineterminator="\r\n")

    def writerow(self, row: Iterable[Any]) -> None:
        self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def parse_sep(text: str | None) -> str | None:
    """`--sep` → the separator character; None when not given. ValueError names what is accepted."""
    if text is None:
        return None
    sep = SEPARATORS.get(text.strip().lower() if text.strip() else text)
    if sep is None:
        raise ValueError(f"--sep {text!r} is not a separator: use ',' or ';' (or 'tab')")
    return sep


def local_time(value: datetime | None, zone: tzinfo) -> str:
    """`2015-09-28T09:00:00+02:00`: the campaign's wall-clock time, its offset, no microseconds."""
    if value is None:
        return ""
    return value.astimezone(zone).replace(microsecond=0).isoformat()


def readable_duration(seconds: float | None) -> str:
    """`1 d 4 h`, `3 h 12 min`, `25 min`, `40 s`: the two largest units, for a person to read."""
    if seconds is None:
        return ""
    total = round(abs(seconds))
    sign = "-" if seconds < 0 else ""
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    first = next((i for i, (n, _) in enumerate(parts) if n), len(parts) - 1)
    shown = [f"{n} {unit}" for n, unit in parts[first:first + 2] if n]
    return sign + (" ".join(shown) or "0 s")
