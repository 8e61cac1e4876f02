"""Out-of-office replies in Dutch, Portuguese, Polish and Swedish (subjects, bodies, return dates),
written the way Outlook, Gmail and Sieve vacation send them; and headers that only *ask* for no
auto-reply (X-Auto-Response-Suppress) are not a mark of automation."""

from __future__ import annotations

from datetime import date

import pytest

from probe.core.classify import classify_bytes
from probe.core.model import MessageKind

OURS = "<probe.abcdefghijklmnopqrstuvwx.0@probe.example>"


def mail(subject: str, body: str, headers: str = "", threaded: bool = True) -> bytes:
    thread = f"In-Reply-To: {OURS}\r\nReferences: {OURS}\r\n" if threaded else ""
    return (f"From: Anna <anna@firma.example>\r\nTo: probe@probe.example\r\nSubject: {subject}\r\n"
            f"Date: Mon, 28 Sep 2026 10:02:00 +0200\r\nMessage-ID: <a1@firma.example>\r\n{thread}{headers}"
            f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}").encode()


CASES = [
    # (name, message, return date or None)
    ("nl subject", mail("Automatisch antwoord: Votre abonnement", "Bedankt voor uw bericht."), None),
    ("nl afwezigheidsmelding", mail("Afwezigheidsmelding: Votre abonnement", "Ik ben afwezig."), None),
    ("nl body, unthreaded", mail("Re: Votre abonnement", "Beste,\n\nIk ben momenteel afwezig tot en met 12 oktober. "
                                 "Voor dringende zaken kunt u contact opnemen met mijn collega Jan.\n\n"
                                 "Met vriendelijke groet,\nAnna", threaded=False), date(2026, 10, 12)),
    ("nl body", mail("Re: Votre abonnement", "Ik ben met vakantie en ben terug op 5 oktober."), date(2026, 10, 5)),
    ("pt subject", mail("Resposta automática: Votre abonnement", "Obrigado pela sua mensagem."), None),
    ("pt body", mail("Re: Votre abonnement", "Olá,\n\nEstou de férias até 9 de outubro, com acesso limitado ao email. "
                     "Para assuntos urgentes contacte a minha colega Rita."), date(2026, 10, 9)),
    ("pt ausência", mail("Ausência do escritório", "Estarei ausente até 14/10."), date(2026, 10, 14)),
    ("pl subject", mail("Automatyczna odpowiedź: Votre abonnement", "Dziękuję za wiadomość."), None),
    ("pl body", mail("Re: Votre abonnement", "Dzień dobry,\n\nJestem na urlopie do 12 października. W pilnych "
                     "sprawach proszę o kontakt z biurem."), date(2026, 10, 12)),
    ("pl poza biurem", mail("Poza biurem: Votre abonnement", "Wracam 7 października."), date(2026, 10, 7)),
    ("sv subject", mail("Automatiskt svar: Votre abonnement", "Tack för ditt meddelande."), None),
    ("sv frånvaro", mail("Frånvaro: Votre abonnement", "Jag är ledig."), None),
    ("sv body", mail("Re: Votre abonnement", "Hej,\n\nJag är på semester till och med 11 oktober och läser inte "
                     "min e-post. Vid brådskande ärenden, kontakta min kollega Erik."), date(2026, 10, 11)),
    ("da/no body", mail("Re: Votre abonnement", "Jeg er på ferie til og med 13. oktober. Ved hastesager kontakt "
                        "kontoret."), date(2026, 10, 13)),
]


@pytest.mark.parametrize(("name", "raw", "back"), CASES, ids=[c[0] for c in CASES])
def test_out_of_office_in_more_languages(name: str, raw: bytes, back: date | None) -> None:
    _, result = classify_bytes(raw)
    assert result.kind == MessageKind.AUTO_REPLY, result.reasons
    assert result.answer is None
    if back is not None:
        assert result.return_date == back


@pytest.mark.parametrize("text", ["Ja, graag. Ik ben terug blij met uw aanbod.", "Sim, obrigado.", "Tak, chętnie.",
                                  "Ja, gärna."])
def test_a_person_in_those_languages_is_not_an_auto_reply(text: str) -> None:
    _, result = classify_bytes(mail("Re: Votre abonnement", text))
    assert result.kind == MessageKind.HUMAN_REPLY, result.reasons


@pytest.mark.parametrize("threaded", [True, False])
def test_auto_response_suppress_alone_is_not_automation(threaded: bool) -> None:
    # Outlook puts it on ordinary mail a person writes: it asks others not to auto-reply.
    raw = mail("RE: Votre abonnement", "Oui, volontiers.\r\n\r\nLe lun. 28 sept. 2026, Probe <probe@probe.example> "
               "a écrit :\r\n> Souhaitez-vous vous abonner ?",
               "X-Auto-Response-Suppress: DR, RN, NRN, OOF, AutoReply\r\n",
               threaded=threaded)
    _, result = classify_bytes(raw)
    assert result.kind == MessageKind.HUMAN_REPLY, result.reasons
    assert result.answer is not None and result.answer.value == "yes"
