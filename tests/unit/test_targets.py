from __future__ import annotations

import time
from pathlib import Path

import pytest
from email_validator import EmailNotValidError, validate_email

from probe.adapters.targets import address_problem, decode, load_targets, variable_name
from probe.errors import TargetsError

HEADER = "civilite;prenom;nom;societe;secteur;email"


def csv_file(tmp_path: Path, content: str | bytes, name: str = "targets.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def test_plain_utf8_comma(tmp_path: Path) -> None:
    path = csv_file(tmp_path, "email,prenom,nom\nelodie@example.com,Élodie,Dupont\nJean@Example.org,Jean,Martin\n")
    tf = load_targets(path)
    assert (tf.encoding, tf.delimiter, tf.columns) == ("utf-8", ",", ("email", "prenom", "nom"))
    assert [(r.line, r.address, r.email) for r in tf.rows] == [
        (2, "elodie@example.com", "elodie@example.com"), (3, "Jean@Example.org", "jean@example.org")]
    assert tf.rows[0].fields == {"email": "elodie@example.com", "prenom": "Élodie", "nom": "Dupont"}
    assert tf.problems == [] and tf.email_column == "email" and tf.path == path


def test_excel_french_export_latin1_semicolon_bom_duplicate(tmp_path: Path) -> None:
    # What a French Excel produces: semicolons, Windows-1252 (é, œ, €), CRLF line ends; with a BOM on top
    # and a duplicate that differs only by case.
    text = (f"\ufeff{HEADER}\r\nM.;Loïc;Lœuvre;Société Générale;Banque & €;loic@sg.example.com\r\n"
            "Mme;Zoé;Dupré;Crédit;Banque;zoe@credit.example.com\r\n"
            "Mme;Zoé;Dupré;Crédit;Banque;ZOE@Credit.Example.com\r\n")
    data = b"\xef\xbb\xbf" + text[1:].encode("cp1252")
    tf = load_targets(csv_file(tmp_path, data))
    assert tf.encoding == "windows-1252" and tf.delimiter == ";"
    assert tf.columns == ("civilite", "prenom", "nom", "societe", "secteur", "email")
    assert [r.fields["nom"] for r in tf.rows] == ["Lœuvre", "Dupré"]
    assert tf.rows[0].fields["secteur"] == "Banque & €" and tf.rows[0].fields["prenom"] == "Loïc"
    assert [str(p) for p in tf.problems] == [
        "line 4, column email: duplicate of line 3 (ZOE@Credit.Example.com)"]


def test_utf8_with_bom(tmp_path: Path) -> None:
    tf = load_targets(csv_file(tmp_path, "\ufeffEmail;Prénom\r\na@example.com;Zoé\r\n"))
    assert tf.encoding == "utf-8-sig" and tf.rows[0].fields == {"email": "a@example.com", "prenom": "Zoé"}
    assert tf.renamed() == {"Email": "email", "Prénom": "prenom"}


def test_latin1_bytes_undefined_in_cp1252(tmp_path: Path) -> None:
    # 0x81 is undefined in Windows-1252: fall back to Latin-1 rather than fail
    tf = load_targets(csv_file(tmp_path, b"email;note\na@example.com;x\x81y\n"))
    assert tf.encoding == "latin-1" and tf.rows[0].fields["note"] == "x\x81y"


@pytest.mark.parametrize(("data", "text", "encoding"), [
    (b"caf\xc3\xa9", "café", "utf-8"),
    (b"\xef\xbb\xbfcaf\xc3\xa9", "café", "utf-8-sig"),
    (b"caf\xe9", "café", "windows-1252"),
    (b"\x80", "€", "windows-1252"),
    (b"\x8d", "\x8d", "latin-1"),
])
def test_decode(data: bytes, text: str, encoding: str) -> None:
    assert decode(data) == (text, encoding)


@pytest.mark.parametrize(("header", "used"), [
    ("E-mail;nom", "E-mail"), ("Courriel;nom", "Courriel"), ("MAIL;nom", "MAIL"),
    ("nom;Adresse e-mail", "Adresse e-mail"), ("email;mail", "email"),
])
def test_email_column_aliases(tmp_path: Path, header: str, used: str) -> None:
    first = header.split(";")[0]
    row = "a@example.com;Dupont" if first.lower() != "nom" else "Dupont;a@example.com"
    if header == "email;mail":
        row = "a@example.com;b@example.com"
    tf = load_targets(csv_file(tmp_path, f"{header}\n{row}\n"))
    assert tf.email_column == used and tf.rows[0].email == "a@example.com"
    assert "email" in tf.columns


@pytest.mark.parametrize(("header", "name"), [
    (" Prénom ", "prenom"), ("Nom de famille", "nom_de_famille"), ("Société", "societe"),
    ("Secteur d'activité", "secteur_d_activite"), ("2e adresse", "c_2e_adresse"), ("CA (k€)", "ca_k"),
    ("civilité", "civilite"), ("Œuvre", "oeuvre"),
])
def test_variable_name(header: str, name: str) -> None:
    assert variable_name(header) == name


def test_tab_delimited_and_empty_header_cell(tmp_path: Path) -> None:
    tf = load_targets(csv_file(tmp_path, "email\t\tnom\na@example.com\tx\tDupont\n"))
    assert tf.delimiter == "\t" and tf.columns == ("email", "column_2", "nom")


def test_empty_rows_skipped_line_numbers_kept(tmp_path: Path) -> None:
    text = "\n\nemail;nom\n;;\n\na@example.com;A\n;\nb@example.com;\"B\non two lines\"\nc@example.com;C\n"
    tf = load_targets(csv_file(tmp_path, text))
    assert [(r.line, r.email) for r in tf.rows] == [(6, "a@example.com"), (8, "b@example.com"),
                                                    (10, "c@example.com")]
    assert tf.rows[1].fields["nom"] == "B\non two lines"  # a body-only column may hold line breaks
    assert tf.problems == []


def test_short_and_long_rows(tmp_path: Path) -> None:
    text = "email;prenom;nom\na@example.com;A\nb@example.com;B;Bb;;\nc@example.com;C;Cc;extra\n"
    tf = load_targets(csv_file(tmp_path, text))
    assert [r.fields for r in tf.rows] == [{"email": "a@example.com", "prenom": "A", "nom": ""},
                                           {"email": "b@example.com", "prenom": "B", "nom": "Bb"}]
    assert [str(p) for p in tf.problems] == [
        "line 4, column #4: 4 values for 3 columns (a separator inside a value needs double quotes)"]


BAD_ROWS = """\
email;nom
ok@example.com;A
not-an-address;B
;C
jean@localhost;D
a@b.test;E
Ok@Example.com;F
x@example..com;G
"""


def test_invalid_and_duplicate_addresses_are_listed_and_skipped(tmp_path: Path) -> None:
    tf = load_targets(csv_file(tmp_path, BAD_ROWS))
    assert [r.line for r in tf.rows] == [2]
    lines = [str(p) for p in tf.problems]
    assert lines[0] == ("line 3, column email: invalid address 'not-an-address': An email address must have an "
                        "@-sign.")
    assert lines[1] == "line 4, column email: no address"
    assert lines[2].startswith("line 5, column email: invalid address 'jean@localhost'")
    assert lines[3].startswith("line 6, column email: invalid address 'a@b.test'")
    assert lines[4] == "line 7, column email: duplicate of line 2 (Ok@Example.com)"
    assert lines[5].startswith("line 8, column email: invalid address 'x@example..com'")


def test_strict_refuses_and_lists_everything(tmp_path: Path) -> None:
    path = csv_file(tmp_path, BAD_ROWS)
    with pytest.raises(TargetsError) as err:
        load_targets(path, strict=True)
    text = str(err.value)
    assert text.startswith(f"{path}: line 3, column email: 6 row(s) refused (strict mode):\n"
                           "  line 3, column email: invalid address 'not-an-address'")
    assert "  line 7, column email: duplicate of line 2 (Ok@Example.com)" in text
    assert text.endswith("fix: correct or remove those rows, or set targets.strict = false to skip them")


def test_line_break_in_email_refuses_the_file(tmp_path: Path) -> None:
    path = csv_file(tmp_path, 'email;nom\na@example.com;A\n"b@example.com\nBcc: x@example.com";B\n')
    with pytest.raises(TargetsError) as err:
        load_targets(path)
    assert err.value.field == "line 3, column email"
    assert str(err.value).startswith(f"{path}: line 3, column email: 1 value(s) contain a line break (CR or LF)")
    assert "remove the line breaks" in str(err.value)


def test_line_break_in_a_header_column_refuses_the_file(tmp_path: Path) -> None:
    text = 'email;Nom;note\na@example.com;"Dupont\r\nBcc: x@example.com";ok\nb@example.com;"Martin\n";"two\nlines"\n'
    path = csv_file(tmp_path, text)
    with pytest.raises(TargetsError) as err:
        load_targets(path, header_columns={"nom"})
    assert err.value.field == "line 2, column Nom"
    assert "  line 2, column Nom: line break inside a value that goes into a mail header" in str(err.value)
    assert "  line 4, column Nom: line break" in str(err.value)  # the quoted field started on line 4
    # the same file is fine when `nom` only reaches the body
    assert len(load_targets(path, header_columns={"note_unused"}).rows) == 2


@pytest.mark.parametrize(("content", "message", "field"), [
    ("", "the file is empty", None),
    ("\n\n", "the file is empty", None),
    ("nom;prenom\nDupont;A\n", "no email column (the header has: nom, prenom)", "line 1"),
    ("email;Nom;nom\na@example.com;A;B\n", "two columns are both named 'nom' ('Nom' and 'nom')", "line 1"),
    ("email;wave\na@example.com;1\n", "column 'wave' has a name probe reserves for templates (wave)",
     "line 1, column wave"),
    ("email;x\na@example.com;\"unterminated\n", None, None),
])
def test_unusable_files(tmp_path: Path, content: str, message: str | None, field: str | None) -> None:
    path = csv_file(tmp_path, content)
    if message is None:  # an unterminated quote at the end: csv keeps it as a value, nothing to refuse
        load_targets(path)
        return
    with pytest.raises(TargetsError) as err:
        load_targets(path)
    assert err.value.message == message and err.value.field == field and err.value.file == str(path)
    assert err.value.hint


def test_nul_byte_is_a_readable_error(tmp_path: Path) -> None:
    path = csv_file(tmp_path, b"email;nom\na@example.com;x\x00y\n")
    try:
        tf = load_targets(path)
    except TargetsError as err:
        assert err.field == "line 2" and "not a readable CSV file" in err.message
    else:  # Python 3.13+ csv accepts NUL
        assert tf.rows[0].fields["nom"] == "x\x00y"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TargetsError, match="cannot read the targets file"):
        load_targets(tmp_path / "nope.csv")


