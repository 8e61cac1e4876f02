"""The classifier, case by case: every pattern of the classification contract, in French and English,
plus German, Spanish and Italian out-of-office subjects. Messages are written here in the shape real
clients and servers give them; none is copied from the corpus."""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from probe.core.classify import RULES, classify, classify_bytes
from probe.core.message import parse_message
from probe.core.model import Answer, MessageKind

OURS = "<probe.abcdefghijklmnopqrstuvwx.1@probe.example>"
K = MessageKind


def mail(subject: str = "Re: Votre abonnement", body: str = "Oui merci", *, sender: str = "Marie <marie@example.fr>",
         headers: dict[str, str] | None = None, threaded: bool = False, ctype: str = "text/plain; charset=utf-8",
         date_: str = "Mon, 28 Sep 2026 10:02:00 +0200") -> bytes:
    lines = [f"From: {sender}", "To: probe@probe.example", f"Subject: {subject}", f"Date: {date_}",
             "Message-ID: <m1@example.fr>", "MIME-Version: 1.0"]
    if threaded:
        lines += [f"In-Reply-To: {OURS}", f"References: {OURS}"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    lines.append(f"Content-Type: {ctype}")
    return ("\r\n".join(lines) + "\r\n\r\n" + body.replace("\n", "\r\n")).encode("utf-8")


def report(report_type: str, human: str, fields: str, *, subject: str, sender: str = "MAILER-DAEMON@mx.example.org",
           returned: str = f"From: probe@probe.example\nMessage-ID: {OURS}\nSubject: Votre abonnement\n",
           headers: dict[str, str] | None = None) -> bytes:
    part_type = {"delivery-status": "message/delivery-status",
                 "disposition-notification": "message/disposition-notification",
                 "feedback-report": "message/feedback-report"}.get(report_type, "application/tlsrpt+json")
    body = (f"--R\nContent-Type: text/plain; charset=utf-8\n\n{human}\n"
            f"--R\nContent-Type: {part_type}\n\n{fields}\n"
            f"--R\nContent-Type: text/rfc822-headers\n\n{returned}\n--R--\n")
    return mail(subject, body, sender=sender, headers=headers,
                ctype=f'multipart/report; report-type={report_type}; boundary="R"')


def dsn(*actions: tuple[str, str, str], subject: str = "Undelivered Mail Returned to Sender",
        headers: dict[str, str] | None = None) -> bytes:
    blocks = "Reporting-MTA: dns; mx.example.org\n"
    for rcpt, action, status in actions:
        blocks += f"\nFinal-Recipient: rfc822; {rcpt}\nAction: {action}\nStatus: {status}\n"
    return report("delivery-status", "This is the mail system at host mx.example.org.", blocks, subject=subject,
                  headers=headers)


@dataclass
class Case:
    raw: bytes
    kind: MessageKind
    reason: str | None = None                 # the first reason's prefix
    check: dict[str, object] = field(default_factory=dict)


QMAIL = """Hi. This is the qmail-send program at mail.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<gone@example.net>:
Sorry, no mailbox here by that name. (#5.1.1)

--- Below this line is a copy of the message.

Message-ID: <probe.abcdefghijklmnopqrstuvwx.1@probe.example>
Subject: Votre abonnement
"""
EXIM = """This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  gone@example.com
    SMTP error from remote mail server after RCPT TO:<gone@example.com>:
    550 5.1.1 User unknown
"""
EXCHANGE_EN = """Your message did not reach some or all of the intended recipients.

      Subject:  Votre abonnement
      Sent:     28/09/2026 10:02

The following recipient(s) cannot be reached:

      Jean Martin on 28/09/2026 10:03
            The e-mail account does not exist at the organization this message was sent to.
            <mx.example.com #5.1.1 smtp;550 5.1.1 RESOLVER.ADR.RecipNotFound; not found>
"""
EXCHANGE_FR = """Votre message n'a pas pu être remis à certains destinataires ou à aucun d'entre eux.

      Objet :  Votre abonnement
      Envoyé :  28/09/2026 10:02

Impossible de joindre le ou les destinataires suivants :

      jean.martin@example.fr le 28/09/2026 10:03
            Le compte de messagerie n'existe pas dans l'organisation à laquelle ce message a été envoyé.
"""
LOTUS = """Your message

  Subject: Votre abonnement

was not delivered to:

  jean.martin@example.com

because:

  User jean.martin (jean.martin@example.com) not listed in Domino Directory
"""
GMAIL = """** Address not found **

Your message wasn't delivered to nobody@example.com because the address couldn't be found, or is unable \
to receive mail.

The response from the remote server was:
550 5.1.1 The email account that you tried to reach does not exist.
"""
POSTFIX_TEXT = """This is the mail system at host mx.example.org.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

<gone@example.org>: host mx.example.org said: 550 5.1.1 <gone@example.org>:
    Recipient address rejected: User unknown in virtual mailbox table
"""
EXIM_DELAY = """This message was created automatically by mail delivery software.
A message that you sent has not yet been delivered to one or more of its
recipients after more than 24 hours on the queue on mx.example.com.

The address to which the message has not yet been delivered is:

  slow@example.com
    Delay reason: SMTP error from remote mail server after RCPT TO:<slow@example.com>:
    451 4.4.1 Try again later

No action is required on your part. Delivery attempts will continue for
some time, and this warning may be repeated at intervals if the message
remains undelivered. Eventually the mail delivery software will give up,
and when that happens, the message will be returned to you.
"""
POSTFIX_DELAY = """This is the mail system at host mx.example.org.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for more than 4 hour(s).
It will be retried until it is 5 day(s) old.
"""
MDN_FIELDS = f"""Reporting-UA: mail.example.fr; Microsoft Exchange Server
Final-Recipient: rfc822; marie@example.fr
Original-Message-ID: {OURS}
Disposition: automatic-action/MDN-sent-automatically; displayed"""
ARF_FIELDS = """Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1"""

CASES: dict[str, Case] = {
    # --- delivery-status reports -------------------------------------------------------------------
    "dsn failed 5.1.1": Case(dsn(("Gone@Example.org", "failed", "5.1.1")), K.BOUNCE, "dsn-action-failed",
                             {"failed_recipients": ("gone@example.org",), "status": "5.1.1",
                              "original_message_ids": (OURS,)}),
    "dsn failed with a 4.x status (gave up)": Case(dsn(("a@example.org", "failed", "4.4.7")), K.BOUNCE,
                                                   "dsn-action-failed", {"status": "4.4.7"}),
    "dsn failed + delayed": Case(dsn(("a@example.org", "delayed", "4.2.2"), ("b@example.org", "failed", "5.2.1")),
                                 K.BOUNCE, "dsn-action-failed", {"failed_recipients": ("b@example.org",)}),
    "dsn failed with Auto-Submitted": Case(dsn(("a@example.org", "failed", "5.1.1"),
                                               headers={"Auto-Submitted": "auto-replied"}), K.BOUNCE),
    "dsn delayed only": Case(dsn(("a@example.org", "delayed", "4.4.1"), subject="Delayed Mail (still being retried)"),
                             K.DELIVERY_DELAY, "dsn-action-delayed"),
    "dsn delivered": Case(dsn(("a@example.org", "delivered", "2.0.0"), subject="Successful Mail Delivery Report"),
                          K.UNKNOWN, "dsn-success"),
    "dsn relayed/expanded": Case(dsn(("a@example.org", "relayed", "2.0.0"), ("b@example.org", "expanded", "2.0.0"),
                                     subject="Delivery Status Notification (Relay)"), K.UNKNOWN, "dsn-success"),
    # --- prose bounces -----------------------------------------------------------------------------
    "qmail": Case(mail("failure notice", QMAIL, sender="MAILER-DAEMON@mail.example.net"), K.BOUNCE, "text-bounce",
                  {"original_message_ids": (OURS,)}),
    "exim": Case(mail("Mail delivery failed: returning message to sender", EXIM,
                      sender="Mail Delivery System <Mailer-Daemon@mx.example.com>",
                      headers={"X-Failed-Recipients": "gone@example.com", "Auto-Submitted": "auto-replied"}),
                 K.BOUNCE, "text-bounce", {"failed_recipients": ("gone@example.com",)}),
    "exchange Undeliverable:": Case(mail("Undeliverable: Votre abonnement", EXCHANGE_EN,
                                         sender="System Administrator <postmaster@example.com>"), K.BOUNCE),
    "exchange Non remis :": Case(mail("Non remis : Votre abonnement", EXCHANGE_FR,
                                      sender="Administrateur système <postmaster@example.fr>"), K.BOUNCE),
    "exchange from a person-looking sender": Case(mail("Undeliverable: Votre abonnement", EXCHANGE_EN,
                                                       sender="Microsoft Outlook <outlook@example.com>"), K.BOUNCE),
    "lotus": Case(mail("DELIVERY FAILURE: User jean.martin (jean.martin@example.com) not listed in Domino Directory",
                       LOTUS, sender="Postmaster@example.com"), K.BOUNCE),
    "gmail address not found": Case(mail("Delivery Status Notification (Failure)", GMAIL,
                                         sender="Mail Delivery Subsystem <mailer-daemon@googlemail.com>"), K.BOUNCE),
    "postfix text": Case(mail("Undelivered Mail Returned to Sender", POSTFIX_TEXT,
                              sender="MAILER-DAEMON@mx.example.org (Mail Delivery System)"), K.BOUNCE,
                         check={"status": "5.1.1"}),
    # --- delay notices -----------------------------------------------------------------------------
    "exim delay": Case(mail("Warning: message 1abCD-0001 delayed 24 hours", EXIM_DELAY,
                            sender="Mail Delivery System <Mailer-Daemon@mx.example.com>"), K.DELIVERY_DELAY),
    "postfix delay text": Case(mail("Delayed Mail (still being retried)", POSTFIX_DELAY,
                                    sender="MAILER-DAEMON@mx.example.org"), K.DELIVERY_DELAY),
    "will retry": Case(mail("Mail delivery problem", "Your message to a@example.org has not been delivered yet. "
                                                     "The server will retry for 3 more days.",
                            sender="postmaster@example.org"), K.DELIVERY_DELAY),
    "amazon ses bounce notification": Case(
        mail("AWS Notification Message", '{"Type":"Notification","Message":"{\\"notificationType\\":\\"Bounce\\",'
             '\\"bounce\\":{\\"bounceType\\":\\"Permanent\\",\\"bouncedRecipients\\":[{\\"emailAddress\\":'
             '\\"gone@example.com\\"}]}}"}', sender="no-reply@sns.amazonaws.com"),
        K.BOUNCE, "ses:bounce", {"failed_recipients": ("gone@example.com",)}),
    # --- read receipts -----------------------------------------------------------------------------
    "mdn Lu :": Case(report("disposition-notification", "Votre message a été lu.", MDN_FIELDS,
                            subject="Lu : Votre abonnement", sender="marie@example.fr"), K.READ_RECEIPT,
                     "mdn", {"original_message_ids": (OURS,)}),
    "mdn Read:": Case(report("disposition-notification", "Your message was read.", MDN_FIELDS,
                             subject="Read: Your subscription", sender="john@example.com"), K.READ_RECEIPT),
    "outlook text read notice": Case(mail("Read: Your subscription", "Your message\n\n  To: John\n  Subject: Your "
                                          "subscription\n\nwas read on 28/09/2026 10:05.", sender="john@example.com"),
                                     K.READ_RECEIPT, "text:read-receipt"),
    "fr text read notice": Case(mail("Lu : Votre abonnement", "Votre message\n  Objet : Votre abonnement\n"
                                     "a été lu le 28/09/2026 10:05."), K.READ_RECEIPT),
    # --- automatic responses: headers --------------------------------------------------------------
    "auto-submitted auto-replied": Case(mail("Re: Votre abonnement", "Je suis en déplacement.", threaded=True,
                                             headers={"Auto-Submitted": "auto-replied"}), K.AUTO_REPLY,
                                        "auto-submitted:auto-replied"),
    "x-autoreply": Case(mail("Re: Votre abonnement", "Merci pour votre message.", headers={"X-Autoreply": "yes"}),
                        K.AUTO_REPLY, "x-autoreply"),
    "x-autorespond": Case(mail("Votre abonnement", "Thanks!", headers={"X-Autorespond": "Votre abonnement"}),
                          K.AUTO_REPLY, "x-autorespond"),
    "precedence auto_reply": Case(mail("Re: Your subscription", "Thanks", headers={"Precedence": "auto_reply"}),
                                  K.AUTO_REPLY, "precedence:auto_reply"),
    "precedence bulk + auto subject": Case(mail("Réponse automatique : Votre abonnement", "Je suis absente.",
                                                headers={"Precedence": "bulk"}), K.AUTO_REPLY),
    "precedence junk + OOO body": Case(mail("Re: Votre abonnement", "Bonjour,\nJe suis absent du bureau jusqu'au "
                                            "lundi 5 octobre.", headers={"Precedence": "junk"}), K.AUTO_REPLY),
    "auto-generated in answer to ours": Case(mail("Afwezig", "Ik ben afwezig.", threaded=True,
                                                  headers={"Auto-Submitted": "auto-generated"}),
                                             K.AUTO_REPLY, "auto-submitted:auto-generated+threaded"),
    "x-auto-response-suppress alone is a person": Case(
        mail("RE: Votre abonnement", "Oui, merci.", threaded=True, headers={"X-Auto-Response-Suppress": "All"}),
        K.HUMAN_REPLY),
    # --- automatic responses: out-of-office subjects ------------------------------------------------
    "fr réponse automatique": Case(mail("Réponse automatique : Votre abonnement", "Bonjour, merci pour votre message."),
                                   K.AUTO_REPLY, "subject:out-of-office"),
    "fr absence du bureau": Case(mail("Absence du bureau", "Bonjour"), K.AUTO_REPLY, "subject:out-of-office"),
    "fr absent :": Case(mail("Absent : Votre abonnement", "Bonjour"), K.AUTO_REPLY, "subject:out-of-office"),
    "fr message d'absence": Case(mail("Message d'absence", "Bonjour"), K.AUTO_REPLY),
    "en automatic reply": Case(mail("Automatic reply: Your subscription", "Hello"), K.AUTO_REPLY),
    "en out of office": Case(mail("Out of Office: Your subscription", "Hello"), K.AUTO_REPLY),
    "en auto-reply": Case(mail("Auto-Reply: Your subscription", "Hello"), K.AUTO_REPLY),
    "en lotus AUTO:": Case(mail("AUTO: Jean Martin is out of the office (returning 12/10/2026)", "I will be out."),
                           K.AUTO_REPLY, check={"return_date": date(2026, 10, 12)}),
    "en aol (Automatic Response)": Case(mail("Re: Your subscription (Automatic Response)", "Away."), K.AUTO_REPLY),
    "de abwesenheitsnotiz": Case(mail("Abwesenheitsnotiz: Ihr Abonnement", "Guten Tag"), K.AUTO_REPLY),
    "de automatische antwort": Case(mail("Automatische Antwort: Ihr Abonnement", "Guten Tag"), K.AUTO_REPLY),
    "de abwesend :": Case(mail("Abwesend: Ihr Abonnement", "Guten Tag"), K.AUTO_REPLY),
    "es fuera de la oficina": Case(mail("Fuera de la oficina: Su suscripción", "Hola"), K.AUTO_REPLY),
    "es respuesta automática": Case(mail("Respuesta automática: Su suscripción", "Hola"), K.AUTO_REPLY),
    "it fuori ufficio": Case(mail("Fuori ufficio: Il suo abbonamento", "Buongiorno"), K.AUTO_REPLY),
    "it risposta automatica": Case(mail("Risposta automatica: Il suo abbonamento", "Buongiorno"), K.AUTO_REPLY),
    # --- automatic responses: bodies, tickets, challenges, departures --------------------------------
    "fr ooo body with return date": Case(
        mail("RE: Votre abonnement", "Bonjour,\n\nJe suis absente du bureau et serai de retour le 12 octobre.\n"
                                     "Pour toute urgence, contactez mon collègue.\n\nMarie", threaded=True),
        K.AUTO_REPLY, "text:out-of-office", {"return_date": date(2026, 10, 12)}),
    "en ooo body with return date": Case(
        mail("Re: Your subscription", "Thank you for your email. I am out of the office with limited access to "
                                      "email and will be back on October 12.", threaded=True),
        K.AUTO_REPLY, None, {"return_date": date(2026, 10, 12)}),
    "de ooo return date bis 12.10.": Case(
        mail("Abwesenheitsnotiz: Ihr Abonnement", "Ich bin bis 12.10. nicht im Büro."), K.AUTO_REPLY, None,
        {"return_date": date(2026, 10, 12)}),
    "es ooo return date": Case(mail("Fuera de la oficina", "Estoy de vacaciones hasta el 12 de octubre."),
                               K.AUTO_REPLY, None, {"return_date": date(2026, 10, 12)}),
    "it ooo return date": Case(mail("Fuori ufficio", "Sono in ferie fino al 12 ottobre."), K.AUTO_REPLY, None,
                               {"return_date": date(2026, 10, 12)}),
    "return date next year": Case(mail("Automatic reply: x", "I am on leave until January 5.",
                                       date_="Mon, 21 Dec 2026 10:00:00 +0100"), K.AUTO_REPLY, None,
                                  {"return_date": date(2027, 1, 5)}),
    "fr ooo body without subject or header": Case(
        mail("RE: Votre abonnement", "Bonjour,\nActuellement en congés, je prendrai connaissance de votre message "
                                     "à mon retour le 20 octobre.\nCordialement", threaded=True),
        K.AUTO_REPLY, "text:out-of-office", {"return_date": date(2026, 10, 20)}),
    "exchange ooo with auto-generated": Case(
        mail("Réponse automatique : Votre abonnement", "Je suis absente jusqu'au 12/10.",
             headers={"Auto-Submitted": "auto-generated", "X-MS-Exchange-Inbox-Rules-Loop": "marie@example.fr"}),
        K.AUTO_REPLY, None, {"return_date": date(2026, 10, 12)}),
    "user-written ooo subject": Case(mail("Absent jusqu'au 12 octobre", "Bonjour", headers={
        "Auto-Submitted": "auto-generated"}), K.AUTO_REPLY, "subject:out-of-office"),
    "zendesk-style request received": Case(
        mail("Request received: Your subscription", "Your request (48213) has been received and is being reviewed "
                                                    "by our support staff.", sender="support@example.com"),
        K.AUTO_REPLY),
    "fr ooo en raison de congés": Case(
        mail("RE: Votre abonnement", "Madame, Monsieur, en raison de congés, je ne serai pas en mesure de traiter "
                                     "votre demande avant le 15 octobre.", threaded=True),
        K.AUTO_REPLY, "text:out-of-office"),
    "fr ooo range return date": Case(mail("Absence", "Je suis absente du 5 au 16 octobre inclus."), K.AUTO_REPLY, None,
                                     {"return_date": date(2026, 10, 16)}),
    "fr ooo date in our quoted text is not a return": Case(
        mail("Réponse automatique : Votre abonnement", "Je suis absente.\n\nLe 28 sept. 2026, Probe a écrit :\n"
                                                     "> Répondez avant le 30 octobre"), K.AUTO_REPLY, None,
        {"return_date": None}),
    "fr ticket accusé de réception": Case(
        mail("Re: Votre abonnement", "Nous accusons bonne réception de votre message. Il sera traité dans les plus "
                                     "brefs délais.", threaded=True), K.AUTO_REPLY, "text:ticket-acknowledgement"),
    "fr no longer: je ne travaille plus": Case(
        mail("Re: Votre abonnement", "Bonjour, je ne travaille plus chez Acme. Merci de contacter accueil@acme.fr.",
             threaded=True), K.AUTO_REPLY, "no-longer-with-company"),
    "fr ticket acknowledgement": Case(
        mail("[Ticket #48213] Votre demande a bien été enregistrée",
             "Bonjour,\nVotre demande n° 48213 a bien été enregistrée. Nous vous répondrons dans les meilleurs "
             "délais.\nCeci est un message automatique, merci de ne pas y répondre.", sender="support@example.fr"),
        K.AUTO_REPLY, None),
    "en ticket acknowledgement": Case(
        mail("Re: Your subscription", "Thank you for contacting Example support. Your request (#4521) has been "
                                      "received and a ticket was created. This is an automated message.",
             sender="help@example.com", threaded=True), K.AUTO_REPLY, "text:ticket-acknowledgement"),
    "fr challenge": Case(
        mail("Re: Votre abonnement", "Votre message est en attente. Pour qu'il soit délivré, confirmez que vous "
                                     "n'êtes pas un robot en cliquant sur le lien ci-dessous.",
             sender="antispam@example.fr"), K.AUTO_REPLY, "challenge"),
    "en challenge": Case(
        mail("Please verify your email", "The recipient uses a challenge-response system. Click the link below to "
                                         "confirm you are a human: https://verify.example.com/x",
             sender="verify@example.com"), K.AUTO_REPLY, "challenge"),
    "fr no longer with the company": Case(
        mail("Re: Votre abonnement", "Bonjour, Marie Dupont ne fait plus partie de la société. Merci d'écrire à "
                                     "contact@example.fr.", threaded=True), K.AUTO_REPLY, "no-longer-with-company"),
    "en no longer with the company": Case(
        mail("Re: Your subscription", "John Smith is no longer with Example Corp. Please contact sales@example.com.",
             threaded=True), K.AUTO_REPLY, "no-longer-with-company"),
    # --- a person's reply --------------------------------------------------------------------------
    "threaded plain yes": Case(mail("Re: Votre abonnement", "Oui merci\n\nLe lun. 28 sept. 2026 à 10:02, Probe "
                                    "<probe@probe.example> a écrit :\n> Souhaitez-vous vous abonner ?", threaded=True),
                               K.HUMAN_REPLY, "threaded:in-reply-to"),
    "references only": Case(mail("Votre abonnement", "No thanks.", headers={"References": OURS}), K.HUMAN_REPLY,
                            "threaded:references"),
    "RE: + quoting, not threaded": Case(mail("RE: Your subscription", "No thanks.\n\n-----Original Message-----\n"
                                             "From: Probe\nSent: Monday\nTo: John\nSubject: Your subscription"),
                                        K.HUMAN_REPLY, "subject:reply+quoting"),
    "AW: plain": Case(mail("AW: Ihr Abonnement", "Ja, gerne."), K.HUMAN_REPLY, "subject:reply"),
    "SV: plain": Case(mail("SV: Your subscription", "Yes please."), K.HUMAN_REPLY, "subject:reply"),
    "TR: plain": Case(mail("TR: Votre abonnement", "Je transmets à mon collègue."), K.HUMAN_REPLY),
    "quoting only": Case(mail("Votre abonnement", "D'accord.\n\nLe 28 sept. 2026 à 10:02, Probe a écrit :\n> Bonjour"),
                         K.HUMAN_REPLY, "quoting"),
    "html-only threaded reply": Case(mail("Re: Votre abonnement", "<div>Oui</div><div class=\"gmail_quote\">Le lun. "
                                          "a écrit :<blockquote>Bonjour</blockquote></div>", threaded=True,
                                          ctype="text/html; charset=utf-8"), K.HUMAN_REPLY),
    "person writing about a delay": Case(mail("Re: Project delayed", "Yes, we are still trying to finish it.",
                                              threaded=True), K.HUMAN_REPLY),
    "person writing about a parcel": Case(mail("Re: Undeliverable parcel", "No, it does not exist any more.",
                                               threaded=True), K.HUMAN_REPLY),
    "person with 'absence' in our subject": Case(mail("Re: Votre absence", "Oui, merci.", threaded=True),
                                                 K.HUMAN_REPLY),
    "person thanking for the email": Case(mail("Re: Your subscription", "Thank you for your email. Yes, please "
                                               "subscribe me.", threaded=True), K.HUMAN_REPLY),
    "person from info@": Case(mail("Re: Votre abonnement", "Oui", sender="info@mairie.example.fr", threaded=True),
                              K.HUMAN_REPLY),
    "person absent tomorrow but answering": Case(
        mail("Re: Votre abonnement", "Je suis absent demain mais oui, je veux bien.", threaded=True), K.HUMAN_REPLY),
    "person who received our message and answers": Case(
        mail("Re: Votre abonnement", "Nous avons bien reçu votre message, et nous sommes intéressés : oui.",
             threaded=True), K.HUMAN_REPLY),
    "person travelling but answering": Case(
        mail("Re: Your subscription", "I'm travelling this week but yes, please sign me up.", threaded=True),
        K.HUMAN_REPLY),
    "person saying read": Case(mail("Re: Votre abonnement", "Lu et approuvé : oui.", threaded=True), K.HUMAN_REPLY),
    # --- unknown -----------------------------------------------------------------------------------
    "client unsubscribe request": Case(mail("unsubscribe", "Apple Mail sent this email to unsubscribe from the "
                                                          "message “Votre abonnement”."), K.UNKNOWN,
                                       "unsubscribe-request", {"opt_out": True}),
    "new message about car insurance": Case(mail("Auto insurance offer", "Cheap", sender="x@ads.example"),
                                            K.UNKNOWN),
    "new message replying to nothing": Case(mail("Question", "Bonjour, une question sur vos tarifs."), K.UNKNOWN),
    "newsletter with List-Unsubscribe": Case(mail("Re: Notre offre", "Promo !",
                                                  headers={"List-Unsubscribe": "<mailto:u@news.example>"}), K.UNKNOWN,
                                             "list-unsubscribe"),
    "precedence bulk alone": Case(mail("Re: News", "Hello", headers={"Precedence": "bulk"}), K.UNKNOWN,
                                  "precedence:bulk"),
    "precedence list": Case(mail("Re: [list] topic", "Hello", headers={"Precedence": "list"}), K.UNKNOWN),
    "invoice auto-generated": Case(mail("Votre facture", "Veuillez trouver votre facture.",
                                        headers={"Auto-Submitted": "auto-generated"}, sender="billing@example.fr"),
                                   K.UNKNOWN, "auto-submitted:auto-generated"),
    "no-reply notification": Case(mail("Your parcel", "Delivered.", sender="no-reply@shop.example"), K.UNKNOWN),
    "arf feedback report": Case(report("feedback-report", "This is an abuse report", ARF_FIELDS,
                                       subject="Abuse report", sender="fbl@isp.example"), K.UNKNOWN, "report:"),
    "tls report": Case(report("tlsrpt", "This is an aggregate TLS report", "{}", subject="Report Domain: x",
                              sender="tls-reports@example.com"), K.UNKNOWN, "report:tlsrpt"),
    "spam posing as a reply": Case(mail("Re:", "<html><body><img src=x>Cheap watches</body></html>",
                                        sender="x@spam.example", ctype="text/html"), K.UNKNOWN),
    "html spam with a Re: subject": Case(mail("RE: your account", "<p>Click here to claim your prize</p>",
                                              sender="x@spam.example", ctype="text/html"), K.UNKNOWN),
    "unparseable": Case(b"\x00\xff" * 100, K.UNKNOWN),
}


@pytest.mark.parametrize("name", list(CASES))
def test_case(name: str) -> None:
    case = CASES[name]
    _, result = classify_bytes(case.raw)
    assert result.kind == case.kind, (name, result.reasons)
    if case.reason is not None:
        assert result.reasons and result.reasons[0].startswith(case.reason), result.reasons
    for attr, expected in case.check.items():
        assert getattr(result, attr) == expected, (attr, getattr(result, attr))
    assert result.answer is None or result.kind == K.HUMAN_REPLY


def test_human_reply_carries_answer_and_new_text() -> None:
    raw = mail("Re: Votre abonnement", "Oui merci\n\nLe lun. 28 sept. 2026 à 10:02, Probe <probe@probe.example> "
               "a écrit :\n> Souhaitez-vous vous abonner ?", threaded=True)
    result = classify(parse_message(raw))
    assert result.kind == K.HUMAN_REPLY
    assert result.answer in (Answer.YES, Answer.NO, Answer.UNCLEAR)
    assert "Souhaitez" not in result.new_text
    assert "Oui" in result.new_text


def test_rules_are_named_and_ordered() -> None:
    names = [rule.__name__ for rule in RULES]
    assert names.index("delivery_report") < names.index("auto_reply_header") < names.index("person_reply")
    assert names.index("bulk_mail") < names.index("person_reply")


def test_classify_never_raises_on_odd_parsed_messages() -> None:
    from probe.core.message import ParsedMessage
    assert classify(ParsedMessage()).kind == K.UNKNOWN
    assert classify(ParsedMessage(parse_error="boom")).kind == K.UNKNOWN


# --- `probe classify` ----------------------------------------------------------------------------

def _cli_parser() -> argparse.ArgumentParser:
    from probe.cli import classify_cmd

    parser = argparse.ArgumentParser(prog="probe")
    classify_cmd.register(parser.add_subparsers(dest="command", required=True))
    return parser


def _files(tmp_path: Path) -> list[Path]:
    names = {"reply.eml": CASES["threaded plain yes"].raw, "bounce.eml": CASES["dsn failed 5.1.1"].raw,
             "ooo.eml": CASES["fr ooo body with return date"].raw, "garbage.eml": b"\x00\xff" * 50}
    paths = []
    for name, raw in names.items():
        path = tmp_path / name
        path.write_bytes(raw)
        paths.append(path)
    return paths


def test_cli_json_one_object_per_file_in_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _files(tmp_path)
    args = _cli_parser().parse_args(["classify", "--json", *map(str, paths)])
    assert args.func(args) == 0
    lines = capsys.readouterr().out.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["file"] for r in records] == [str(p) for p in paths]
    assert [r["kind"] for r in records] == ["human_reply", "bounce", "auto_reply", "unknown"]
    reply, bounce, ooo, _ = records
    assert reply["answer"] == "yes" and "Oui" in reply["new_text"]
    assert bounce["failed_recipients"] == ["gone@example.org"] and bounce["status"] == "5.1.1"
    assert bounce["original_message_ids"] == [OURS] and bounce["answer"] is None
    assert ooo["return_date"] == "2026-10-12"
    for record in records:
        assert {"file", "kind", "answer", "new_text", "reasons", "opt_out", "failed_recipients",
                "original_message_ids", "return_date", "status"} <= record.keys()


