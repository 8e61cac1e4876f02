"""Writes the wider labelled set (tuning/ and heldout/ .eml files and labels.csv) from the specs in
specs_tuning.py and specs_heldout.py. Run from the repository root:

    .venv/bin/python tests/corpus/wider/build.py

The messages are written for probe: replies to our French (or English) survey message in the
shapes real clients give them (Gmail, Outlook, Apple Mail, Thunderbird, mutt), out-of-office
replies and mail that only poses as a reply. The body-only fixtures under heldout/bodies/ are
copied from alfonsrv/mail-parser-reply (MIT, licence in licenses/) and labelled in labels.csv.
"""

from __future__ import annotations

import csv
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
OURS = "<probe.k3j9x2m4p7q1w8e5r6t0y2u4.0@en-contact.example>"
US = "Rédaction En-Contact <redaction@en-contact.example>"

QUESTIONS = {
    "fr": ("Votre abonnement", "Bonjour,\n\nSouhaitez-vous recevoir notre magazine chaque mois ? "
           "Répondez simplement OUI ou NON à ce message.\n\nBien cordialement,\nLa rédaction"),
    "en": ("Your subscription", "Hello,\n\nWould you like to receive our magazine every month? "
           "Simply reply YES or NO to this message.\n\nKind regards,\nThe editors"),
    "de": ("Ihr Abonnement", "Guten Tag,\n\nMöchten Sie unser Magazin jeden Monat erhalten? "
           "Antworten Sie einfach mit JA oder NEIN.\n\nMit freundlichen Grüßen\nDie Redaktion"),
    "es": ("Su suscripción", "Hola,\n\n¿Desea recibir nuestra revista cada mes? "
           "Responda simplemente SÍ o NO a este mensaje.\n\nAtentamente,\nLa redacción"),
    "it": ("Il suo abbonamento", "Buongiorno,\n\nDesidera ricevere la nostra rivista ogni mese? "
           "Risponda semplicemente SÌ o NO a questo messaggio.\n\nCordiali saluti,\nLa redazione"),
}
DATE = "Mon, 28 Sep 2026 09:00:00 +0200"


def quoted(text: str) -> str:
    return "\n".join(("> " + line).rstrip() for line in text.split("\n"))


def attribution(style: str, lang: str) -> str:
    """The line(s) each client puts between the new text and the original."""
    a = {
        ("gmail", "fr"): f"Le lun. 28 sept. 2026 à 09:00, {US} a écrit :",
        ("gmail", "en"): f"On Mon, Sep 28, 2026 at 9:00 AM {US} wrote:",
        ("gmail", "de"): f"Am Mo., 28. Sept. 2026 um 09:00 Uhr schrieb {US}:",
        ("gmail", "es"): f"El lun, 28 sept 2026 a las 9:00, {US} escribió:",
        ("gmail", "it"): f"Il giorno lun 28 set 2026 alle ore 09:00 {US} ha scritto:",
        ("apple", "fr"): f"Le 28 sept. 2026 à 09:00, {US} a écrit :",
        ("apple", "en"): f"On 28 Sep 2026, at 09:00, {US} wrote:",
        ("apple", "de"): f"Am 28.09.2026 um 09:00 schrieb {US}:",
        ("apple", "es"): f"El 28 sept 2026, a las 9:00, {US} escribió:",
        ("apple", "it"): f"Il giorno 28 set 2026, alle ore 09:00, {US} ha scritto:",
        ("thunderbird", "fr"): f"Le 28/09/2026 à 09:00, {US} a écrit :",
        ("thunderbird", "en"): f"On 28/09/2026 09:00, {US} wrote:",
        ("thunderbird", "de"): f"Am 28.09.26 um 09:00 schrieb {US}:",
        ("thunderbird", "es"): f"El 28/9/26 a las 9:00, {US} escribió:",
        ("thunderbird", "it"): f"Il 28/09/26 09:00, {US} ha scritto:",
        ("mutt", "en"): f"On Mon, Sep 28, 2026 at 09:00:00AM +0200, {US} wrote:",
    }
    return a.get((style, lang)) or a[(style, "en")]


OUTLOOK_HEADERS = {
    "fr": ("De", "Envoyé", "À", "Objet", "lundi 28 septembre 2026 09:00"),
    "en": ("From", "Sent", "To", "Subject", "Monday, September 28, 2026 9:00 AM"),
    "de": ("Von", "Gesendet", "An", "Betreff", "Montag, 28. September 2026 09:00"),
    "es": ("De", "Enviado el", "Para", "Asunto", "lunes, 28 de septiembre de 2026 9:00"),
    "it": ("Da", "Inviato", "A", "Oggetto", "lunedì 28 settembre 2026 09:00"),
}
TB_ORIGINAL = {
    "fr": ("-------- Message original --------", "Sujet", "Date", "De", "Pour"),
    "en": ("-------- Original Message --------", "Subject", "Date", "From", "To"),
    "de": ("-------- Ursprüngliche Nachricht --------", "Betreff", "Datum", "Von", "An"),
    "es": ("-------- Mensaje original --------", "Asunto", "Fecha", "De", "Para"),
    "it": ("-------- Messaggio originale --------", "Oggetto", "Data", "Mittente", "A"),
}


