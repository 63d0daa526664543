"""The relay: this process's subscribers see every process's events, each once.

Everything a process publishes goes to its own bus at once, and its stored ids are
remembered. The relay follows the store's event log from where it was at start and
passes on only what other processes appended, so a local subscriber sees each event once
whichever way it arrived. An `own` listener sees only what this process published. On
the way the relay hands a cancel asked elsewhere to the runner (the run may be ours),
keeps the progress other processes' runs report (a snapshot shows it), and wakes
`wait()`ers when a request ends, whoever ended it (`wait` is the facade's).

It relies on the store's promise that event ids become visible in id order: an
id below the cursor that appears later would be skipped.

Failures: `watch` logs a failing store read and tries again a second later, so
it never dies of one; `catch_up` raises what the store raises (the runner's
heartbeat, its other caller, logs and retries too).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

import msgspec

from core.errors import StoreError
from core.events import EventBus
from core.models import Event, EventKind, Progress, RequestResult
from core.orchestrator.faults import StoreHealth
from core.store.base import Store

log = logging.getLogger(__name__)

PAGE = 1000
REMOTE_PROGRESS_KEPT = 8


class Relay:
    """Local publishing, and the store's event log relayed to the local bus."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        *,
        cancel_asked: Callable[[int], None],
        running_here: Callable[[], bool],
        own: Callable[[list[Event]], None] | None = None,
    ) -> None:
        """`own`: told every batch this process publishes, and nothing relayed from others
        (a `core.orchestrator.listener.Listener`'s `own_events`)."""
        self._store = store
        self._bus = bus
        self._cancel_asked = cancel_asked
        self._running_here = running_here
        self._own = own
        self._last_event_id = 0
        self._local_ids: set[int] = set()
        self._lock = asyncio.Lock()
        self._ended: dict[int, asyncio.Event] = {}
        self.remote_progress: OrderedDict[int, Progress] = OrderedDict()
        """The last progress of runs in other processes, by run id (the few newest)."""

    async def open(self) -> None:
        """Start following the log from its end: what came before is history, not news."""
        self._last_event_id = await self._store.last_event_id()

    def publish(self, events: list[Event]) -> None:
        """Events this process caused: to the local bus now, and not again from the log."""
        self.note_local(events)
        self._observe(events)
        self._bus.publish(events)
        if self._own is not None and events:
            self._own(events)

    def note_local(self, events: list[Event]) -> None:
        """These stored events came from here: skip them when the log brings them."""
        for event in events:
            if event.id:
                self._local_ids.add(event.id)

    def waiter(self, request_id: int) -> asyncio.Event:
        """Set when the request ends (seen here or in the log); `forget` it when done."""
        return self._ended.setdefault(request_id, asyncio.Event())

    def forget(self, request_id: int) -> None:
        self._ended.pop(request_id, None)

    async def wait(self, request_id: int, timeout: float | None) -> RequestResult:
        """The request once it has ended, with its last run: read from the store whenever
        an end is seen (here or in the log), and at least every second.

        Raises NotFound, and TimeoutError if `timeout` passes first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        ended = self.waiter(request_id)
        try:
            while True:
                request = await self._store.get_request(request_id)
                if request.state.ended:
                    runs = await self._store.runs(request_id=request_id, limit=1)
                    return RequestResult(request=request, run=runs[0] if runs else None)
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError(f"request #{request_id} still {request.state.value}")
                ended.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        ended.wait(), 1.0 if remaining is None else min(1.0, remaining)
                    )
        finally:
            self.forget(request_id)

    def _observe(self, events: list[Event]) -> None:
        """Keep the few things a snapshot needs that only events carry, and wake waiters."""
        for event in events:
            if event.kind in (EventKind.REQUEST_FINISHED, EventKind.REQUEST_CANCELLED):
                waiter = self._ended.get(event.request_id or 0)
                if waiter is not None:
                    waiter.set()
            elif event.kind == EventKind.RUN_PROGRESS and event.run_id and not self._running_here():
                self.remote_progress[event.run_id] = msgspec.convert(event.data, Progress)
                while len(self.remote_progress) > REMOTE_PROGRESS_KEPT:
                    self.remote_progress.popitem(last=False)

    async def watch(
        self, stopping: Callable[[], bool], changed: Callable[[], None], health: StoreHealth
    ) -> None:
        """Relay other processes' events as the store signals them; call `changed` first
        (the runner reads the store, not the log: its dispatch need not wait for the relay).
        A store that broke under us (`StoreBroken`) ends the watch; `health` has it."""
        while not stopping() and health.fault is None:
            try:
                signalled = await self._store.wait_for_change(1.0)
                if not signalled or stopping():
                    continue
                changed()
                await self.catch_up()
            except asyncio.CancelledError:
                raise
            except StoreError as exc:  # one line per change of state, no traceback
                health.failed(exc)
                if health.fault is None:
                    await asyncio.sleep(1.0)
            except Exception:
                log.exception("watching the store failed; retrying")
                await asyncio.sleep(1.0)

    async def catch_up(self) -> None:
        """Relay everything appended since the last call (this also trims the local ids)."""
        async with self._lock:  # the watcher and the heartbeat both relay
            await self._relay_pending()

    async def _relay_pending(self) -> None:
        while True:
            events = await self._store.events_since(self._last_event_id, PAGE)
            if not events:
                return
            remote = []
            for event in events:
                if event.id in self._local_ids:
                    self._local_ids.discard(event.id)
                else:
                    remote.append(event)
                    if (
                        event.kind == EventKind.REQUEST_CANCEL_ASKED
                        and event.request_id is not None
                    ):
                        self._cancel_asked(event.request_id)
            self._last_event_id = events[-1].id
            self._local_ids = {i for i in self._local_ids if i > self._last_event_id}
            self._observe(remote)
            self._bus.publish(remote)
            if len(events) < PAGE:
                return
