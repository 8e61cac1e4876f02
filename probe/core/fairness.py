"""Fair order across recipient domains: one large domain must not starve the others.

A claim takes the due sends soonest first; when 4,000 of them go to one provider and 40 to others,
and that provider's `smtp.domain_rate_limit` holds the pass back, the others would wait behind it.
`interleave_by_domain` deals the sends out round-robin: the first due of every domain, then the
second of every domain, and so on. Domains take turns in the order of their first (soonest) send;
within a domain the given order is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")


def recipient_domain(email: str) -> str:
    """The domain part of an address, lowercased ('' when there is no @)."""
    return email.rpartition("@")[2].lower()


def interleave_by_domain(items: Iterable[T], domain: Callable[[T], str]) -> list[T]:
    """Round-robin across domains, keeping each domain's own order (see the module docstring)."""
    groups: dict[str, list[T]] = {}
    for item in items:
        groups.setdefault(domain(item), []).append(item)
    queues = list(groups.values())
    out: list[T] = []
    depth = 0
    while queues:
        queues = [q for q in queues if depth < len(q)]
        out.extend(q[depth] for q in queues)
        depth += 1
    return out


def take_fair(items: Sequence[T], domain: Callable[[T], str], limit: int) -> list[T]:
    """The first `limit` items in fair order: what one claim of `limit` sends should take."""
    return interleave_by_domain(items, domain)[:max(0, limit)]