def body_for(new: str, style: str, lang: str, qlang: str) -> str:
    subject, question = QUESTIONS[qlang]
    if style == "none":
        return new
    if style in ("gmail", "apple", "thunderbird", "mutt"):
        return f"{new}\n\n{attribution(style, lang)}\n\n{quoted(question)}\n"
    if style == "bottom":  # mutt/Thunderbird bottom posting
        return f"{attribution('thunderbird', lang)}\n{quoted(question)}\n\n{new}\n"
    if style == "inline":  # the answer right under the quoted question
        head, _, tail = question.partition("\n\n")
        ask, _, rest = tail.partition("\n\n")
        return f"{attribution('thunderbird', lang)}\n{quoted(head)}\n>\n{quoted(ask)}\n\n{new}\n\n{quoted(rest)}\n"
    if style == "outlook":
        f, s, t, o, when = OUTLOOK_HEADERS[lang]
        return (f"{new}\n\n________________________________\n{f}: {US}\n{s}: {when}\n{t}: Marie Dupont\n"
                f"{o}: {subject}\n\n{question}\n")
    if style == "outlook_old":
        f, s, t, o, when = OUTLOOK_HEADERS[lang]
        return (f"{new}\n\n-----Original Message-----\n{f}: {US}\n{s}: {when}\n{t}: Marie Dupont\n"
                f"{o}: {subject}\n\n{question}\n")
    if style == "tb_original_bottom":  # Thunderbird "original message" header, quoted body, answer below
        sep, s, d, f, t = TB_ORIGINAL[lang]
        return f"{sep}\n{s}: {subject}\n{d}: {DATE}\n{f}: {US}\n{t}: marie@example.fr\n\n{quoted(question)}\n\n{new}\n"
    if style == "forward_back":  # our message forwarded back with the answer on top
        return (f"{new}\n\n-------- Message transféré --------\nSujet : {subject}\nDate : {DATE}\n"
                f"De : {US}\nPour : marie@example.fr\n\n{question}\n")
    raise ValueError(style)


@dataclass(frozen=True)
class Spec:
    name: str
    kind: str                       # human_reply, auto_reply, unknown, ...
    answer: str = ""                # yes / no / unclear for human replies
    new: str = ""                   # what the person (or the system) wrote
    style: str = "gmail"
    lang: str = "fr"                # of the writer's client
    qlang: str = ""                 # of our question (default: lang)
    subject: str | None = None      # default: "RE: <our subject>"
    threaded: bool = True
    sender: str = "Marie Dupont <marie.dupont@societe.example>"
    headers: dict[str, str] = field(default_factory=dict)
    html: bool = False
    notes: str = ""


def render(spec: Spec) -> bytes:
    qlang = spec.qlang or spec.lang
    our_subject = QUESTIONS[qlang][0]
    subject = spec.subject if spec.subject is not None else f"RE: {our_subject}"
    body = body_for(spec.new, spec.style, spec.lang, qlang)
    lines = [f"From: {spec.sender}", f"To: {US}", f"Subject: {subject}", "Date: Tue, 29 Sep 2026 10:14:00 +0200",
             f"Message-ID: <{spec.name}.1@societe.example>", "MIME-Version: 1.0"]
    if spec.threaded:
        lines += [f"In-Reply-To: {OURS}", f"References: {OURS}"]
    lines += [f"{k}: {v}" for k, v in spec.headers.items()]
    if spec.html:
        html = "<html><body>" + "".join(f"<p>{line}</p>" for line in body.split("\n") if line) + "</body></html>"
        lines += ['Content-Type: multipart/alternative; boundary="ALT"']
        text = (f"--ALT\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{body}\n"
                f"--ALT\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n{html}\n--ALT--\n")
    else:
        lines += ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
        text = body
    return ("\r\n".join(lines) + "\r\n\r\n" + text.replace("\n", "\r\n")).encode("utf-8")


def _load(name: str) -> list[Spec]:
    spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return list(module.SPECS)


def main() -> int:
    sys.modules.setdefault("build", sys.modules[__name__])
    rows: list[dict[str, str]] = []
    for split, module in (("tuning", "specs_tuning"), ("heldout", "specs_heldout")):
        folder = HERE / split
        folder.mkdir(exist_ok=True)
        for spec in _load(module):
            path = folder / f"{spec.name}.eml"
            path.write_bytes(render(spec))
            rows.append({"file": f"{split}/{spec.name}.eml", "split": split, "kind": spec.kind,
                         "answer": spec.answer, "lang": spec.lang, "source": "probe (written for this set)",
                         "license": "GPL-3.0-or-later", "expect_in": "", "expect_not_in": "", "notes": spec.notes})
    with (HERE / "bodies.csv").open(encoding="utf-8", newline="") as fh:
        rows.extend(csv.DictReader(fh))
    with (HERE / "labels.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} labelled files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
