"""The plain-address fast path gives email-validator's verdict and normalised form, and its copies of
the library's lists are the installed library's."""

from __future__ import annotations

import random

import email_validator
import pytest
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

from probe.config.values import check_address
from probe.core import addresses

ADDRESSES = [
    "a@example.com", "A.B-c+d@sub.example.co.uk", "o'brien@example.ie", "x@example.museum", "a@EXAMPLE.COM",
    "Jean.Dupont@Societe.Example.FR", "Postmaster@Example.com", "INFO@example.com", "www@example.org",
    "Info.Desk@example.com", "abuse+x@example.com", "user@xn--bcher-kva.example", "a@ab--cd.example.com",
    "a@example.test", "a@sub.example.LOCAL", "a@example.arpa", "a@localhost", "x" * 64 + "@example.com",
    "x" * 65 + "@example.com", "a@" + "b" * 63 + ".com", "a@" + "b" * 64 + ".com",
    "a@" + ".".join(["b" * 60] * 4) + ".com", "a@" + ".".join(["b" * 61] * 4) + ".com", "a@example.c",
    "a@example.123", "a..b@example.com", ".a@example.com", "a@-example.com", "a@example-.com",
    "émile@example.fr", "user@bücher.example", "\"q\"@example.com", "a@[1.2.3.4]", "a@example.com.",
]


def _library(value: str) -> str | None:
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError:
        return None


def test_the_copied_lists_are_the_installed_librarys() -> None:
    assert frozenset(email_validator.SPECIAL_USE_DOMAIN_NAMES) == addresses.SPECIAL_USE_DOMAIN_NAMES
    assert frozenset(CASE_INSENSITIVE_MAILBOX_NAMES) == addresses.CASE_INSENSITIVE_MAILBOX_NAMES


@pytest.mark.parametrize("value", ADDRESSES)
def test_a_plain_address_is_what_the_library_makes_of_it(value: str) -> None:
    plain = addresses.plain_address(value)
    if plain is not None:
        assert plain == _library(value)


def test_random_ascii_addresses_agree_with_the_library() -> None:
    rng = random.Random(15)
    alphabet = "aZ09.-_+'!#=" + "".join(sorted(CASE_INSENSITIVE_MAILBOX_NAMES))[:20]
    accepted = 0
    for _ in range(3000):
        local = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        if rng.random() < 0.2:
            local = rng.choice(sorted(CASE_INSENSITIVE_MAILBOX_NAMES)).upper()
        labels = ["".join(rng.choice("aB3-") for _ in range(rng.randint(1, 6))) for _ in range(rng.randint(1, 3))]
        tld = rng.choice(["com", "FR", "test", "c0m", "x", "Local", "museum"])
        value = f"{local}@{'.'.join([*labels, tld])}"
        plain = addresses.plain_address(value)
        if plain is not None:
            accepted += 1
            assert plain == _library(value), value
    assert accepted > 300   # the pattern does take the common case


def test_check_address_normalises_as_before_with_and_without_the_fast_path() -> None:
    for value in ADDRESSES:
        expected = _library(value)
        if expected is None:
            with pytest.raises(ValueError, match="is not a valid address"):
                check_address(value, "from")
        else:
            assert check_address(value, "from") == expected
