from __future__ import annotations

from datetime import timedelta

import pytest

from probe.core.durations import format_duration, parse_duration, parse_rate


@pytest.mark.parametrize(("text", "expected"), [
    ("90s", timedelta(seconds=90)),
    ("15m", timedelta(minutes=15)),
    ("12h", timedelta(hours=12)),
    ("6d", timedelta(days=6)),
    ("1w", timedelta(weeks=1)),
    ("1d12h", timedelta(days=1, hours=12)),
    ("1D 12H", timedelta(days=1, hours=12)),
    (" 2h30m ", timedelta(hours=2, minutes=30)),
    ("1.5h", timedelta(minutes=90)),
    ("0s", timedelta(0)),
    ("1w2d3h4m5s", timedelta(weeks=1, days=2, hours=3, minutes=4, seconds=5)),
])
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "6", "d", "6 days", "-1d", "1y", "P3D", "1d1d", "12:00:00", "6d!",
                                  "h6"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="90s, 15m, 12h, 6d"):
        parse_duration(text)


def test_parse_duration_refuses_non_text() -> None:
    with pytest.raises(ValueError, match="expected a duration text, got int"):
        parse_duration(6)  # type: ignore[arg-type]


@pytest.mark.parametrize(("td", "text"), [
    (timedelta(seconds=90), "1m30s"),
    (timedelta(days=6), "6d"),
    (timedelta(days=1, hours=12), "1d12h"),
    (timedelta(weeks=2), "14d"),
    (timedelta(0), "0s"),
    (timedelta(seconds=-3600), "-1h"),
    (timedelta(milliseconds=1500), "1.5s"),
])
def test_format_duration(td: timedelta, text: str) -> None:
    assert format_duration(td) == text
    assert parse_duration(text.lstrip("-")) == abs(td)


@pytest.mark.parametrize(("text", "per_s"), [
    ("60/min", 1.0),
    ("10/s", 10.0),
    ("1000/h", 1000 / 3600),
    ("1/sec", 1.0),
    ("120/minute", 2.0),
    ("30 / hours", 30 / 3600),
    ("86400/d", 1.0),
    ("0.5/s", 0.5),
])
def test_parse_rate(text: str, per_s: float) -> None:
    assert parse_rate(text) == pytest.approx(per_s)


@pytest.mark.parametrize("text", ["60", "60/", "/min", "60/ms", "60/year", "0/min", "fast"])
def test_parse_rate_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rate(text)
