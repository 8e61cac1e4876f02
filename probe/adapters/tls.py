"""The TLS context of every mail connection (SMTP and IMAP): verification on unless the config
opts out (`smtp.tls_verify = false` / `imap.tls_verify = false`), an optional CA file."""

from __future__ import annotations

import ssl
from pathlib import Path


def tls_context(verify: bool, ca_file: Path | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    if not verify:  # only when the config explicitly opts out
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context
