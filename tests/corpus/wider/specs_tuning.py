"""The tuning part of the wider set: looked at while the rules were written."""

from build import Spec  # type: ignore[import-not-found]

OOO = {"Auto-Submitted": "auto-replied"}
SPECS = [
    # French
    Spec("t-fr-01", "human_reply", "yes", "Oui, avec plaisir.", "gmail", "fr"),
    Spec("t-fr-02", "human_reply", "no", "Non merci.", "outlook", "fr"),
    Spec("t-fr-03", "human_reply", "no", "Pas pour l'instant, merci.\n\nCordialement,\nMarie Dupont", "outlook", "fr"),
    Spec("t-fr-04", "human_reply", "no", "Bonjour,\nCe ne sera pas nécessaire, merci.\nMD", "apple", "fr"),
    Spec("t-fr-05", "human_reply", "yes", "ouiii 👍", "apple", "fr"),
    Spec("t-fr-06", "human_reply", "unclear", "Oui, si le prix est raisonnable. Combien ?", "thunderbird", "fr"),
    Spec("t-fr-07", "human_reply", "yes", "Oui, je m'abonne.", "tb_original_bottom", "fr"),
    Spec("t-fr-08", "human_reply", "no", "Non, pas intéressée.", "bottom", "fr"),
    Spec("t-fr-09", "human_reply", "yes", "OUI", "inline", "fr"),
    Spec("t-fr-10", "human_reply", "unclear", "Je transmets à ma collègue en charge des abonnements.", "outlook", "fr"),
    Spec("t-fr-11", "human_reply", "no", "Merci, mais ce n'est pas pour nous.", "outlook_old", "fr"),
    Spec("t-fr-12", "human_reply", "yes", "Oui", "forward_back", "fr", subject="TR: Votre abonnement", threaded=False),
    Spec("t-fr-13", "human_reply", "unclear", "Intéressée, mais envoyez-moi d'abord la brochure.", "gmail", "fr"),
    Spec("t-fr-14", "human_reply", "yes", "Bonjour,\n\nOui bien sûr, merci.\n\nBonne journée", "gmail", "fr", html=True),
    Spec("t-fr-15", "human_reply", "no", "Nous allons passer notre tour.", "thunderbird", "fr"),
    Spec("t-fr-16", "auto_reply", "", "Je suis absente du bureau jusqu'au 12 octobre. Pour toute urgence, contactez "
         "Paul.", "none", "fr", subject="Réponse automatique : Votre abonnement", headers=OOO),
    Spec("t-fr-17", "unknown", "", "Profitez de -50 % sur notre offre !\n\nSe désinscrire : https://x.example/u",
         "none", "fr", subject="RE: votre demande", threaded=False, sender="Promo <promo@shop.example>"),
    Spec("t-fr-18", "unknown", "", "Pour info, je serai là jeudi.\n\n-------- Message transféré --------\n"
         "De : Direction <direction@societe.example>\nObjet : Réunion\n\nMerci de confirmer votre présence.",
         "none", "fr", subject="TR: Réunion", threaded=False),
    # English
    Spec("t-en-01", "human_reply", "yes", "Yes please!", "gmail", "en"),
    Spec("t-en-02", "human_reply", "no", "Not for us at the moment, thanks.", "outlook", "en"),
    Spec("t-en-03", "human_reply", "yes", "YES!!!", "apple", "en"),
    Spec("t-en-04", "human_reply", "unclear", "Yes, but first send me the price list.", "outlook", "en"),
    Spec("t-en-05", "human_reply", "no", "Thanks, but we're all set.", "gmail", "en"),
    Spec("t-en-06", "human_reply", "yes", "Sure, sign me up.", "tb_original_bottom", "en"),
    Spec("t-en-07", "human_reply", "no", "No thank you.", "mutt", "en"),
    Spec("t-en-08", "human_reply", "unclear", "I'll have to check with my manager.", "outlook_old", "en"),
    Spec("t-en-09", "auto_reply", "", "I am out of the office until October 12 with limited access to email.",
         "none", "en", subject="Automatic reply: Your subscription", headers=OOO),
    Spec("t-en-10", "unknown", "", "Big savings this week only.\n\nUnsubscribe | Manage preferences", "none", "en",
         subject="RE: your account", threaded=False, sender="Deals <deals@news.example>",
         headers={"Feedback-ID": "1:deals:esp"}),
    # German
    Spec("t-de-01", "human_reply", "yes", "Ja, gerne.", "gmail", "de"),
    Spec("t-de-02", "human_reply", "no", "Kein Bedarf, danke.", "outlook", "de"),
    Spec("t-de-03", "human_reply", "no", "Im Moment nicht, danke.\n\nViele Grüße\nAnna", "thunderbird", "de"),
    Spec("t-de-04", "human_reply", "unclear", "Ja, wenn der Preis stimmt.", "apple", "de"),
    Spec("t-de-05", "human_reply", "yes", "Jaaa, sehr gerne!", "tb_original_bottom", "de"),
    Spec("t-de-06", "auto_reply", "", "Ich bin bis 12.10. nicht im Büro. In dringenden Fällen wenden Sie sich an "
         "meinen Kollegen.", "none", "de", subject="Abwesenheitsnotiz: Ihr Abonnement", headers=OOO),
    # Spanish
    Spec("t-es-01", "human_reply", "yes", "Sí, me interesa.", "gmail", "es"),
    Spec("t-es-02", "human_reply", "no", "Por ahora no, gracias.", "outlook", "es"),
    Spec("t-es-03", "human_reply", "unclear", "Sí, si el precio es razonable.", "thunderbird", "es"),
    Spec("t-es-04", "human_reply", "no", "No es para nosotros, gracias.", "bottom", "es"),
    Spec("t-es-05", "auto_reply", "", "Estoy fuera de la oficina hasta el 12 de octubre.", "none", "es",
         subject="Respuesta automática: Su suscripción", headers=OOO),
    # Italian
    Spec("t-it-01", "human_reply", "yes", "Sì, volentieri.", "gmail", "it"),
    Spec("t-it-02", "human_reply", "no", "Non fa per noi, grazie.", "outlook", "it"),
    Spec("t-it-03", "human_reply", "unclear", "Sì, se mi mandate prima il listino.", "apple", "it"),
    Spec("t-it-04", "human_reply", "yes", "Certo!", "tb_original_bottom", "it"),
    Spec("t-it-05", "auto_reply", "", "Sono fuori ufficio fino al 12 ottobre. Per urgenze contattare la segreteria.",
         "none", "it", subject="Risposta automatica: Il suo abbonamento", headers=OOO),
    # more languages of out-of-office
    Spec("t-nl-01", "auto_reply", "", "Ik ben afwezig tot en met 12 oktober. Voor dringende zaken: mijn collega.",
         "none", "fr", subject="Automatisch antwoord: Votre abonnement", qlang="fr"),
    Spec("t-pt-01", "auto_reply", "", "Estou de férias até 12 de outubro.", "none", "fr",
         subject="Resposta automática: Votre abonnement"),
    Spec("t-pl-01", "auto_reply", "", "Jestem na urlopie do 12 października.", "none", "fr",
         subject="Automatyczna odpowiedź: Votre abonnement"),
    Spec("t-sv-01", "auto_reply", "", "Jag är på semester till och med 12 oktober.", "none", "fr",
         subject="Automatiskt svar: Votre abonnement"),
]
