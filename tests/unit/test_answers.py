"""decide_answer: yes / no / unclear (and opt-out) from a reply's new text and subject."""

from __future__ import annotations

import time

import pytest

from probe.core.answers import AnswerDecision, AnswerWords, decide_answer, fold
from probe.core.model import Answer
from probe.core.newtext import extract_new_text, subject_new_part
from probe.errors import ConfigError

Y, N, U = Answer.YES, Answer.NO, Answer.UNCLEAR

# (new text, expected answer, expected opt_out)
FRENCH = [
    ("Oui", Y, False),
    ("oui", Y, False),
    ("OUI !!!", Y, False),
    ("Oui merci", Y, False),
    ("Oui, merci beaucoup.", Y, False),
    ("Volontiers !", Y, False),
    ("Avec plaisir.", Y, False),
    ("Bien sûr", Y, False),
    ("D'accord", Y, False),
    ("D’accord, merci.", Y, False),
    ("Ok pour moi", Y, False),
    ("Je m'abonne.", Y, False),
    ("Je suis partante.", Y, False),
    ("Ça m'intéresse !", Y, False),
    ("Je veux bien, merci", Y, False),
    ("Pourquoi pas", Y, False),
    ("Pourquoi pas ?", Y, False),
    ("Je ne dis pas non", Y, False),
    ("C'est oui pour moi", Y, False),
    ("Bonjour Madame,\nOui, merci.", Y, False),
    ("Bonjour,\n\nOui. Pouvez-vous l'envoyer au siège ?", Y, False),
    ("Oui, pouvez-vous l'envoyer au siège ?", Y, False),
    ("Oui je suis intéressé par votre lettre", Y, False),
    ("Je suis preneur !", Y, False),
    ("Je souhaite donner suite.", Y, False),
    ("Ça ne me dérange pas.", Y, False),
    ("Nous ne souhaitons pas donner suite.", N, False),
    ("Je ne suis pas partant.", N, False),
    ("Pas du tout intéressé.", N, False),
    ("Pas pour l'instant, peut-être plus tard.", N, False),
    ("Non", N, False),
    ("NON.", N, False),
    ("Non merci", N, False),
    ("Non, merci.", N, False),
    ("Malheureusement non.", N, False),
    ("Pas intéressé.", N, False),
    ("Ça ne m'intéresse pas.", N, False),
    ("Merci pour votre message. Nous ne sommes pas intéressés.", N, False),
    ("Sans façon.", N, False),
    ("Je ne souhaite pas donner suite.", N, False),
    ("Merci mais ce ne sera pas nécessaire.", N, False),
    ("Pas pour le moment, merci", N, False),
    ("Bien sûr que non !", N, False),
    ("Bonjour,\n\nNon, ça ne m'intéresse pas.\n\nBonne journée", N, False),
    ("Je ne suis vraiment pas intéressée", N, False),
    ("Oui, j'ai bien reçu vos messages : non merci", N, False),
    ("Merci de me retirer de votre liste", N, True),
    ("Merci de ne plus me contacter.", N, True),
    ("Je ne souhaite plus recevoir vos mails.", N, True),
    ("Pas intéressé, merci de me désinscrire.", N, True),
    ("STOP", N, True),
    ("Oui, merci de me désinscrire.", N, True),
    ("Répondez par OUI ou NON", U, False),
    ("oui ou non ?", U, False),
    ("OUI/NON", U, False),
    ("Oui ?", U, False),
    ("Êtes-vous d'accord ?", U, False),
    ("Pouvez-vous m'en dire plus ?", U, False),
    ("Quel est le prix ?", U, False),
    ("Je transmets à mon assistante.", U, False),
    ("Bonjour, je ne suis pas la bonne personne, je transmets à mon collègue.", U, False),
    ("Oui, je transmets à la personne concernée.", U, False),
    ("Bien reçu, merci.", U, False),
    ("C'est noté.", U, False),
    ("Oui peut-être", U, False),
    ("Je ne sais pas encore.", U, False),
    ("Je vais y réfléchir.", U, False),
    ("Oui et non", U, False),
    ("Oui. Non.", U, False),
    ("Ce n'est pas oui.", U, False),
    ("Nom : Dupont", U, False),
    ("Nonobstant votre relance, je vous écris.", U, False),
    ("Je suis non-fumeur.", U, False),
    ("Non seulement je lis tout, mais je partage.", U, False),
    ("Si oui, à quelle adresse ?", U, False),
    ("Dites-nous si vous êtes d'accord", U, False),
    ("S'il y a un abonnement, d'accord.", Y, False),
    ("Merci", U, False),
    ("", U, False),
]

