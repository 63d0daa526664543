"""The runner lease and the writes it fences: renew, take over, release, start, finish,
a run's progress and the runner's published plan."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from core.errors import InvalidTransition, LeaseLost
from core.models import (
    CircuitState,
    Event,
    EventKind,
    Lease,
    Progress,
    RequestState,
    RunnerPlan,
    RunOutcome,
    RunRecord,
    ServiceState,
    SyncRequest,
)
from core.store.base import LeaseResult, RunFinish, RunStart
from core.store.rules.queue import end_or_requeue
from core.store.tx import Tx

replace = msgspec.structs.replace


def check_epoch(tx: Tx, epoch: int, holder: str | None = None) -> None:
    """Fencing: a runner's write stands only while its epoch is the lease's.

    Raises LeaseLost."""
    current = tx.lease()
    if current is None or current.epoch != epoch or (holder and current.holder != holder):
        raise LeaseLost(
            f"runner lease epoch {epoch} is stale"
            + ("" if current is None else f" (now {current.epoch}, held by {current.holder})")
        )


def acquire_lease(
    tx: Tx,
    now: datetime,
    holder: str,
    host: str,
    pid: int,
    ttl_s: float,
    steal_from: str | None,
    epoch: int | None = None,
) -> LeaseResult:
    """Renew the caller's lease, or take a free, expired or dead holder's one.

    Renewal needs holder, epoch and an unexpired lease all to be the caller's. A lease
    that expired may already have been judged free by another process, so it is never
    extended, only taken again under a new epoch (which fences the writes made under
    the old one). A takeover grows the epoch, which fences every write of the previous
    holder, and turns the runs it left open into `interrupted`, queued again."""
    current = tx.lease()
    expires = now + timedelta(seconds=ttl_s)
    if (
        current is not None
        and current.holder == holder
        and epoch is not None
        and current.epoch == epoch
        and current.expires_at >= now
    ):
        renewed = replace(current, expires_at=expires, renewed_at=now)
        tx.write_lease(renewed)
        return LeaseResult(renewed)
    if (
        current is not None
        and current.expires_at > now
        and current.holder not in (steal_from, holder)
    ):
        return LeaseResult(None)
    term = 1 if current is None else current.epoch + 1
    lease = Lease(
        holder=holder,
        host=host,
        pid=pid,
        epoch=term,
        acquired_at=now,
        expires_at=expires,
        renewed_at=now,
    )
    tx.write_lease(lease)
    events = [
        tx.emit(
            now,
            EventKind.LEASE_TAKEN,
            holder=holder,
            host=host,
            pid=pid,
            epoch=term,
            previous=None if current is None else current.holder,
        )
    ]
    previous = "a previous runner" if current is None else f"runner {current.holder}"
    events += interrupt_running(tx, now, f"{previous} stopped while it ran")
    return LeaseResult(lease, taken_over=True, events=events)


def release_lease(tx: Tx, now: datetime, holder: str) -> list[Event]:
    """Expire the caller's lease now, so that another process takes over at once."""
    current = tx.lease()
    if current is None or current.holder != holder:
        return []
    tx.write_lease(replace(current, expires_at=now))
    return [tx.emit(now, EventKind.LEASE_LOST, holder=holder, reason="released")]


def interrupt_running(tx: Tx, now: datetime, why: str) -> list[Event]:
    """Runs a dead runner left open become `interrupted`; their requests run again."""
    events: list[Event] = []
    for request in tx.running_requests():
        for run_id in tx.open_run_ids(request.id):
            run = tx.run(run_id)
            tx.end_run(
                replace(
                    run,
                    finished_at=now,
                    outcome=RunOutcome.INTERRUPTED,
                    error_class="Interrupted",
                    error=why,
                )
            )
            events.append(
                tx.emit(
                    now, EventKind.RUN_INTERRUPTED, request.service, request.id, run_id, why=why
                )
            )
        events += end_or_requeue(tx, now, request, RunOutcome.INTERRUPTED, retry_at=now)[1]
    return events


