"""What this process knows about its store's health, and what it does about it.

Two kinds of trouble, told apart by `core.errors`:

- `StoreUnwritable` (and any other `StoreError` of a call that may pass: a full
  disk, an I/O error, an unreachable server): the process goes on, the runner
  starts nothing and retries what it must record. `problem` says why, for the
  snapshot, `status` and the log. The log gets one line when the trouble starts
  or changes and one when it ends, never one per retry.
- `StoreBroken` (corrupt, deleted or replaced under us): the process must stop
  using the store, because carrying on could make a second runner. `fault` holds
  it and `broken` is set, for the daemon to exit non-zero and the console to say
  so; the loops stop, and the runner, woken (`on_broken`), gives up its lease.

Each change of `problem` (it begins, changes, or ends) is also handed to
`on_change`, with whether the store broke: webhook notifications listen there.

Failures: none; this only records and logs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from core.errors import StoreBroken, StoreError

log = logging.getLogger("core.orchestrator")


class StoreHealth:
    """The store's trouble as this process has met it."""

    def __init__(
        self,
        on_broken: Callable[[], None] = lambda: None,
        on_change: Callable[[str | None, bool], None] | None = None,
    ) -> None:
        """`on_broken`: called once when the store breaks, so the runner gives up its lease
        and its run at once rather than at its next heartbeat. `on_change(problem, broken)`:
        called when `problem` changes (None: the trouble passed)."""
        self.problem: str | None = None
        self.fault: StoreBroken | None = None
        self.broken = asyncio.Event()
        self._on_broken = on_broken
        self._on_change = on_change

    def _set_problem(self, problem: str | None) -> None:
        self.problem = problem
        if self._on_change is not None:
            self._on_change(problem, self.fault is not None)

    def failed(self, exc: StoreError) -> None:
        """A store call failed with `exc`."""
        if isinstance(exc, StoreBroken):
            if self.fault is None:
                log.error("%s", exc)
                self.fault = exc
                self._set_problem(str(exc))
                self.broken.set()
                self._on_broken()
            return
        text = str(exc)
        problem = text if text.startswith("store ") else f"store unavailable: {text}"
        if problem != self.problem:
            log.warning("%s; starting nothing until it passes", problem)
            self._set_problem(problem)

    def succeeded(self) -> None:
        """A write went through: whatever the trouble was, it passed."""
        if self.problem is not None and self.fault is None:
            log.warning("store usable again (it was: %s)", self.problem)
            self._set_problem(None)
