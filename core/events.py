"""The in-process event bus: every subscriber gets every event, nobody waits.

Publishing never blocks the publisher (principle 3): each subscriber has a
bounded queue, and a subscriber that falls behind loses its oldest events, not
the orchestrator's time. Other processes read the store's event log instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable

from core.models import Event


class Subscription:
    """An async iterator of events; close it (or leave `async with`) to stop."""

    def __init__(self, bus: EventBus, maxsize: int) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.dropped = 0

    def _offer(self, event: Event) -> None:
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(event)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        return await self._queue.get()

    def pending(self) -> list[Event]:
        """Everything queued now, without waiting (for consumers that batch)."""
        items = []
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        return items

    def close(self) -> None:
        self._bus._subscribers.discard(self)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()

    def subscribe(self, maxsize: int = 10_000) -> Subscription:
        subscription = Subscription(self, maxsize)
        self._subscribers.add(subscription)
        return subscription

    def publish(self, events: Iterable[Event]) -> None:
        for event in events:
            for subscription in tuple(self._subscribers):
                subscription._offer(event)
