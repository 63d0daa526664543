"""A token bucket for one source's requests (`rate_limit_per_s`), shared by every request the
source sends: listings, item checks, retries and OAuth2 token fetches alike.

`acquire()` waits until the request may go. Each caller reserves its slot as it arrives
(the generic cell rate algorithm: a theoretical arrival time that moves on by one interval
per request), so concurrent callers are spaced `1 / rate` apart in arrival order, after an
initial burst of `burst` requests. A cancelled waiter gives its slot up to nobody: the
bucket errs on the slow side. Nothing here raises.
"""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    def __init__(self, rate_per_s: float, burst: int = 1) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("a token bucket needs a rate > 0 and a burst >= 1")
        self.interval = 1.0 / rate_per_s
        self.burst = burst
        self._tat = 0.0
        """The theoretical arrival time of the next request (monotonic seconds)."""

    async def acquire(self) -> None:
        now = time.monotonic()
        tat = max(self._tat, now)
        allowed_at = tat - (self.burst - 1) * self.interval
        self._tat = tat + self.interval
        if allowed_at > now:
            await asyncio.sleep(allowed_at - now)


class NoLimit:
    """The bucket of a source without `rate_limit_per_s`."""

    async def acquire(self) -> None:
        return None