ENGLISH = [
    ("Yes", Y, False),
    ("yes please", Y, False),
    ("Yes, thanks!", Y, False),
    ("Sure", Y, False),
    ("Sure, send it over.", Y, False),
    ("Of course!", Y, False),
    ("Count me in!", Y, False),
    ("I agree.", Y, False),
    ("Absolutely, please sign me up.", Y, False),
    ("Sounds good to me.", Y, False),
    ("I'm interested", Y, False),
    ("I'm OK with that.", Y, False),
    ("Why not?", Y, False),
    ("No problem.", Y, False),
    ("Yes, no problem.", Y, False),
    ("\U0001F44D", Y, False),
    ("\U0001F44E", N, False),
    ("\U0001F44D but no thanks", N, False),
    ("yes we're fine\n\nthanks", Y, False),
    ("Yes - but can you send the details to my colleague?", Y, False),
    ("Hi John,\n\nYes, I'd love to receive it.", Y, False),
    ("No", N, False),
    ("No.", N, False),
    ("No thanks", N, False),
    ("No, thank you.", N, False),
    ("Not interested.", N, False),
    ("I'm not really interested, sorry.", N, False),
    ("Thanks, but no thanks.", N, False),
    ("Not at this time, thank you.", N, False),
    ("I'll pass.", N, False),
    ("Unfortunately we will have to decline.", N, False),
    ("I'd rather not, thanks.", N, False),
    ("Yes, I got your emails. No, I don't want it.", N, False),
    ("I don't agree.", N, False),
    ("Please remove me from your list.", N, True),
    ("Unsubscribe", N, True),
    ("Stop emailing me.", N, True),
    ("Can you please take me off your mailing list?", N, True),
    ("No, I'm not interested. Please remove me from your mailing list.", N, True),
    ("Yes, please unsubscribe me.", N, True),
    ("I don't want to unsubscribe, I just moved.", U, False),
    ("I am passing this to my assistant.", U, False),
    ("I have forwarded this to the right person.", U, False),
    ("Yes, I received your email.", U, False),
    ("Got it, thanks.", U, False),
    ("Maybe.", U, False),
    ("Not sure yet, I'll get back to you.", U, False),
    ("I have no idea what this is about.", U, False),
    ("Nothing to add.", U, False),
    ("Answer YES or NO", U, False),
    ("Yes or no?", U, False),
    ("Do you agree?", U, False),
    ("What does it cost?", U, False),
    ("Yes. No.", U, False),
    ("No one told me about this.", U, False),
    ("If interested, reply to this email.", U, False),
]

OTHER_LANGUAGES = [
    ("Ja, gerne.", Y, False),
    ("Nein danke", N, False),
    ("Kein Interesse.", N, False),
    ("Bitte austragen.", N, True),
    ("Sí, claro.", Y, False),
    ("No, gracias.", N, False),
    ("No me interesa.", N, False),
    ("Si usted quiere", U, False),
    ("Sì, volentieri.", Y, False),
    ("No grazie", N, False),
    ("Non mi interessa.", N, False),
    ("Ja graag", Y, False),
    ("Nee, dank je", N, False),
    ("Sim, obrigado", Y, False),
]


# Whole replies as clients write them: new text, then subject, then answer.
Q = ("Bonjour Madame Martin,\n\nSouhaitez-vous recevoir notre lettre d'information mensuelle ?\n"
     "Répondez simplement OUI ou NON à ce message.\n\nCordialement,\nL'équipe Probe")
