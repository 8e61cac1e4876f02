"""extract_new_text / html_to_text / subject_new_part: the reply's own words, nothing quoted."""

from __future__ import annotations

import time

import pytest

from probe.core.htmltext import html_to_text
from probe.core.newtext import NewText, extract_new_text, subject_new_part

QUESTION = "Bonjour,\nSouhaitez-vous recevoir notre lettre ? Répondez par OUI ou NON.\nMerci"
QUOTED = "\n".join("> " + line for line in QUESTION.split("\n"))

# (plain text, expected new text, a word that must be gone, a name in removed)
PLAIN = [
    # attributions, one or several lines, in many languages
    (f"Oui\n\nLe lun. 28 sept. 2015 à 10:02, Probe <probe@example.org> a écrit :\n{QUOTED}",
     "Oui", "Souhaitez", "attribution"),
    (f"Oui\u00a0!\n\nLe 28\u202fsept. 2015 à 10:02, Probe <probe@example.org> a écrit\u202f:\n{QUOTED}",
     "Oui !", "Souhaitez", "attribution"),
    (f"Oui merci\n\nLe 28 sept. 2015 à 10:02, Probe Campagne <probe@example.org> a\nécrit :\n\n{QUOTED}",
     "Oui merci", "Souhaitez", "attribution"),
    ("Non merci.\nLe 4 janv. 2016 19:03, \"Probe\"\n<probe@example.org>\na écrit :\n\n> Répondez OUI ou NON",
     "Non merci.", "Répondez", "attribution"),
    ("Yes please\n\nOn Mon, Sep 28, 2015 at 10:02 AM, Probe <probe@example.org> wrote:\n\n> Answer YES or NO",
     "Yes please", "Answer", "attribution"),
    ("Yes\n\nOn Mon, Sep 28, 2015 at 10:02 AM, Probe Campaign <\nprobe@example.org> wrote:\n\n> Answer YES or NO",
     "Yes", "Answer", "attribution"),
    ("No thanks\n\nOn 28 Sep 2015, at 10:02, Probe <probe@example.org> wrote:\n\n> Answer YES or NO",
     "No thanks", "Answer", "attribution"),
    ("Ja, gerne.\n\nAm 28.09.2015 um 10:02 schrieb Probe <probe@example.org>:\n> Antworten Sie JA oder NEIN",
     "Ja, gerne.", "Antworten", "attribution"),
    ("Nein danke\n\nProbe <probe@example.org> schrieb am Mo., 28. Sep. 2015 um\n10:02 Uhr:\n\n> JA oder NEIN",
     "Nein danke", "JA oder", "attribution"),
    ("No, gracias.\n\nEl lun., 28 sept. 2015 a las 10:02, Probe (<probe@example.org>)\nescribió:\n> SÍ o NO",
     "No, gracias.", "SÍ o", "attribution"),
    ("Sì, grazie.\n\nIl giorno lun 28 set 2015 alle ore 10:02 Probe <probe@example.org> ha scritto:\n> SÌ o NO",
     "Sì, grazie.", "SÌ o", "attribution"),
    ("Ja graag\n\nOp 28 sep. 2015 om 10:02 heeft Probe <probe@example.org> het volgende geschreven:\n> JA of NEE",
     "Ja graag", "JA of", "attribution"),
    ("Sim\n\nEm seg., 28 de set. de 2015 às 10:02, Probe <probe@example.org> escreveu:\n> SIM ou NÃO",
     "Sim", "SIM ou", "attribution"),
    ("Oui\n\n2015-09-28 10:02 GMT+02:00 Probe <probe@example.org>:\n\n> OUI ou NON", "Oui", "OUI ou", "attribution"),
    # an attribution with the original not marked by ">": everything below goes
    ("Oui\n\nLe lun. 28 sept. 2015 à 10:02, Probe <probe@example.org> a écrit :\n\nRépondez OUI ou NON",
     "Oui", "Répondez", "attribution"),
    # Outlook header blocks without ">"
    (f"Non merci.\n\nDe : Probe <probe@example.org>\nEnvoyé : lundi 28 septembre 2015 10:02\n"
     f"À : Marie Martin <marie@example.fr>\nObjet : Votre abonnement\n\n{QUESTION}",
     "Non merci.", "Souhaitez", "outlook-header"),
    ("Oui\n\n________________________________\nDe : Probe <probe@example.org>\nEnvoyé : lundi 28 septembre 2015\n"
     "À : marie@example.fr\nObjet : RE: Votre abonnement\n\nRépondez OUI ou NON", "Oui", "Répondez", "outlook-header"),
    ("Yes\n\nFrom: Probe [mailto:probe@example.org]\nSent: Monday, September 28, 2015 10:02 AM\nTo: John\n"
     "Subject: Your subscription\n\nAnswer YES or NO", "Yes", "Answer", "outlook-header"),
    ("Yes\n\n*From:* Probe <probe@example.org>\n*Sent:* Monday, September 28, 2015\n*To:* John\n"
     "*Subject:* Your subscription\n\nAnswer YES or NO", "Yes", "Answer", "outlook-header"),
    ("Ja\n\nVon: Probe <probe@example.org>\nGesendet: Montag, 28. September 2015 10:02\nAn: Max\n"
     "Betreff: Ihr Abonnement\n\nJA oder NEIN?", "Ja", "oder", "outlook-header"),
    # separators
    ("Non\n\n-----Message d'origine-----\nDe : Probe\nEnvoyé : lundi\nÀ : Marie\nObjet : Abonnement\n\nOUI ou NON ?",
     "Non", "OUI ou", "original-message"),
    ("Yes\n\n-----Original Message-----\nFrom: Probe\nSent: Monday\nTo: John\nSubject: Test\n\nYES or NO?",
     "Yes", "YES or", "original-message"),
    ("Yes\n\n----- Original Message -----\nFrom: probe@example.org\nTo: john@example.com\n\nYES or NO?",
     "Yes", "YES or", "original-message"),
    ("Je transmets à ma collègue.\n\n---------- Forwarded message ---------\nDe : Probe\nDate : lun.\n\nOUI ou NON",
     "Je transmets à ma collègue.", "OUI ou", "forward"),
    ("Pour info\n\nDébut du message réexpédié :\n\nDe: Probe <probe@example.org>\nObjet: Abonnement\n\nOUI ou NON",
     "Pour info", "OUI ou", "forward"),
    ("Voir ci-dessous\n\n-------- Message transféré --------\nSujet : Abonnement\nDate : lun.\n\nOUI ou NON",
     "Voir ci-dessous", "OUI ou", "forward"),
    # bottom posting and inline answers: the text under the quote is kept
    (f"Le lun. 28 sept. 2015 à 10:02, Probe <probe@example.org> a écrit :\n{QUOTED}\n\nNon, merci.",
     "Non, merci.", "Souhaitez", "quote"),
    ("> Souhaitez-vous recevoir notre lettre ?\nOui\n> Voulez-vous la version papier ?\nNon",
     "Oui\nNon", "Souhaitez", "quote"),
    # signatures
    ("Oui\n\nEnvoyé de mon iPhone\n\n> Le 28 sept. 2015 à 10:02, Probe <probe@example.org> a écrit :\n> OUI ou NON",
     "Oui", "iPhone", "signature"),
    ("Yes\n\nSent from my Samsung Galaxy smartphone.", "Yes", "Samsung", "signature"),
    ("Here is another email\n\nSent from my desk, is much easier then my mobile phone.",
     "Here is another email\n\nSent from my desk, is much easier then my mobile phone.", "@@", ""),
    ("Oui\n\n-- \nJean Dupont\nNon-Stop Conseil\n01 23 45 67 89", "Oui", "Non-Stop", "signature"),
    ("Bonjour,\n\nOui.\n\nCordialement,\n\nMarie Non\nDirectrice\nTél : 01 23 45 67 89",
     "Bonjour,\n\nOui.", "Marie Non", "signature"),
    ("Yes.\n\nBest regards,\nJohn Noakes\nNo Limits Ltd", "Yes.", "No Limits", "signature"),
    ("Oui\n\nBien à vous\nPierre", "Oui", "Pierre", "signature"),
    # disclaimers full of "non"
    ("Oui\n\nCe message et ses pièces jointes sont confidentiels et destinés exclusivement au destinataire. "
     "Toute utilisation non autorisée est interdite. Si vous n'êtes pas le destinataire, non, ne le lisez pas.",
     "Oui", "confidentiels", "disclaimer"),
    ("Yes\n\nThis email and any attachments are confidential and may be privileged. If you are not the intended "
     "recipient, no use may be made of it. No liability is accepted.", "Yes", "liability", "disclaimer"),
    ("CAUTION: This email originated from outside the organization. Do not click links. No exceptions.\n\nYes please",
     "Yes please", "exceptions", "disclaimer"),
    # nothing to cut
    ("Oui", "Oui", "@@", ""),
    ("Non merci\r\nPas pour nous\r\n", "Non merci\nPas pour nous", "\r", ""),
    ("\n\n\n   Oui   \n\n\n", "Oui", "@@", ""),
    ("On your remote host you can run:\n\n  telnet 127.0.0.1 52698",
     "On your remote host you can run:\n\n  telnet 127.0.0.1 52698", "@@", ""),
    ("Ensuring this is not greedy.\n\nOn this day\n\nI wrote something", "I wrote something", "@@", ""),
]


