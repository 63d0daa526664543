"""A queue entry's detail, opened with Enter in the Queue: where the request came from
and why it waits.

It shows the request's sources (the one that queued it, then every request merged
into it), its mode and the merges that changed it, its priority now and the
history of it (each change, and who made it as far as the store says: the source
of a queued or merged request; "an operator" for a change of priority, since the
store does not record which console or client made one), when it may start and
why it has not: its backoff or open circuit, dispatch paused, no runner, a sync
running, or the entries ahead of it. The history comes from the store's event log
(`Orchestrator.events_since`), read back page by page from the newest event until
the request's `request.queued` event; so a console started after the request was
queued shows it too. The log keeps only the newest events (`event_retention`) and
this reads at most SCAN_LIMIT: what is older is not shown, and the detail says so.

Failures: the store's errors while reading the log propagate to the caller (the
main view, which says so in a toast and opens nothing).
"""

from __future__ import annotations

from datetime import datetime

from rich.table import Table

from console.format import clock, duration
from console.tui.screens.detail import DetailScreen, detail_table
from core.models import Event, EventKind, QueueEntry, Snapshot
from core.orchestrator import Orchestrator

PAGE = 500
"""Events read per step back through the log."""
SCAN_LIMIT = 20_000
"""At most this many of the newest events are read for one detail."""


async def request_events(orch: Orchestrator, request_id: int) -> tuple[list[Event], bool]:
    """The log's events about request `request_id`, oldest first, and whether they start at
    its `request.queued` event (False: that one is older than the log or than SCAN_LIMIT)."""
    upper = await orch.last_event_id()
    found: list[Event] = []
    floor = max(0, upper - SCAN_LIMIT)
    while upper > floor:
        lower = max(floor, upper - PAGE)
        page = [e for e in await orch.events_since(lower, upper - lower) if e.id <= upper]
        if not page:  # pruned below here
            break
        found[:0] = [e for e in page if e.request_id == request_id]
        if any(e.kind == EventKind.REQUEST_QUEUED for e in found):
            return found, True
        upper = lower
    return found, False


def _at(event: Event) -> str:
    return clock(event.at)


def priority_lines(events: list[Event], complete: bool, now_priority: int) -> list[str]:
    """Each change of the request's priority, oldest first, with who made it."""
    lines = []
    for e in events:
        data = e.data
        if e.kind == EventKind.REQUEST_QUEUED:
            lines.append(f"{_at(e)}  {data.get('priority')}  queued by {data.get('source')}")
        elif e.kind == EventKind.REQUEST_MERGED:
            lines.append(
                f"{_at(e)}  {data.get('priority')}  after a merge ({data.get('source')} request)"
            )
        elif e.kind == EventKind.PRIORITY_CHANGED:
            lines.append(
                f"{_at(e)}  {data.get('new')}  changed by an operator (was {data.get('old')})"
            )
    if not complete:
        lines.insert(0, "(older changes are not in the event log any more)")
    if not lines:
        lines.append(f"{now_priority} since it was queued")
    return lines


def sources_text(entry: QueueEntry, events: list[Event], complete: bool) -> str:
    request = entry.request
    merged = [
        f"{e.data.get('source')} at {_at(e)}" for e in events if e.kind == EventKind.REQUEST_MERGED
    ]
    text = f"{request.source.value} (queued it)"
    if merged:
        text += "; merged in: " + ", ".join(merged)
    missing = request.merged - len(merged)
    if missing > 0:
        text += f"; {missing} older merge{'s' if missing > 1 else ''} no longer in the log"
    if request.attempt > 1:
        text += f"; queued again as try {request.attempt}"
    return text


def ready_text(entry: QueueEntry, now: datetime) -> str:
    if entry.ready_at is None:
        return "now: no backoff or open circuit holds it"
    left = max(0.0, (entry.ready_at - now).total_seconds())
    held = entry.blocked_by or "not before"
    return f"{clock(entry.ready_at)} (in {duration(left)}): {held}"


def why_text(entry: QueueEntry, snap: Snapshot) -> str:
    """Why the request has not started yet, in the words the operator acts on."""
    request = entry.request
    if entry.blocked_by == "backoff":
        return "it backs off after a failed try; an operator's f, i or a ends the wait"
    if entry.blocked_by == "circuit open":
        return f"the {request.service} circuit is open; a probe runs after the cooldown"
    reason = snap.idle_reason
    if reason is not None and reason.kind in ("store", "no_runner", "paused"):
        return reason.text
    active = snap.active
    running = "" if active is None else f"#{active.request.id} {active.request.service}"
    ahead = [e.request for e in snap.queue if e.position < entry.position and e.ready_at is None]
    if not ahead:
        return "it starts next" + (f", when {running} ends (one sync at a time)" if running else "")
    first = ", ".join(f"#{r.id} {r.service}" for r in ahead[:3]) + (", …" if len(ahead) > 3 else "")
    text = f"{len(ahead)} ready ahead of it start first ({first})"
    return text + (f"; {running} runs now (one sync at a time)" if running else "")


def request_detail(entry: QueueEntry, snap: Snapshot, events: list[Event], complete: bool) -> Table:
    request = entry.request
    table = detail_table()
    waited = f"waited {duration(entry.waited_s)}"
    table.add_row(
        "queued",
        f"{clock(request.requested_at)} ({waited}); position {entry.position} of {len(snap.queue)}",
    )
    table.add_row("mode", request.mode.value)
    table.add_row("sources", sources_text(entry, events, complete))
    merges = "none" if not request.merged else f"{request.merged} later request"
    table.add_row("merges", merges + ("s" if request.merged > 1 else ""))
    bonus = entry.effective_priority - request.priority
    table.add_row(
        "priority",
        f"{request.priority}, effective {entry.effective_priority:.1f} now "
        f"(+{bonus:.1f} for waiting)",
    )
    table.add_row("history", "\n".join(priority_lines(events, complete, request.priority)))
    table.add_row("ready at", ready_text(entry, snap.at))
    table.add_row("why", why_text(entry, snap))
    table.add_row("not shown", "which console or client changed a priority: not recorded")
    return table


async def request_screen(orch: Orchestrator, entry: QueueEntry, snap: Snapshot) -> DetailScreen:
    """The detail of `entry` as the last frame had it, with its history read from the log."""
    events, complete = await request_events(orch, entry.request.id)
    title = f"queued request #{entry.request.id}: {entry.request.service}"
    return DetailScreen(title, request_detail(entry, snap, events, complete), kind="request")
