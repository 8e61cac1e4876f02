"""`probe check CONFIG`: log in to the SMTP and IMAP accounts of the campaign, send nothing, and say
plainly what works and, for what does not, the key to fix.

It uses the very accounts `tick` uses (same host, port, TLS policy, credentials), so "check OK"
means the first pass will connect. Exit 0 when every account works, 1 when one does not, 2 for a
bad config (a missing password variable included: nothing to try)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass
from typing import Any

from probe.cli.common import add_config_argument, load
from probe.errors import ProbeError

#: A check waits at most this long for one server, whatever smtp.timeout / imap.timeout say.
CHECK_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class CheckResult:
    what: str          # "SMTP smtp.example.org:587 (starttls) as user"
    ok: bool
    detail: str        # what worked, or what failed
    fix: str = ""      # the key to fix and how


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "check", help="log in to the SMTP and IMAP accounts (sends nothing) and say what works",
        description="Connect and log in to the campaign's SMTP account and, when [imap] is set, its IMAP "
                    "account and folder, exactly as `probe tick` will. No message is sent. Exit 0 when "
                    "everything works, 1 when an account does not (the key to fix is named), 2 for a bad "
                    "config.")
    add_config_argument(p)
    p.set_defaults(func=run_check)


def _accounts(settings: Any) -> tuple[Any, Any]:
    """The accounts as tick builds them (wiring.Service; no database is opened for this)."""
    from probe.service.wiring import Service

    service = Service(settings, None, None)  # type: ignore[arg-type]  # only the settings are read
    return service.smtp_account(), service.imap_account()


def _capped(account: Any) -> Any:
    from dataclasses import replace

    return replace(account, timeout_s=min(account.timeout_s, CHECK_TIMEOUT_S))


async def check_smtp(account: Any) -> CheckResult:
    import aiosmtplib

    from probe.adapters.smtp import SmtpSender

    what = account.describe()
    sender = SmtpSender(_capped(account))
    try:
        await sender.connect()
    except ProbeError as exc:
        text = exc.message
        if "AUTH" in text and "not supported" in text:
            return CheckResult(what, False, "the server offers no login (AUTH) on this connection",
                               "check smtp.security and smtp.port (most servers offer AUTH only after TLS: "
                               "587 with starttls or 465 with tls)")
        return CheckResult(what, False, text.removeprefix(what).strip(" :"), exc.hint or "")
    try:
        client = sender._client
        extensions = sorted(client.esmtp_extensions) if client is not None else []
        tls = "TLS" if account.security != "none" else "no TLS (loopback)"
        login = "logged in" if account.username else "connected (no smtp.username: no login)"
        detail = f"{login}, {tls}; server offers {', '.join(e.upper() for e in extensions) or 'no extension'}"
    finally:
        try:
            await sender.close()
        except (aiosmtplib.SMTPException, OSError):
            pass
    return CheckResult(what, True, detail + "; nothing sent")


async def check_imap(account: Any, sent_folder: str | None) -> CheckResult:
    from probe.adapters.imap import ImapMailbox

    what = f"IMAP {account.host}:{account.port} ({account.security}) as {account.username}"
    mailbox = ImapMailbox(_capped(account))
    try:
        state = await mailbox.connect()
    except ProbeError as exc:
        # "IMAP host:port (account …): <what failed>": the part after the account is the news.
        text = exc.message
        detail = text.split("): ", 1)[1] if text.startswith("IMAP ") and "): " in text else text
        return CheckResult(what, False, detail, exc.hint or "")
    finally:
        await mailbox.close()
    detail = f"logged in; folder {account.folder!r}: {state.exists} messages"
    if sent_folder:
        detail += f" (sent_folder {sent_folder!r} not checked)"
    return CheckResult(what, True, detail)


async def check_accounts(settings: Any) -> list[CheckResult]:
    smtp, imap = _accounts(settings)
    results = [await check_smtp(smtp)]
    if imap is not None:
        results.append(await check_imap(imap, settings.imap.sent_folder))
    return results


def run_check(args: argparse.Namespace) -> int:
    settings = load(args.config)
    from probe.service.validate import check_secrets

    check_secrets(settings)   # a missing password variable is a bad config: exit 2, nothing tried
    results = asyncio.run(check_accounts(settings))
    for r in results:
        print(f"{'ok    ' if r.ok else 'FAILED'}  {r.what}: {r.detail}")
        if not r.ok and r.fix:
            print(f"        fix: {r.fix}")
    if settings.imap is None:
        print("note    no [imap]: replies can only come in through `probe import`")
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"\n{len(failed)} of {len(results)} accounts do not work: fix the key named above, then run "
              f"`probe check {args.config}` again", file=sys.stderr)
        return 1
    print(f"next: probe validate {args.config} --show 1, then probe send-test {args.config} --to YOUR-ADDRESS",
          file=sys.stderr)
    return 0