@pytest.mark.parametrize(("text", "expected", "gone", "removed"), PLAIN)
def test_plain_text_replies(text: str, expected: str, gone: str, removed: str) -> None:
    result = extract_new_text(text)
    assert expected in result.text, result
    assert gone not in result.text, result
    if removed:
        assert removed in result.removed, result
    else:
        assert result.removed == (), result


GMAIL = (
    '<div dir="ltr">Oui, avec plaisir.</div><br><div class="gmail_quote"><div dir="ltr" class="gmail_attr">'
    'Le lun. 28 sept. 2015 à 10:02, Probe &lt;<a href="mailto:probe@example.org">probe@example.org</a>&gt; '
    'a écrit&nbsp;:<br></div><blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex;border-left:1px '
    'solid rgb(204,204,204);padding-left:1ex"><div dir="ltr">Répondez par OUI ou NON</div></blockquote></div>'
)
GMAIL_SIGNATURE = (
    '<div dir="ltr">Yes<br clear="all"><div><br></div>-- <br><div dir="ltr" class="gmail_signature">'
    'John | No Limits Ltd</div></div><br><div class="gmail_quote"><div class="gmail_attr">On Mon, Sep 28, 2015 at '
    '10:02 AM Probe &lt;probe@example.org&gt; wrote:<br></div><blockquote class="gmail_quote">Answer YES or NO'
    '</blockquote></div>'
)
OUTLOOK_DESKTOP = (
    '<html xmlns:o="urn:schemas-microsoft-com:office:office"><head><style><!-- p.MsoNormal {margin:0cm;} --></style>'
    '</head><body lang="FR"><div class="WordSection1"><p class="MsoNormal">Non merci.<o:p></o:p></p>'
    '<p class="MsoNormal"><o:p>&nbsp;</o:p></p><div><div style="border:none;border-top:solid #E1E1E1 1.0pt;'
    'padding:3.0pt 0cm 0cm 0cm"><p class="MsoNormal"><b>De&nbsp;:</b> Probe &lt;probe@example.org&gt;<br>'
    '<b>Envoyé&nbsp;:</b> lundi 28 septembre 2015 10:02<br><b>À&nbsp;:</b> Marie<br><b>Objet&nbsp;:</b> Votre '
    'abonnement<o:p></o:p></p></div></div><p class="MsoNormal">Bonjour, souhaitez-vous la lettre ? OUI ou NON'
    '<o:p></o:p></p></div></body></html>'
)
OUTLOOK_WEB = (
    '<div id="divtagdefaultwrapper" style="font-size:12pt"><p>Yes please</p></div><hr style="display:inline-block;'
    'width:98%" tabindex="-1"><div id="divRplyFwdMsg" dir="ltr"><font face="Calibri"><b>From:</b> Probe '
    '&lt;probe@example.org&gt;<br><b>Sent:</b> Monday, September 28, 2015 10:02 AM<br><b>To:</b> John<br>'
    '<b>Subject:</b> Your subscription</font><div>&nbsp;</div></div><div>Would you like it? Answer YES or NO</div>'
)
OUTLOOK_NEW = (
    '<div class="elementToProof">Oui</div><div id="appendonsend"></div><hr style="display:inline-block">'
    '<div id="x_divRplyFwdMsg"><b>De :</b> Probe<br><b>Objet :</b> Abonnement</div><div>OUI ou NON ?</div>'
)
APPLE_MAIL = (
    '<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head><body dir="auto">'
    'Non merci<br><br><div dir="ltr">Envoyé de mon iPhone</div><div dir="ltr"><br><blockquote type="cite">Le 28 '
    'sept. 2015 à 10:02, Probe &lt;probe@example.org&gt; a écrit&nbsp;:<br><br></blockquote></div>'
    '<blockquote type="cite"><div dir="ltr">Souhaitez-vous la lettre ? OUI ou NON</div></blockquote></body></html>'
)
THUNDERBIRD = (
    '<html><body><p>Oui, je veux bien.</p><div class="moz-cite-prefix">Le 28/09/2015 à 10:02, Probe a écrit&nbsp;:'
    '<br></div><blockquote type="cite" cite="mid:abc@example.org">Répondez OUI ou NON</blockquote>'
    '<div class="moz-signature">-- <br>Jean Non</div></body></html>'
)
YAHOO = (
    '<html><body><div class="ydp-style"><div>No thanks</div><div><br></div><div id="yahoo_quoted_123" '
    'class="yahoo_quoted"><div>On Monday, September 28, 2015, 10:02 AM, Probe wrote:</div><div>YES or NO?</div>'
    '</div></div></body></html>'
)
GMX = (
    '<html><body><div><div>Ja</div><div name="quote" style="margin:10px 5px 5px 10px"><div><b>Gesendet:</b> '
    'Montag<br><b>Von:</b> probe@example.org</div><div name="quoted-content">JA oder NEIN?</div></div></div>'
    '</body></html>'
)
ZIMBRA = ('<div style="font-family: Arial">Oui<br><br><hr id="zwchr"><b>De: </b>probe@example.org<br>'
          '<b>Objet: </b>Abonnement<br><br>OUI ou NON ?</div>')
