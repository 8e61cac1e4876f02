"""Our own DKIM check with dkimpy on really signed messages: a key minted per run, the public key
served by the `dnsfunc` the adapter accepts (no network), a signature that verifies, one broken by
a changed body, and a message with no signature."""

from __future__ import annotations

import base64

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from probe.adapters.dkim import verify_dkim

MESSAGE = (b"From: Marie <marie@societe.example>\r\nTo: redaction@en-contact.example\r\n"
           b"Subject: RE: Votre abonnement\r\nMessage-ID: <r1@societe.example>\r\n\r\nOui, avec plaisir.\r\n")


@pytest.fixture(scope="module")
def signer() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                            serialization.NoEncryption())
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def _dns(record: bytes):  # type: ignore[no-untyped-def]
    def lookup(name: bytes, timeout: int = 5) -> bytes | None:
        return record if name == b"s1._domainkey.societe.example." else None
    return lookup


def test_signed_reply_verifies_and_names_its_domain(signer: tuple[bytes, bytes]) -> None:
    pem, record = signer
    signed = dkim.sign(MESSAGE, b"s1", b"societe.example", pem, include_headers=[b"from", b"to", b"subject"]) + MESSAGE
    assert verify_dkim(signed, _dns(record)) == ("pass", ("societe.example",))


def test_changed_body_fails(signer: tuple[bytes, bytes]) -> None:
    pem, record = signer
    signed = dkim.sign(MESSAGE, b"s1", b"societe.example", pem, include_headers=[b"from", b"subject"]) + MESSAGE
    assert verify_dkim(signed.replace(b"Oui", b"Non"), _dns(record)) == ("fail", ())


def test_unknown_key_fails_and_unsigned_is_none(signer: tuple[bytes, bytes]) -> None:
    pem, _ = signer
    signed = dkim.sign(MESSAGE, b"s1", b"societe.example", pem, include_headers=[b"from"]) + MESSAGE
    assert verify_dkim(signed, lambda name, timeout=5: None) == ("fail", ())
    assert verify_dkim(MESSAGE, _dns(b"")) == ("none", ())
