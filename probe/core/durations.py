"""Durations and rates as a campaign file writes them: `90s`, `15m`, `12h`, `6d`, `1w`, `1d12h`; `60/min`.

pydantic's own timedelta parsing accepts `3d` but not `12h` (LIBRARIES.md §7), so the config parses
these itself, with error messages that say what was expected."""

from __future__ import annotations

import re
from datetime import timedelta

_UNIT_SECONDS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhms])")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?\s*[wdhms]\s*)+")

_RATE_UNITS = {
    "s": 1, "sec": 1, "second": 1,
    "m": 60, "min": 60, "minute": 60,
    "h": 3_600, "hour": 3_600,
    "d": 86_400, "day": 86_400,
}
_RATE = re.compile(r"(\d+(?:\.\d+)?)\s*/\s*([a-z]+)")

DURATION_HELP = "write a duration like 90s, 15m, 12h, 6d, 1w or 1d12h"
RATE_HELP = "write a rate like 60/min, 10/s or 1000/h"


def parse_duration(text: str) -> timedelta:
    """`"1d12h"` → timedelta(days=1, hours=12). ValueError, naming the accepted forms, otherwise."""
    if not isinstance(text, str):
        raise ValueError(f"expected a duration text, got {type(text).__name__} ({DURATION_HELP})")
    cleaned = text.strip().lower()
    if not cleaned or not _WHOLE.fullmatch(cleaned):
        raise ValueError(f"{text!r} is not a duration ({DURATION_HELP})")
    seen: set[str] = set()
    seconds = 0.0
    for number, unit in _PART.findall(cleaned):
        if unit in seen:
            raise ValueError(f"{text!r} repeats the unit {unit!r} ({DURATION_HELP})")
        seen.add(unit)
        seconds += float(number) * _UNIT_SECONDS[unit]
    return timedelta(seconds=seconds)


def format_duration(td: timedelta) -> str:
    """timedelta(days=1, hours=12) → `"1d12h"`; the inverse of parse_duration for whole seconds."""
    total_us = td // timedelta(microseconds=1)
    sign = "-" if total_us < 0 else ""
    total_us = abs(total_us)
    seconds, micros = divmod(total_us, 1_000_000)
    parts: list[str] = []
    for unit in ("d", "h", "m"):
        count, seconds = divmod(seconds, _UNIT_SECONDS[unit])
        if count:
            parts.append(f"{count}{unit}")
    if micros:
        parts.append(f"{seconds}.{micros:06d}".rstrip("0") + "s")
    elif seconds or not parts:
        parts.append(f"{seconds}s")
    return sign + "".join(parts)


def parse_rate(text: str) -> float:
    """`"60/min"` → 1.0 (messages per second). ValueError otherwise, and for a zero rate."""
    if not isinstance(text, str):
        raise ValueError(f"expected a rate text, got {type(text).__name__} ({RATE_HELP})")
    m = _RATE.fullmatch(text.strip().lower())
    unit = m.group(2) if m else ""
    if unit not in _RATE_UNITS and len(unit) > 3 and unit.endswith("s"):
        unit = unit[:-1]  # "minutes", "hours"
    if not m or unit not in _RATE_UNITS:
        raise ValueError(f"{text!r} is not a rate ({RATE_HELP})")
    count = float(m.group(1))
    if count <= 0:
        raise ValueError(f"{text!r} is not a positive rate ({RATE_HELP}; leave it out for no limit)")
    return count / _RATE_UNITS[unit]