def start_run(tx: Tx, now: datetime, start: RunStart) -> tuple[RunRecord, SyncRequest, list[Event]]:
    """Claim a queued request and open its run; a probe half-opens the circuit.

    Raises LeaseLost (fenced), NotFound, InvalidTransition (not queued, or another
    request is running)."""
    check_epoch(tx, start.epoch, start.holder)
    request = tx.request(start.request_id)
    if request.state != RequestState.QUEUED:
        raise InvalidTransition(f"request #{request.id} is {request.state.value}, not queued")
    tx.update_request(request.id, state=RequestState.RUNNING, started_at=now)
    events: list[Event] = []
    if start.half_open_probe:
        tx.update_service(request.service, circuit=CircuitState.HALF_OPEN)
        events.append(
            tx.emit(
                now, EventKind.CIRCUIT_CHANGED, request.service, request.id, circuit="half_open"
            )
        )
    run = RunRecord(
        id=0,
        request_id=request.id,
        service=request.service,
        requested_mode=request.mode,
        mode=start.mode,
        mode_reason=start.mode_reason,
        attempt=request.attempt,
        epoch=start.epoch,
        holder=start.holder,
        started_at=now,
    )
    run = replace(run, id=tx.insert_run(run))
    events.append(
        tx.emit(
            now,
            EventKind.RUN_STARTED,
            request.service,
            request.id,
            run.id,
            mode=start.mode.value,
            reason=start.mode_reason,
            attempt=request.attempt,
        )
    )
    running = replace(request, state=RequestState.RUNNING, started_at=now)
    return run, running, events


def finish_run(
    tx: Tx, now: datetime, finish: RunFinish
) -> tuple[SyncRequest, RunRecord, ServiceState, list[Event]]:
    """Close a run, apply the breaker's decision to its service, end or requeue its request.

    Raises LeaseLost (fenced), NotFound, InvalidTransition (the run already ended)."""
    check_epoch(tx, finish.epoch)
    run = tx.run(finish.run_id)
    if run.outcome is not None:
        raise InvalidTransition(f"run #{run.id} already ended ({run.outcome.value})")
    finished = replace(
        run,
        finished_at=now,
        outcome=finish.outcome,
        error_class=finish.error_class,
        error=finish.error,
        counts=finish.counts,
    )
    tx.end_run(finished)
    events = [
        tx.emit(
            now,
            EventKind.RUN_FINISHED,
            run.service,
            run.request_id,
            run.id,
            outcome=finish.outcome.value,
            mode=run.mode.value,
            error=finish.error,
            counts=msgspec.structs.asdict(finish.counts),
            duration=(now - run.started_at).total_seconds(),
        )
    ]
    state = tx.service(run.service)
    breaker = finish.breaker(state, now)
    succeeded = finish.outcome == RunOutcome.SUCCEEDED
    service = replace(
        state,
        consecutive_failures=breaker.consecutive_failures,
        circuit=breaker.circuit,
        circuit_opened_at=breaker.opened_at,
        last_run_id=run.id,
        last_success_at=now if succeeded else state.last_success_at,
    )
    tx.update_service(
        run.service,
        consecutive_failures=service.consecutive_failures,
        circuit=service.circuit,
        circuit_opened_at=service.circuit_opened_at,
        last_run_id=service.last_run_id,
        last_success_at=service.last_success_at,
    )
    if state.circuit != breaker.circuit:
        events.append(
            tx.emit(
                now,
                EventKind.CIRCUIT_CHANGED,
                run.service,
                run.request_id,
                run.id,
                circuit=breaker.circuit.value,
                failures=breaker.consecutive_failures,
            )
        )
    retry_at = None if finish.retry_in_s is None else now + timedelta(seconds=finish.retry_in_s)
    request, ended = end_or_requeue(tx, now, tx.request(run.request_id), finish.outcome, retry_at)
    return request, finished, service, events + ended


def record_progress(
    tx: Tx, now: datetime, run_id: int, epoch: int, progress: Progress
) -> list[Event]:
    """An open run's latest progress, kept on its row and announced; an ended run's stays.

    Raises LeaseLost (fenced), NotFound."""
    check_epoch(tx, epoch)
    run = tx.run(run_id)
    if run.outcome is not None:
        return []
    progress = msgspec.structs.replace(progress, recorded_at=now)
    tx.write_progress(run_id, progress)
    data = progress.figures()
    return [tx.emit(now, EventKind.RUN_PROGRESS, run.service, run.request_id, run_id, **data)]


def publish_plan(tx: Tx, now: datetime, plan: RunnerPlan) -> None:
    """The runner's schedule and health rules, for observers. Raises LeaseLost (fenced)."""
    check_epoch(tx, plan.epoch, plan.holder)
    tx.write_plan(replace(plan, published_at=now))
