"""What the command line prints: status, history, requests and events, as text or JSON.

Pure functions of the core's values (`Snapshot`, `RunRecord`, `SyncRequest`,
`Event`): they read nothing and fail on nothing. Times are shown in the local
time zone, to the second. The JSON documents come from `console.documents`, the
shapes every front end shares.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from console.documents import request_document, run_document
from console.format import duration
from core.models import (
    Event,
    IdleReason,
    Progress,
    RequestResult,
    RunOutcome,
    RunRecord,
    Snapshot,
    SyncMode,
    SyncRequest,
    to_datetime,
)


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def render_status(snap: Snapshot) -> str:
    lines = []
    runner = (
        f"{snap.runner.holder} since {when(snap.runner.acquired_at)}"
        if snap.runner
        else "none (start `syncdeck daemon` or the console)"
    )
    lines.append(f"runner:   {runner}")
    schedule = SCHEDULE_WORDS.get(snap.schedule, snap.schedule)
    dispatch = SCHEDULE_WORDS.get(snap.dispatch, snap.dispatch)
    lines.append(
        f"dispatch: {dispatch}   "
        f"schedule: {schedule}   health: {snap.store_problem or snap.health.value}"
    )
    if snap.plan_holder is not None:
        lines.append(f"plan:     next runs and health as runner {snap.plan_holder} applies them")
    if snap.active is not None:
        req = snap.active.request
        progress = snap.active.progress
        lines.append(f"active:   #{req.id} {req.service} ({req.mode.value})")
        if snap.active.note is not None:  # stalled or orphaned: its figures are not current
            lines.append(f"{'':<10}! {snap.active.note}")
        lines.append(f"progress: {render_progress(progress)}")
    else:
        lines.append("active:   none")
    if snap.idle_reason is not None:
        lines.append(f"idle:     {render_idle(snap.idle_reason)}")
    lines.append("")
    lines.append(f"{'SERVICE':<11}{'STATE':<14}{'PRIO':>4}  {'HEALTH':<10}{'LAST RUN':<32}NEXT RUN")
    for s in snap.services:
        last = "-"
        if s.last_run is not None:
            outcome = s.last_run.outcome.value if s.last_run.outcome else "running"
            last = f"{outcome} {when(s.last_run.finished_at)}"
        lines.append(
            f"{s.name:<11}{s.state:<14}{s.priority:>4}  {s.health.value:<10}{last:<32}"
            f"{when(s.next_run)}"
        )
        for reason in s.health_reasons:
            lines.append(f"{'':<11}! {reason}")
    lines.append("")
    if not snap.queue:
        lines.append("queue:    empty")
    else:
        lines.append(
            f"{'#':<3}{'ID':>6}  {'SERVICE':<11}{'MODE':<13}{'PRIO':>6}  {'WAITED':>8}  SOURCE"
        )
        for entry in snap.queue:
            r = entry.request
            lines.append(
                f"{entry.position:<3}{r.id:>6}  {r.service:<11}{r.mode.value:<13}"
                f"{entry.effective_priority:>6.1f}  {duration(entry.waited_s):>8}  {r.source.value}"
            )
    return "\n".join(lines)


SCHEDULE_WORDS = {"none": "stopped (no runner)"}
"""The schedule's and dispatch's `none` (no runner alive), in words."""


def render_progress(progress: Progress | None) -> str:
    """done/total, rows/s and ETA, as far as the runner reported them (a run that is not
    running, stalled or orphaned, has no current rate, so neither is shown)."""
    if progress is None:
        return "not reported yet"
    text = f"done={progress.done} total={progress.total if progress.total else '?'}"
    if progress.phase:
        text = f"{progress.phase} {text}"
    if progress.rate is not None:
        text += f" rows_per_s={progress.rate:.2f}"
    if progress.eta_s is not None:
        text += f" eta_s={progress.eta_s:.2f}"
    return text


IDLE_ACTIONS = {"paused": "resume with `syncdeck resume`"}
"""What a command-line user does about an idle reason, by its kind."""


def render_idle(reason: IdleReason) -> str:
    """Why nothing runs although requests wait, what to do about it, and until when if it
    clears by itself."""
    action = IDLE_ACTIONS.get(reason.kind)
    text = reason.text if action is None else f"{reason.text}; {action}"
    return text if reason.until is None else f"{text} (until {when(reason.until)})"


def render_queued(service: str, request: SyncRequest) -> str:
    """A request just made: queued anew, or merged into the one already queued."""
    verb = "merged into" if request.merged else "queued as"
    return f"{service}: {verb} request #{request.id} ({request.mode.value})"


def result_document(result: RequestResult) -> dict[str, Any]:
    """A waited request as JSON: the request, with its run (or null) under "run"."""
    doc = request_document(result.request)
    doc["run"] = None if result.run is None else run_document(result.run)
    return doc


def describe_result(request: SyncRequest, outcome: RunOutcome, run: RunRecord | None) -> str:
    """A waited sync's end. A run that took another mode than the one asked for says so,
    with the runner's reason ("full, not incremental: incremental requested, no cursor
    yet"): the answer comes from the run's record, whichever process ran it."""
    text = f"request #{request.id}: {outcome.value}"
    if run is not None:
        c = run.counts
        mode = run.mode.value
        if request.mode not in (run.mode, SyncMode.AUTO):
            mode += f", not {request.mode.value}: {run.mode_reason}"
        text += (
            f" ({run.service} {mode}, {duration(run.duration or 0)}, fetched {c.fetched}, "
            f"inserted {c.inserted}, updated {c.updated}, deleted {c.deleted}, "
            f"rejected {c.rejected})"
        )
        if run.error:
            text += f": {run.error}"
    return text


