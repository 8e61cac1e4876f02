"""A human reply says when its new text is doubtful: `extra["boundary"]` is "empty" (nothing left
once quotes and signature are out) or "none" (no quote boundary found although the text seems to
hold the original: our question echoed, a header block, a long text), with an `unsure:` reason
that `probe review` lists; `probe classify --json` prints it in `extra`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from probe.core.classify import classify_bytes

OURS = "<probe.abcdefghijklmnopqrstuvwx.0@probe.example>"


def reply(body: str) -> bytes:
    return (f"From: Marie <marie@example.fr>\r\nTo: probe@probe.example\r\nSubject: Re: Votre abonnement\r\n"
            f"Message-ID: <r1@example.fr>\r\nIn-Reply-To: {OURS}\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}").encode()


QUESTION = "Souhaitez-vous vous abonner à notre magazine ? Répondez simplement OUI ou NON."
CASES = [
    # (body, boundary flag)
    (f"Oui\r\n\r\nLe lun. 28 sept. 2026, Probe <probe@probe.example> a écrit :\r\n> {QUESTION}", None),
    ("Oui, avec plaisir.", None),
    (f"> {QUESTION}\r\n>\r\n> La rédaction\r\n", "empty"),
    # the client pasted our message without any mark: the echo of the question betrays it
    (f"Oui\r\n\r\nBonjour Madame,\r\n{QUESTION}\r\nBien cordialement,\r\nLa rédaction", "none"),
    # an unrecognised header block left in
    ("Non merci\r\n\r\nDate : 28/09/2026\r\nObjet : Votre abonnement\r\n\r\nPeut-être.", "none"),
    ("Oui.\r\n\r\n" + "Une longue histoire sans citation. " * 60, "none"),
]


@pytest.mark.parametrize(("body", "flag"), CASES)
def test_boundary_flag(body: str, flag: str | None) -> None:
    _, result = classify_bytes(reply(body))
    assert result.kind.value == "human_reply"
    assert result.extra.get("boundary") == flag, (result.new_text, result.reasons)
    assert any(r.startswith("unsure:") for r in result.reasons) == (flag is not None)


def test_classify_json_prints_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from probe.cli import classify_cmd

    path = tmp_path / "quote-only.eml"
    path.write_bytes(reply(f"> {QUESTION}\r\n"))
    parser = argparse.ArgumentParser(prog="probe")
    classify_cmd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["classify", "--json", str(path)])
    assert args.func(args) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["extra"]["boundary"] == "empty" and "unsure:boundary-empty" in record["reasons"]
