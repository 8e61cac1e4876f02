"""Shared fixtures. Real servers live in tests/fixtures/ and are loaded as plugins."""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.db",
    "tests.fixtures.smtp_server",
    "tests.fixtures.dovecot",
    "tests.fixtures.campaign",
]
