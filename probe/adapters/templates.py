"""Message templates (DESIGN.md "Templates"): header lines, one blank line, the plain-text body.

Headers are split from the body before rendering and each header value is its own Jinja2 template,
so a target's value can never add a header line: a rendered header with CR or LF is refused, never
cleaned. Rendering runs in Jinja2's immutable sandbox with StrictUndefined (a missing variable is an
error, not an empty string). The optional HTML alternative `name.html.j2` beside `name.txt.j2` holds
only a body (headers come from the text template) and is autoescaped."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from probe.core.templatenames import html_sibling
from probe.errors import TemplateError

if TYPE_CHECKING:
    from probe.adapters.targets import TargetRow
    from probe.config import Settings

MAX_TEMPLATE_BYTES = 256 * 1024
PROVIDED = frozenset({"wave", "campaign", "email"})
FORBIDDEN_HEADERS = frozenset({
    "from", "to", "cc", "bcc", "message-id", "date", "in-reply-to", "references", "mime-version",
    "sender", "return-path", "received", "delivered-to", "dkim-signature", "x-original-to",
})
_HEADER = re.compile(r"([A-Za-z0-9][A-Za-z0-9-]*)[ \t]*:[ \t]*(.*)")
_UNDEFINED = re.compile(r"'([^']+)' is undefined|has no attribute '([^']+)'")
FORM_HINT = 'start the file with "Subject: …" on line 1, then one blank line, then the text of the message'

_TEXT_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
_HTML_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=True, keep_trailing_newline=True)


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    headers: tuple[tuple[str, str], ...]   # the template's other headers (Reply-To, …), in order
    text: str
    html: str | None


@dataclass(frozen=True)
class _Header:
    name: str
    line: int
    template: Template
    variables: frozenset[str]
    safe: bool  # cannot fail to render once its variables exist (see _safe)


@dataclass(frozen=True)
class _Part:
    """One compiled piece of a template file: a body, with the file line its first line sits on."""
    path: Path
    first_line: int
    template: Template
    variables: frozenset[str]
    safe: bool


@dataclass(frozen=True)
class WaveTemplate:
    path: Path
    subject: _Header
    headers: tuple[_Header, ...]
    body: _Part
    html: _Part | None

    @property
    def header_variables(self) -> frozenset[str]:
        return frozenset().union(self.subject.variables, *(h.variables for h in self.headers))

    @property
    def variables(self) -> frozenset[str]:
        extra = self.html.variables if self.html else frozenset()
        return self.header_variables | self.body.variables | extra


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TemplateError(f"cannot read the template: {exc.strerror}", file=str(path),
                            hint="check the path in [templates]") from None
    if len(data) > MAX_TEMPLATE_BYTES:
        raise TemplateError(f"the template is {len(data)} bytes, more than {MAX_TEMPLATE_BYTES}", file=str(path),
                            hint="keep templates to the text of one message")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TemplateError(f"not UTF-8 text (byte {exc.start})", file=str(path),
                            hint="save the template as UTF-8") from None


# Filters that cannot fail on a string or a number and add no line break when their arguments are
# constants without one. A template made only of text, variables, these filters, `==`/`!=` tests and
# if/else cannot fail to render for a target that has every variable it uses, and its output holds
# a CR or LF only if a variable's value does: validate_all proves that once instead of rendering it
# 100,000 times (and still renders a sample through Jinja2).
_SAFE_FILTERS = frozenset({"upper", "lower", "title", "capitalize", "trim", "e", "escape", "string", "default",
                           "d", "replace", "striptags", "safe"})
_SAFE_TESTS = frozenset({"defined", "undefined", "none", "string", "number"})


def _safe(node: nodes.Node, one_line: bool) -> bool:
    match node:
        case nodes.Template() | nodes.Output():
            return all(_safe(n, one_line) for n in node.iter_child_nodes())
        case nodes.TemplateData(data=data):
            return not (one_line and ("\r" in data or "\n" in data))
        case nodes.Const(value=value):
            return isinstance(value, int | float | bool | None) or (
                isinstance(value, str) and not (one_line and ("\r" in value or "\n" in value)))
        case nodes.Name(ctx="load"):
            return True
        case nodes.Filter(name=name, args=args, kwargs=kwargs, dyn_args=None, dyn_kwargs=None):
            return (name in _SAFE_FILTERS and node.node is not None and _safe(node.node, one_line)
                    and all(isinstance(a, nodes.Const) and _safe(a, one_line) for a in args)
                    and all(isinstance(k.value, nodes.Const) and _safe(k.value, one_line) for k in kwargs))
        case nodes.Test(name=name, args=[], kwargs=[], dyn_args=None, dyn_kwargs=None):
            return name in _SAFE_TESTS and _safe(node.node, one_line)
        case nodes.Compare(ops=ops):
            return all(op.op in ("eq", "ne") and _safe(op.expr, one_line) for op in ops) and _safe(node.expr, one_line)
        case nodes.Not() | nodes.And() | nodes.Or() | nodes.CondExpr() | nodes.If() | nodes.Concat():
            return all(_safe(n, one_line) for n in node.iter_child_nodes())
    return False


def _compile(env: ImmutableSandboxedEnvironment, source: str, path: Path, first_line: int,
             what: str, one_line: bool = False) -> tuple[Template, frozenset[str], bool]:
    try:
        ast = env.parse(source)
        return env.from_string(ast), frozenset(meta.find_undeclared_variables(ast)), _safe(ast, one_line)
    except TemplateSyntaxError as exc:
        line = first_line + (exc.lineno or 1) - 1
        raise TemplateError(f"Jinja2 syntax error in {what}: {exc.message}", file=str(path), field=f"line {line}",
                            hint="check the {{ }} and {% %} pairs on that line") from None


# Compiled templates by (path, HTML path, their text): Jinja2 compiles to Python source and
# exec()s it, about a millisecond a part, so a process that opens the campaign again (the daemon,
# each pass of the tests) reuses them. Keyed by content, not mtime, so an edit within the
# filesystem's timestamp granularity is never missed.
_COMPILED: dict[tuple[str, str, str | None, str | None], WaveTemplate] = {}
_COMPILED_MAX = 64


def parse_template(path: Path, html_path: Path | None = None) -> WaveTemplate:
    """Split and compile one template file (and its HTML alternative, if it exists)."""
    source = _read(path)
    html_source = None
    if html_path is not None and html_path != path and html_path.is_file():
        html_source = _read(html_path)
    else:
        html_path = None
    key = (str(path), source, str(html_path) if html_path else None, html_source)
    cached = _COMPILED.get(key)
    if cached is None:
        cached = _parse_template(path, source, html_path, html_source)
        if len(_COMPILED) >= _COMPILED_MAX:
            _COMPILED.clear()
        _COMPILED[key] = cached
    return cached


def _parse_template(path: Path, source: str, html_path: Path | None, html_source: str | None) -> WaveTemplate:
    text = source.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    raw: list[tuple[str, str, int]] = []
    body_start = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            body_start = number + 1
            break
        if line[0] in " \t" and raw:  # a folded header continues on an indented line
            name, value, first = raw[-1]
            raw[-1] = (name, f"{value} {line.strip()}", first)
            continue
        m = _HEADER.fullmatch(line)
        if not m:
            raise TemplateError(f"line {number} is neither a header `Name: value` nor the blank line before the body",
                                file=str(path), field=f"line {number}", hint=FORM_HINT)
        raw.append((m.group(1), m.group(2), number))
    if body_start is None:
        raise TemplateError("no blank line between the headers and the body", file=str(path),
                            field=f"line {len(lines)}", hint=FORM_HINT)
    seen: set[str] = set()
    headers: list[_Header] = []
    for name, value, number in raw:
        lower = name.lower()
        if lower in FORBIDDEN_HEADERS or lower.startswith(("content-", "resent-")):
            raise TemplateError(f"header {name} is set by probe, not by templates", file=str(path),
                                field=f"line {number}", hint="remove that line: From comes from campaign.from, To "
                                "from the targets file, the rest from probe itself")
        if lower in seen:
            raise TemplateError(f"header {name} appears twice", file=str(path), field=f"line {number}",
                                hint="keep one of the two lines")
        seen.add(lower)
        compiled, variables, safe = _compile(_TEXT_ENV, value, path, number, f"header {name}", one_line=True)
        headers.append(_Header(name, number, compiled, variables, safe))
    subject = next((h for h in headers if h.name.lower() == "subject"), None)
    if subject is None:
        raise TemplateError("no Subject: header", file=str(path), field="line 1", hint=FORM_HINT)
    body_source = "\n".join(lines[body_start - 1:])
    body = _Part(path, body_start, *_compile(_TEXT_ENV, body_source, path, body_start, "the body"))
    html = None
    if html_path is not None and html_source is not None:
        html = _Part(html_path, 1, *_compile(_HTML_ENV, html_source, html_path, 1, "the HTML body"))
    return WaveTemplate(path, subject, tuple(h for h in headers if h is not subject), body, html)


def _variable_of(exc: Exception) -> str | None:
    m = _UNDEFINED.search(str(exc))
    return (m.group(1) or m.group(2)) if m else None


@dataclass
class TemplateSet:
    """The compiled template of every wave (0 = initial, 1.. = reminders)."""

    waves: list[WaveTemplate]
    _header_variables: frozenset[str] = field(default=frozenset(), init=False)

    def __post_init__(self) -> None:
        self._header_variables = frozenset().union(*(w.header_variables for w in self.waves))

    @classmethod
    def from_paths(cls, paths: Sequence[Path]) -> TemplateSet:
        return cls([parse_template(Path(p), html_sibling(Path(p))) for p in paths])

    def header_variables(self) -> set[str]:
        """Variables used in header templates: the target columns that must never hold CR or LF."""
        return set(self._header_variables)

    def variables(self) -> set[str]:
        return set().union(*(w.variables for w in self.waves))

    def files(self) -> list[Path]:
        return [p for w in self.waves for p in ([w.path] + ([w.html.path] if w.html else []))]

    def render(self, fields: Mapping[str, str], wave: int, campaign: str, line: int, *,
               email: str | None = None) -> RenderedMessage:
        """Render one wave for one target. TemplateError naming template, target line and column."""
        tpl = self.waves[wave]
        context: dict[str, Any] = dict(fields)
        if email is not None:
            context["email"] = email
        context.setdefault("email", "")
        context["wave"] = wave
        context["campaign"] = campaign
        rendered: list[tuple[str, str]] = []
        for header in (tpl.subject, *tpl.headers):
            value = self._run(header.template, context, tpl.path, line, f"header {header.name}").strip()
            if "\r" in value or "\n" in value:
                culprit = next((v for v in sorted(header.variables)
                                if "\r" in str(context.get(v, "")) or "\n" in str(context.get(v, ""))), None)
                where = f"column {culprit}" if culprit else f"header {header.name}"
                raise TemplateError(f"header {header.name} renders with a line break (CR or LF)", file=str(tpl.path),
                                    field=f"targets file line {line}, {where}",
                                    hint="remove the line break from that value; probe never cleans header values")
            rendered.append((header.name, value))
        text = self._run(tpl.body.template, context, tpl.path, line, "the body")
        html = self._run(tpl.html.template, context, tpl.html.path, line, "the HTML body") if tpl.html else None
        return RenderedMessage(rendered[0][1], tuple(rendered[1:]), text, html)

    @staticmethod
    def _run(template: Template, context: dict[str, Any], path: Path, line: int, what: str) -> str:
        try:
            return template.render(context)
        except UndefinedError as exc:
            var = _variable_of(exc)
            raise TemplateError(f"{what} uses `{var or exc}`, which this target does not have", file=str(path),
                                field=f"targets file line {line}, variable {var or '?'}",
                                hint=f"add a column {var} to the targets file, or correct the name in the template "
                                     "(every column of the targets file is a variable, plus wave, campaign, email)"
                                ) from None
        except SecurityError as exc:
            raise TemplateError(f"{what} does something the sandbox forbids: {exc}", file=str(path),
                                field=f"targets file line {line}",
                                hint="use plain {{ column }} variables and filters") from None
        except Exception as exc:  # a filter or an expression failed on this target's data
            raise TemplateError(f"{what} failed: {type(exc).__name__}: {exc}", file=str(path),
                                field=f"targets file line {line}",
                                hint="check the expressions of the template against this target's values") from None

    def missing_variables(self, columns: Iterable[str]) -> list[TemplateError]:
        """Variables used by a template that no column (nor wave, campaign, email) provides."""
        known = set(columns) | PROVIDED
        errors = []
        globals_ = set(_TEXT_ENV.globals)
        for w in self.waves:
            for part_path, variables in ((w.path, w.header_variables | w.body.variables),
                                         *(((w.html.path, w.html.variables),) if w.html else ())):
                for var in sorted(variables - known - globals_):
                    errors.append(TemplateError(
                        f"the template uses `{var}`, which is not a column of the targets file", file=str(part_path),
                        field=f"variable {var}",
                        hint=f"add a column {var} to the targets file or correct the template (columns: "
                             f"{', '.join(sorted(known - PROVIDED))}; also wave, campaign, email)"))
        return errors

    def validate_all(self, rows: Sequence[TargetRow], campaign: str = "campaign",
                     columns: Iterable[str] | None = None, *, exhaustive: bool = False,
                     sample: int = 200) -> list[TemplateError]:
        """Every wave for every target: one error per distinct problem, counting the targets.

        Templates that _safe proves cannot fail are rendered through Jinja2 for `sample` targets
        and checked for the rest by looking at the values their headers use (CR/LF) and at the
        variables each target has; any other template is rendered for every target. With
        `exhaustive`, everything is rendered (the tests compare both ways)."""
        if columns is None:
            columns = rows[0].fields.keys() if rows else ()
        errors = self.missing_variables(columns)
        if errors:
            return errors  # every target would fail the same way
        first: dict[tuple[str | None, str], TemplateError] = {}
        counts: dict[tuple[str | None, str], int] = {}

        def note(exc: TemplateError) -> None:
            key = (exc.file, re.sub(r"^targets file line \d+,? ?", "", exc.field or "") + exc.message)
            counts[key] = counts.get(key, 0) + 1
            first.setdefault(key, exc)

        # The rows a look at their values cannot clear, once per distinct (variables, header variables):
        # waves that use the same ones share the pass over 100,000 rows.
        unclear: dict[tuple[frozenset[str], tuple[str, ...]], list[int]] = {}
        for wave, tpl in enumerate(self.waves):
            todo: Iterable[int] = range(len(rows))
            if not exhaustive and self._all_safe(tpl):
                needed = frozenset(tpl.variables - PROVIDED - set(_TEXT_ENV.globals))
                guarded = tuple(sorted(tpl.header_variables - PROVIDED))
                shape = (needed, guarded)
                if shape not in unclear:
                    unclear[shape] = _unclear_rows(rows, needed, guarded)
                # The sample and the last row through Jinja2, the others only if their values do not
                # prove the template renders (the slow path names the problem then), in file order.
                todo = sorted({*range(min(sample, len(rows))), *unclear[shape], *([len(rows) - 1] if rows else [])})
            for index in todo:
                row = rows[index]
                try:
                    self.render(row.fields, wave, campaign, row.line, email=row.address)
                except TemplateError as exc:
                    note(exc)
        out: list[TemplateError] = []
        for key, error in first.items():
            if counts[key] > 1:
                error = TemplateError(f"{error.message} (and {counts[key] - 1} more like it)", file=error.file,
                                      field=error.field, hint=error.hint)
            out.append(error)
        return out

    @staticmethod
    def _all_safe(tpl: WaveTemplate) -> bool:
        return (tpl.subject.safe and all(h.safe for h in tpl.headers) and tpl.body.safe
                and (tpl.html is None or tpl.html.safe))


def _unclear_rows(rows: Sequence[TargetRow], needed: frozenset[str], guarded: tuple[str, ...]) -> list[int]:
    """Indexes of the rows whose values do not prove that a safe template renders: a variable it
    needs is missing, or a value its headers use holds a CR or LF."""
    if not guarded:
        return [i for i, row in enumerate(rows) if not needed.issubset(row.fields)]
    return [i for i, row in enumerate(rows) if not needed.issubset(row.fields)
            or any("\n" in row.fields[v] or "\r" in row.fields[v] for v in guarded)]


def load_templates(settings: Settings) -> TemplateSet:
    """Compile the templates a campaign names; TemplateError on a syntax or form problem.
    In an experiment: a VariantTemplates, which renders each target with its own variant's."""
    if settings.variants:
        return VariantTemplates({v.name: TemplateSet.from_paths([v.initial, *v.reminders]) for v in settings.variants})
    assert settings.templates is not None
    return TemplateSet.from_paths([settings.templates.initial, *settings.templates.reminders])


