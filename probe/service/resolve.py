"""`probe resolve --auto`: settle uncertain sends from the copies the provider keeps in Sent.

An uncertain send is one whose pass stopped between handing the message to SMTP and recording the
server's answer. Many providers (Gmail, Outlook / Microsoft 365) file a copy of every message sent
through their SMTP server in the account's Sent folder, and probe's own `imap.sent_folder` copy is
made only after the server accepted a message; so a copy carrying the send's Message-ID is proof
that the server took it. Such sends are settled as sent through the same path as
`probe resolve SEND_ID --sent` (later waves replanned from them); the others stay uncertain and are
listed. Nothing is ever resent here: a copy that is not found proves nothing.

Where to look: `imap.sent_search_folder` if set (only there); otherwise the account's `\\Sent`
special-use folders (RFC 6154), plus `imap.sent_folder` if set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from probe.errors import InputError
from probe.store.status import UncertainSend, list_uncertain

log = logging.getLogger("probe.resolve")


@dataclass(frozen=True)
class Settled:
    send: UncertainSend
    folder: str
    sent_at: datetime


@dataclass
class AutoResolved:
    folders: list[str] = field(default_factory=list)      # where we looked
    settled: list[Settled] = field(default_factory=list)
    remaining: list[UncertainSend] = field(default_factory=list)
    refused: list[tuple[UncertainSend, str]] = field(default_factory=list)   # changed meanwhile


def _sent_at(found: datetime | None, due_at: datetime, now: datetime) -> datetime:
    """When it went out: the copy's Date header, which probe wrote at the moment it sent it.

    A pass only sends what is due, so a Date before the due time is clock skew (then the due time);
    a Date after `now` is not believed either. No Date: the due time, as `resolve --sent` uses.
    """
    if found is None:
        return due_at
    return min(max(found, due_at), max(now, due_at))


def missing_imap(config_file: str) -> InputError:
    return InputError("there is no [imap] section, so probe cannot look in the Sent folder for copies "
                      "of the uncertain sends", file=config_file, field="[imap]",
                      hint="add an [imap] section for the account that sends (host, username, "
                           "password_env; see config.example.toml), or check the SMTP server's log and run "
                           f"`probe resolve {config_file} SEND_ID --sent` (or --resend) for each uncertain send")


async def search_folders(mailbox: Any, imap: Any, config_file: str) -> list[str]:
    """The folders to search, in order, without duplicates (see the module docstring)."""
    if imap.sent_search_folder:
        return [imap.sent_search_folder]
    folders = list(await mailbox.special_use_folders("\\Sent"))
    if imap.sent_folder and imap.sent_folder not in folders:
        folders.append(imap.sent_folder)
    if not folders:
        raise InputError("the IMAP account has no folder flagged \\Sent (RFC 6154 special-use) and no "
                         "imap.sent_folder is set: there is nowhere to look for copies of the sent messages",
                         file=config_file, field="imap.sent_search_folder",
                         hint='set sent_search_folder = "Sent" in [imap] (the folder where your provider '
                              "files the mail you send, as your mail client names it)")
    return folders


async def auto_resolve(service: Any, now: datetime) -> AutoResolved:
    """Search the Sent folder(s) for every uncertain send's Message-ID; settle the ones found as sent."""
    from probe.adapters.imap import ImapMailbox
    from probe.service.dispatch import replanner
    from probe.store.sends import ResolveRefused, resolve_send

    settings = service.settings
    config_file = str(settings.path)
    if settings.imap is None:
        raise missing_imap(config_file)
    campaign_id = service.require_campaign()
    account = service.imap_account()   # a missing password variable: exit 2 before any connection
    result = AutoResolved()
    # Earlier waves first, so that a settled initial email is there when its reminder is replanned.
    pending = sorted(await list_uncertain(service.sessions, campaign_id), key=lambda p: (p[0].wave, p[0].send_id))
    uncertain = [u for u, _ in pending]
    if not uncertain:
        return result
    found: dict[str, tuple[str, datetime | None]] = {}
    mailbox = ImapMailbox(account)   # not `async with`: that would SELECT imap.folder, not needed here
    try:
        result.folders = await search_folders(mailbox, settings.imap, config_file)
        for folder in result.folders:
            missing = [u.message_id for u in uncertain if u.message_id and u.message_id not in found]
            if not missing:
                break
            hits = await mailbox.find_messages(folder, missing)
            log.info("IMAP folder %r: %d of %d Message-IDs found", folder, len(hits), len(missing))
            for mid, date in hits.items():
                found.setdefault(mid, (folder, date))
    finally:
        await mailbox.close()
    # The IMAP connection is closed before the database is written: no transaction waits on a server.
    replan = replanner(service)
    for send, due_at in pending:
        hit = found.get(send.message_id or "")
        if hit is None:
            result.remaining.append(send)
            continue
        folder, date = hit
        sent_at = _sent_at(date, due_at, now)
        try:
            await resolve_send(service.sessions, campaign_id=campaign_id, send_id=send.send_id, sent=True,
                               note=f"found in IMAP folder {folder!r} by probe resolve --auto",
                               now=now, replan=replan, sent_at=sent_at)
        except ResolveRefused as exc:   # settled by someone else meanwhile: nothing to do, say so
            result.refused.append((send, str(exc)))
            continue
        result.settled.append(Settled(send, folder, sent_at))
    return result
