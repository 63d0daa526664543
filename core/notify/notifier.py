"""The glue: this process's own events and store health in, webhook bodies out.

An `Orchestrator` given a `Notifier` (`core.runtime` builds one when
`[[notify.webhooks]]` are configured) calls it:
- `start` when it starts, and `stop` when it stops;
- `own_events` with every batch of events this process caused (the relay's
  `publish`; what the relay brings from other processes' log never comes here);
- `store_changed` when its store's trouble begins, changes or ends.

Run endings and circuit changes are recorded only by the lease holder, fenced by its
epoch, and only the runner appends `run.stalled` (for the run it supervises), so this
process's own events of those kinds are the runner's: two processes never
send one alert, and no process repeats another's. The store's trouble, which every
process meets, is told only by a process that held the lease when it began
(`NoticePolicy.store`).

Each call returns at once: `NoticePolicy` decides, `formats.body` renders, and
each webhook's `WebhookSender` queues it for its own task.

Failures: none reach the caller (the runner's path): a bug in deciding or
rendering is logged in one line and that batch told nothing; sending failures
are the senders' to log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime

from core.models import Event, EventKind
from core.notify.formats import body
from core.notify.notices import Notice, NoticePolicy
from core.notify.sender import BACKOFF_S, QUEUE_SIZE, Webhook, WebhookSender

log = logging.getLogger("core.notify")

FLUSH_S = 2.0
"""How long stopping waits for notifications still queued (a last failure)."""
TOLD = frozenset(
    {
        EventKind.RUN_FINISHED,
        EventKind.REQUEST_FINISHED,
        EventKind.REQUEST_RETRY,
        EventKind.REQUEST_MERGED,
        EventKind.REQUEST_CANCELLED,
        EventKind.CIRCUIT_CHANGED,
        EventKind.RUN_STALLED,
    }
)
"""The kinds `NoticePolicy` reads; a batch of progress reports costs one look each."""


class Notifier:
    """Webhook notifications for one orchestrator."""

    def __init__(
        self,
        webhooks: list[Webhook],
        *,
        queue_size: int = QUEUE_SIZE,
        backoff_s: tuple[float, float] = BACKOFF_S,
        flush_s: float = FLUSH_S,
    ) -> None:
        self.senders = [
            WebhookSender(hook, queue_size=queue_size, backoff_s=backoff_s) for hook in webhooks
        ]
        self.policy = NoticePolicy()
        self._flush_s = flush_s
        self._host = ""
        self._holder = ""
        self._holds_lease: Callable[[], bool] = lambda: False

    def start(self, host: str, holder: str, holds_lease: Callable[[], bool]) -> None:
        """Start sending (in the running loop); `holds_lease` says whether this process
        holds the runner lease now."""
        self._host, self._holder, self._holds_lease = host, holder, holds_lease
        for sender in self.senders:
            sender.start()

    def own_events(self, events: list[Event]) -> None:
        """Events this process caused, in order; returns at once."""
        if not any(event.kind in TOLD for event in events):
            return
        try:
            notices = self.policy.events(events)
        except Exception as exc:
            log.error("notifications: events not understood (%s)", exc)
            return
        for notice in notices:
            self.send(notice)

    def store_changed(self, problem: str | None, broken: bool) -> None:
        """The store's trouble began or changed (`problem`), or ended (None)."""
        try:
            notice = self.policy.store(
                problem, broken, self._holds_lease(), datetime.now().astimezone()
            )
        except Exception as exc:
            log.error("notifications: the store's state not understood (%s)", exc)
            return
        if notice is not None:
            self.send(notice)

    def send(self, notice: Notice) -> None:
        """Queue `notice` for every webhook, in each one's format."""
        for sender in self.senders:
            try:
                sender.offer(body(notice, sender.webhook.format, self._host, self._holder))
            except Exception as exc:
                log.error("notifications: %s not rendered (%s)", notice.kind, exc)

    async def stop(self) -> None:
        """Give queued notifications `flush_s` to go out, then stop every sender."""
        await asyncio.gather(*(sender.stop(self._flush_s) for sender in self.senders))
