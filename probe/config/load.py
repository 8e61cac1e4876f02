"""Reading a campaign file: TOML → every problem at once in one ConfigError, or frozen Settings;
and the passwords, read from the environment variables the file names."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError

from probe.config.models import Settings
from probe.config.problems import Problem, dedupe, problems_from, raise_problems
from probe.errors import ConfigError


def load_config(path: Path) -> Settings:
    """Read and validate a campaign file; ConfigError (exit 2) lists every problem it finds."""
    path = Path(path).expanduser().absolute()
    try:
        raw_bytes = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError("config file not found", file=str(path),
                          hint="check the path, or write a starter campaign with `probe init DIR`") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror}", file=str(path),
                          hint="check the path and its permissions") from None
    try:
        data = tomllib.loads(raw_bytes.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", file=str(path),
                          hint="save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        field = f"line {m.group(1)}, column {m.group(2)}" if m else None
        raise ConfigError(f"TOML syntax error: {re.sub(r' [(]at line.*', '', str(exc))}", file=str(path),
                          field=field, hint="strings need double quotes, tables are [section], one key = value a "
                                            "line (see config.example.toml)") from None
    base_dir = path.parent
    zone = None
    campaign = data.get("campaign")
    if isinstance(campaign, dict) and isinstance(campaign.get("timezone", "UTC"), str):
        try:
            zone = ZoneInfo(campaign.get("timezone", "UTC"))
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            zone = None
    problems: list[Problem] = []
    document: dict[str, Any] = dict(data)
    for reserved in ("path", "base_dir"):
        if reserved in document:
            problems.append(Problem(reserved, "unknown key", "remove it: the file's top level holds only [sections]"))
            del document[reserved]
    for section in ("schedule", "answers", "database"):
        document.setdefault(section, {})
    problems.extend(_cross_checks(data))
    try:
        settings = Settings.model_validate({**document, "path": path, "base_dir": base_dir},
                                           context={"base_dir": base_dir, "zone": zone})
    except ValidationError as exc:
        problems = problems_from(exc, Settings) + problems
        raise_problems(path, dedupe(problems))
    if problems:
        raise_problems(path, problems)
    return settings


def _cross_checks(data: dict[str, Any]) -> list[Problem]:
    templates, schedule = data.get("templates"), data.get("schedule", {})
    out = _experiment_checks(data)
    if not isinstance(schedule, dict):
        return out
    rem = schedule.get("reminders", ["6d", "12d"])
    sets = [("templates", templates)]
    variants = data.get("variants")
    if isinstance(variants, list):
        sets += [(f"variants[{i}]", v) for i, v in enumerate(variants)]
    for where, section in sets:
        if not isinstance(section, dict):
            continue
        tpl = section.get("reminders", [])
        if isinstance(tpl, list) and isinstance(rem, list) and len(tpl) != len(rem):
            out.append(Problem(f"{where}.reminders",
                               f"{len(tpl)} template(s) for {len(rem)} reminder(s) in schedule.reminders",
                               "give one template per reminder offset, in the same order"))
    return out


def _experiment_checks(data: dict[str, Any]) -> list[Problem]:
    """[experiment] and [[variants]] together, names unique; [templates] or [[variants]] present."""
    variants, experiment = data.get("variants"), data.get("experiment")
    out: list[Problem] = []
    if variants is None:
        if "templates" not in data:
            # Worded as pydantic's own "missing" line (one form for every required section).
            out.append(Problem("templates", "required key is missing", "add a [templates] section"))
        if experiment is not None:
            out.append(Problem("experiment", "an [experiment] without [[variants]]",
                               "add two or more [[variants]] (name, initial, reminders), or remove [experiment]"))
        return out
    if not isinstance(variants, list) or not variants:
        return [Problem("variants", "expected a list of [[variants]] tables",
                        'write each variant as [[variants]] with name = "…", initial = "…", reminders = […]')]
    if experiment is None:
        out.append(Problem("experiment", "[[variants]] without an [experiment] section",
                           "add [experiment] with seed = 2015 (any whole number, recorded for the assignment)"))
    seen: dict[str, int] = {}
    for i, v in enumerate(variants):
        name = v.get("name") if isinstance(v, dict) else None
        if isinstance(name, str):
            if name in seen:
                out.append(Problem(f"variants[{i}].name", f"variant name {name!r} is used twice "
                                   f"(variants[{seen[name]}] too)", "give each variant its own name"))
            seen.setdefault(name, i)
    if "templates" in data:
        out.append(Problem("templates", "both [templates] and [[variants]]",
                           "remove [templates]: in an experiment each variant names its own templates"))
    return out



def read_secret(env_name: str | None, *, file: str, field: str) -> str | None:
    """The password held by the environment variable the config names (None when it names none)."""
    if env_name is None:
        return None
    value = os.environ.get(env_name)
    if not value:
        state = "is not set" if value is None else "is empty"
        what = field.rpartition(".")[0] or "the account"
        raise ConfigError(f"environment variable {env_name} {state}", file=file, field=field,
                          hint=f"export {env_name}=… (the password of the [{what}] account) before running probe")
    from probe.logs import register_secret

    register_secret(value)   # masked by value in every log line and error message from now on
    return value
