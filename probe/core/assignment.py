"""Random assignment of targets to the variants of an experiment (DESIGN.md "Experiments").

Complete randomisation within strata, from a recorded seed, the same on any machine and engine:

1. Targets are grouped by stratum (the value of `experiment.stratify_by`, or one stratum "all").
2. Within a stratum, the targets not yet assigned are sorted by email, then shuffled with
   ``random.Random(f"{seed}:{stratum}:{already}")`` — ``already`` is how many targets of that
   stratum were assigned before. Python's Mersenne Twister seeded with a str (version 2: the seed
   is the SHA-512 of the UTF-8 text) gives the same sequence on every platform and Python 3.x.
3. The same generator first draws a random order of the arms, used only to break ties.
4. Arms are dealt one slot at a time: each slot goes to the arm furthest below its share
   (weight / total weight × targets of the stratum so far − arm size so far), ties broken by that
   random order. With equal weights arm sizes differ by at most one; with weights each arm is
   within one of its exact share. The shuffled targets take the slots in order.

Targets added later are assigned alone: earlier ones keep their variant, and the dealing continues
from the sizes already reached, so the stratum stays as balanced as it can be.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

#: The stratum of every target when the experiment is not stratified.
ALL = "all"


@dataclass(frozen=True)
class Arm:
    name: str
    weight: float = 1.0


@dataclass(frozen=True)
class Assigned:
    email: str
    stratum: str
    variant: str


def _rng(seed: int | str, stratum: str, already: int) -> random.Random:
    return random.Random(f"{seed}:{stratum}:{already}")


def deal(arms: Sequence[Arm], sizes: Mapping[str, int], count: int, rng: random.Random) -> list[str]:
    """`count` arm names, one per new slot, continuing from the arm sizes reached so far."""
    if not arms:
        raise ValueError("an experiment needs at least one variant")
    if any(a.weight <= 0 for a in arms):
        raise ValueError("every weight must be more than 0")
    total_weight = sum(a.weight for a in arms)
    order = list(range(len(arms)))
    rng.shuffle(order)
    rank = {arms[i].name: r for r, i in enumerate(order)}
    current = {a.name: sizes.get(a.name, 0) for a in arms}
    n = sum(current.values())
    out: list[str] = []
    for _ in range(count):
        n += 1
        best = max(arms, key=lambda a: (a.weight / total_weight * n - current[a.name], -rank[a.name]))
        current[best.name] += 1
        out.append(best.name)
    return out


def assign(targets: Iterable[tuple[str, str]], arms: Sequence[Arm], seed: int | str,
           previous: Mapping[str, Assigned] | None = None) -> dict[str, Assigned]:
    """Every target (email, stratum) → its Assigned; those in `previous` keep theirs.

    Emails are compared as given (the caller lowercases them); a duplicate email is assigned once.
    """
    previous = previous or {}
    known = {a.name for a in arms}
    out: dict[str, Assigned] = {}
    new_by_stratum: dict[str, list[str]] = {}
    seen: set[str] = set()
    for email, stratum in targets:
        if email in seen:
            continue
        seen.add(email)
        before = previous.get(email)
        if before is not None and before.variant in known:
            out[email] = before
        else:
            new_by_stratum.setdefault(stratum, []).append(email)
    sizes: dict[str, dict[str, int]] = {}
    for a in previous.values():
        if a.variant in known:
            per = sizes.setdefault(a.stratum, {})
            per[a.variant] = per.get(a.variant, 0) + 1
    for stratum in sorted(new_by_stratum):
        emails = sorted(new_by_stratum[stratum])
        already = sum(sizes.get(stratum, {}).values())
        rng = _rng(seed, stratum, already)
        slots = deal(arms, sizes.get(stratum, {}), len(emails), rng)
        rng.shuffle(emails)
        for email, variant in zip(emails, slots, strict=True):
            out[email] = Assigned(email, stratum, variant)
    return out


def balance(assigned: Iterable[Assigned], arms: Sequence[str]) -> dict[str, dict[str, int]]:
    """{stratum: {variant: count}}, every arm listed in every stratum (0 when empty), strata sorted."""
    table: dict[str, dict[str, int]] = {}
    for a in assigned:
        row = table.setdefault(a.stratum, dict.fromkeys(arms, 0))
        row[a.variant] = row.get(a.variant, 0) + 1
    return {s: table[s] for s in sorted(table)}


def assignment_lines(assigned: Iterable[Assigned]) -> list[tuple[str, str, str]]:
    """(email, stratum, variant) sorted by email: the canonical form hashed and exported."""
    return sorted((a.email, a.stratum, a.variant) for a in assigned)
