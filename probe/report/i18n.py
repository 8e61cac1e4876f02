"""The words of the report in each language it speaks (English, French), for the table and the HTML
page alike: `label(key, lang)` and `LABELS[lang][key]`. One language per report: nothing falls back to
the other language except a key missing from French, which shows in English (a test keeps the two
dictionaries with the same keys).

The language comes from `--lang`, else from `campaign.locale` ("fr_FR" → fr), else English."""

from __future__ import annotations

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
