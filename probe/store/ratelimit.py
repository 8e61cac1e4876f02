"""Rate limits that hold across every process on the database: one token bucket per key.

Keys: `smtp:<username or host>` (`smtp.rate_limit`, per sending account) and
`domain:<recipient domain>` (`smtp.domain_rate_limit`). A bucket holds at most `burst` tokens and
refills at `rate_per_s`; a send takes one token. The grant is a single guarded
`UPDATE … WHERE refilled >= 1 RETURNING`: PostgreSQL re-checks the guard on the row version a
concurrent taker committed (READ COMMITTED re-evaluation), SQLite serialises writers (BEGIN
IMMEDIATE), so two processes can never spend the same token. RETURNING needs SQLite ≥ 3.35.

Time: `now_s` is epoch seconds from the caller (tests inject it); without it the database's own clock
is used, so workers on machines with skewed clocks still share one time line. A taker whose clock is
behind the bucket's gets no refill until it catches up (`GREATEST(updated_s, now)`): skew can only
slow sending down, never exceed the limit. In any window of W seconds at most `burst + rate_per_s * W`
tokens are granted; `burst = 1` spaces sends evenly.

Transactions: see probe.store.engine.Db.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from probe.store.engine import Db, transaction, upsert_insert
from probe.store.tables import RateBucket

#: Floating-point slack: a bucket refilled to 0.9999999999 after exactly 1/rate seconds is full.
_EPSILON = 1e-9
#: The shortest wait returned, so a caller never spins on rounding.
_MIN_WAIT_S = 1e-4

_GRANT = {
    "postgresql": """
        UPDATE rate_bucket SET
            tokens = LEAST(:cap, tokens + GREATEST(0.0, :now - updated_s) * :rate) - 1.0,
            updated_s = GREATEST(updated_s, :now), capacity = :cap, rate_per_s = :rate
        WHERE key = :key AND LEAST(:cap, tokens + GREATEST(0.0, :now - updated_s) * :rate) >= :need
        RETURNING tokens""",
    "sqlite": """
        UPDATE rate_bucket SET
            tokens = MIN(:cap, tokens + MAX(0.0, :now - updated_s) * :rate) - 1.0,
            updated_s = MAX(updated_s, :now), capacity = :cap, rate_per_s = :rate
        WHERE key = :key AND MIN(:cap, tokens + MAX(0.0, :now - updated_s) * :rate) >= :need
        RETURNING tokens""",
}
_DB_CLOCK = {
    "postgresql": "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) AS DOUBLE PRECISION)",
    "sqlite": "SELECT (julianday('now') - 2440587.5) * 86400.0",
}


def smtp_key(username: str | None, host: str) -> str:
    """The bucket of one sending account: its login, or its host when it sends without AUTH."""
    return f"smtp:{(username or host).lower()}"


def domain_key(email: str) -> str:
    """The bucket of one recipient domain (the part after the last @, lowercased)."""
    return f"domain:{email.rsplit('@', 1)[-1].lower()}"


def _dialect(s: AsyncSession) -> str:
    return s.bind.dialect.name if s.bind is not None else ""


async def db_clock_s(s: AsyncSession) -> float:
    """The database server's wall clock, epoch seconds."""
    return float((await s.execute(text(_DB_CLOCK[_dialect(s)]))).scalar_one())


async def take(db: Db, key: str, rate_per_s: float, burst: float = 1.0, now_s: float | None = None) -> float:
    """Take one token from bucket `key`: 0.0 when granted, else the seconds to wait before asking again.

    The bucket is created full on first use; `rate_per_s` and `burst` given here replace the stored
    ones (a changed config applies at once)."""
    if rate_per_s <= 0:
        raise ValueError(f"rate_per_s must be positive, got {rate_per_s}")
    cap = max(1.0, float(burst))
    async with transaction(db) as s:
        now = now_s if now_s is not None else await db_clock_s(s)
        params = {"key": key, "cap": cap, "rate": rate_per_s, "now": now, "need": 1.0 - _EPSILON}
        if (await s.execute(text(_GRANT[_dialect(s)]), params)).first() is not None:
            return 0.0
        row = (await s.execute(text("SELECT tokens, updated_s FROM rate_bucket WHERE key = :key"),
                               {"key": key})).first()
        if row is None:
            created = await s.execute(
                upsert_insert(s, RateBucket).values(key=key, tokens=cap - 1.0, capacity=cap, rate_per_s=rate_per_s,
                                                    updated_s=now)
                .on_conflict_do_nothing(index_elements=["key"]).returning(RateBucket.key))
            if created.first() is not None:
                return 0.0
            # Another process created it between our UPDATE and INSERT: its row decides.
            if (await s.execute(text(_GRANT[_dialect(s)]), params)).first() is not None:
                return 0.0
            row = (await s.execute(text("SELECT tokens, updated_s FROM rate_bucket WHERE key = :key"),
                                   {"key": key})).one()
        tokens, updated_s = float(row[0]), float(row[1])
        refilled = min(cap, tokens + max(0.0, now - updated_s) * rate_per_s)
        behind = max(0.0, updated_s - now)          # our clock behind the bucket's: wait for it too
        return max(_MIN_WAIT_S, behind + (1.0 - refilled) / rate_per_s)


async def wait_for_token(db: Db, key: str, rate_per_s: float, burst: float = 1.0, *,
                         now_s: Callable[[], float] | None = None,
                         sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
    """Take one token, sleeping between attempts as long as the bucket says. For dispatch, per send."""
    while True:
        wait_s = await take(db, key, rate_per_s, burst, now_s() if now_s else None)
        if wait_s <= 0:
            return
        await sleep(wait_s)
