"""One logging setup for every command: stderr only (stdout is for machine output), fixed shape,
secrets masked whatever a library decides to log."""

from __future__ import annotations

import base64
import logging
import logging.config
import re
import threading

MASK = "********"
# An IMAP astring: a quoted string (with \" and \\ escapes) or an atom.
_ASTRING = r'(?:"(?:[^"\\]|\\.)*"|\S+)'
_SECRET = re.compile(rf"(?i)(AUTH\s+(?:PLAIN|LOGIN)\s+)\S+|(password[=:]\s*)\S+|(LOGIN\s+{_ASTRING}\s+){_ASTRING}")

#: Values shorter than this are masked only by shape: masking every "ab" in a log would garble it.
MIN_SECRET_LEN = 4
_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask this exact value (and the forms it travels in: IMAP-quoted, base64) in every log line
    and error message from now on. config.read_secret calls it for every password it returns."""
    if not value or len(value) < MIN_SECRET_LEN:
        return
    quoted = value.replace("\\", "\\\\").replace('"', '\\"')
    forms = {value, quoted, base64.b64encode(value.encode()).decode()}
    # and as a library logs them with %r (of str or bytes): backslashes and quotes escaped again
    forms |= {repr(f)[1:-1] for f in list(forms)} | {repr(f.encode())[2:-1] for f in list(forms)}
    with _secrets_lock:
        _secrets.update(forms)


def redact(text: str) -> str:
    """`text` with every registered secret value masked, then AUTH/LOGIN/password= arguments by shape."""
    with _secrets_lock:
        values = sorted(_secrets, key=len, reverse=True)   # longest first: a value inside another
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return _SECRET.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + MASK, text)


class RedactSecrets(logging.Filter):
    """Masks the passwords read_secret returned, wherever they appear, and AUTH/LOGIN arguments and
    password=… by shape, in any record, probe's or a library's — tracebacks included."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def setup_logging(*, verbose: bool = False, debug: bool = False) -> None:
    level = "DEBUG" if debug else "INFO" if verbose else "WARNING"
    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": RedactSecrets}},
        "formatters": {"plain": {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s",
                                 "datefmt": "%H:%M:%S"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "stream": "ext://sys.stderr",
                                "formatter": "plain", "filters": ["redact"]}},
        "loggers": {"probe": {"level": level},
                    "aioimaplib": {"level": "DEBUG" if debug else "ERROR"},
                    "mail.log": {"level": "DEBUG" if debug else "ERROR"},
                    "apscheduler": {"level": "DEBUG" if debug else "WARNING"},
                    "alembic": {"level": "DEBUG" if debug else "WARNING"}},
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    })
