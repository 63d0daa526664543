"""Noticing other processes' writes: LISTEN/NOTIFY for speed, the change counter for truth.

Every write transaction bumps the schema's `changes` counter and notifies its
new value (ids only: a payload is never data). `Changes` listens on a
dedicated autocommit connection of its own (psycopg's `notifies()` holds its
connection while it waits), and reconnects with backoff when it drops. A
notification is a hint: notifications are lost while disconnected and do not
pass a pooler in transaction mode, so `wait` also polls the counter, and a
lost one costs up to a poll interval of latency, never a missed change.

The store's own writes are not news to it. `wrote` tells which change numbers
were its own; it is called on the store's thread as soon as the commit returns,
so usually before its notification is heard. So `wait` reports only what
another connection did (as SQLite's `data_version` does): news is a change
number, heard or polled, that is not one of its own. When the notification
of its own write is heard before `wrote`, it is reported as news: a spurious
wake-up, which the protocol allows. The counter is polled every
`poll_interval` whichever `wait` call is waiting, not at the start of each:
a woken caller that waits again costs no round trip.

Raises: `StoreError` from the polling read (the listener's own failures are
only retried).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)


class Changes:
    """The newest change number this process has heard of, and how to wait for another."""

    def __init__(
        self,
        url: str,
        kwargs: dict[str, Any],
        channel: str,
        read_seq: Callable[[], Awaitable[int]],
        poll_interval: float,
    ) -> None:
        self._url = url
        self._kwargs = kwargs
        self._channel = channel
        self._read_seq = read_seq
        self._poll_interval = poll_interval
        self._seen = 0
        """Every change up to this number is known: made here, or reported by `wait`."""
        self._latest = 0
        """The newest change number heard of or polled."""
        self._own: set[int] = set()
        """Changes above `_seen` made here."""
        self._lock = threading.Lock()  # `wrote` is called on the store's threads
        self._next_poll = 0.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.listening = False

    async def start(self) -> None:
        self._seen = self._latest = await self._read_seq()
        self._next_poll = time.monotonic() + self._poll_interval
        self._task = asyncio.create_task(self._listen(), name=f"syncdeck-listen-{self._channel}")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.listening = False

    def wrote(self, seq: int) -> None:
        """This process committed change `seq`: it is news to nobody here. Thread-safe."""
        with self._lock:
            if seq > self._seen:
                self._own.add(seq)

    def _news(self, latest: int) -> bool:
        """Whether a change up to `latest` was made elsewhere; it is then known."""
        with self._lock:
            self._latest = max(self._latest, latest)
            while self._seen < self._latest and self._seen + 1 in self._own:
                self._seen += 1
                self._own.discard(self._seen)
            if self._seen >= self._latest:
                return False
            self._seen = self._latest
            self._own = {s for s in self._own if s > self._seen}
            return True

    async def wait(self, timeout: float) -> bool:
        """True once a change not made here is known, False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            self._wake.clear()
            if self._news(0):
                return True
            if time.monotonic() >= self._next_poll:
                seq = await self._read_seq()
                self._next_poll = time.monotonic() + self._poll_interval
                if self._news(seq):
                    return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._wake.wait(),
                    min(remaining, max(0.0, self._next_poll - time.monotonic())),
                )

    async def _listen(self) -> None:
        backoff = 0.1
        listen = sql.SQL("LISTEN {}").format(sql.Identifier(self._channel))
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(self._url, **self._kwargs)
                async with conn:
                    await conn.execute(listen)
                    self.listening = True
                    backoff = 0.1
                    async for note in conn.notifies():
                        with contextlib.suppress(ValueError), self._lock:
                            self._latest = max(self._latest, int(note.payload))
                        self._wake.set()
            except psycopg.Error as exc:
                log.debug("store notifications unavailable (polling meanwhile): %s", type(exc))
            self.listening = False
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
