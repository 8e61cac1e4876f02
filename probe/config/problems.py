"""Pydantic's validation errors → `Problem`s a user can act on: the key, what is wrong, the fix
(a close key name for a typo, an example line for a missing key); values of secret-looking keys
are never echoed."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from probe.errors import ConfigError


@dataclass(frozen=True)
class Problem:
    field: str
    message: str
    fix: str

    def line(self) -> str:
        return f"{self.field}: {self.message} (fix: {self.fix})"


_EXAMPLES = {
    "campaign.name": 'name = "drc-2015"',
    "campaign.from": 'from = "Rédaction <redaction@example.org>"',
    "templates.initial": 'initial = "templates/initial.txt.j2"',
    "targets.file": 'file = "targets.csv"',
    "smtp.host": 'host = "smtp.example.org"',
    "imap.host": 'host = "imap.example.org"',
    "imap.username": 'username = "redaction@example.org"',
    "imap.password_env": 'password_env = "PROBE_IMAP_PASSWORD"',
}
_SENSITIVE = re.compile(r"pass|secret|token|url", re.IGNORECASE)
_TYPE_FIXES = {
    "bool": "write true or false, without quotes",
    "int": "write a whole number, without quotes",
    "string": "write the value in double quotes",
    "list": 'write a list like ["a", "b"]',
    "datetime": 'write a date and time like "2015-09-28T09:00:00" (local to campaign.timezone) '
                'or with an offset "2015-09-28T09:00:00+02:00"',
    "literal": "use one of the values listed",
    "greater": "use a larger number",
    "less": "use a smaller number",
    "too_short": "it cannot be empty",
    "dict": "write it as a [section] table",
    "model": "write it as a [section] table",
}


def _model_at(loc: tuple[Any, ...], root: type[BaseModel]) -> type[BaseModel] | None:
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None or isinstance(part, int):
            continue
        field = next((f for n, f in model.model_fields.items() if (f.alias or n) == part), None)
        if field is None:
            return None
        model = _model_in(field.annotation)
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _keys(model: type[BaseModel] | None) -> list[str]:
    if model is None:
        return []
    return [f.alias or n for n, f in model.model_fields.items() if n not in ("path", "base_dir")]


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _type_fix(kind: str) -> str:
    for prefix, fix in _TYPE_FIXES.items():
        if kind.startswith(prefix):
            return fix
    return "see config.example.toml for the expected form"


def problems_from(exc: ValidationError, root: type[BaseModel]) -> list[Problem]:
    problems: list[Problem] = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        kind, field = err["type"], _dotted(loc)
        if kind == "extra_forbidden":
            key = str(loc[-1])
            keys = _keys(_model_at(loc[:-1], root))
            where = f"[{_dotted(loc[:-1])}]" if loc[:-1] else "the top level"
            close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6) or [
                k for k in keys if len(key) >= 3 and (k.startswith(key) or key.startswith(k))][:1]
            if "pass" in key.lower() and "env" not in key.lower():
                fix = ('never put the password in the file: write password_env = "PROBE_SMTP_PASSWORD" and '
                       "export that variable")
            elif close:
                fix = f"did you mean `{close[0]}`?"
            else:
                fix = f"remove it; the keys of {where} are: {', '.join(keys)}"
            problems.append(Problem(field, "unknown key", fix))
            continue
        if kind == "missing":
            section, _, key = field.rpartition(".")
            example = _EXAMPLES.get(field, f"{key} = …")
            fix = f"add {example} under [{section}]" if section else f"add a [{key}] section"
            problems.append(Problem(field, "required key is missing", fix))
            continue
        message = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if "(fix: " in message:
            message, _, fix = message.partition(" (fix: ")
            fix = fix.removesuffix(")")
        elif kind == "value_error" and " (write " in message and message.endswith(")"):
            cut = message.rfind(" (write ")
            message, fix = message[:cut], message[cut + 2:-1]
        else:
            fix = _type_fix(kind)
            value = err.get("input")
            if not _SENSITIVE.search(field) and isinstance(value, str | int | float | bool) and len(repr(value)) < 80:
                message += f" (got {value!r})"
        problems.append(Problem(field or "(file)", message, fix))
    return problems



def raise_problems(path: Path, problems: list[Problem]) -> None:
    if len(problems) == 1:
        p = problems[0]
        err = ConfigError(p.message, file=str(path), field=p.field, hint=p.fix)
    else:
        lines = "\n".join(f"  {p.line()}" for p in problems)
        err = ConfigError(f"{len(problems)} problems:\n{lines}", file=str(path))
    err.problems = problems  # type: ignore[attr-defined]
    raise err


def dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str]] = set()
    out: list[Problem] = []
    for p in problems:
        if p.field == "(file)" and "differ in length" in p.message:
            continue  # the model-level guard repeats the raw cross-check
        if (p.field, p.message) not in seen:
            seen.add((p.field, p.message))
            out.append(p)
    return out