QQ = "\n".join("> " + line for line in Q.split("\n"))
ORIGINAL_SUBJECTS = ("Votre abonnement", "Your subscription", "Ihr Abonnement")
WHOLE_REPLIES = [
    ('RE: Votre abonnement',
     'Bonjour,\n\nOui avec plaisir.\n\nBien cordialement\n\nMarie Martin\n'
     'Chargée de communication\nMairie de Trifouillis\nTél. 01 02 03 04 05\n\n'
     "De : L'équipe Probe <probe@example.org>\nEnvoyé : lundi 28 septembre 2015 10:02\n"
     'À : Marie Martin <marie.martin@example.fr>\nObjet : Votre abonnement\n\n<Q>',
     'yes'),
    ('Re: Votre abonnement',
     'Non merci\n\n'
     "Le lun. 28 sept. 2015 à 10:02, L'équipe Probe <probe@example.org> a écrit :\n\n"
     '<QQ>\n',
     'no'),
    ('RE: Votre abonnement - OUI', '', 'yes'),
    ('RE: Votre abonnement',
     "\n\n-----Message d'origine-----\nDe : L'équipe Probe [mailto:probe@example.org]\n"
     'Envoyé : lundi 28 septembre 2015 10:02\nÀ : Marie Martin\n'
     'Objet : Votre abonnement\n\n<Q>',
     'unclear'),
    ('Re: Votre abonnement', '<QQ>\n\nNON\n\nMarie', 'no'),
    ('Re: Votre abonnement',
     'Oui\n\nEnvoyé de mon iPhone\n\n'
     "> Le 28 sept. 2015 à 10:02, L'équipe Probe <probe@example.org> a écrit :\n> \n<QQ>",
     'yes'),
    ('TR: Votre abonnement',
     'Pour suite à donner\n\n---------- Forwarded message ---------\n'
     "De : L'équipe Probe <probe@example.org>\nDate: lun. 28 sept. 2015 à 10:02\n"
     'Subject: Votre abonnement\nTo: <marie@example.fr>\n\n<Q>',
     'unclear'),
    ('RE: Votre abonnement',
     'Oui\n\nCe message et toutes les pièces jointes (ci-après le "message") sont'
     " confidentiels et établis à l'intention exclusive de ses destinataires. Toute"
     " utilisation ou diffusion non autorisée est interdite. Si vous n'êtes pas"
     " destinataire de ce message, non, merci de le détruire et d'avertir"
     " l'expéditeur.",
     'yes'),
    ('RE: Votre abonnement',
     "Bonjour,\nJ'ai bien reçu vos messages. Non merci, nous avons déjà un abonnement.\n"
     'Cordialement',
     'no'),
    ('Re: Votre abonnement', 'Bonjour, pouvez-vous me préciser le tarif ? Merci', 'unclear'),
    ('Re: Votre abonnement',
     'Je ne suis plus en charge de ce dossier, je transmets à ma collègue Mme Durand.',
     'unclear'),
    ('Re: Votre abonnement', "Merci de ne plus m'écrire.", 'no'),
    ('Re: Your subscription',
     'Yes please!\n\nSent from my Android phone\n\n'
     'On Mon, Sep 28, 2015, 10:02 Probe Team <probe@example.org> wrote:\n'
     '> Would you like to receive our newsletter? Reply YES or NO.',
     'yes'),
    ('RE: Your subscription',
     'No thanks.\n\nJohn Smith | Head of Comms | No Limits Ltd\n'
     'This email and any attachments are confidential. If you are not the intended'
     ' recipient, please delete it. No liability.\n\n________________________________\n'
     'From: Probe Team <probe@example.org>\nSent: Monday, September 28, 2015 10:02 AM\n'
     'To: John Smith\nSubject: Your subscription\n\n'
     'Would you like to receive our newsletter? Reply YES or NO.',
     'no'),
    ('Re: Your subscription',
     "I'm passing this on to my assistant, she handles subscriptions.\n\n"
     'On Mon, Sep 28, 2015 at 10:02 AM, Probe Team <probe@example.org> wrote:\n'
     '> Reply YES or NO',
     'unclear'),
    ('Re: Your subscription', 'Who are you and how did you get my address? Please remove me.', 'no'),
    ('AW: Ihr Abonnement',
     'Ja, gerne.\n\nMit freundlichen Grüßen\nMax Mustermann\n\n'
     'Von: Probe <probe@example.org>\nGesendet: Montag, 28. September 2015 10:02\n'
     'An: Max\nBetreff: Ihr Abonnement\n\nJA oder NEIN?',
     'yes'),
    ('RE: Votre abonnement', "Pas pour l'instant, peut-être plus tard.", 'no'),
    ('RE: Votre abonnement', 'Oui mais seulement la version numérique svp.', 'yes'),
    ('RE: Votre abonnement',
     'Bonjour,\n\nNous ne souhaitons pas donner suite.\n\nBien à vous,\nJ. Dupont',
     'no'),
    ('Re: Votre abonnement', 'Oui, bien reçu. Je vous réponds la semaine prochaine.', 'unclear'),
    ('Re: Votre abonnement', 'oui', 'yes'),
    ('Re: Votre abonnement', 'Oui !\nCordialement,\nPierre Non\nService Oui-Oui', 'yes'),
    ('Re: Votre abonnement', 'Je dis oui !', 'yes'),
    ('Re: Votre abonnement', 'Bonjour\nOui pour moi\nMerci', 'yes'),
    ('Re: Votre abonnement',
     "Avec plaisir, merci de l'envoyer à l'adresse du siège : 1 rue de la Paix,"
     ' Paris. Est-ce gratuit ?',
     'yes'),
    ('Re: Votre abonnement', "Qu'entendez-vous par lettre ? S'il s'agit de publicité, non.", 'no'),
    ('Re: Votre abonnement', "Est-ce que c'est payant ? Si oui, non merci.", 'no'),
    ('Re: Votre abonnement',
     "Vous m'avez déjà écrit trois fois ! Arrêtez de m'envoyer ces messages.",
     'no'),
    ('Re: Your subscription', 'Sure, why not.', 'yes'),
    ('Re: Your subscription', 'Not interested, and please stop emailing me.', 'no'),
    ('Re: Your subscription', "Yes, I got your emails. No, I don't want it.", 'no'),
    ('Re: Your subscription', 'ok', 'yes'),
    ('Re: Your subscription', 'I would love to!', 'yes'),
    ('Re: Your subscription', 'Happy to.', 'yes'),
    ('Re: Your subscription', 'Definitely not.', 'no'),
    ('Re: Your subscription',
     'Thank you for reaching out. Unfortunately we will have to decline.',
     'no'),
    ('Re: Your subscription', "I'd rather not, thanks.", 'no'),
    ('Re: Your subscription', 'Please unsubscribe me from all your mailings.', 'no'),
    ('Re: Votre abonnement', 'OUI OUI OUI', 'yes'),
    ('Re: Votre abonnement', 'Non, non et non.', 'no'),
    ('Re: Votre abonnement', 'Bien sûr que oui', 'yes'),
    ('Re: Votre abonnement', 'ça ne me dérange pas', 'yes'),
    ('Re: Votre abonnement', 'Je veux bien la recevoir, merci.', 'yes'),
    ('Re: Votre abonnement', 'Pas du tout intéressé.', 'no'),
    ('Re: Votre abonnement', 'Merci mais non merci.', 'no'),
    ('Re: Votre abonnement', "C'est non.", 'no'),
]


