"""probe.core.assignment: deterministic from the seed, balanced within strata, stable when targets
are added (property tests over random strata sizes and weights)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from probe.core.assignment import ALL, Arm, Assigned, assign, assignment_lines, balance


def _targets(sizes: list[int]) -> list[tuple[str, str]]:
    return [(f"t{s}-{i}@x{i % 7}.example", f"s{s}") for s, n in enumerate(sizes) for i in range(n)]


def test_same_seed_same_assignment_other_seed_differs() -> None:
    targets = _targets([40, 25])
    arms = [Arm("formal"), Arm("short")]
    first = assign(targets, arms, 2015)
    assert assign(list(reversed(targets)), arms, 2015) == first   # file order does not matter
    assert assign(targets, arms, 2016) != first
    # Pinned, recorded once: the documented algorithm (str-seeded Random) gives these on every
    # machine; a change of algorithm breaks every registered experiment's reproducibility.
    assert [first[e].variant for e, _ in targets[:8]] == [
        "short", "formal", "formal", "short", "formal", "short", "short", "short"]


@settings(max_examples=150, deadline=None)
@given(sizes=st.lists(st.integers(0, 60), min_size=1, max_size=5), arms=st.integers(1, 5),
       seed=st.integers(0, 2**31))
def test_equal_weights_differ_by_at_most_one_per_stratum(sizes: list[int], arms: int, seed: int) -> None:
    names = [f"v{i}" for i in range(arms)]
    got = assign(_targets(sizes), [Arm(n) for n in names], seed)
    assert len(got) == sum(sizes)
    for stratum, row in balance(got.values(), names).items():
        assert max(row.values()) - min(row.values()) <= 1, (stratum, row)


@settings(max_examples=150, deadline=None)
@given(sizes=st.lists(st.integers(0, 80), min_size=1, max_size=4),
       weights=st.lists(st.floats(0.1, 10.0, allow_nan=False), min_size=1, max_size=4),
       seed=st.integers(0, 2**31))
def test_weighted_arms_within_one_of_their_share(sizes: list[int], weights: list[float], seed: int) -> None:
    arms = [Arm(f"v{i}", w) for i, w in enumerate(weights)]
    got = assign(_targets(sizes), arms, seed)
    total = sum(weights)
    for stratum, row in balance(got.values(), [a.name for a in arms]).items():
        n = sum(row.values())
        for arm in arms:
            assert abs(row[arm.name] - n * arm.weight / total) < 1 + 1e-9, (stratum, row, weights)


@settings(max_examples=100, deadline=None)
@given(first=st.lists(st.integers(0, 40), min_size=1, max_size=3),
       extra=st.lists(st.integers(0, 40), min_size=1, max_size=3), arms=st.integers(2, 4),
       seed=st.integers(0, 2**31))
def test_added_targets_move_nobody_and_keep_balance(first: list[int], extra: list[int], arms: int,
                                                    seed: int) -> None:
    names = [f"v{i}" for i in range(arms)]
    before = assign(_targets(first), [Arm(n) for n in names], seed)
    later = [(f"new{s}-{i}@y.example", f"s{s}") for s, n in enumerate(extra) for i in range(n)]
    after = assign(_targets(first) + later, [Arm(n) for n in names], seed, previous=before)
    assert all(after[e] == a for e, a in before.items())
    assert len(after) == len(before) + len(later)
    for stratum, row in balance(after.values(), names).items():
        assert max(row.values()) - min(row.values()) <= 1, (stratum, row)


def test_each_arm_gets_a_random_subset_not_a_block() -> None:
    # 200 targets, 2 arms: the shuffle mixes the email order (no arm is "the first 100").
    targets = [(f"{i:03d}@x.example", ALL) for i in range(200)]
    got = assign(targets, [Arm("a"), Arm("b")], 7)
    first_half = sum(got[e].variant == "a" for e, _ in targets[:100])
    assert 30 < first_half < 70
    assert balance(got.values(), ["a", "b"]) == {ALL: {"a": 100, "b": 100}}


def test_lines_sorted_by_email() -> None:
    got = {e: Assigned(e, ALL, "a") for e in ("b@x", "a@x")}
    assert assignment_lines(got.values()) == [("a@x", ALL, "a"), ("b@x", ALL, "a")]
