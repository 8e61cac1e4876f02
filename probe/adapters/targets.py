"""The targets CSV → rows (DESIGN.md "Targets file").

Real exports must load: UTF-8 with or without BOM, else Windows-1252 (Latin-1 for the few bytes
1252 leaves undefined); comma, semicolon (French Excel) or tab, detected on the header line. The
header is required and names the `email` column (or e-mail / mail / courriel); the other columns
become template variables, their names turned into identifiers (`Prénom` → `prenom`). Bad and
duplicate addresses are listed and skipped (strict: refused). A CR or LF in an address or in a
column that reaches a mail header refuses the whole file: it would be a header injection."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from probe.core.addresses import plain_address
from probe.core.gcpause import paused_gc
from probe.errors import TargetsError

EMAIL_COLUMNS = ("email", "e_mail", "mail", "courriel", "email_address", "adresse_email", "adresse_mail",
                 "adresse_e_mail", "e_mail_address", "mail_address")
RESERVED = frozenset({"wave", "campaign"})  # template variables probe provides itself
MAX_LISTED = 50

# Letters NFKD does not split into ASCII + accent.
_LIGATURES = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "ø": "o", "Ø": "O",
                            "ł": "l", "Ł": "L", "đ": "d", "Đ": "D"})


# Not frozen, though nothing changes a row once made: a frozen dataclass's __init__ costs twice as
# many instructions, and a big file makes 100,000 rows (its `fields` dict made it unhashable anyway).
@dataclass(slots=True)
class TargetRow:
    line: int                 # line number in the file (the header is line 1)
    address: str              # as written, trimmed: what we send to
    email: str                # lowercased: what we match and deduplicate on
    fields: dict[str, str]    # every column by its variable name, `email` included


@dataclass(frozen=True, slots=True)
class TargetProblem:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


@dataclass(frozen=True)
class TargetsFile:
    rows: list[TargetRow]
    problems: list[TargetProblem]
    encoding: str                      # "utf-8", "utf-8-sig", "windows-1252" or "latin-1"
    delimiter: str
    columns: tuple[str, ...]           # variable names, in file order (the email column included)
    column_map: dict[str, str] = field(default_factory=dict)  # header as written → variable name
    email_column: str = "email"        # the header as written that holds the addresses
    path: Path | None = None

    def renamed(self) -> dict[str, str]:
        """Columns whose variable name differs from the header as written (to tell the user)."""
        return {k: v for k, v in self.column_map.items() if k != v}


def variable_name(header: str) -> str:
    """`" Prénom "` → `prenom`, `"Nom de famille"` → `nom_de_famille`, `"2e mail"` → `c_2e_mail`."""
    text = unicodedata.normalize("NFKD", header.strip().translate(_LIGATURES))
    text = text.encode("ascii", "ignore").decode("ascii").lower()
    text = re.sub(r"[^a-z0-9]+", "_", text).strip("_")
    if text and text[0].isdigit():
        text = f"c_{text}"
    return text


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding name): BOM stripped, UTF-8 if it decodes, else Windows-1252, else Latin-1."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError:
            data = data[3:]
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def detect_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in (";", ",", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def sniff_delimiter(path: Path) -> str:
    """The separator of a targets file, read from its header line only (for the CSVs probe writes:
    they follow the file the user gave, so French Excel opens them in columns). OSError if unreadable."""
    with Path(path).open("rb") as f:
        head = f.read(64 * 1024)
    text, _ = decode(head)
    return detect_delimiter(text.lstrip("\r\n").split("\n", 1)[0])


def address_problem(value: str) -> str | None:
    """None if a target's address is valid (no DNS lookup), else the reason: a fast pattern for the
    common address, email-validator for the rest (config.values.check_address normalises a config's
    own addresses and raises instead)."""
    if plain_address(value) is not None:   # plain ASCII addresses: a conservative pattern (core/addresses.py)
        return None
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None


def _fail(path: Path, message: str, field: str | None, hint: str) -> TargetsError:
    return TargetsError(message, file=str(path), field=field, hint=hint)


def load_targets(path: Path, *, strict: bool = False, header_columns: Collection[str] = ()) -> TargetsFile:
    """Read a targets CSV. TargetsError (exit 2) when it cannot be used as it is."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _fail(path, f"cannot read the targets file: {exc.strerror}", None,
                    "check targets.file in the config") from None
    text, encoding = decode(data)
    first_line = text.lstrip("\r\n").split("\n", 1)[0]
    delimiter = detect_delimiter(first_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)

    try:
        with paused_gc():
            return _parse(path, reader, encoding, delimiter, strict, header_columns)
    except csv.Error as exc:
        raise _fail(path, f"not a readable CSV file: {exc}", f"line {reader.line_num}",
                    "save it from the spreadsheet as CSV (UTF-8 or Windows-1252, ; or , separated)") from None