@pytest.mark.parametrize(("subject", "body", "expected"), WHOLE_REPLIES)
def test_whole_replies(subject: str, body: str, expected: str) -> None:
    new = extract_new_text(body.replace("<QQ>", QQ).replace("<Q>", Q))
    decision = decide_answer(new.text, subject_new_part(subject, ORIGINAL_SUBJECTS))
    assert decision.answer == Answer(expected), (new, decision)


def _check(text: str, answer: Answer, opt_out: bool) -> AnswerDecision:
    decision = decide_answer(text)
    assert (decision.answer, decision.opt_out) == (answer, opt_out), (text, decision)
    return decision


@pytest.mark.parametrize(("text", "answer", "opt_out"), FRENCH)
def test_french(text: str, answer: Answer, opt_out: bool) -> None:
    _check(text, answer, opt_out)


@pytest.mark.parametrize(("text", "answer", "opt_out"), ENGLISH)
def test_english(text: str, answer: Answer, opt_out: bool) -> None:
    _check(text, answer, opt_out)


@pytest.mark.parametrize(("text", "answer", "opt_out"), OTHER_LANGUAGES)
def test_other_languages(text: str, answer: Answer, opt_out: bool) -> None:
    _check(text, answer, opt_out)


@pytest.mark.parametrize(("text", "subject", "answer"), [
    ("", "OUI", Y),
    ("", "non merci", N),
    ("", "Votre abonnement", U),
    ("Bonjour,", "OUI", Y),
    ("Non", "OUI", U),                  # two decisions that conflict
    ("Oui. Non.", "OUI", U),            # the text conflicts with itself: the subject does not settle it
    ("Oui", "OUI", Y),
    ("Oui", "Souhaitez-vous recevoir notre lettre ?", Y),
    ("", "Êtes-vous d'accord ?", U),    # the question itself, not an answer
    ("", "OUI ou NON", U),
    ("", "Lettre d'info - dites-nous si vous êtes d'accord", U),
])
def test_subject_counts_when_the_text_does_not_decide(text: str, subject: str, answer: Answer) -> None:
    assert decide_answer(text, subject).answer == answer