ADDRESSES = [
    "a@example.com", "A.B-c+d@sub.example.co.uk", "o'brien@example.ie", "x@example.museum",
    "first.last@example.com", "user@xn--bcher-kva.example", "user@bücher.example", "émile@example.fr",
    "a..b@example.com", ".a@example.com", "a.@example.com", "a@-example.com", "a@example-.com",
    "a@example.c", "a@example.123", "a@localhost", "a@example.local", "a@example.test", "a@example.invalid",
    "a@example.onion", "a@1.2.3.4", "a@[1.2.3.4]", "\"q\"@example.com", "a b@example.com", "a@exa mple.com",
    "x" * 65 + "@example.com", "a@" + "b" * 64 + ".com", "a@ab--cd.example.com", "a@example.com.",
    "a@@example.com", "a@example..com", "a@e.example", "user%host@example.com", "a@EXAMPLE.COM",
]


@pytest.mark.parametrize("address", ADDRESSES)
def test_fast_address_check_agrees_with_email_validator(address: str) -> None:
    try:
        validate_email(address, check_deliverability=False)
        expected = True
    except EmailNotValidError:
        expected = False
    assert (address_problem(address) is None) is expected


def _big_file(tmp_path: Path, n: int) -> Path:
    lines = [HEADER] + [f"Mme;Élodie{i};Dupont;Société {i % 500};Banque;elodie.dupont{i}@societe{i % 500}.example.com"
                        for i in range(n)]
    return csv_file(tmp_path, "\n".join(lines) + "\n")


def test_ten_thousand_targets_quickly(tmp_path: Path) -> None:
    path = _big_file(tmp_path, 10_000)
    started = time.process_time()  # CPU time: the machine's load does not count
    tf = load_targets(path, header_columns={"nom", "prenom"})
    assert len(tf.rows) == 10_000 and time.process_time() - started < 5


@pytest.mark.slow
def test_hundred_thousand_targets_under_ten_seconds(tmp_path: Path) -> None:
    path = _big_file(tmp_path, 100_000)
    started = time.process_time()  # CPU time: the machine's load does not count
    tf = load_targets(path, header_columns={"nom", "prenom"})
    elapsed = time.process_time() - started
    print(f"load_targets: 100,000 rows in {elapsed:.2f} s")
    assert len(tf.rows) == 100_000 and elapsed < 10
