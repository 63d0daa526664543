"""Plain-data renderings of core models: the JSON contract of `status`, `history` and
`schedule`.

The command line prints them and the HTTP API serves them, so both say the same
thing with the same keys. Whether the running sync is stalled or orphaned is the
snapshot's to say (`core.orchestrator.snapshot`); a document only carries it. Nothing
here raises for a valid model.
"""

from __future__ import annotations

from typing import Any

import msgspec

from core.models import RunRecord, Snapshot, SyncRequest
from core.orchestrator import ScheduleView


def run_document(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "request_id": run.request_id,
        "service": run.service,
        "mode": run.mode.value,
        "requested_mode": run.requested_mode.value,
        "mode_reason": run.mode_reason,
        "attempt": run.attempt,
        "outcome": None if run.outcome is None else run.outcome.value,
        "started_at": run.started_at.isoformat(),
        "finished_at": None if run.finished_at is None else run.finished_at.isoformat(),
        "duration_s": run.duration,
        "error_class": run.error_class,
        "error": run.error,
        "counts": msgspec.structs.asdict(run.counts),
        "holder": run.holder,
        "epoch": run.epoch,
    }


def request_document(request: SyncRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "service": request.service,
        "mode": request.mode.value,
        "priority": request.priority,
        "state": request.state.value,
        "requested_at": request.requested_at.isoformat(),
        "source": request.source.value,
        "attempt": request.attempt,
        "not_before": None if request.not_before is None else request.not_before.isoformat(),
        "started_at": None if request.started_at is None else request.started_at.isoformat(),
        "finished_at": None if request.finished_at is None else request.finished_at.isoformat(),
        "outcome": None if request.outcome is None else request.outcome.value,
        "cancel_requested": request.cancel_requested,
        "merged": request.merged,
    }


def status_document(snapshot: Snapshot) -> dict[str, Any]:
    active = None
    if snapshot.active is not None:
        active = request_document(snapshot.active.request)
        active["run"] = None if snapshot.active.run is None else run_document(snapshot.active.run)
        progress = snapshot.active.progress
        active["progress"] = None if progress is None else progress.figures()
        active["condition"] = snapshot.active.condition
        active["no_progress_s"] = snapshot.active.quiet_s
        active["note"] = snapshot.active.note
    runner = None
    if snapshot.runner is not None:
        runner = {
            "holder": snapshot.runner.holder,
            "host": snapshot.runner.host,
            "pid": snapshot.runner.pid,
            "epoch": snapshot.runner.epoch,
            "since": snapshot.runner.acquired_at.isoformat(),
            "expires_at": snapshot.runner.expires_at.isoformat(),
        }
    return {
        "at": snapshot.at.isoformat(),
        "health": snapshot.health.value,
        "dispatch": snapshot.dispatch,
        "dispatch_paused": snapshot.controls.dispatch_paused,
        "schedule_paused": snapshot.controls.schedule_paused,
        "schedule": snapshot.schedule,
        "plan_holder": snapshot.plan_holder,
        "idle_reason": None
        if snapshot.idle_reason is None
        else {
            "kind": snapshot.idle_reason.kind,
            "text": snapshot.idle_reason.text,
            "until": None
            if snapshot.idle_reason.until is None
            else snapshot.idle_reason.until.isoformat(),
            "service": snapshot.idle_reason.service,
        },
        "runner": runner,
        "active": active,
        "services": [
            {
                "name": s.name,
                "state": s.state,
                "priority": s.priority,
                "health": s.health.value,
                "health_reasons": s.health_reasons,
                "circuit": s.circuit.value,
                "consecutive_failures": s.consecutive_failures,
                "last_run": None if s.last_run is None else run_document(s.last_run),
                "last_success_at": None
                if s.last_success_at is None
                else s.last_success_at.isoformat(),
                "next_run": None if s.next_run is None else s.next_run.isoformat(),
                "interval_s": s.interval_s,
                "offset_s": s.offset_s,
                "schedule_enabled": s.schedule_enabled,
            }
            for s in snapshot.services
        ],
        "queue": [
            {
                **request_document(entry.request),
                "position": entry.position,
                "effective_priority": entry.effective_priority,
                "waited_s": round(entry.waited_s, 3),
            }
            for entry in snapshot.queue
        ],
    }


def schedule_document(schedule: ScheduleView) -> dict[str, Any]:
    """The schedule as the runner applies it: `syncdeck schedule --json` and
    `GET /api/schedule`."""
    found = schedule.spacing
    previous = None
    timeline_doc = []
    for at, service in schedule.fires:
        gap: float | None = None if previous is None else (at - previous).total_seconds()
        timeline_doc.append({"at": at.isoformat(), "service": service, "gap_s": gap})
        previous = at
    return {
        "enabled": schedule.enabled,
        "paused": schedule.paused,
        "services": [
            {
                "name": p.service,
                "interval_s": p.interval_s,
                "offset_s": p.offset_s,
                "enabled": p.enabled,
                "first_fire": p.first_fire.isoformat(),
            }
            for p in schedule.plans
        ],
        "period_s": None if found is None else found.period_s,
        "fires_per_period": None if found is None else found.fires,
        "smallest_gap_s": None if found is None else found.smallest_gap_s,
        "stagger_s": schedule.stagger_s,
        "stagger_holds": None if found is None else found.holds,
        "note": None if found is None else found.note(),
        "timeline": timeline_doc,
        "truncated": schedule.truncated,
    }