def test_cli_text_one_line_per_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = _files(tmp_path)
    args = _cli_parser().parse_args(["classify", *map(str, paths)])
    assert args.func(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(paths)
    assert lines[0].startswith(f"{paths[0]}: human_reply  yes")


def test_cli_missing_file_is_bad_input_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from probe.errors import InputError

    good = _files(tmp_path)[0]
    args = _cli_parser().parse_args(["classify", "--json", str(good), str(tmp_path / "nope.eml")])
    with pytest.raises(InputError) as err:
        args.func(args)
    assert "nope.eml" in str(err.value)
    assert capsys.readouterr().out == ""  # checked before anything is printed
    with pytest.raises(InputError):
        args = _cli_parser().parse_args(["classify", str(tmp_path)])
        args.func(args)


def _cli_available() -> bool:
    try:
        from probe.cli import COMMAND_MODULES
    except ImportError:
        return False
    return all(importlib.util.find_spec(name) is not None for name in COMMAND_MODULES)


@pytest.mark.skipif(not _cli_available(), reason="the probe CLI's other command modules are not all there yet")
def test_cli_through_python_m_probe(tmp_path: Path) -> None:
    paths = _files(tmp_path)
    run = subprocess.run([sys.executable, "-m", "probe", "classify", "--json", *map(str, paths)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert [json.loads(line)["kind"] for line in run.stdout.splitlines()] == [
        "human_reply", "bounce", "auto_reply", "unknown"]
    missing = subprocess.run([sys.executable, "-m", "probe", "classify", str(tmp_path / "nope.eml")],
                             capture_output=True, text=True, timeout=120, check=False)
    assert missing.returncode == 2
    assert "nope.eml" in missing.stderr and "Traceback" not in missing.stderr
    no_args = subprocess.run([sys.executable, "-m", "probe", "classify"], capture_output=True, text=True,
                             timeout=120, check=False)
    assert no_args.returncode == 2 and "Traceback" not in no_args.stderr


def test_no_longer_with_the_company_is_kept_when_rfc3834_headers_decide_first() -> None:
    """The report counts such a target as not eligible (AAPOR NE) by this reason, whichever rule fired."""
    raw = mail("Automatic reply: Your subscription", "John Smith is no longer with Example Corp. Please contact "
               "sales@example.com.", headers={"Auto-Submitted": "auto-replied"}, threaded=True)
    _, result = classify_bytes(raw)
    assert result.kind == K.AUTO_REPLY
    assert "no-longer-with-company" in result.reasons
    plain = mail("Automatic reply: Your subscription", "I am out of the office until Monday.",
                 headers={"Auto-Submitted": "auto-replied"}, threaded=True)
    assert "no-longer-with-company" not in classify_bytes(plain)[1].reasons
