"""[experiment] and [[variants]] in the config: what a researcher may write and the errors that say
how to fix the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe.config import load_config
from probe.errors import ConfigError
from probe.service.launch import compute_plan_hash
from tests.unit.test_config import MINIMAL, problems, write

WITHOUT_TEMPLATES = MINIMAL.replace('[templates]\ninitial = "initial.txt.j2"\n', "")
VARIANTS = """
[experiment]
seed = 7

[[variants]]
name = "a"
initial = "initial.txt.j2"

[[variants]]
name = "b"
initial = "r1.txt.j2"
weight = 2
from = "Autre <autre@example.org>"
"""


def test_variants_replace_templates(tmp_path: Path) -> None:
    settings = load_config(write(tmp_path, WITHOUT_TEMPLATES + VARIANTS))
    assert settings.templates is None
    assert [(v.name, v.weight) for v in settings.variants] == [("a", 1.0), ("b", 2.0)]
    assert settings.variants[1].from_ == "Autre <autre@example.org>"
    assert {p.name for p in settings.template_files()} == {"initial.txt.j2", "r1.txt.j2"}
    # The plan hash covers the assignment: another draw is another plan.
    one = compute_plan_hash(settings, [("a@example.com", "all", "a")])
    assert one != compute_plan_hash(settings, [("a@example.com", "all", "b")])
    assert one == compute_plan_hash(settings, [("a@example.com", "all", "a")])


def test_spread_by_accepts_only_domain(tmp_path: Path) -> None:
    ok = load_config(write(tmp_path, MINIMAL.replace("[schedule]\n", '[schedule]\nspread_by = "domain"\n')))
    assert ok.schedule.spread_by == "domain"
    out = problems(write(tmp_path, MINIMAL.replace("[schedule]\n", '[schedule]\nspread_by = "person"\n')))
    assert "schedule.spread_by" in out


@pytest.mark.parametrize(("text", "expected"), [
    (MINIMAL + VARIANTS, "templates: both [templates] and [[variants]] (fix: remove [templates]"),
    (WITHOUT_TEMPLATES + VARIANTS.replace("[experiment]\nseed = 7\n", ""),
     "experiment: [[variants]] without an [experiment] section (fix: add [experiment] with seed = 2015"),
    (MINIMAL + "[experiment]\nseed = 1\n", "experiment: an [experiment] without [[variants]]"),
    (WITHOUT_TEMPLATES + VARIANTS.replace('name = "b"', 'name = "a"'),
     "variants[1].name: variant name 'a' is used twice (variants[0] too) (fix: give each variant its own name)"),
    (WITHOUT_TEMPLATES + VARIANTS.replace("weight = 2", "weight = -1"),
     "variants[1].weight: weight -1.0 must be more than 0"),
    (WITHOUT_TEMPLATES + VARIANTS.replace('"r1.txt.j2"', '"missing.txt.j2"'), "variants[1].initial: file not found"),
    (WITHOUT_TEMPLATES + VARIANTS.replace('initial = "r1.txt.j2"', 'initial = "r1.txt.j2"\nreminders = ["r2.txt.j2"]'),
     "variants[1].reminders: 1 template(s) for 0 reminder(s) in schedule.reminders"),
    (WITHOUT_TEMPLATES + VARIANTS.replace('from = "Autre <autre@example.org>"', 'from = "nobody"'),
     "variants[1].from: 'nobody' is not an address"),
])
def test_bad_experiment_sections_name_key_and_fix(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, text))
    out = problems(write(tmp_path, text))
    # One problem prints "field: message" and "fix: …" on two lines, several print one line each.
    message, _, fix = expected.partition(" (fix: ")
    fix = fix.removesuffix(")")
    assert message in out and fix in out
