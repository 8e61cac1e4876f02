"""Answers as people write them, in French, English, German, Spanish and Italian: refusals that
never say "no", stretched and emphatic forms with emoji, and a yes that waits on a price or a
document (unclear); and mail that only poses as a reply (unknown). Written for probe, not copied."""

from __future__ import annotations

import pytest

from probe.core.answers import decide_answer, destretch
from probe.core.classify import classify_bytes
from probe.core.model import Answer, MessageKind

Y, N, U = Answer.YES, Answer.NO, Answer.UNCLEAR

ANSWERS = [
    # refusals without a no-word
    ("Not for us at the moment, thanks.", N), ("Pas pour l'instant, merci.", N),
    ("Ce ne sera pas nécessaire, merci.", N), ("Merci, mais ce n'est pas pour nous.", N),
    ("Nous allons passer notre tour cette fois.", N), ("Thanks, but we're all set.", N),
    ("We'll give it a miss.", N), ("Not something we need right now.", N),
    ("We're not looking for this right now.", N), ("Nous n'en avons pas besoin.", N),
    ("Nicht für uns im Moment, danke.", N), ("Im Moment nicht, danke.", N), ("Kein Bedarf, danke.", N),
    ("Das brauchen wir nicht.", N), ("Wir verzichten, vielen Dank.", N),
    ("No es para nosotros, gracias.", N), ("Por ahora no, gracias.", N), ("No nos interesa.", N),
    ("Non fa per noi, grazie.", N), ("Per ora no.", N), ("Non ci interessa, grazie.", N),
    # emphatic, stretched, emoji
    ("ouiii 👍", Y), ("Ouiiiii !!!", Y), ("YES!!!", Y), ("yesss", Y), ("Yess!", Y), ("Jaaa, gerne!", Y),
    ("Síííí", Y), ("Sìììì, volentieri", Y), ("👍", Y), ("Nooooon merci", N), ("❌", N),
    ("Absolument !!! 😀", Y),
    # interest that waits on a price, a document, a condition
    ("Yes, if the price is right.", U), ("Oui, si le prix est raisonnable.", U),
    ("Oui, à condition de recevoir le tarif.", U), ("Intéressé, mais j'aimerais d'abord voir une brochure.", U),
    ("Ça m'intéresse, pouvez-vous m'envoyer les tarifs d'abord ?", U), ("Yes, but first send me the price list.", U),
    ("Ja, wenn der Preis stimmt.", U), ("Sí, si el precio es razonable.", U),
    ("Sì, se mi mandate prima il listino.", U), ("Oui, envoyez-moi la documentation avant.", U),
    # ... but a yes with a courtesy or a practical request stays a yes
    ("Oui. Pouvez-vous l'envoyer au siège ?", Y), ("Yes please. If you need any details, let me know.", Y),
    ("Oui. Si vous avez besoin d'informations, appelez-moi.", Y), ("Yes. Send me the invoice.", Y),
    ("Oui, merci. Envoyez la facture au service comptable.", Y),
    # doubled letters inside ordinary words are not stretching
    ("I need to check with the committee.", U), ("Bonne journée", U),
]


@pytest.mark.parametrize(("text", "expected"), ANSWERS)
def test_answer_as_people_write_it(text: str, expected: Answer) -> None:
    decision = decide_answer(text)
    assert decision.answer == expected, decision


def test_conditional_interest_is_named_in_the_reasons() -> None:
    decision = decide_answer("Oui, si le prix est raisonnable.")
    assert decision.reasons[0] == "conditional_interest" and decision.evidence == "Oui"


@pytest.mark.parametrize(("stretched", "plain"), [("ouiii", "oui"), ("yesss", "yes"), ("nooon", "non"),
                                                   ("ouii", "oui"), ("committee", "committee"),
                                                   ("schifffahrt", "schifahrt")])
def test_destretch_keeps_offsets(stretched: str, plain: str) -> None:
    out = destretch(stretched)
    assert len(out) == len(stretched) and out.rstrip() == plain


def _mail(subject: str, body: str, headers: str = "", to: str = "redaction@en-contact.example") -> bytes:
    return (f"From: Paul <paul@corp.example>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <x1@corp.example>\r\n{headers}MIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}").encode()


FORWARD_UNRELATED = ("Pour info, oui je serai là.\r\n\r\n-------- Message transféré --------\r\n"
                     "De : Direction <direction@corp.example>\r\nObjet : Planning de la réunion\r\n\r\n"
                     "Merci de confirmer votre présence jeudi.\r\n")
FORWARD_OURS = ("Oui, je m'abonne.\r\n\r\n-------- Message transféré --------\r\n"
                "De : Rédaction <redaction@en-contact.example>\r\nObjet : Votre abonnement\r\n\r\n"
                "Souhaitez-vous vous abonner ? Répondez OUI ou NON.\r\n")
POSING = [
    ("RE: with a mass-mailer's Feedback-ID", _mail("RE: votre demande", "Oui ! Profitez de -50 %.",
                                                   "Feedback-ID: 123:campaign:mailjet\r\n"), MessageKind.UNKNOWN),
    ("RE: from a newsletter tool", _mail("Re: Offre spéciale", "Oui, c'est le moment.",
                                         "X-Mailer: Sendinblue\r\n"), MessageKind.UNKNOWN),
    ("RE: with an unsubscribe footer", _mail("RE: Your account", "Yes! Claim it now.\r\n\r\nTo unsubscribe "
                                             "click here."), MessageKind.UNKNOWN),
    ("internal forward of something unrelated", _mail("TR: Planning de la réunion", FORWARD_UNRELATED),
     MessageKind.UNKNOWN),
    ("our message forwarded back with the answer", _mail("TR: Votre abonnement", FORWARD_OURS),
     MessageKind.HUMAN_REPLY),
    ("a person answering a newsletter quotes its footer: still a reply",
     _mail("RE: Votre abonnement", "Oui, je veux bien.\r\n\r\nLe lun. 28 sept. 2026, Rédaction "
           "<redaction@en-contact.example> a écrit :\r\n> Voulez-vous vous abonner ?\r\n> Se désinscrire : "
           "https://en-contact.example/u"), MessageKind.HUMAN_REPLY),
    ("threaded reply that mentions unsubscribing stays a reply",
     _mail("Re: Votre abonnement", "Non merci, unsubscribe me.", "In-Reply-To: <probe.abc.0@en-contact.example>\r\n"),
     MessageKind.HUMAN_REPLY),
    ("X-Auto-Response-Suppress alone is not automation",
     _mail("RE: Votre abonnement", "Oui, volontiers.", "X-Auto-Response-Suppress: All\r\n"
           "In-Reply-To: <probe.abc.0@en-contact.example>\r\n"), MessageKind.HUMAN_REPLY),
]


@pytest.mark.parametrize(("name", "raw", "kind"), POSING, ids=[p[0] for p in POSING])
def test_mail_posing_as_a_reply(name: str, raw: bytes, kind: MessageKind) -> None:
    _, result = classify_bytes(raw)
    assert result.kind == kind, result.reasons
