"""Authentication-Results (RFC 8601) read into SPF / DKIM / DMARC verdicts: only the topmost header
(the receiving server's) counts, comments and several signatures are understood, and "the sender's
domain passed" means DMARC pass or a passing DKIM signature aligned with the From domain."""

from __future__ import annotations

import pytest

from probe.core.authenticity import aligned, parse_authentication_results, with_dkim_verified
from probe.core.message import parse_message

GMAIL = ("mx.google.com; dkim=pass header.i=@societe.example header.s=s1 header.b=abc; "
         "spf=pass (google.com: domain of marie@societe.example designates 1.2.3.4 as permitted sender) "
         "smtp.mailfrom=marie@societe.example; dmarc=pass (p=REJECT sp=REJECT dis=NONE) header.from=societe.example")
OUTLOOK = ("spf=fail (sender IP is 5.6.7.8) smtp.mailfrom=societe.example; dkim=none (message not signed) "
           "header.d=none;dmarc=fail action=quarantine header.from=societe.example;compauth=fail reason=000")
THIRD_PARTY_DKIM = "mx.en-contact.example; spf=pass smtp.mailfrom=mailer.example; dkim=pass header.d=mailer.example"
SUBDOMAIN = "mx.en-contact.example; dkim=pass header.d=societe.example; dmarc=none"
TWO_SIGNATURES = "mx.example; dkim=fail header.d=societe.example; dkim=pass header.d=societe.example"

CASES = [
    # (header values, From, spf, dkim, dmarc, domain passed)
    ([GMAIL], "marie@societe.example", "pass", "pass", "pass", True),
    (["mx.microsoft.com; " + OUTLOOK], "marie@societe.example", "fail", "none", "fail", False),
    ([THIRD_PARTY_DKIM], "marie@societe.example", "pass", "pass", "", False),  # signed, but not by her domain
    ([SUBDOMAIN], "marie@paris.societe.example", "", "pass", "none", True),      # relaxed alignment
    ([TWO_SIGNATURES], "marie@societe.example", "", "pass", "", True),
    # a forged lower header is ignored: the topmost is the receiving server's
    (["mx.en-contact.example; dmarc=fail header.from=societe.example", GMAIL], "marie@societe.example",
     "", "", "fail", False),
    ([], "marie@societe.example", "", "", "", False),
]


@pytest.mark.parametrize(("values", "sender", "spf", "dkim", "dmarc", "passed"), CASES)
def test_parse(values: list[str], sender: str, spf: str, dkim: str, dmarc: str, passed: bool) -> None:
    auth = parse_authentication_results(values, sender)
    assert (auth.spf, auth.dkim, auth.dmarc) == (spf, dkim, dmarc)
    assert auth.domain_passed() is passed
    assert auth.as_dict()["domain_passed"] is passed


def test_parsed_message_carries_the_topmost_results() -> None:
    raw = (f"Authentication-Results: {GMAIL}\r\nAuthentication-Results: evil.example; dmarc=pass\r\n"
           "From: Marie <marie@societe.example>\r\nSubject: Re: x\r\n\r\nOui\r\n").encode()
    msg = parse_message(raw)
    assert msg.authenticity.authserv_id == "mx.google.com"
    assert msg.authenticity.dkim_domains == ("societe.example",)


def test_our_own_dkim_check_counts_when_aligned() -> None:
    base = parse_authentication_results([], "marie@societe.example")
    assert not base.present
    assert with_dkim_verified(base, "pass", ("societe.example",)).domain_passed()
    assert not with_dkim_verified(base, "pass", ("mailer.example",)).domain_passed()
    assert not with_dkim_verified(base, "fail").domain_passed()


@pytest.mark.parametrize(("signer", "sender_domain", "ok"), [
    ("societe.example", "societe.example", True), ("societe.example", "mail.societe.example", True),
    ("mail.societe.example", "societe.example", False), ("ciete.example", "societe.example", False)])
def test_alignment(signer: str, sender_domain: str, ok: bool) -> None:
    assert aligned(signer, sender_domain) is ok