PLAIN_HTML_QUOTE = '<p>Yes</p><p>&gt; Answer YES or NO</p>'
GMAIL_INDENT = ('<div dir="ltr">Bonjour,<blockquote style="margin:0 0 0 40px;border:none;padding:0px">'
                '<div>Oui, avec plaisir.</div></blockquote></div>')
HIDDEN_PREHEADER = '<div style="display:none">non non non</div><p>Oui</p><script>var no = 1;</script>'

HTML = [
    (GMAIL, "Oui, avec plaisir.", "OUI ou NON"),
    (GMAIL_SIGNATURE, "Yes", "No Limits"),
    (OUTLOOK_DESKTOP, "Non merci.", "OUI ou NON"),
    (OUTLOOK_WEB, "Yes please", "YES or NO"),
    (OUTLOOK_NEW, "Oui", "OUI ou NON"),
    (APPLE_MAIL, "Non merci", "OUI ou NON"),
    (THUNDERBIRD, "Oui, je veux bien.", "Jean Non"),
    (YAHOO, "No thanks", "YES or NO"),
    (GMX, "Ja", "JA oder"),
    (ZIMBRA, "Oui", "OUI ou NON"),
    (PLAIN_HTML_QUOTE, "Yes", "YES or NO"),
    (HIDDEN_PREHEADER, "Oui", "non"),
    (GMAIL_INDENT, "Bonjour,\nOui, avec plaisir.", "@@"),
]


