"""The campaign clock: the wall clock, or a simulated one that starts at a given instant and runs
`speed` times faster (for `probe run --now ISO --speed X`, the demo and the tests)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


@dataclass
class Clock:
    start: datetime | None = None
    speed: float = 1.0
    _t0: float = field(default_factory=time.monotonic)

    def now(self) -> datetime:
        if self.start is None:
            return datetime.now(UTC) if self.speed == 1.0 else self._simulated(datetime.now(UTC))
        return self._simulated(self.start)

    def _simulated(self, origin: datetime) -> datetime:
        if self.start is None:
            self.start = origin
        return self.start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)

    def real_seconds(self, campaign_time: timedelta) -> float:
        """How long a campaign-time interval lasts on the wall clock."""
        return campaign_time.total_seconds() / self.speed
