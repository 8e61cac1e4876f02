"""Our own DKIM check (dkimpy), for a raw message as it arrived: every signature is verified
against its public key in DNS (or a `dnsfunc` the caller gives, which the tests use).

Verification needs DNS, hence an adapter; it is blocking, so async callers run it in a thread.
The result merges into the core's Authenticity (probe.core.authenticity.with_dkim_verified)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

log = logging.getLogger("probe.dkim")

DnsFunc = Callable[..., bytes | None]
MAX_SIGNATURES = 5
_SIGNATURE = re.compile(rb"^dkim-signature:", re.IGNORECASE | re.MULTILINE)
_DOMAIN_TAG = re.compile(rb"(?:^|;)\s*d\s*=\s*([A-Za-z0-9.-]+)")


def verify_dkim(raw: bytes, dnsfunc: DnsFunc | None = None) -> tuple[str, tuple[str, ...]]:
    """("pass" and the domains whose signatures verified) | ("fail", ()) | ("none", ()) when the
    message carries no signature or dkimpy is not installed ("unavailable")."""
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    count = len(_SIGNATURE.findall(head))
    if count == 0:
        return "none", ()
    try:
        import dkim
    except ImportError:  # pragma: no cover — dkimpy is a dependency; kept optional at run time
        return "unavailable", ()
    passed: list[str] = []
    try:
        checker = dkim.DKIM(raw, logger=log)
        for index in range(min(count, MAX_SIGNATURES)):
            ok = checker.verify(idx=index, dnsfunc=dnsfunc) if dnsfunc else checker.verify(idx=index)
            if ok and checker.domain:
                passed.append(checker.domain.decode("ascii", "replace").lower())
    except Exception as exc:  # a broken signature or a DNS failure is a failed check, never a crash
        log.debug("dkim verification failed: %s", exc)
    return ("pass", tuple(dict.fromkeys(passed))) if passed else ("fail", ())