#: The target field that names a target's variant (DESIGN.md "Experiments").
VARIANT_FIELD = "variant"


class VariantTemplates(TemplateSet):
    """The template sets of an experiment's variants behind the TemplateSet interface: a target is
    rendered with the set its `variant` field names, so dispatch, preview and validate need no
    experiment-specific code. `waves` are the first variant's (every variant has as many)."""

    def __init__(self, sets: dict[str, TemplateSet]) -> None:
        self.sets = sets
        super().__init__(next(iter(sets.values())).waves)
        self._header_variables = frozenset().union(*(s._header_variables for s in sets.values()))

    def for_variant(self, fields: Mapping[str, str]) -> TemplateSet:
        name = fields.get(VARIANT_FIELD)
        if name not in self.sets:
            raise TemplateError(f"the target has no known variant ({name!r})", field=VARIANT_FIELD,
                                hint="run `probe launch CONFIG` again: it assigns every target a variant")
        return self.sets[str(name)]

    def variables(self) -> set[str]:
        return set().union(*(s.variables() for s in self.sets.values()))

    def files(self) -> list[Path]:
        return [p for s in self.sets.values() for p in s.files()]

    def render(self, fields: Mapping[str, str], wave: int, campaign: str, line: int, *,
               email: str | None = None) -> RenderedMessage:
        return self.for_variant(fields).render(fields, wave, campaign, line, email=email)

    def missing_variables(self, columns: Iterable[str]) -> list[TemplateError]:
        known = [*columns, VARIANT_FIELD]
        return [e for s in self.sets.values() for e in s.missing_variables(known)]

    def validate_all(self, rows: Sequence[TargetRow], campaign: str = "campaign",
                     columns: Iterable[str] | None = None, *, exhaustive: bool = False,
                     sample: int = 200) -> list[TemplateError]:
        """Every wave of each variant for every target that variant gets (rows carry `variant`)."""
        out: list[TemplateError] = []
        for name, templates in self.sets.items():
            mine = [r for r in rows if r.fields.get(VARIANT_FIELD) == name]
            cols = columns if columns is not None else (rows[0].fields.keys() if rows else ())
            out.extend(templates.validate_all(mine, campaign, cols, exhaustive=exhaustive, sample=sample)
                       if mine else templates.missing_variables([*cols, VARIANT_FIELD]))
        return out