@pytest.mark.parametrize(("html", "expected", "gone"), HTML)
def test_html_only_replies(html: str, expected: str, gone: str) -> None:
    result = extract_new_text("", html)
    assert result.text == expected, result
    assert gone not in result.text


@pytest.mark.parametrize(("html", "expected", "gone"), [
    case for case in HTML
    if case[0] not in (GMAIL_SIGNATURE, THUNDERBIRD, PLAIN_HTML_QUOTE, HIDDEN_PREHEADER, GMAIL_INDENT)])
def test_html_quote_wins_over_a_plain_text_made_from_the_html(html: str, expected: str, gone: str) -> None:
    flat = html_to_text(html, drop_quotes=False)
    assert gone in flat  # the quoted original is there when quotes are kept
    result = extract_new_text(flat, html)
    assert expected in result.text and gone not in result.text, result


def test_plain_text_is_preferred_when_it_marks_its_quotes() -> None:
    result = extract_new_text("Oui\n\n> OUI ou NON", "<p>Oui</p><blockquote>OUI ou NON</blockquote>")
    assert result == NewText("Oui", ("quote",))


def test_html_to_text_keeps_structure_and_decodes_entities() -> None:
    html = "<p>Caf&eacute; &amp; th&eacute;</p><ul><li>un</li><li>deux</li></ul><table><tr><td>a</td></tr></table>"
    assert html_to_text(html) == "Café & thé\nun\ndeux\na"
    assert html_to_text("<blockquote>cité</blockquote><p>moi</p>") == "moi"
    assert html_to_text("<blockquote>cité</blockquote><p>moi</p>", drop_quotes=False) == "cité\nmoi"
    assert html_to_text("Unclosed <b>bold <i>and <p>para") == "Unclosed bold and\npara"
    assert html_to_text("</div></span>stray ends<p>ok") == "stray ends\nok"
    assert html_to_text("") == ""


