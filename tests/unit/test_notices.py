"""Delivery and disposition reports read by what they say: an MDN `deleted` is a refusal (bounce),
`displayed` a read receipt; a DSN whose actions are all success words, or whose status is 2.x.x,
is a success report (unknown) however its prose reads. Messages in the shapes real MTAs and
clients write (the Pigeonhole reject is the one tests/integration/test_sieve.py gets from Dovecot)."""

from __future__ import annotations

import pytest

from probe.core.classify import classify_bytes
from probe.core.model import MessageKind

OURS = "<probe.abcdefghijklmnopqrstuvwx.0@probe.example>"
K = MessageKind


def mdn(disposition: str, *, subject: str = "Rejected: Votre abonnement", text: str = "") -> bytes:
    return f"""Message-ID: <dovecot-1796310827-446199-0@mx.example.fr>
Date: Thu, 03 Dec 2026 15:13:47 +0000
From: Postmaster <postmaster@mx.example.fr>
To: <probe@probe.example>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=disposition-notification;
\tboundary="2877/mx.example.fr"
Subject: {subject}
Auto-Submitted: auto-replied (rejected)
Precedence: bulk

This is a MIME-encapsulated message

--2877/mx.example.fr
Content-Type: text/plain; charset=utf-8
Content-Disposition: inline
Content-Transfer-Encoding: 8bit

{text or "Your message to <marie@example.fr> was automatically rejected:"}
Nous ne souhaitons pas recevoir de sollicitations.
--2877/mx.example.fr
Content-Type: message/disposition-notification

Reporting-UA: mx.example.fr; Dovecot Mail Delivery Agent
Final-Recipient: rfc822; marie@example.fr
Original-Message-ID: {OURS}
Disposition: {disposition}

--2877/mx.example.fr
Content-Type: message/rfc822

From: Redaction <probe@probe.example>
To: marie@example.fr
Subject: Votre abonnement
Message-ID: {OURS}

Souhaitez-vous vous abonner ?
--2877/mx.example.fr--
""".replace("\n", "\r\n").encode()


def dsn(*recipients: tuple[str, str], text: str = "Your message could not be delivered to one or more recipients.",
        subject: str = "Delivery Status Notification") -> bytes:
    blocks = "".join(f"\r\nFinal-Recipient: rfc822; marie@example.fr\r\nAction: {action}\r\nStatus: {status}\r\n"
                     for action, status in recipients)
    return (f"From: Mail Delivery System <MAILER-DAEMON@mx.example.fr>\r\nTo: probe@probe.example\r\n"
            f"Subject: {subject}\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
            f'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
            f"--B\r\nContent-Type: text/plain\r\n\r\n{text}\r\n"
            f"--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.fr\r\n{blocks}\r\n"
            f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {OURS}\r\nSubject: Votre abonnement\r\n"
            f"\r\n--B--\r\n").encode()


OUTLOOK_NOT_READ = (b"From: Marie <marie@example.fr>\r\nTo: probe@probe.example\r\n"
                    b"Subject: Not read: Votre abonnement\r\n"
                    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nYour message\r\n\r\n"
                    b"  To: Marie\r\n  Subject: Votre abonnement\r\n\r\nwas deleted without being read on "
                    b"28/09/2026 10:05.\r\n")

CASES = [
    # (name, message, kind, first reason)
    ("sieve reject: MDN deleted", mdn("automatic-action/MDN-sent-automatically; deleted"), K.BOUNCE, "mdn-deleted"),
    ("client deleted unread", mdn("manual-action/MDN-sent-manually; deleted", subject="Not read: Votre abonnement",
                                  text="Your message was deleted without being read."), K.BOUNCE, "mdn-deleted"),
    ("deleted with a modifier", mdn("automatic-action/MDN-sent-automatically; deleted/expired"), K.BOUNCE,
     "mdn-deleted"),
    ("MDN displayed", mdn("manual-action/MDN-sent-manually; displayed", subject="Read: Votre abonnement",
                          text="Your message was read."), K.READ_RECEIPT, "mdn-disposition-notification"),
    ("MDN processed", mdn("automatic-action/MDN-sent-automatically; processed", subject="Processed"),
     K.READ_RECEIPT, "mdn-disposition-notification"),
    ("outlook prose not read, deleted", OUTLOOK_NOT_READ, K.BOUNCE, "text:mdn-deleted"),
    # success reports, however their text reads
    ("relayed, text says undelivered", dsn(("relayed", "2.0.0")), K.UNKNOWN, "dsn-success"),
    ("non-standard deliverable + 2.x.x", dsn(("deliverable", "2.1.5")), K.UNKNOWN, "dsn-success"),
    ("delivered + expanded", dsn(("delivered", "2.0.0"), ("expanded", "2.0.0")), K.UNKNOWN, "dsn-success"),
    ("unknown action word, 2.x.x status", dsn(("forwarded-ok", "2.6.0")), K.UNKNOWN, "dsn-success"),
    ("no action, 2.x.x status", dsn(("", "2.0.0")), K.UNKNOWN, "dsn-success"),
    # failures stay failures
    ("failed among successes", dsn(("delivered", "2.0.0"), ("failed", "5.1.1")), K.BOUNCE, "dsn-action-failed"),
    ("failed 4.x.x is final", dsn(("failed", "4.4.7")), K.BOUNCE, "dsn-action-failed"),
    ("delayed", dsn(("delayed", "4.4.1"), text="Delivery is delayed; still trying."), K.DELIVERY_DELAY,
     "dsn-action-delayed"),
    ("unknown action, 5.x.x", dsn(("rejected", "5.7.1")), K.BOUNCE, "dsn-status-5xx"),
]


@pytest.mark.parametrize(("name", "raw", "kind", "reason"), CASES, ids=[c[0] for c in CASES])
def test_report_read_by_what_it_says(name: str, raw: bytes, kind: MessageKind, reason: str) -> None:
    _, result = classify_bytes(raw)
    assert result.kind == kind, result.reasons
    assert result.reasons[0] == reason, result.reasons
    assert result.answer is None


def test_deleted_mdn_names_our_message_and_the_recipient() -> None:
    _, result = classify_bytes(mdn("automatic-action/MDN-sent-automatically; deleted"))
    assert result.original_message_ids == (OURS,)
    assert result.failed_recipients == ("marie@example.fr",)
    assert result.extra["disposition"].endswith("deleted")
