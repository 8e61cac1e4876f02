"""The words of the report in each language it speaks (English, French), for the table and the HTML
page alike: `label(key, lang)` and `LABELS[lang][key]`. One language per report: nothing falls back to
the other language except a key missing from French, which shows in English (a test keeps the two
dictionaries with the same keys).

The language comes from `--lang`, else from `campaign.locale` ("fr_FR" → fr), else English."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

LANGS = ("en", "fr")

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "status.running": "running",
        "status.closed": "closed",
        "at": "at",
        "headline": "{answered} of {reachable} reachable targets answered ({rate}, 95 % CI {ci}); "
                    "no answer: {no_answer}",
        "n/a": "n/a",
        "targets": "targets",
        "bounced": "bounced",
        "reachable": "reachable",
        "answered": "answered",
        "yes": "yes",
        "no": "no",
        "unclear": "unclear",
        "of which opted out": "of which opted out",
        "suppressed (not asked)": "suppressed (not asked)",
        "no answer": "no answer",
        "answer rate (reachable)": "answer rate (reachable)",
        "answer rate (all targets)": "answer rate (all targets)",
        "auto-replies only": "auto-replies only",
        "automatic messages": "automatic messages",
        "uncertain sends": "uncertain sends",
        "wave": "wave",
        "sent": "sent",
        "answered after it": "answered after it",
        "answer rate": "answer rate",
        "time to answer": "time to answer",
        "median": "median",
        "p90": "p90",
        "from the first email": "from the first email",
        "from the last email": "from the last email",
        "by": "by",
        "rate": "rate",
        "95 % CI": "95 % CI",
        "(empty)": "(empty)",
        "too small": "* too small to rank: fewer than 10 reachable targets (rate shown, not ranked)",
        "wave.0": "initial",
        "wave.n": "reminder {n}",
        "unit.d": "d",
        "unit.h": "h",
        "unit.min": "min",
        "RR1 so far": "RR1 so far",
        "RR6 so far": "RR6 so far",
        "AAPOR dispositions": "AAPOR dispositions",
        "value": "value",
        "answered within": "answered within",
        "share": "share",
        "business time": "business time",
        "km note": "(Kaplan–Meier from each target's first email; the silent and the bounced are censored)",
        "within 1d": "within 1d",
        "vs all": "vs all",
        "vs all note": "vs all: answer rate minus the whole campaign's, Newcombe 95 % interval; † it excludes 0",
        "headline rate same": "The headline rate is answered / reachable = AAPOR RR6: answered / eligible contacted.",
        "headline rate differs": "The headline rate is answered / reachable; AAPOR RR6 (answered / eligible "
                                 "contacted) differs here because of refusals or ineligible targets: see the rates.",
        "coding": "automatic answers agree with a reviewer on {agree}/{n}, κ = {kappa} (Cohen's kappa)",
        "unit.s": "s",
        # ---- the HTML page
        "html.title": "probe report",
        "html.campaign": "Campaign {status} — report generated {when}",
        "html.figures": "Figures",
        "html.figure": "figure",
        "html.rates": "Response rates (AAPOR)",
        "html.dispositions": "Every target is in one disposition: {line}.",
        "html.code": "code",
        "html.disposition": "disposition",
        "html.definition": "definition",
        "html.time": "Time to answer",
        "html.km": "The curve is the Kaplan–Meier estimate of the share answered against the time since each "
                   "target's first email; the shaded band is its Greenwood 95 % interval. Targets still silent, "
                   "or bounced, count only while they are observed (censoring), so the curve does not fall for a "
                   "campaign still running.",
        "html.measured": "measured",
        "html.median note": "Median and 90th percentile are over the targets who answered only.",
        "html.coding": "Coding audit",
        "html.waves": "Emails and answers by wave",
        "html.wave rate note": "Answer rate of a wave: the answers that followed that wave (before the next "
                               "one) divided by the emails of that wave.",
        "html.answers": "What the answers said",
        "html.by": "By {field}",
        "html.grey": "Grey rows: too small to rank (fewer than 10 reachable targets); their rates are shown, "
                     "not ranked.",
        "html.vs all": "\"vs all\": the group's answer rate minus the whole campaign's, with its Newcombe (1998) "
                       "95 % interval; a † marks a difference whose interval excludes 0.",
        "html.review": "Unclear replies to review",
        "html.review note": "Confirm or correct them with",
        "html.id": "id",
        "html.received": "received",
        "html.from": "from",
        "html.subject": "subject",
        "html.new text": "new text",
        "html.answer": "answer",
        "html.read": "How to read this",
        "html.download": "Download the chart (SVG)",
        "html.n": "n = {targets} targets, {reachable} reachable",
        "html.chart meta": "{campaign} · {date}",
        "html.source": "Source: probe (replies to the emails); AAPOR Standard Definitions",
        "chart.curve": "Share of targets who answered, by days since their first email",
        "chart.curve axis": "days since the first email",
        "chart.waves": "Answer rate after each email",
        "chart.waves axis": "answers that followed the email / emails sent",
        "chart.answers": "Answers: yes, no, unclear",
        "chart.by": "Answer rate by {field}, with 95 % intervals",
        "chart.too few": "(too few)",
        "chart.none": "No answers yet.",
        "read.1": "Reachable targets: all targets minus those whose address bounced, whose email could not be "
                  "delivered, or who had asked elsewhere never to be contacted (suppressed).",
        "read.2": "Answer rate: targets who answered divided by reachable targets, with its Wilson (1927) 95 % "
                  "confidence interval.",
        "read.3": "Answered includes yes, no and unclear answers; a reply asking to be left alone counts as a no "
                  "and is also listed as an opt-out.",
        "read.4": "The answer of a target is the reviewer's correction when there is one, else the automatic "
                  "reading of the reply. Automatic replies (out of office…) are never answers.",
        "read.5": "Each answer is credited to the last email sent to that target before it arrived.",
        "read.6": "The response rates and the dispositions (I, P, R, NC, UO, NE) follow the AAPOR Standard "
                  "Definitions; every interval is a 95 % interval.",
        "read.7": "Time to answer: Kaplan–Meier (1958) estimate with its Greenwood (1926) band; targets still "
                  "silent are counted while observed, never as non-answers.",
        "read.8": "Group comparisons use the Newcombe (1998) interval; the coding audit uses Cohen's kappa "
                  "(Cohen 1960).",
    },
    "fr": {
        "status.running": "en cours",
        "status.closed": "terminée",
        "at": "au",
        "headline": "ont répondu : {answered} des {reachable} cibles joignables ({rate}, IC à 95 % {ci}) ; "
                    "sans réponse : {no_answer}",
        "n/a": "n.d.",
        "targets": "cibles",
        "bounced": "adresses en échec",
        "reachable": "joignables",
        "answered": "ont répondu",
        "yes": "oui",
        "no": "non",
        "unclear": "peu clair",
        "of which opted out": "dont refus d'être contacté",
        "suppressed (not asked)": "exclus (non sollicités)",
        "no answer": "sans réponse",
        "answer rate (reachable)": "taux de réponse (joignables)",
        "answer rate (all targets)": "taux de réponse (toutes les cibles)",
        "auto-replies only": "réponses automatiques seules",
        "automatic messages": "messages automatiques",
        "uncertain sends": "envois incertains",
        "wave": "vague",
        "sent": "envoyés",
        "answered after it": "réponses après cet envoi",
        "answer rate": "taux de réponse",
        "time to answer": "délai de réponse",
        "median": "médiane",
        "p90": "90e centile",
        "from the first email": "depuis le premier e-mail",
        "from the last email": "depuis le dernier e-mail",
        "by": "par",
        "rate": "taux",
        "95 % CI": "IC à 95 %",
        "(empty)": "(vide)",
        "too small": "* trop petit pour être classé : moins de 10 cibles joignables (taux affiché, non classé)",
        "wave.0": "premier envoi",
        "wave.n": "relance {n}",
        "unit.d": "j",
        "unit.h": "h",
        "unit.min": "min",
        "RR1 so far": "RR1 cumulé",
        "RR6 so far": "RR6 cumulé",
        "AAPOR dispositions": "Dispositions AAPOR",
        "value": "valeur",
        "answered within": "réponse en moins de",
        "share": "part",
        "business time": "heures ouvrées",
        "km note": "(Kaplan–Meier depuis le premier e-mail de chaque cible ; les silencieux et les rejetés "
                   "sont censurés)",
        "within 1d": "en 1 j",
        "vs all": "écart à l'ensemble",
        "vs all note": "écart : taux de réponse moins celui de toute la campagne, intervalle de Newcombe à 95 % ; "
                       "† il exclut 0",
        "headline rate same": "Le taux affiché est répondu / joignable = RR6 de l'AAPOR : réponses / cibles "
                              "éligibles contactées.",
        "headline rate differs": "Le taux affiché est répondu / joignable ; le RR6 de l'AAPOR (réponses / cibles "
                                 "éligibles contactées) en diffère ici à cause de refus ou de cibles non éligibles : "
                                 "voir les taux.",
        "coding": "les réponses automatiques concordent avec un relecteur sur {agree}/{n}, κ = {kappa} (kappa de "
                  "Cohen)",
        "unit.s": "s",
        # ---- the HTML page
        "html.title": "rapport probe",
        "html.campaign": "Campagne {status} — rapport produit le {when}",
        "html.figures": "Chiffres",
        "html.figure": "chiffre",
        "html.rates": "Taux de réponse (AAPOR)",
        "html.dispositions": "Chaque cible est dans une catégorie : {line}.",
        "html.code": "code",
        "html.disposition": "catégorie",
        "html.definition": "définition",
        "html.time": "Délai de réponse",
        "html.km": "La courbe est l'estimation de Kaplan–Meier de la part des cibles ayant répondu, selon le "
                   "temps écoulé depuis leur premier e-mail ; la bande grisée est son intervalle de Greenwood à "
                   "95 %. Les cibles encore silencieuses, ou en échec, ne comptent que tant qu'on les observe "
                   "(censure) : la courbe ne baisse pas pour une campagne en cours.",
        "html.measured": "mesure",
        "html.median note": "Médiane et 90e centile portent sur les seules cibles qui ont répondu.",
        "html.coding": "Contrôle du codage",
        "html.waves": "E-mails et réponses par envoi",
        "html.wave rate note": "Taux de réponse d'un envoi : les réponses arrivées après cet envoi (avant le "
                               "suivant) divisées par le nombre d'e-mails de cet envoi.",
        "html.answers": "Ce que disent les réponses",
        "html.by": "Par {field}",
        "html.grey": "Lignes grises : groupes trop petits pour être classés (moins de 10 cibles joignables) ; "
                     "leur taux est affiché, non classé.",
        "html.vs all": "« écart à l'ensemble » : le taux de réponse du groupe moins celui de toute la campagne, "
                       "avec son intervalle de Newcombe (1998) à 95 % ; un † marque un écart dont l'intervalle "
                       "exclut 0.",
        "html.review": "Réponses peu claires à vérifier",
        "html.review note": "Confirmez ou corrigez-les avec",
        "html.id": "n°",
        "html.received": "reçue le",
        "html.from": "de",
        "html.subject": "objet",
        "html.new text": "texte nouveau",
        "html.answer": "réponse",
        "html.read": "Comment lire ce rapport",
        "html.download": "Télécharger le graphique (SVG)",
        "html.n": "n = {targets} cibles, {reachable} joignables",
        "html.chart meta": "{campaign} · {date}",
        "html.source": "Source : probe (réponses aux e-mails) ; définitions AAPOR",
        "chart.curve": "Part des cibles ayant répondu, selon les jours écoulés depuis leur premier e-mail",
        "chart.curve axis": "jours depuis le premier e-mail",
        "chart.waves": "Taux de réponse après chaque envoi",
        "chart.waves axis": "réponses après l'envoi / e-mails envoyés",
        "chart.answers": "Réponses : oui, non, peu claires",
        "chart.by": "Taux de réponse par {field}, avec intervalles à 95 %",
        "chart.too few": "(trop peu)",
        "chart.none": "Pas encore de réponse.",
        "read.1": "Cibles joignables : toutes les cibles, moins celles dont l'adresse est en échec, dont l'e-mail "
                  "n'a pas pu être remis, ou qui avaient demandé ailleurs à ne plus être contactées (exclues).",
        "read.2": "Taux de réponse : cibles ayant répondu divisées par cibles joignables, avec son intervalle de "
                  "confiance à 95 % de Wilson (1927).",
        "read.3": "« Ont répondu » compte les oui, les non et les réponses peu claires ; une réponse demandant à ne "
                  "plus être contacté compte comme un non et figure aussi parmi les refus.",
        "read.4": "La réponse d'une cible est la correction du relecteur s'il y en a une, sinon la lecture "
                  "automatique du message. Les réponses automatiques (absence…) ne sont jamais des réponses.",
        "read.5": "Chaque réponse est attribuée au dernier e-mail envoyé à cette cible avant son arrivée.",
        "read.6": "Les taux de réponse et les catégories (I, P, R, NC, UO, NE) suivent les AAPOR Standard "
                  "Definitions ; chaque intervalle est un intervalle à 95 %.",
        "read.7": "Délai de réponse : estimation de Kaplan–Meier (1958) avec sa bande de Greenwood (1926) ; les "
                  "cibles encore silencieuses comptent tant qu'on les observe, jamais comme non-réponses.",
        "read.8": "Les comparaisons de groupes utilisent l'intervalle de Newcombe (1998) ; le contrôle du codage, "
                  "le kappa de Cohen (Cohen 1960).",
    },
}


#: The AAPOR rates in words, in French (English: probe.core.aapor.DEFINITIONS, also in the JSON).
RATE_DEFINITIONS_FR = {
    "RR1": "RR1 = I / (I + P + R + NC + UO) : réponses complètes sur toutes les cibles éligibles ou peut-être "
           "éligibles",
    "RR2": "RR2 = (I + P) / (I + P + R + NC + UO) : toute réponse sur toutes les cibles éligibles ou peut-être "
           "éligibles",
    "RR3": "RR3 = I / (I + P + R + NC + e·UO) : comme RR1, en ne comptant que la part e des cas inconnus",
    "RR4": "RR4 = (I + P) / (I + P + R + NC + e·UO) : comme RR2, en ne comptant que la part e des cas inconnus",
    "RR5": "RR5 = I / (I + P + R + NC) : réponses complètes sur les cibles dont on sait qu'elles ont été jointes",
    "RR6": "RR6 = (I + P) / (I + P + R + NC) : toute réponse sur les cibles éligibles contactées",
    "COOP1": "COOP1 = I / (I + P + R) : réponses complètes parmi ceux qui ont écrit en personne",
    "COOP2": "COOP2 = (I + P) / (I + P + R) : réponses parmi ceux qui ont écrit en personne",
    "REF1": "REF1 = R / (I + P + R + NC + UO) : refus sur toutes les cibles éligibles ou peut-être éligibles",
    "CON1": "CON1 = (I + P + R) / (I + P + R + NC + UO) : cibles jointes en personne sur toutes les cibles "
            "éligibles ou peut-être éligibles",
}


def label(key: str, lang: str = "en", **values: object) -> str:
    """The text of `key` in `lang` (English when French lacks it), with {placeholders} filled."""
    text = LABELS.get(lang, LABELS["en"]).get(key) or LABELS["en"][key]
    return text.format(**values) if values else text


def lang_from_locale(locale: str | None) -> str:
    """"fr_FR", "fr-CA", "fr" → "fr"; anything else (or nothing) → "en"."""
    if not locale:
        return "en"
    code = locale.replace("-", "_").split("_", 1)[0].split(".", 1)[0].lower()
    return code if code in LANGS else "en"


def number(value: float, digits: int, lang: str) -> str:
    """1.5 → "1.5" (en) or "1,5" (fr): the decimal mark a reader of that language expects."""
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "fr" else text


def pct(value: float | None, lang: str = "en", digits: int = 1) -> str:
    return label("n/a", lang) if value is None else f"{number(value * 100, digits, lang)} %"


def ci(interval: list[float] | tuple[float, float] | None, lang: str = "en") -> str:
    if interval is None:
        return label("n/a", lang)
    return f"{number(interval[0] * 100, 1, lang)}–{number(interval[1] * 100, 1, lang)} %"


def duration(seconds: float | None, lang: str = "en") -> str:
    """45 s, 12 min, 3 h, 2.5 h, 1 d (1 j in French), 6.1 d."""
    if seconds is None:
        return label("n/a", lang)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if abs(seconds) >= size:
            value = seconds / size
            shown = f"{value:.0f}" if abs(value - round(value)) < 0.05 else number(value, 1, lang)
            return f"{shown} {label('unit.' + unit, lang)}"
    return f"{seconds:.0f} {label('unit.s', lang)}"


def wave_name(wave: int, lang: str = "en") -> str:
    return label("wave.0", lang) if wave == 0 else label("wave.n", lang, n=wave)


#: DISPOSITION names in words (the codes stay: they are AAPOR's).
DISPOSITION_NAMES = {
    "en": {"I": "answered yes or no", "P": "answered, unclear", "R": "refused (opted out)",
           "NC": "no answer (silence or only automatic replies)",
           "UO": "unknown eligibility (bounced or undelivered)", "NE": "not eligible"},
    "fr": {"I": "a répondu oui ou non", "P": "a répondu, peu clair", "R": "refus (ne plus être contacté)",
           "NC": "sans réponse (silence ou réponses automatiques seules)",
           "UO": "éligibilité inconnue (adresse en échec ou e-mail non remis)", "NE": "non éligible"},
}

_MONTHS = {
    "en": ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
    "fr": ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc."],
}


def when(value: datetime | str | None, zone: tzinfo, lang: str = "en", *, clock: bool = True) -> str:
    """A moment as a reader writes it, in the campaign's zone with its offset, to the minute:
    "17 Oct 2015 18:00 +02:00" (en), "17 oct. 2015 18:00 +02:00" (fr); the date alone without `clock`."""
    if value is None or value == "":
        return label("n/a", lang)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        moment = value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(zone)
    day = f"{local.day} {_MONTHS.get(lang, _MONTHS['en'])[local.month - 1]} {local.year}"
    if not clock:
        return day
    offset = local.strftime("%z") or "+0000"
    return f"{day} {local:%H:%M} {offset[:3]}:{offset[3:]}"
