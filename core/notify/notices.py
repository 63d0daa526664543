"""What deserves a notification, and what it says: once per change of state.

`NoticePolicy` reads the events this process caused (the runner's own, never
those relayed from other processes) and the store's health as this process
meets it, and turns each change of state into one `Notice`:

- a request that failed for good: its `request.finished` with outcome failed or
  timed out. A try that will be retried ends in `request.retry_scheduled`
  instead, or, when another request of the service was already queued, in a
  `request.merged` with source retry just before its `request.finished`: neither
  is final, so neither is told. The error is the one its `run.finished` carried;
- a circuit that opened, and one that closed. A failed probe reopens an open
  circuit (half-open, then open): no change for an operator, nothing told;
- the store refusing writes (or broken under this process), and writable again.
  Only a process that held the runner lease when the trouble began tells it, and
  only that process tells its end, so that two processes never send one alert;
- a run that stalled: its `run.stalled`, which the runner appends once per stall
  (`core.orchestrator.progress`), so it is told once too.

Extension point: an absent runner is a state read from the store (the lease's
expiry), not an event, and cannot be told by the runner itself. A check that reads
it would call `begin()` and `end()` with a key of its own, which keep the
once-per-change rule, and the kind `runner.absent`. No such check exists yet.

Failures: none; everything here is pure bookkeeping over plain values.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from core.health import elapsed
from core.models import CircuitState, Event, EventKind, RequestSource, RunOutcome

FAILED = frozenset({RunOutcome.FAILED.value, RunOutcome.TIMED_OUT.value})
ERRORS_KEPT = 1000
"""Runs whose error waits for their request's end: in practice one at a time."""
MAX_ERROR_CHARS = 500


class Notice(msgspec.Struct, frozen=True, kw_only=True):
    """One change of state, as a notification tells it."""

    kind: str
    """run.failed, run.stalled, circuit.opened, circuit.closed, store.unwritable,
    store.broken or store.usable."""
    at: datetime
    text: str
    """One sentence for people, without the host (the formats add it)."""
    service: str | None = None
    data: dict[str, Any] = msgspec.field(default_factory=dict)
    """Plain JSON values: ids, outcome, error, failures, problem."""


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


