"""The replies benchmarks/ingest.py writes into Dovecot (70 % a short yes/no, 20 % with the quoted
original, 10 % out-of-office auto-replies), apart so benchmarks/classify.py reads the same ones
without importing the IMAP and database fixtures."""

from __future__ import annotations

import uuid


def reply(i: int, email: str, token: str) -> bytes:
    to = f"redaction+{token}@en-contact.example.com"
    head = (f"From: Directeur {i} <{email}>\r\nTo: {to}\r\nDate: Mon, 28 Sep 2015 11:{i % 60:02d}:00 +0200\r\n"
            f"Message-ID: <reply{i}.{uuid.uuid4().hex[:8]}@societe.example.com>\r\n")
    if i % 10 == 9:
        return (head + "Subject: Absence du bureau\r\nAuto-Submitted: auto-replied\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                "Je suis absent jusqu'au 12 octobre, je lirai votre message à mon retour.\r\n").encode()
    answer = ("Oui", "Non merci.", "OUI, je suis abonné.", "non")[i % 4]
    body = f"{answer}\r\n"
    if i % 10 >= 7:
        body += ("\r\nLe 28/09/2015 09:00, Rédaction a écrit :\r\n> Madame, Monsieur,\r\n"
                 "> êtes-vous abonné à notre lettre ? Répondez simplement OUI ou NON.\r\n> \r\n> La rédaction\r\n")
    return (head + "Subject: Re: Abonnement : OUI ou NON ?\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n" + body).encode()
