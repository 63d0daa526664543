"""Which events become toasts, and how many are on screen at once.

One toast per request outcome (a request that failed for good, not each failed
try: a retry that is already scheduled is only an event-log line), one per
circuit change (opened, closed again) and one per runner takeover. At most
`MAX_VISIBLE` toasts show at once: while two are up, the second is replaced by
one that counts what else arrived ("3 more failures"). Two toasts of the
console's height never reach the header on an 80x24 terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import msgspec
from textual.app import App
from textual.notifications import Notification, SeverityLevel

from core.models import CircuitState, Event, EventKind, RunOutcome

MAX_VISIBLE = 2
TIMEOUT = 6.0
FAILED = (RunOutcome.FAILED.value, RunOutcome.TIMED_OUT.value)


class Toast(msgspec.Struct, frozen=True):
    title: str
    message: str
    severity: SeverityLevel


class ToastPolicy:
    """Events in, toasts out: remembers each request's last error until its outcome."""

    def __init__(self, holder_id: Callable[[], str]) -> None:
        self.holder_id = holder_id
        self._errors: dict[int, str] = {}

    def toasts(self, events: Iterable[Event]) -> list[Toast]:
        out: list[Toast] = []
        for event in events:
            data = event.data
            if event.kind == EventKind.RUN_FINISHED and event.request_id is not None:
                if data.get("outcome") in FAILED:
                    self._errors[event.request_id] = str(data.get("error") or "no detail")
            elif event.kind == EventKind.REQUEST_FINISHED and event.request_id is not None:
                error = self._errors.pop(event.request_id, None)
                if data.get("outcome") in FAILED:
                    outcome = str(data["outcome"]).replace("_", " ")
                    out.append(
                        Toast(
                            "Run failed",
                            f"{event.service} sync {outcome}: {error or 'no detail'}",
                            "error",
                        )
                    )
            elif event.kind == EventKind.REQUEST_CANCELLED and event.request_id is not None:
                self._errors.pop(event.request_id, None)
            elif event.kind == EventKind.CIRCUIT_CHANGED:
                circuit = data.get("circuit")
                if circuit == CircuitState.OPEN.value:
                    out.append(
                        Toast(
                            "Circuit opened",
                            f"{event.service}: {data.get('failures', '?')} failures in a row; "
                            "no runs until the cooldown ends",
                            "error",
                        )
                    )
                elif circuit == CircuitState.CLOSED.value:
                    out.append(
                        Toast("Circuit closed", f"{event.service} syncs again", "information")
                    )
            elif event.kind == EventKind.LEASE_TAKEN:
                holder = str(data.get("holder"))
                previous = data.get("previous")
                if previous and holder != previous:
                    who = "this console" if holder == self.holder_id() else holder
                    out.append(
                        Toast(
                            "Runner takeover",
                            f"{who} took over running syncs from {previous}",
                            "warning",
                        )
                    )
        return out


class ToastRack:
    """Shows toasts on `app`, never more than MAX_VISIBLE at once, coalescing the rest.

    Toasts that arrive together are put up together, at most every FLUSH_S: Textual
    mounts a toast after a refresh, and one taken down before it was mounted would
    stay up."""

    FLUSH_S = 0.1

    def __init__(self, app: App[None]) -> None:
        self.app = app
        self._shown: list[Notification] = []
        self._more = 0
        self._pending: list[Toast] = []
        self._flush_due = False

    @property
    def more(self) -> int:
        """How many toasts the coalesced one stands for (0: none coalesced)."""
        return self._more

    @property
    def visible(self) -> list[Notification]:
        self._shown = [n for n in self._shown if not n.has_expired]
        if len(self._shown) < MAX_VISIBLE:
            self._more = 0
        return self._shown

    def show(self, toast: Toast) -> None:
        self._pending.append(toast)
        if not self._flush_due:
            self._flush_due = True
            self.app.set_timer(self.FLUSH_S, self._flush)

    def _flush(self) -> None:
        self._flush_due = False
        pending, self._pending = self._pending, []
        shown = self.visible
        for toast in pending:
            title, message = toast.title, toast.message
            if len(shown) >= MAX_VISIBLE:
                self._more = self._more + 1 if self._more else 2  # the one replaced, and this
                last = shown.pop()
                if last in self.app._notifications:  # not if it came in this same flush
                    self.app._unnotify(last, refresh=False)
                noun = "failure" if toast.severity == "error" else "message"
                title = f"{self._more} more {noun}s"
                message = f"latest: {toast.title.lower()}: {toast.message}"
            shown.append(Notification(message, title, toast.severity, TIMEOUT, markup=False))
        # Added here, not by a posted message (as `App.notify` does), so that the list is
        # what is on screen: Textual has no public way to take one toast down.
        for notification in shown:
            if notification not in self.app._notifications:
                self.app._notifications.add(notification)
        self.app._refresh_notifications()
