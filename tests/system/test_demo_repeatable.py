"""The demo is repeatable and speaks one language: the same --seed gives byte-identical stdout and
HTML report (run twice in the same folder), and its English progress has no French day names."""

from __future__ import annotations

import re
from pathlib import Path

from tests.system.test_demo import _probe

FRENCH_DAYS = re.compile(r"\b(lun|mar|mer|jeu|ven|sam|dim)\.|\b(lundi|mardi|mercredi|jeudi|vendredi|samedi|"
                         r"dimanche)\b")


def test_the_same_seed_gives_the_same_output_byte_for_byte(tmp_path: Path) -> None:
    runs = []
    for _ in range(2):
        done = _probe("demo", "--seed", "11", cwd=tmp_path, timeout=180)
        assert done.returncode == 0, done.stderr[-3000:]
        runs.append((done.stdout, (tmp_path / "probe-demo-report.html").read_bytes(), done.stderr))
    (out1, html1, err1), (out2, html2, err2) = runs
    assert out1 == out2
    assert html1 == html2
    # The progress lines too, but for the servers' ports and the scratch folder (and the run time).
    def events(err: str) -> list[str]:
        return [line for line in err.splitlines() if not line.startswith(("SMTP on ", "demo finished"))]
    assert events(err1) == events(err2)
    assert not FRENCH_DAYS.search(out1), "French day names in the English table"
    assert not FRENCH_DAYS.search(err1), "French day names in the English progress"
    assert "Mon 28 Sep 2015" in err1
