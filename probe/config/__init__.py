"""The campaign TOML file → frozen, validated Settings (docs/design.md, "Config").

Every problem in the file is reported at once, one line each, as `field: message (fix: …)`, in a
single ConfigError. Relative paths are relative to the config file. Passwords never live in the
file (only the name of the environment variable that holds them) and never appear in an error.

The package: values.py (value types and shared checks), models.py (the sections and Settings),
problems.py (pydantic's errors → problems with key and fix), load.py (reading the file, secrets).
Callers import from `probe.config`. The plan hash lives with launch (service/launch.py)."""

from __future__ import annotations

from probe.config.load import load_config, read_secret
from probe.config.models import (
    AnswersConfig,
    CampaignConfig,
    DatabaseConfig,
    ExperimentConfig,
    ImapConfig,
    ReportConfig,
    ScheduleConfig,
    Settings,
    SmtpConfig,
    TargetsConfig,
    TemplatesConfig,
    VariantConfig,
    refuse_plaintext,
)
from probe.config.problems import Problem, problems_from
from probe.config.values import (
    Duration,
    EnvName,
    ExistingFile,
    NonEmpty,
    PositiveDuration,
    check_address,
    check_env_name,
    check_sender,
    is_loopback,
    normalise_database_url,
)
from probe.errors import ConfigError

__all__ = [
    "AnswersConfig", "CampaignConfig", "ConfigError", "DatabaseConfig", "Duration", "EnvName", "ExistingFile",
    "ExperimentConfig", "ImapConfig", "NonEmpty", "PositiveDuration", "Problem", "ReportConfig", "ScheduleConfig",
    "Settings", "SmtpConfig", "TargetsConfig", "TemplatesConfig", "VariantConfig", "check_address",
    "check_env_name", "check_sender", "is_loopback", "load_config", "normalise_database_url", "problems_from",
    "read_secret", "refuse_plaintext",
]