def _parse(path: Path, reader: Any, encoding: str, delimiter: str, strict: bool,
           header_columns: Collection[str]) -> TargetsFile:
    header: list[str] | None = None
    header_line = 0
    for cells in reader:
        if any(c.strip() for c in cells):
            header, header_line = cells, reader.line_num
            break
    if header is None:
        raise _fail(path, "the file is empty", None, "write a header line first, e.g. email;prenom;nom")
    names = [variable_name(h) or f"column_{i + 1}" for i, h in enumerate(header)]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise _fail(path, f"two columns are both named {name!r} ({header[names.index(name)]!r} and "
                              f"{header[i]!r})", f"line {header_line}", "rename one of them")
        if name in RESERVED:
            raise _fail(path, f"column {header[i]!r} has a name probe reserves for templates ({name})",
                        f"line {header_line}, column {header[i]}", f"rename it, e.g. to target_{name}")
    email_idx = next((names.index(n) for n in EMAIL_COLUMNS if n in names), None)
    if email_idx is None:
        raise _fail(path, f"no email column (the header has: {', '.join(h.strip() for h in header)})",
                    f"line {header_line}", "name the column of addresses `email` in the header line"
                    + ("" if delimiter == ";" else "; if the file uses another separator, use ; or ,"))
    if names[email_idx] != "email" and "email" in names:  # pragma: no cover - "email" is first in the list
        email_idx = names.index("email")
    columns = list(names)
    columns[email_idx] = "email"
    header_set = {c for c in header_columns if c in columns} | {"email"}
    guarded = [i for i, c in enumerate(columns) if c in header_set]
    width = len(columns)

    rows: list[TargetRow] = []
    problems: list[TargetProblem] = []
    injections: list[TargetProblem] = []
    seen: dict[str, int] = {}
    email_header = header[email_idx].strip()
    start = header_line
    for cells in reader:
        line = start + 1
        start = reader.line_num
        joined = "".join(cells)
        if not joined.strip():
            continue
        if "\n" in joined or "\r" in joined:  # rare: look at which cell
            for i in guarded:
                if i < len(cells) and ("\r" in cells[i] or "\n" in cells[i]):
                    injections.append(TargetProblem(line, header[i].strip(), "line break inside a value that "
                                                    "goes into a mail header"))
        if injections:
            continue
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            problems.append(TargetProblem(line, f"#{width + 1}", f"{len(cells)} values for {width} columns "
                                          "(a separator inside a value needs double quotes)"))
            continue
        values = list(map(str.strip, cells)) if len(cells) == width else (
            [c.strip() for c in cells[:width]] + [""] * (width - len(cells)))
        address = values[email_idx]
        if not address:
            problems.append(TargetProblem(line, email_header, "no address"))
            continue
        reason = address_problem(address)
        if reason is not None:
            problems.append(TargetProblem(line, email_header, f"invalid address {address!r}: {reason}"))
            continue
        key = address.lower()
        if key in seen:
            problems.append(TargetProblem(line, email_header, f"duplicate of line {seen[key]} ({address})"))
            continue
        seen[key] = line
        rows.append(TargetRow(line, address, key, dict(zip(columns, values))))  # noqa: B905 - same length

    if injections:
        listed = "\n".join(f"  {p}" for p in injections[:MAX_LISTED])
        more = f"\n  … and {len(injections) - MAX_LISTED} more" if len(injections) > MAX_LISTED else ""
        first = injections[0]
        raise _fail(path, f"{len(injections)} value(s) contain a line break (CR or LF) in a column used in mail "
                          f"headers; the file is refused:\n{listed}{more}",
                    f"line {first.line}, column {first.column}",
                    "remove the line breaks from those cells (they would let a value inject mail headers)")
    if strict and problems:
        listed = "\n".join(f"  {p}" for p in problems[:MAX_LISTED])
        more = f"\n  … and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        raise _fail(path, f"{len(problems)} row(s) refused (strict mode):\n{listed}{more}",
                    f"line {problems[0].line}, column {problems[0].column}",
                    "correct or remove those rows, or set targets.strict = false to skip them")
    return TargetsFile(rows=rows, problems=problems, encoding=encoding, delimiter=delimiter,
                       columns=tuple(columns), column_map=dict(zip((h.strip() for h in header), columns, strict=True)),
                       email_column=email_header, path=path)
