"""A clock that moves only when told.

Stores take their clock as a callable (`time.time` by default), so a test or a
deterministic console scene can hand them this one instead. Failures: none.
"""

from __future__ import annotations


class ManualClock:
    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
