"""`probe review --sample` and the research figures through the CLI, on the seeded known campaign
(tests/system/test_report_cli.py's config)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.system.test_report_cli import NOW, config, probe_cli  # noqa: F401  (fixtures)

OPPOSITE = {"yes": "no", "no": "yes", "unclear": "yes"}


def _automatic(probe_cli, config: Path) -> dict[int, str]:  # noqa: F811
    _, out, _ = probe_cli("replies", config, "--format", "json")
    return {r["id"]: r["answer"] for r in json.loads(out) if r["kind"] == "human_reply"}


def test_review_sample_blind_codes_give_agreement_without_changing_answers(config: Path, probe_cli) -> None:  # noqa: F811
    automatic = _automatic(probe_cli, config)
    code, out, err = probe_cli("review", config, "--sample", "10", "--seed", "1", "--list", "--now", NOW)
    assert code == 0, err
    sampled = [json.loads(line) for line in out.splitlines()]
    assert len(sampled) == 10 and "coding sample: 10 replies (10 drawn now, seed 1)" in err
    assert all("answer" not in row and "new_text" in row for row in sampled)   # blind
    # The same seed on a fresh draw gives the same sample: re-running only tops up (nothing to add).
    _, out2, err2 = probe_cli("review", config, "--sample", "10", "--seed", "1", "--list")
    assert [json.loads(x)["id"] for x in out2.splitlines()] == [r["id"] for r in sampled]
    assert "(0 drawn now" in err2
    before = json.loads(probe_cli("report", config, "--format", "json", "--now", NOW)[1])
    codes = []
    for k, row in enumerate(sampled):
        answer = automatic[row["id"]]
        codes += ["--code", f"{row['id']}={OPPOSITE[answer] if k < 2 else answer}"]
    code, _, err = probe_cli("review", config, *codes, "--now", NOW)
    assert code == 0, err
    report = json.loads(probe_cli("report", config, "--format", "json", "--now", NOW)[1])
    assert report["coding_agreement"]["n"] == 10
    assert report["coding_agreement"]["agreement"] == pytest.approx(0.8)
    assert report["answers"] == before["answers"] and report["rates"] == before["rates"]
    table = probe_cli("report", config, "--now", NOW)[1]
    assert "automatic answers agree with a reviewer on 8/10" in table
    # Nothing left to code
    assert "nothing to code" in probe_cli("review", config, "--sample", "10")[2]


def test_review_sample_walk_asks_without_showing_the_answer(config: Path, probe_cli,  # noqa: F811
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    keys = iter(["maybe", "y", "q"])
    monkeypatch.setattr("builtins.input", lambda: next(keys))
    code, _, err = probe_cli("review", config, "--sample", "3", "--seed", "2")
    assert code == 0
    assert "--- new text ---" in err and "automatic:" not in err and "reasons:" not in err
    assert "type y, n, u, s or q" in err
    report = json.loads(probe_cli("report", config, "--format", "json", "--now", NOW)[1])
    assert report["coding_agreement"]["n"] == 1


@pytest.mark.parametrize(("argv", "field"), [
    (["--sample", "0"], "--sample"), (["--seed", "3"], "--sample"), (["--code", "1=maybe"], "--code"),
    (["--code", "999999=yes"], "--code"), (["--not-eligible", "999999"], "--not-eligible"),
])
def test_review_sample_bad_input_is_exit_2(config: Path, probe_cli, argv: list[str], field: str) -> None:  # noqa: F811
    code, _, err = probe_cli("review", config, *argv)
    assert code == 2 and field in err


def test_report_config_section_reaches_the_report(config: Path, probe_cli) -> None:  # noqa: F811
    config.write_text(config.read_text() + '\n[report]\neligibility = 0.5\nwithin = ["3h"]\n'
                      'business_hours = "mon-fri 09:00-18:00"\nholidays = [2015-11-11]\n')
    report = json.loads(probe_cli("report", config, "--format", "json", "--now", NOW)[1])
    assert report["rates"]["e"] == 0.5
    assert set(report["answered_within"]) == {"1d", "2d", "7d", "14d", "3h"}
    assert report["answered_within_business"]["1d"]["value"] is not None
    config.write_text(config.read_text().replace('within = ["3h"]', 'within = ["soon"]'))
    code, _, err = probe_cli("report", config, "--format", "json")
    assert code == 2 and "report.within" in err


def test_reviewer_rules_a_target_not_eligible(config: Path, probe_cli) -> None:  # noqa: F811
    reply = next(i for i, a in _automatic(probe_cli, config).items() if a == "yes")
    code, _, err = probe_cli("review", config, "--not-eligible", str(reply), "--now", NOW)
    assert code == 0 and "not eligible (NE)" in err
    report = json.loads(probe_cli("report", config, "--format", "json", "--now", NOW)[1])
    assert report["dispositions"]["NE"] == 1 and report["dispositions"]["I"] == 8
    probe_cli("review", config, "--eligible", str(reply))
    report = json.loads(probe_cli("report", config, "--format", "json", "--now", NOW)[1])
    assert report["dispositions"]["NE"] == 0


def test_csv_gives_each_target_its_disposition(config: Path, probe_cli, tmp_path: Path) -> None:  # noqa: F811
    import csv
    from collections import Counter

    code, _, err = probe_cli("report", config, "--format", "csv", "--output", tmp_path / "t.csv", "--now", NOW)
    assert code == 0, err
    rows = list(csv.DictReader((tmp_path / "t.csv").open(encoding="utf-8-sig")))
    by_email = {r["email"]: r["disposition"] for r in rows}
    assert Counter(by_email.values()) == {"I": 9, "P": 1, "R": 1, "NC": 13, "UO": 1}
    assert (by_email["t06@retail.example"], by_email["t05@retail.example"], by_email["t11@retail.example"]) == (
        "R", "UO", "P")
