"""Claims deal due sends round-robin across recipient domains; smtp.domain_rate_limit parses like rate_limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe.config import load_config
from probe.core.fairness import interleave_by_domain, recipient_domain, take_fair
from probe.errors import ConfigError
from tests.unit.test_config import MINIMAL, with_section, write


def emails(spec: str) -> list[str]:
    """'a1 a2 b1' → ['1@a', '2@a', '1@b']: letter = domain, digit = position in that domain."""
    return [f"{tok[1:]}@{tok[0]}" for tok in spec.split()]


@pytest.mark.parametrize(("given", "expected"), [
    ("", ""),
    ("a1", "a1"),
    ("a1 a2 a3", "a1 a2 a3"),
    ("a1 a2 a3 b1 c1", "a1 b1 c1 a2 a3"),                  # the big domain no longer goes first in full
    ("a1 b1 a2 b2 a3", "a1 b1 a2 b2 a3"),                  # already fair: unchanged
    ("b1 a1 a2 a3 a4 b2", "b1 a1 b2 a2 a3 a4"),            # turns follow each domain's soonest send
    ("a1 a2 a3 a4 a5 a6 b1 b2 c1", "a1 b1 c1 a2 b2 a3 a4 a5 a6"),
])
def test_interleave_round_robin(given: str, expected: str) -> None:
    assert interleave_by_domain(emails(given), recipient_domain) == emails(expected)


def test_a_large_domain_does_not_starve_the_others() -> None:
    due = [f"t{i}@big.example" for i in range(4000)] + [f"t{i}@small{i}.example" for i in range(40)]
    first = take_fair(due, recipient_domain, 100)
    # Every small domain gets its send in the first claim of 100; soonest-first would give none.
    assert {recipient_domain(e) for e in first} >= {f"small{i}.example" for i in range(40)}
    assert sorted(interleave_by_domain(due, recipient_domain)) == sorted(due)     # nothing lost or doubled
    assert take_fair(due, recipient_domain, 0) == []


def test_domain_is_case_insensitive() -> None:
    assert recipient_domain("X@Example.ORG") == "example.org"
    assert interleave_by_domain(["a@X.org", "b@x.org", "c@y.org"], recipient_domain) == \
        ["a@X.org", "c@y.org", "b@x.org"]


@pytest.mark.parametrize(("value", "per_s"), [("10/min", 10 / 60), ("2/s", 2.0), ("100/h", 100 / 3600)])
def test_domain_rate_limit_parsed(tmp_path: Path, value: str, per_s: float) -> None:
    smtp = load_config(write(tmp_path, with_section(MINIMAL, "smtp", f'domain_rate_limit = "{value}"'))).smtp
    assert smtp.domain_rate_per_s == pytest.approx(per_s)
    assert smtp.rate_per_s is None


def test_domain_rate_limit_default_none_and_bad_value_named(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, MINIMAL)).smtp.domain_rate_per_s is None
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, with_section(MINIMAL, "smtp", 'domain_rate_limit = "often"')))
    assert "campaign.toml: smtp.domain_rate_limit: 'often' is not a rate" in str(info.value)
    assert "fix: write a rate like 60/min" in str(info.value)