def test_html_to_text_survives_hostile_input_quickly() -> None:
    start = time.process_time()  # CPU time: the machine's load does not count
    deep = "<div>" * 20_000 + "oui" + "</div>" * 20_000
    assert html_to_text(deep) == "oui"
    many = "<p>x" * 20_000
    assert html_to_text(many).count("x") == 20_000
    image = '<p>Oui</p><img src="data:image/png;base64,' + "A" * 10_000_000 + '">'
    assert html_to_text(image) == "Oui"
    assert len(html_to_text("<p>y" * 1_000_000)) < 300_000
    assert html_to_text("<blockquote>" * 5_000 + "quoted") == ""
    assert isinstance(html_to_text("<a href='x>oui"), str)
    assert time.process_time() - start < 5


@pytest.mark.parametrize(("subject", "originals", "expected"), [
    ("RE: Votre abonnement - OUI", (), "OUI"),
    ("RE: Votre abonnement - OUI", ("Votre abonnement",), "OUI"),
    ("Re: Re: TR: Votre abonnement : non merci", ("Votre abonnement",), "non merci"),
    ("AW: Ihr Abonnement - Ja", (), "Ja"),
    ("Réf. : Votre abonnement", ("Votre abonnement",), ""),
    ("RE: Votre abonnement", ("Votre abonnement",), ""),
    ("OUI - RE: Votre abonnement", (), "OUI"),
    ("RE : votre ABONNEMENT oui", ("Votre abonnement",), "oui"),
    ("Re: Souhaitez-vous recevoir notre lettre ?", (), "Souhaitez-vous recevoir notre lettre ?"),
    ("Fwd: Re: Lettre d'information", (), "Lettre d'information"),
    ("", (), ""),
])
def test_subject_new_part(subject: str, originals: tuple[str, ...], expected: str) -> None:
    assert subject_new_part(subject, originals) == expected


def test_empty_and_quote_only_bodies_give_no_text() -> None:
    assert extract_new_text("") == NewText("", ())
    assert extract_new_text("", None) == NewText("", ())
    assert extract_new_text("> only a quote\n> more").text == ""
    assert extract_new_text("   \n", "<blockquote>q</blockquote>").text == ""


def test_speed_thousands_per_second() -> None:
    samples = [text for text, *_ in PLAIN]
    start = time.process_time()  # CPU time: the machine's load does not count
    rounds = 20
    for _ in range(rounds):
        for text in samples:
            extract_new_text(text)
    rate = rounds * len(samples) / (time.process_time() - start)
    assert rate > 500, rate  # a guard against pathological slowness on a loaded CI machine


def test_huge_bodies_are_bounded() -> None:
    start = time.process_time()  # CPU time: the machine's load does not count
    body = "Oui\n" + ("> quoted line\n" * 200_000) + ("x" * 5_000_000)
    assert extract_new_text(body).text == "Oui"
    assert extract_new_text("a" * 3_000_000).text.startswith("aaa")
    for hostile in (("On 1 " + "wrote " * 15 + "x:\n") * 3000, ("Le 1 " + "a écrit " * 12 + "x :\n") * 3000,
                    "From: x\n" * 20_000, ("2015-09-28 " + "a " * 100 + "\n") * 2000, "\n" * 1_000_000,
                    ("> " * 500 + "x\n") * 2000, "CAUTION: This email originated from outside.\n\n" * 3000,
                    "Oui\n" + "Merci\n" * 5000):
        extract_new_text(hostile)
    assert time.process_time() - start < 5


