"""What the simulated directors write: answers, out-of-office notices, signatures and disclaimers.

The wordings are the kinds of replies the founding study got: a bare OUI, a polite NON with a reason,
a yes that asks a question, a "oui" that only acknowledges before saying no, questions that decide
nothing. The quoted question ("OUI ou NON") is added by the mail-client styles, not here."""

from __future__ import annotations

from datetime import date

from probe.core.model import Answer
from probe.demo.people import Director

ANSWERS: dict[tuple[Answer, str], tuple[str, ...]] = {
    (Answer.YES, "fr"): (
        "Bonjour,\n\nOUI.\n\nCordialement,",
        "Bonjour,\n\nOui, volontiers. Pouvez-vous l'adresser au siège, à mon attention ?\n\nBien à vous,",
        "Oui merci.",
        "Bonjour,\n\nC'est oui, merci pour la proposition.\n\nBonne journée,",
        "Bonjour Madame, Monsieur,\n\nJe vous réponds OUI, avec plaisir.\n\nBien cordialement,",
    ),
    (Answer.YES, "en"): (
        "Hello,\n\nYes, please go ahead.\n\nBest regards,",
        "Hi,\n\nYes - happy to receive it. Thanks!\n\nKind regards,",
    ),
    (Answer.NO, "fr"): (
        "Bonjour,\n\nNON, merci.\n\nCordialement,",
        "Bonjour,\n\nNon merci, nous recevons déjà le magazine par notre service documentation.\n\n"
        "Cordialement,",
        "Non.",
        "Bonjour,\n\nOui, j'ai bien reçu vos messages : non merci.\n\nCordialement,",
        "Bonjour,\n\nNon, ce n'est pas une priorité pour nous en ce moment.\n\nBien à vous,",
    ),
    (Answer.NO, "en"): (
        "Hi,\n\nNo thank you, not for us.\n\nRegards,",
        "Hello,\n\nNo, thanks. We are not interested at this time.\n\nBest,",
    ),
    (Answer.UNCLEAR, "fr"): (
        "Bonjour,\n\nPouvez-vous m'en dire plus sur le contenu et le prix de l'abonnement ?\n\nCordialement,",
        "Bonjour,\n\nJe transmets votre demande à ma collègue en charge des achats, qui reviendra vers "
        "vous.\n\nCordialement,",
        "Bonjour,\n\nMerci pour votre message, je regarde cela et je reviens vers vous.\n\nBonne journée,",
    ),
    (Answer.UNCLEAR, "en"): (
        "Hello,\n\nThanks for reaching out. I will check with my team and come back to you.\n\nBest,",
        "Hi,\n\nCould you send me more details about the content first?\n\nThanks,",
    ),
}

_FRENCH_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
                  "octobre", "novembre", "décembre")
_FRENCH_DAYS = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")


def answer_text(answer: Answer, lang: str, variant: int) -> str:
    options = ANSWERS[(answer, lang)]
    return options[variant % len(options)]


def signature(director: Director, lang: str, *, mobile: bool = False) -> str:
    if mobile:
        return "Envoyé de mon iPhone" if lang == "fr" else "Sent from my iPhone"
    title = director.title if lang == "fr" else "Head of Customer Relations"
    return (f"{director.prenom} {director.nom.upper()}\n{title}\n{director.societe}\n"
            f"Tél. : +33 1 {40 + director.index % 50:02d} {director.index * 7 % 100:02d} 12 34")


def disclaimer(director: Director) -> str:
    return (
        "Ce message et toutes les pièces jointes sont confidentiels et établis à l'intention exclusive de "
        "ses destinataires. Toute utilisation non conforme à sa destination, toute diffusion ou toute "
        "publication, totale ou partielle, non autorisée est interdite. Si vous n'êtes pas le "
        "destinataire de ce message, merci de le détruire et d'avertir l'expéditeur : il ne doit en aucun "
        f"cas être copié ni transmis. {director.societe} ne peut être tenue responsable de son contenu, "
        "l'intégrité des messages électroniques n'étant pas garantie sur internet. "
        "N'imprimez ce message que si nécessaire : non au gaspillage !"
    )


def french_date(day: date, *, weekday: bool = True) -> str:
    text = f"{day.day} {_FRENCH_MONTHS[day.month - 1]} {day.year}"
    return f"{_FRENCH_DAYS[day.weekday()]} {text}" if weekday else text


def out_of_office_text(director: Director, until: date, variant: int) -> str:
    back = french_date(until, weekday=True)
    options = (
        f"Bonjour,\n\nJe suis absent{'e' if director.female else ''} du bureau jusqu'au {back} inclus, "
        "avec un accès limité à ma messagerie.\nPour toute demande urgente, merci de contacter "
        f"le service relation client : relation.client@{director.domain}\n\nCordialement,\n"
        f"{director.full_name}",
        f"Bonjour,\n\nEn congés, je serai de retour le {french_date(until, weekday=False)}. Votre message "
        "ne sera pas transféré.\nEn cas d'urgence, vous pouvez joindre mon assistante au "
        "01 45 67 89 10.\n\nBien cordialement,\n" + director.full_name,
        f"Merci pour votre message. Je suis actuellement en déplacement et je le lirai à mon retour, le "
        f"{back}.\n\nThank you for your email. I am out of the office until {until:%d/%m/%Y} with limited "
        f"access to email.\n\n{director.full_name}",
    )
    return options[variant % len(options)]