class NoticePolicy:
    """Events and store health in, notices out; remembers only what a change needs."""

    def __init__(self) -> None:
        self._errors: OrderedDict[int, tuple[int | None, str]] = OrderedDict()
        """request id -> (run id, error) of its last run, until the request's end is seen."""
        self._retried: set[int] = set()
        """Requests whose retry merged into another queued request (not a final failure)."""
        self._probing: set[str] = set()
        """Services whose circuit is half open: their probe runs."""
        self._conditions: dict[str, Notice] = {}
        """condition key -> the notice that told it began (and has not ended)."""

    # -- events ---------------------------------------------------------------

    def events(self, events: list[Event]) -> list[Notice]:
        """The notices these events (this process's own, in order) call for."""
        out: list[Notice] = []
        for event in events:
            notice = self._event(event)
            if notice is not None:
                out.append(notice)
        return out

    def _event(self, event: Event) -> Notice | None:
        data, request_id = event.data, event.request_id
        if event.kind == EventKind.RUN_FINISHED and request_id is not None:
            if data.get("outcome") in FAILED:
                self._errors[request_id] = (event.run_id, str(data.get("error") or "no detail"))
                while len(self._errors) > ERRORS_KEPT:
                    self._errors.popitem(last=False)
        elif event.kind == EventKind.REQUEST_MERGED:
            if data.get("source") == RequestSource.RETRY.value and data.get("superseded"):
                self._retried.add(int(data["superseded"]))
        elif event.kind in (EventKind.REQUEST_RETRY, EventKind.REQUEST_CANCELLED):
            self._errors.pop(request_id or 0, None)
        elif event.kind == EventKind.REQUEST_FINISHED and request_id is not None:
            run_id, error = self._errors.pop(request_id, (None, "no detail"))
            retried = request_id in self._retried
            self._retried.discard(request_id)
            if data.get("outcome") in FAILED and not retried:
                return self._failed(event, request_id, run_id, error)
        elif event.kind == EventKind.CIRCUIT_CHANGED and event.service is not None:
            return self._circuit(event, event.service)
        elif event.kind == EventKind.RUN_STALLED:
            return _stalled(event)
        return None

    def _failed(self, event: Event, request_id: int, run_id: int | None, error: str) -> Notice:
        outcome = str(event.data.get("outcome"))
        said = "timed out" if outcome == RunOutcome.TIMED_OUT.value else "failed"
        return Notice(
            kind="run.failed",
            at=event.at,
            service=event.service,
            text=f"{event.service} sync {said}, no retry left: {_clip(error)} "
            f"(request #{request_id})",
            data={
                "request_id": request_id,
                "run_id": run_id,
                "outcome": outcome,
                "error": _clip(error),
            },
        )

    def _circuit(self, event: Event, service: str) -> Notice | None:
        circuit = event.data.get("circuit")
        if circuit == CircuitState.HALF_OPEN.value:
            self._probing.add(service)
            return None
        probed = service in self._probing
        self._probing.discard(service)
        failures = event.data.get("failures")
        data = {"circuit": circuit, "failures": failures, "request_id": event.request_id}
        if circuit == CircuitState.OPEN.value and not probed:
            text = (
                f"{service} circuit opened after {failures} failures in a row: no {service} "
                "syncs until its cooldown ends, then one probe"
            )
            return Notice(kind="circuit.opened", at=event.at, service=service, text=text, data=data)
        if circuit == CircuitState.CLOSED.value:
            text = f"{service} circuit closed: {service} syncs again"
            return Notice(kind="circuit.closed", at=event.at, service=service, text=text, data=data)
        return None

    # -- states read outside the event log ---------------------------------------

    def store(self, problem: str | None, broken: bool, runner: bool, at: datetime) -> Notice | None:
        """The store's trouble as this process met it (`core.orchestrator.faults`): told
        when it begins if `runner` (this process holds the lease), again if it turns into
        a broken store, and its end only where its beginning was told."""
        if problem is None:
            return self.end("store", lambda was: _usable(was, at))
        if broken:
            text = f"the store broke under the runner, which stopped using it: {problem}"
            kind = "store.broken"
        else:
            text = f"the store refuses writes; no sync starts until it passes: {problem}"
            kind = "store.unwritable"
        notice = Notice(kind=kind, at=at, text=text, data={"problem": problem})
        return self.begin("store", notice, tell=runner)

    def begin(self, key: str, notice: Notice, *, tell: bool) -> Notice | None:
        """Condition `key` holds, as `notice` says. Told once: not again while it holds
        with the same kind, and not at all unless `tell` or its beginning was told."""
        told = self._conditions.get(key)
        if (told is None and not tell) or (told is not None and told.kind == notice.kind):
            return None
        self._conditions[key] = notice
        return notice

    def end(self, key: str, ended: Callable[[Notice], Notice]) -> Notice | None:
        """Condition `key` no longer holds: `ended(the notice that told it began)`, if one did."""
        told = self._conditions.pop(key, None)
        return None if told is None else ended(told)


def _stalled(event: Event) -> Notice:
    quiet = elapsed(float(event.data.get("no_progress_s") or 0.0))
    text = (
        f"{event.service} sync stalled: no progress for {quiet}; the run timeout ends it "
        f"if it does not move (request #{event.request_id})"
    )
    data = {"request_id": event.request_id, "run_id": event.run_id, **event.data}
    return Notice(kind="run.stalled", at=event.at, service=event.service, text=text, data=data)


def _usable(was: Notice, at: datetime) -> Notice:
    problem = str(was.data.get("problem"))
    return Notice(
        kind="store.usable",
        at=at,
        text=f"the store takes writes again (it was: {problem})",
        data={"was": problem},
    )
