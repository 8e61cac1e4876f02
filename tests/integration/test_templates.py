"""Templates (Jinja2 sandbox, header split, CR/LF refusal) and the message built from them,
including a trip through a real SMTP server."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest

from probe.adapters.compose import build_message
from probe.adapters.targets import TargetRow, load_targets
from probe.adapters.templates import RenderedMessage, TemplateSet, load_templates, parse_template
from probe.config import load_config
from probe.errors import TemplateError

ROOT = Path(__file__).resolve().parents[2]
FIELDS = {"civilite": "Madame", "prenom": "Élodie", "nom": "Dupont", "societe": "Banque Rive",
          "secteur": "banque", "email": "elodie@banque-rive.example"}


def tpl(tmp_path: Path, text: str, name: str = "t.txt.j2", html: str | None = None) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    if html is not None:
        path.with_name(name.replace(".txt.j2", ".html.j2")).write_text(html, encoding="utf-8")
    return path


def one(tmp_path: Path, text: str, html: str | None = None) -> TemplateSet:
    return TemplateSet.from_paths([tpl(tmp_path, text, html=html)])


def row(line: int, **fields: str) -> TargetRow:
    merged = {**FIELDS, **fields}
    return TargetRow(line, merged["email"], merged["email"].lower(), merged)


# --- the founding case's templates ----------------------------------------------------------------

def test_founding_templates_render(tmp_path: Path) -> None:
    paths = [ROOT / "templates" / n for n in ("initial.txt.j2", "reminder1.txt.j2", "reminder2.txt.j2")]
    ts = TemplateSet.from_paths(paths)
    assert ts.header_variables() == set()
    assert ts.variables() == {"civilite", "nom", "secteur", "societe"}
    for wave in range(3):
        r = ts.render(FIELDS, wave, "drc-2015", 2)
        assert "OUI ou NON" in r.subject and r.html is None and r.headers == ()
        assert "répondez simplement OUI ou NON" in r.text
        assert r.text.startswith("Madame Dupont,\n")
    assert "Banque Rive" in ts.render(FIELDS, 0, "drc-2015", 2).text


def test_english_templates_with_html(tmp_path: Path) -> None:
    paths = [ROOT / "templates" / "en" / n for n in ("initial.txt.j2", "reminder1.txt.j2", "reminder2.txt.j2")]
    ts = TemplateSet.from_paths(paths)
    r = ts.render({**FIELDS, "societe": "Smith & <Sons>"}, 0, "drc-2015", 2)
    assert "simply reply YES or NO" in r.text and "Smith & <Sons>" in r.text
    assert r.html is not None and "Smith &amp; &lt;Sons&gt;" in r.html
    assert ts.render(FIELDS, 1, "drc-2015", 2).html is None
    assert ROOT / "templates" / "en" / "initial.html.j2" in ts.files()


def test_load_templates_from_settings(tmp_path: Path) -> None:
    shutil.copy(ROOT / "config.example.toml", tmp_path / "campaign.toml")
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    (tmp_path / "targets.csv").write_text("civilite;prenom;nom;societe;secteur;email\n"
                                          "M.;Jean;Martin;Assur;assurance;jean@assur.example\n", encoding="utf-8")
    settings = load_config(tmp_path / "campaign.toml")
    ts = load_templates(settings)
    targets = load_targets(settings.targets.file, header_columns=ts.header_variables())
    assert ts.validate_all(targets.rows, settings.campaign.name) == []
    assert len(ts.waves) == 3


# --- the template form -------------------------------------------------------------------------------

def test_variables_headers_and_body(tmp_path: Path) -> None:
    ts = one(tmp_path, "Subject: {{ campaign }} vague {{ wave }} pour {{ prenom|upper }}\n"
                       "Reply-To: redaction+{{ nom|lower }}@en-contact.example\nX-Campaign: {{ campaign }}\n"
                       "\n{{ civilite }} {{ nom }} <{{ email }}>,\n\n{% if wave == 0 %}Bonjour{% else %}Rappel"
                       "{% endif %}\n")
    r = ts.render(FIELDS, 0, "drc-2015", 7, email="Elodie@Banque-Rive.example")
    assert r == RenderedMessage(
        subject="drc-2015 vague 0 pour ÉLODIE",
        headers=(("Reply-To", "redaction+dupont@en-contact.example"), ("X-Campaign", "drc-2015")),
        text="Madame Dupont <Elodie@Banque-Rive.example>,\n\nBonjour\n", html=None)
    assert ts.header_variables() == {"campaign", "wave", "prenom", "nom"}


def test_text_is_not_escaped_and_folded_headers_join(tmp_path: Path) -> None:
    ts = one(tmp_path, "Subject: Offre\n  pour {{ societe }}\n\n{{ societe }} <b>\r\n")
    r = ts.render({**FIELDS, "societe": "A & <B>"}, 0, "c", 2)
    assert r.subject == "Offre pour A & <B>" and r.text == "A & <B> <b>\n"


@pytest.mark.parametrize("header", ["From", "To", "cc", "BCC", "Message-ID", "Date", "In-Reply-To", "References",
                                    "Content-Type", "content-transfer-encoding", "MIME-Version", "Sender",
                                    "Resent-To", "Return-Path"])
def test_forbidden_headers(tmp_path: Path, header: str) -> None:
    path = tpl(tmp_path, f"Subject: x\n{header}: y@example.com\n\nbody\n")
    with pytest.raises(TemplateError) as err:
        parse_template(path)
    assert str(err.value) == (f"{path}: line 2: header {header} is set by probe, not by templates\n"
                              "  fix: remove that line: From comes from campaign.from, To from the targets file, "
                              "the rest from probe itself")


@pytest.mark.parametrize(("text", "message", "field"), [
    ("Hello,\n\nbody\n", "line 1 is neither a header `Name: value` nor the blank line before the body", "line 1"),
    ("\nbody\n", "no Subject: header", "line 1"),
    ("X-Tag: a\n\nbody\n", "no Subject: header", "line 1"),
    ("Subject: x\nbody without blank line\n", "line 2 is neither a header", "line 2"),
    ("Subject: x", "no blank line between the headers and the body", "line 1"),
    ("Subject: a\nsubject: b\n\nbody\n", "header subject appears twice", "line 2"),
    ("Subject: {{ nom \n\nbody\n", "Jinja2 syntax error in header Subject", "line 1"),
    ("Subject: x\n\nline 3\nline 4\n{% if %}\n", "Jinja2 syntax error in the body", "line 5"),
    ("Subject: x\n\n{% for x in y %}\n", "Jinja2 syntax error in the body", "line 3"),
])
def test_form_errors_name_the_line(tmp_path: Path, text: str, message: str, field: str) -> None:
    path = tpl(tmp_path, text)
    with pytest.raises(TemplateError) as err:
        parse_template(path)
    assert err.value.message.startswith(message)
    assert (err.value.file, err.value.field) == (str(path), field)
    assert err.value.hint


def test_html_syntax_error_names_the_html_file(tmp_path: Path) -> None:
    path = tpl(tmp_path, "Subject: x\n\nbody\n", html="<p>\n{{ nom }\n</p>")
    with pytest.raises(TemplateError) as err:
        TemplateSet.from_paths([path])
    assert err.value.file == str(tmp_path / "t.html.j2") and err.value.field == "line 2"


def test_not_utf8_and_too_big(tmp_path: Path) -> None:
    path = tmp_path / "t.txt.j2"
    path.write_bytes("Subject: é\n\nx".encode("cp1252"))
    with pytest.raises(TemplateError, match="not UTF-8"):
        parse_template(path)
    path.write_text("Subject: x\n\n" + "x" * 300_000)
    with pytest.raises(TemplateError, match="more than"):
        parse_template(path)


# --- rendering errors: undefined variables, CR/LF, sandbox ----------------------------------------

def test_undefined_variable(tmp_path: Path) -> None:
    ts = one(tmp_path, "Subject: x\n\nBonjour {{ prenom }} {{ fonction }}\n")
    with pytest.raises(TemplateError) as err:
        ts.render(FIELDS, 0, "c", 12)
    assert str(err.value) == (
        f"{tmp_path / 't.txt.j2'}: targets file line 12, variable fonction: the body uses `fonction`, which this "
        "target does not have\n  fix: add a column fonction to the targets file, or correct the name in the template "
        "(every column of the targets file is a variable, plus wave, campaign, email)")


def test_validate_all_reports_a_missing_column_once(tmp_path: Path) -> None:
    ts = one(tmp_path, "Subject: {{ titre }}\n\nBonjour {{ prenom }} {{ fonction }} {{ range(2)|list }}\n")
    errors = ts.validate_all([row(i) for i in range(2, 500)])
    assert [(e.field, e.message) for e in errors] == [
        ("variable fonction", "the template uses `fonction`, which is not a column of the targets file"),
        ("variable titre", "the template uses `titre`, which is not a column of the targets file")]
    assert errors[0].hint == ("add a column fonction to the targets file or correct the template (columns: "
                              "civilite, nom, prenom, secteur, societe; also wave, campaign, email)")


def test_header_with_line_break_is_refused_naming_the_column(tmp_path: Path) -> None:
    ts = one(tmp_path, "Subject: Offre pour {{ societe }}\n\nbody\n")
    with pytest.raises(TemplateError) as err:
        ts.render({**FIELDS, "societe": "ACME\r\nBcc: victim@example.com"}, 0, "c", 9)
    assert str(err.value) == (f"{tmp_path / 't.txt.j2'}: targets file line 9, column societe: header Subject renders "
                              "with a line break (CR or LF)\n  fix: remove the line break from that value; probe never "
                              "cleans header values")
    # the same value in the body is fine: it is text, not a header
    body_only = TemplateSet.from_paths([tpl(tmp_path, "Subject: x\n\n{{ societe }}\n", "b.txt.j2")])
    assert body_only.render({**FIELDS, "societe": "A\r\nB"}, 0, "c", 9).text == "A\r\nB\n"


def test_header_line_break_from_the_template_itself(tmp_path: Path) -> None:
    ts = one(tmp_path, "Subject: {{ nom ~ '\\n' ~ 'Bcc: x@example.com' }}\n\nbody\n")
    with pytest.raises(TemplateError) as err:
        ts.render(FIELDS, 0, "c", 3)
    assert err.value.field == "targets file line 3, header Subject"


def test_sandbox_blocks_internals(tmp_path: Path) -> None:
    ts = one(tmp_path, "Subject: x\n\n{{ nom.__class__.__mro__ }}\n")
    with pytest.raises(TemplateError) as err:
        ts.render(FIELDS, 0, "c", 2)
    assert err.value.field in ("targets file line 2", "targets file line 2, variable __class__")


def test_failure_on_one_targets_data(tmp_path: Path) -> None:
    ts = one(tmp_path, "Subject: x\n\nRemise : {{ 100 // (remise|int) }} %\n")
    rows = [row(i, remise="10") for i in range(2, 300)] + [row(300, remise="0")]
    errors = ts.validate_all(rows)
    assert len(errors) == 1
    assert errors[0].field == "targets file line 300"
    assert errors[0].message == "the body failed: ZeroDivisionError: integer division or modulo by zero"


def test_same_problem_on_many_targets_is_counted(tmp_path: Path) -> None:
    ts = one(tmp_path, "Subject: x\n\n{{ 100 // (remise|int) }}\n")
    rows = [row(i, remise="0" if i % 2 else "5") for i in range(2, 12)]
    errors = ts.validate_all(rows)
    assert len(errors) == 1 and errors[0].field == "targets file line 3"
    assert errors[0].message.endswith("(and 4 more like it)")


# --- validate_all: every wave for every target ----------------------------------------------------

def _waves(tmp_path: Path, subject: str = "Offre {{ societe }}") -> TemplateSet:
    return TemplateSet.from_paths([
        tpl(tmp_path, f"Subject: {subject}\n\n{{{{ civilite }}}} {{{{ nom|title }}}},\n", "a.txt.j2"),
        tpl(tmp_path, "Subject: Rappel\nReply-To: r+{{ nom|lower }}@example.org\n\n{% if secteur == 'banque' %}"
                      "banque{% else %}{{ secteur|default('autre') }}{% endif %}\n", "b.txt.j2",
            html="<p>{{ nom }}</p>"),
    ])


def test_validate_all_proves_simple_templates_and_renders_the_rest(tmp_path: Path) -> None:
    ts = _waves(tmp_path)
    assert all(TemplateSet._all_safe(w) for w in ts.waves)
    rows = [row(i, email=f"p{i}@example.com") for i in range(2, 1002)]
    rows[700] = row(702, email="p700@example.com", societe="bad\nvalue")
    rows[900] = TargetRow(902, "q@example.com", "q@example.com", {"email": "q@example.com", "nom": "X"})
    fast = ts.validate_all(rows)
    slow = ts.validate_all(rows, exhaustive=True)
    assert [(e.file, e.field, e.message) for e in fast] == [(e.file, e.field, e.message) for e in slow]
    assert [(e.field, e.message) for e in fast] == [
        ("targets file line 702, column societe", "header Subject renders with a line break (CR or LF)"),
        ("targets file line 902, variable societe",
         "header Subject uses `societe`, which this target does not have"),
        ("targets file line 902, variable secteur", "the body uses `secteur`, which this target does not have"),
    ]


def test_validate_all_waves_with_the_same_variables_share_the_look_at_the_rows(tmp_path: Path) -> None:
    """Two reminders using the same variables: each still names its own problems, like the slow way."""
    ts = TemplateSet.from_paths([
        tpl(tmp_path, "Subject: Offre {{ societe }}\n\n{{ nom }}\n", "a.txt.j2"),
        tpl(tmp_path, "Subject: Rappel {{ societe }}\n\n{{ nom }}, relance\n", "b.txt.j2"),
        tpl(tmp_path, "Subject: Rappel {{ societe }}\n\n{{ nom }}, dernier rappel\n", "c.txt.j2"),
    ])
    rows = [row(i, email=f"p{i}@example.com") for i in range(2, 602)]
    rows[400] = row(402, email="p400@example.com", societe="bad\rvalue")
    rows[500] = TargetRow(502, "q@example.com", "q@example.com", {"email": "q@example.com", "nom": "X"})
    fast = ts.validate_all(rows)
    slow = ts.validate_all(rows, exhaustive=True)
    assert [(e.file, e.field, e.message) for e in fast] == [(e.file, e.field, e.message) for e in slow]
    names = ("a.txt.j2", "b.txt.j2", "c.txt.j2")
    assert len(fast) == 6 and {e.file for e in fast} == {str(tmp_path / n) for n in names}


@pytest.mark.parametrize(("source", "safe"), [
    ("Subject: x\n\n{{ a }} {{ b|upper }} {{ c|default('-') }} {{ d|replace('x', 'y') }}\n", True),
    ("Subject: x\n\n{% if a == 'x' and b != 'y' or not c %}{{ a }}{% elif d is defined %}{% endif %}\n", True),
    ("Subject: {{ a ~ b }}\n\n{{ 'x' if a else 'y' }}\n", True),
    ("Subject: {{ a|replace('x', '\\n') }}\n\nbody\n", False),   # may add a line break to a header
    ("Subject: x\n\n{{ a|int }}\n", False),
    ("Subject: x\n\n{{ a.b }}\n", False),
    ("Subject: x\n\n{% for x in a %}{{ x }}{% endfor %}\n", False),
    ("Subject: x\n\n{% if a < 'b' %}{% endif %}\n", False),
    ("Subject: x\n\n{{ a|replace(b, c) }}\n", False),
    ("Subject: x\n\n{{ a[0] }}\n", False),
])
def test_what_counts_as_provably_safe(tmp_path: Path, source: str, safe: bool) -> None:
    assert TemplateSet._all_safe(one(tmp_path, source).waves[0]) is safe


def _rows(n: int) -> list[TargetRow]:
    return [row(i + 2, email=f"p{i}@example.com", nom=f"Nom{i}", societe=f"Société {i % 97}") for i in range(n)]


def test_validate_all_ten_thousand_targets_quickly(tmp_path: Path) -> None:
    ts = _waves(tmp_path)
    started = time.perf_counter()
    assert ts.validate_all(_rows(10_000)) == []
    assert time.perf_counter() - started < 5


@pytest.mark.slow
def test_validate_all_hundred_thousand_targets_three_waves(tmp_path: Path) -> None:
    paths = [ROOT / "templates" / n for n in ("initial.txt.j2", "reminder1.txt.j2", "reminder2.txt.j2")]
    ts = TemplateSet.from_paths(paths)
    rows = _rows(100_000)
    started = time.perf_counter()
    assert ts.validate_all(rows, "drc-2015") == []
    elapsed = time.perf_counter() - started
    print(f"validate_all: 100,000 targets x 3 waves in {elapsed:.2f} s")
    assert elapsed < 10


# --- the message ---------------------------------------------------------------------------------

DATE = datetime(2015, 10, 4, 7, 0, tzinfo=UTC)


def test_build_initial_message() -> None:
    rendered = RenderedMessage("Abonnement : OUI ou NON ?", (), "Madame Dupont,\nrépondez simplement OUI ou NON.\n",
                               None)
    msg = build_message(rendered, from_="Rédaction En-Contact <redaction@en-contact.example>",
                        to="elodie@banque-rive.example", message_id="<probe.abc.0@en-contact.example>", date=DATE,
                        reply_to="redaction+abc@en-contact.example")
    assert msg["From"] == "Rédaction En-Contact <redaction@en-contact.example>"
    assert (msg["To"], msg["Subject"]) == ("elodie@banque-rive.example", "Abonnement : OUI ou NON ?")
    assert msg["Date"] == "Sun, 04 Oct 2015 07:00:00 +0000"
    assert msg["Message-ID"] == "<probe.abc.0@en-contact.example>"
    assert msg["In-Reply-To"] is None and msg["References"] is None and msg["List-Unsubscribe"] is None
    assert msg["Reply-To"] == "redaction+abc@en-contact.example"
    assert msg.get_content_type() == "text/plain" and msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert msg.get_content() == "Madame Dupont,\nrépondez simplement OUI ou NON.\n"
    assert msg.as_bytes().isascii()


def test_build_reminder_threads_and_html() -> None:
    rendered = RenderedMessage("Rappel", (("Reply-To", "perso@en-contact.example"), ("X-Tag", "")), "texte\n",
                               "<p>texte &amp; plus</p>")
    msg = build_message(rendered, from_="redaction@en-contact.example", to="a@example.com",
                        message_id="<probe.abc.2@en-contact.example>", date=DATE,
                        references=["<probe.abc.0@en-contact.example>", "<probe.abc.1@en-contact.example>"],
                        reply_to="campaign@en-contact.example", list_unsubscribe="redaction@en-contact.example")
    assert msg["In-Reply-To"] == "<probe.abc.1@en-contact.example>"
    assert msg["References"] == "<probe.abc.0@en-contact.example> <probe.abc.1@en-contact.example>"
    assert msg.get_all("Reply-To") == ["perso@en-contact.example"]  # the template's wins
    assert msg["X-Tag"] is None  # rendered empty: left out
    assert msg["List-Unsubscribe"] == "<mailto:redaction@en-contact.example?subject=unsubscribe>"
    assert msg.get_content_type() == "multipart/alternative"
    assert msg.get_body(("html",)).get_content() == "<p>texte &amp; plus</p>\n"
    assert msg.get_body(("plain",)).get_content() == "texte\n"


@pytest.mark.parametrize("bad", [{"to": "a@example.com\r\nBcc: b@example.com"},
                                 {"from_": "x@example.com\nBcc: b@example.com"},
                                 {"reply_to": "x@example.com\rBcc: b@example.com"},
                                 {"references": ["<a@b>\r\nX: y"]}])
def test_build_refuses_line_breaks(bad: dict[str, Any]) -> None:
    kwargs: dict[str, Any] = {"from_": "r@example.com", "to": "a@example.com", "message_id": "<m@example.com>",
                              "date": DATE, **bad}
    with pytest.raises(TemplateError, match="contains a line break"):
        build_message(RenderedMessage("s", (), "t", None), **kwargs)


def test_build_refuses_subject_with_line_break_and_bad_arguments() -> None:
    with pytest.raises(TemplateError) as err:
        build_message(RenderedMessage("a\nb", (), "t", None), from_="r@example.com", to="a@example.com",
                      message_id="<m@example.com>", date=DATE)
    assert err.value.field == "Subject"
    with pytest.raises(ValueError, match="timezone-aware"):
        build_message(RenderedMessage("s", (), "t", None), from_="r@example.com", to="a@example.com",
                      message_id="<m@example.com>", date=datetime(2015, 10, 4))
    with pytest.raises(ValueError, match="message_id"):
        build_message(RenderedMessage("s", (), "t", None), from_="r@example.com", to="a@example.com",
                      message_id="m@example.com", date=DATE)


async def test_message_survives_a_real_smtp_server(smtp_server: Any) -> None:
    ts = TemplateSet.from_paths([ROOT / "templates" / "en" / "initial.txt.j2"])
    rendered = ts.render({**FIELDS, "societe": "Crédit & Cie"}, 0, "drc-2015", 2)
    msg = build_message(rendered, from_="Rédaction En-Contact <redaction@en-contact.example>",
                        to=FIELDS["email"], message_id="<probe.abc.0@en-contact.example>", date=DATE)
    await aiosmtplib.send(msg, hostname=smtp_server.host, port=smtp_server.port, start_tls=False, use_tls=False)
    received = smtp_server.handler.wait_for(1)[0]
    got = message_from_bytes(received.raw, policy=policy.default)
    assert received.rcpt_tos == [FIELDS["email"]]
    assert str(got["From"]) == "Rédaction En-Contact <redaction@en-contact.example>"
    assert got["Message-ID"] == "<probe.abc.0@en-contact.example>"
    assert "Crédit & Cie" in got.get_body(("plain",)).get_content()
    assert "Crédit &amp; Cie" in got.get_body(("html",)).get_content()


def test_templates_compile_once_and_an_edit_is_seen(tmp_path: Path) -> None:
    path = tmp_path / "initial.txt.j2"
    path.write_text("Subject: Bonjour {{ nom }}\n\nTexte {{ nom }}\n", encoding="utf-8")
    first, again = TemplateSet.from_paths([path]), TemplateSet.from_paths([path])
    assert first.waves[0] is again.waves[0]   # the compiled template is reused
    path.write_text("Subject: Au revoir {{ nom }}\n\nTexte {{ nom }}\n", encoding="utf-8")  # within the same second
    edited = TemplateSet.from_paths([path])
    assert edited.render({"nom": "Dupont"}, 0, "c", 2).subject == "Au revoir Dupont"
    (tmp_path / "initial.html.j2").write_text("<p>{{ nom }}</p>", encoding="utf-8")
    assert TemplateSet.from_paths([path]).render({"nom": "D"}, 0, "c", 2).html == "<p>D</p>"