def render_cancelled(request: SyncRequest) -> str:
    """A cancel's answer: a queued request is gone at once, a running one is asked to stop."""
    if request.state.value == "running":
        return f"request #{request.id}: asked the running {request.service} sync to stop"
    return f"request #{request.id}: cancelled"


def render_probe(request: SyncRequest) -> str:
    """A probe asked for: which request probes the half-open circuit."""
    return (
        f"{request.service}: circuit half-open; request #{request.id} probes it as soon as "
        "the runner can start it"
    )


HISTORY_HEADER = (
    f"{'RUN':>6} {'REQUEST':<7} {'STARTED':<19} {'SERVICE':<10} {'MODE':<12}{'OUTCOME':<12}"
    f"{'TIME':>8}  COUNTS (fetched inserted updated deleted rejected)"
)
"""The header line of `syncdeck history`, aligned with `render_run`'s columns."""


def render_run(run: RunRecord) -> str:
    """One line of `syncdeck history`."""
    outcome = run.outcome.value if run.outcome else "running"
    c = run.counts
    line = (
        f"{run.id:>6} #{run.request_id:<6} {when(run.started_at)} {run.service:<10} "
        f"{run.mode.value:<12}{outcome:<12}{duration(run.duration):>8}  "
        f"f{c.fetched} i{c.inserted} u{c.updated} d{c.deleted} r{c.rejected}"
    )
    if run.error:
        line += f"  {run.error_class}: {run.error}"
    return line


def iso(value: datetime) -> str:
    """A time for a log line: ISO 8601 in the local zone, with its offset, to the ms."""
    return value.astimezone().isoformat(timespec="milliseconds")


def _fields(key: str, value: Any) -> list[str]:
    """An event's datum as key=value pairs: a table's entries each (counts), durations in
    seconds with two decimals, lists comma-joined."""
    if value is None:
        return []
    if isinstance(value, dict):
        return [pair for k, v in value.items() for pair in _fields(k, v)]
    if isinstance(value, bool):
        return [f"{key}={str(value).lower()}"]
    if isinstance(value, float) and (key == "not_before" or key.endswith("_at")):
        return [f"{key}={iso(to_datetime(value))}"]  # an instant, for people: ISO 8601
    if isinstance(value, float):
        name = key if key.endswith("_s") else f"{key}_s" if key == "duration" else key
        return [f"{name}={value:.2f}"]
    if isinstance(value, list):
        return [f"{key}={','.join(str(v) for v in value)}"]
    text = str(value)
    return [f"{key}={json.dumps(text) if ' ' in text else text}"]


def render_event(event: Event) -> str:
    """One line of the daemon's log: ISO 8601 time, kind, service#request, then the event's
    data as key=value (text with spaces quoted)."""
    detail = " ".join(pair for k, v in event.data.items() for pair in _fields(k, v))
    target = event.service or ""
    rid = f"#{event.request_id}" if event.request_id else ""
    return " ".join(
        part for part in (iso(event.at), event.kind.value, target + rid, detail) if part
    )
