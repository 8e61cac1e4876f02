"""Who really wrote it: the receiving server's Authentication-Results (RFC 8601) — SPF, DKIM and
DMARC verdicts — read from a message's headers, and whether the sender's domain passed.

Only the topmost Authentication-Results header is taken: it is the one the last server (the
receiving mailbox's, the one we trust) added; lower ones were written by hops before it and can be
forged by the sender. Pure: no DNS, no I/O. Verifying a DKIM signature ourselves needs DNS, so it
lives in probe.adapters.dkim and its result is merged in with ``with_dkim_verified``."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

_METHOD = re.compile(r"(?:^|;)\s*(spf|dkim|dmarc)\s*=\s*([a-z]+)([^;]*)", re.IGNORECASE)
_PROPERTY = re.compile(r"\b(header\.d|header\.i|header\.from|smtp\.mailfrom|smtp\.helo)\s*=\s*\"?([^\s;\"()]+)",
                       re.IGNORECASE)
_COMMENT = re.compile(r"\([^()]*\)")
PASS = "pass"
MAX_VALUE = 4096  # characters of one header read


@dataclass(frozen=True)
class Authenticity:
    """SPF, DKIM and DMARC results as the receiving server reported them ("" when absent)."""

    authserv_id: str = ""
    spf: str = ""
    dkim: str = ""
    dmarc: str = ""
    spf_domain: str = ""                 # smtp.mailfrom's domain
    dkim_domains: tuple[str, ...] = ()   # header.d of the passing signatures
    from_domain: str = ""                # the From address's domain
    dkim_verified: str = ""              # our own DKIM check (adapters.dkim): pass, fail, none

    @property
    def present(self) -> bool:
        return bool(self.spf or self.dkim or self.dmarc or self.dkim_verified)

    def domain_passed(self) -> bool:
        """The From domain is vouched for: DMARC passed, or a passing DKIM signature of that domain
        (or a parent of it), by the receiving server or by our own check."""
        if self.dmarc == PASS:
            return True
        return (self.dkim == PASS or self.dkim_verified == PASS) and any(
            aligned(d, self.from_domain) for d in self.dkim_domains)

    def as_dict(self) -> dict[str, Any]:
        return {"authserv_id": self.authserv_id, "spf": self.spf, "dkim": self.dkim, "dmarc": self.dmarc,
                "spf_domain": self.spf_domain, "dkim_domains": list(self.dkim_domains),
                "from_domain": self.from_domain, "dkim_verified": self.dkim_verified,
                "domain_passed": self.domain_passed()}


def aligned(signer: str, from_domain: str) -> bool:
    """Relaxed alignment (RFC 7489): the same domain, or one the From domain sits under."""
    signer, from_domain = signer.lower().strip("."), from_domain.lower().strip(".")
    return bool(signer and from_domain) and (from_domain == signer or from_domain.endswith("." + signer))


def _domain(value: str) -> str:
    return value.rpartition("@")[2].strip("<>.").lower()


def parse_authentication_results(values: list[str], from_addr: str) -> Authenticity:
    """The verdicts of the topmost Authentication-Results header in ``values`` (header order)."""
    from_domain = _domain(from_addr) if "@" in from_addr else ""
    if not values:
        return Authenticity(from_domain=from_domain)
    value = " ".join(values[0][:MAX_VALUE].split())
    authserv_id = value.split(";", 1)[0].strip().split(" ", 1)[0]
    body = _COMMENT.sub(" ", value[len(value.split(";", 1)[0]):])
    results: dict[str, str] = {}
    dkim_domains: list[str] = []
    spf_domain = ""
    for m in _METHOD.finditer(body):
        method, result, props = m.group(1).lower(), m.group(2).lower(), dict(
            (k.lower(), v) for k, v in _PROPERTY.findall(m.group(3)))
        if method == "dkim":
            domain = props.get("header.d") or _domain(props.get("header.i", ""))
            if result == PASS and domain:
                dkim_domains.append(domain.lower())
            # Several signatures: one that passes is enough.
            if results.get("dkim") != PASS:
                results["dkim"] = result
        elif method == "spf":
            results.setdefault("spf", result)
            spf_domain = spf_domain or _domain(props.get("smtp.mailfrom", "") or props.get("smtp.helo", ""))
        else:
            results.setdefault("dmarc", result)
            from_domain = from_domain or _domain(props.get("header.from", ""))
    return Authenticity(authserv_id=authserv_id, spf=results.get("spf", ""), dkim=results.get("dkim", ""),
                        dmarc=results.get("dmarc", ""), spf_domain=spf_domain,
                        dkim_domains=tuple(dict.fromkeys(dkim_domains)), from_domain=from_domain)


def with_dkim_verified(auth: Authenticity, result: str, domains: tuple[str, ...] = ()) -> Authenticity:
    """``auth`` with our own DKIM verification's result (and the signing domains it checked)."""
    return replace(auth, dkim_verified=result,
                   dkim_domains=tuple(dict.fromkeys((*auth.dkim_domains, *domains))) if result == PASS
                   else auth.dkim_domains)
