"""The common address checked without email-validator: a plain ASCII `local@domain.tld`.

email-validator is the judge of every address probe reads (no DNS lookups), but importing it
compiles its Unicode patterns: about 20 ms, a tenth of `probe status`, which only checks the
config's own From and Reply-To. It also costs about 100 µs an address, 10 s for 100,000 targets.
So a conservative pattern accepts the plain ASCII address the library certainly accepts, and
gives the library's normalised form of it; anything else goes to the library for the verdict
(config.values.check_address, adapters.targets.address_problem).
"""

from __future__ import annotations

import re

_FAST = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,63})")

#: email-validator's SPECIAL_USE_DOMAIN_NAMES (the names and their subdomains it refuses), and its
#: CASE_INSENSITIVE_MAILBOX_NAMES (RFC 2142: local parts it lowercases). Copied so that the common
#: address does not import the library; tests/unit/test_addresses.py fails if the installed
#: library's lists differ.
SPECIAL_USE_DOMAIN_NAMES = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})
CASE_INSENSITIVE_MAILBOX_NAMES = frozenset({
    "info", "marketing", "sales", "support", "abuse", "noc", "security", "postmaster", "hostmaster", "usenet",
    "news", "webmaster", "www", "uucp", "ftp"})


def plain_address(value: str) -> str | None:
    """email-validator's normalised form of `value` (`validate_email(value, check_deliverability=
    False).normalized`: the domain lowercased, the local part kept, an RFC 2142 role name
    lowercased) when `value` is a plain ASCII address the pattern accepts; None when only the
    library can tell (it may still be valid: internationalised, quoted, punycode...)."""
    m = _FAST.fullmatch(value)
    if m is None or len(value) > 254 or m.group(1).lower() in SPECIAL_USE_DOMAIN_NAMES:
        return None
    local, _, domain = value.rpartition("@")
    if len(local) > 64 or "--" in domain:   # "xn--" and "ab--" labels: let the library judge
        return None
    if local.lower() in CASE_INSENSITIVE_MAILBOX_NAMES:
        local = local.lower()
    return f"{local}@{domain.lower()}"