def test_reasons_and_evidence_name_the_rule_and_the_words() -> None:
    decision = decide_answer("Bonjour,\n\nOui, avec plaisir. Pouvez-vous l'envoyer au siège ?")
    assert decision.answer == Y and decision.reasons == ("yes_phrase",) and decision.evidence == "Oui, avec plaisir"
    decision = decide_answer("Oui, j'ai bien reçu vos messages : non MERCI")
    assert decision.evidence == "non MERCI" and decision.reasons[0] == "no_phrase"
    decision = decide_answer("Please remove me from your list")
    assert decision.reasons[0] == "opt_out" and decision.evidence == "Please remove me"
    decision = decide_answer("I'm not very interested")
    assert decision.answer == N and decision.reasons == ("negated_yes",)
    assert decide_answer("", "OUI").reasons[0] == "subject"
    assert "echo" in decide_answer("Répondez par OUI ou NON").reasons
    assert "question" in decide_answer("Êtes-vous d'accord ?").reasons
    assert "acknowledgement" in decide_answer("Ok, bien reçu").reasons
    assert "delegation" in decide_answer("Je transmets à mon assistante").reasons
    assert "conflict" in decide_answer("Yes. No.").reasons
    assert decide_answer("").reasons == ("empty",)
    assert decide_answer("Bonjour").reasons == ("no_decision",)


def test_weak_yes_gives_way_to_an_explicit_no() -> None:
    decision = decide_answer("Ok. Non merci.")
    assert decision.answer == N and "weak_yes_overruled" in decision.reasons
    assert decide_answer("Okay").answer == Y


def test_word_boundaries_and_accents() -> None:
    for text in ("Nothing", "Nom", "nonobstant", "Knowledge", "ouistiti", "yesterday", "Noé", "annoncé"):
        assert decide_answer(text).answer == U, text
    assert decide_answer("ÇA M'INTÉRESSE").answer == Y
    assert decide_answer("ca m'interesse").answer == Y
    assert decide_answer("PAS INTERESSE").answer == N


def test_fold_keeps_every_character_in_place() -> None:
    for text in ("Ça m’intéresse — oui", "İstanbul ß œ", "Ｆｕｌｌ"):
        assert len(fold(text)) == len(text)
    assert fold("Ça M’INTÉRESSE") == "ca m'interesse"


def test_campaign_words_extend_or_replace_the_defaults() -> None:
    words = AnswerWords.with_extra(yes=("partant pour l'aventure", "go"), no=("jamais de la vie",))
    assert decide_answer("Go !", words=words).answer == Y
    assert decide_answer("Jamais de la vie", words=words).answer == N
    assert decide_answer("Oui", words=words).answer == Y
    only = AnswerWords.with_extra(yes=("approuvé",), no=("refusé",), use_defaults=False)
    assert only.yes == ("approuvé",)
    assert decide_answer("Approuve", words=only).answer == Y
    assert decide_answer("Oui", words=only).answer == U
    assert decide_answer("Refusé.", words=only).answer == N
    extra_opt_out = AnswerWords.with_extra(opt_out=("rayez mon nom",))
    assert decide_answer("Rayez mon nom svp", words=extra_opt_out) == AnswerDecision(
        N, True, ("opt_out",), "Rayez mon nom")
    assert AnswerWords.defaults() == AnswerWords.with_extra()


def test_a_phrase_without_words_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as err:
        AnswerWords.with_extra(yes=("!!!",))
    assert err.value.field == "answers.yes" and err.value.hint


def test_hostile_and_long_texts_are_read_quickly() -> None:
    long_text = "Oui. " + "bla " * 200_000
    start = time.process_time()  # CPU time: the machine's load does not count
    assert decide_answer(long_text).answer == Y
    assert decide_answer("non " * 50_000).answer == N
    assert decide_answer("\x00" * 100_000 + "oui").answer == U  # past the reading limit
    assert time.process_time() - start < 2


def test_speed_thousands_per_second() -> None:
    texts = [t for t, _, _ in FRENCH + ENGLISH]
    start = time.process_time()  # CPU time: the machine's load does not count
    rounds = 20
    for _ in range(rounds):
        for text in texts:
            decide_answer(text)
    rate = rounds * len(texts) / (time.process_time() - start)
    assert rate > 500, rate  # a guard against pathological slowness on a loaded CI machine
