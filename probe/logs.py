"""One logging setup for every command: stderr only (stdout is for machine output), fixed shape,
secrets masked whatever a library decides to log."""

from __future__ import annotations

import logging
import logging.config
import re

_SECRET = re.compile(r"(?i)(AUTH\s+(?:PLAIN|LOGIN)\s+)\S+|(password[=:]\s*)\S+|(LOGIN\s+\S+\s+)\S+")


class RedactSecrets(logging.Filter):
    """Masks AUTH/LOGIN arguments and password=… in any record, probe's or a library's."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _SECRET.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + "********", message)
        if masked != message:
            record.msg, record.args = masked, None
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