# A quoted region ends at its last quoted line: (text, new text exactly, words that must be gone).
QUOTE_REGIONS = [
    # the "reply with the original message" form, answer typed below (the miss)
    ("-------- Original Message --------\n> From: Probe <probe@example.org>\n> Subject: Abonnement\n>\n"
     f"{QUOTED}\n\nOui, je m'abonne.", "Oui, je m'abonne.", ("Souhaitez", "Original")),
    # the same with the headers left unquoted, only the body quoted
    ("-------- Original Message --------\nSubject: Abonnement\nDate: Mon, 28 Sep 2015 10:02:00 +0200\n"
     f"From: Probe <probe@example.org>\nTo: Marie\n\n{QUOTED}\n\nNon merci", "Non merci", ("Souhaitez", "Date")),
    (f"-----Original Message-----\n{QUOTED}\n\nYes please", "Yes please", ("Souhaitez",)),
    (f"-----Message d'origine-----\n{QUOTED}\nNon.\n", "Non.", ("Souhaitez",)),
    (f"-----Ursprüngliche Nachricht-----\n{QUOTED}\n\nJa, gerne.", "Ja, gerne.", ("Souhaitez",)),
    (f"-----Mensaje original-----\n{QUOTED}\n\nSí, claro.", "Sí, claro.", ("Souhaitez",)),
    (f"-----Messaggio originale-----\n{QUOTED}\n\nSì, certo.", "Sì, certo.", ("Souhaitez",)),
    (f"-----Oorspronkelijk bericht-----\n{QUOTED}\n\nJa graag.", "Ja graag.", ("Souhaitez",)),
    (f"-----Mensagem original-----\n{QUOTED}\n\nSim, obrigado.", "Sim, obrigado.", ("Souhaitez",)),
    # an Outlook header block whose body is quoted, answer below
    ("From: Probe <probe@example.org>\nSent: Monday, September 28, 2015 10:02\nTo: John\nSubject: Test\n\n"
     f"{QUOTED}\n\nYes, count me in.", "Yes, count me in.", ("Souhaitez", "Sent:")),
    # inline answers between quoted blocks after a separator
    ("-------- Original Message --------\n> Bonjour,\n> Souhaitez-vous recevoir notre lettre ?\n\nOui.\n\n"
     "> Merci\n\nEt pensez à moi pour la suite.", "Oui.\n\nEt pensez à moi pour la suite.", ("Souhaitez", "Merci")),
    # a forward that says where it stops (mutt), and the note written after it
    ("----- Forwarded message from Probe <probe@example.org> -----\n\nDate: Mon, 28 Sep 2015\nFrom: Probe\n\n"
     f"{QUESTION}\n\n----- End forwarded message -----\n\nPour toi, je pense que c'est oui.",
     "Pour toi, je pense que c'est oui.", ("Souhaitez", "Forwarded")),
    # s-nail/mailx quote with a tab after the attribution
    ("Probe <probe@example.org> wrote:\n\n\tBonjour,\n\tSouhaitez-vous recevoir notre lettre ?\n\nOui merci",
     "Oui merci", ("Souhaitez",)),
    # top posting over an unquoted original: nothing marks its end, so it is all cut (unchanged)
    (f"Oui\n\n-----Original Message-----\nFrom: Probe\nSent: Monday\n\n{QUESTION}\n\nCordialement", "Oui",
     ("Souhaitez", "Cordialement")),
    ("Begin forwarded message:\n\nFrom: Probe <probe@example.org>\nSubject: Abonnement\n\n"
     f"{QUOTED}\n\nDo we want this? I'd say no.", "Do we want this? I'd say no.", ("Souhaitez",)),
]


@pytest.mark.parametrize(("text", "expected", "gone"), QUOTE_REGIONS)
def test_quoted_region_ends_at_its_last_quoted_line(text: str, expected: str, gone: tuple[str, ...]) -> None:
    result = extract_new_text(text)
    assert result.text == expected, result
    for word in gone:
        assert word not in result.text, result


@pytest.mark.parametrize(("text", "expected"), [
    ("Hej,\n\nJa tak.\n\nMvh\nLars", "Hej,\n\nJa tak."),
    ("Hei,\n\nGjerne.\n\nHilsen\nKari", "Hei,\n\nGjerne."),
    ("Dzień dobry,\n\nTak, chętnie.\n\nPozdrawiam,\nPiotr", "Dzień dobry,\n\nTak, chętnie."),
    ("Hallo,\n\nJa graag.\n\nGroetjes,\nSanne", "Hallo,\n\nJa graag."),
])
def test_closings_of_nordic_polish_dutch_signatures(text: str, expected: str) -> None:
    assert extract_new_text(text).text == expected
