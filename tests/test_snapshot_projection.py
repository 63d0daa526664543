"""The snapshot's answers to "why is nothing running?", per entry "when can it run?" and
"when does the circuit close?", from the pure projection (`core.orchestrator.snapshot`).

Views are built by hand (no store): the projection reads nothing else, so each case
states exactly the facts that lead to its answer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.breaker import BreakerRules
from core.config import Settings
from core.models import (
    CircuitState,
    Controls,
    Lease,
    RequestSource,
    RequestState,
    ServiceState,
    SyncMode,
    SyncRequest,
)
from core.orchestrator.snapshot import project
from core.store.base import StoreView

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
POLICY = BreakerRules(failure_threshold=3, cooldown_s=300)


def service(name: str, **fields: object) -> ServiceState:
    return ServiceState(name=name, default_priority=1, registered_at=NOW, **fields)  # type: ignore[arg-type]


def queued(request_id: int, name: str, **fields: object) -> SyncRequest:
    return SyncRequest(
        id=request_id,
        service=name,
        mode=SyncMode.AUTO,
        priority=1,
        state=RequestState.QUEUED,
        source=RequestSource.SCHEDULE,
        requested_at=NOW - timedelta(seconds=request_id),
        **fields,  # type: ignore[arg-type]
    )


LEASE = Lease(
    holder="h:1",
    host="h",
    pid=1,
    epoch=1,
    acquired_at=NOW,
    expires_at=NOW + timedelta(seconds=30),
    renewed_at=NOW,
)


def view(
    services: list[ServiceState],
    queue: list[SyncRequest],
    *,
    lease: Lease | None = LEASE,
    paused: bool = False,
    problem: str | None = None,
) -> StoreView:
    return StoreView(
        now=NOW,
        controls=Controls(dispatch_paused=paused),
        services=services,
        queued=queue,
        running=None,
        running_run=None,
        lease=lease,
        last_runs={},
        problem=problem,
    )


def snap(v: StoreView, *, holder_dead: bool = False):  # type: ignore[no-untyped-def]
    return project(
        v,
        Settings(),
        POLICY,
        local_run=None,
        remote_progress={},
        holder_dead=holder_dead,
        is_runner=False,
    )


def test_nothing_queued_needs_no_reason() -> None:
    assert snap(view([service("a")], [], lease=None)).idle_reason is None


def test_an_eligible_head_with_a_live_runner_needs_no_reason() -> None:
    s = snap(view([service("a")], [queued(1, "a")]))
    assert s.idle_reason is None
    assert s.queue[0].ready_at is None and s.queue[0].blocked_by is None


def test_no_runner_alive_says_how_to_start_one() -> None:
    expired = view([service("a")], [queued(1, "a")], lease=None)
    reason = snap(expired).idle_reason
    assert reason is not None and reason.kind == "no_runner"
    assert "syncdeck daemon" in reason.text
    dead = snap(view([service("a")], [queued(1, "a")]), holder_dead=True).idle_reason
    assert dead is not None and dead.kind == "no_runner"


def test_dispatch_paused() -> None:
    reason = snap(view([service("a")], [queued(1, "a")], paused=True)).idle_reason
    assert reason is not None and reason.kind == "paused" and "paused" in reason.text


def test_the_store_refusing_writes_comes_first() -> None:
    v = view([service("a")], [queued(1, "a")], lease=None, paused=True, problem="store full")
    reason = snap(v).idle_reason
    assert reason is not None and reason.kind == "store" and "store full" in reason.text


def test_open_circuit_says_until_when_and_each_entry_when_it_can_run() -> None:
    opened = NOW - timedelta(seconds=100)
    s = snap(
        view(
            [service("a", circuit=CircuitState.OPEN, circuit_opened_at=opened), service("b")],
            [queued(1, "a"), queued(2, "b", not_before=NOW + timedelta(seconds=600))],
        )
    )
    until = opened + timedelta(seconds=300)
    assert s.services[0].circuit_until == until
    assert s.services[1].circuit_until is None
    by_service = {e.request.service: e for e in s.queue}
    assert (by_service["a"].ready_at, by_service["a"].blocked_by) == (until, "circuit open")
    assert by_service["b"].blocked_by == "backoff"
    reason = s.idle_reason
    assert reason is not None and reason.kind == "circuit"
    assert (reason.until, reason.service) == (until, "a")


def test_backoff_until_its_end() -> None:
    end = NOW + timedelta(seconds=30)
    reason = snap(view([service("a")], [queued(1, "a", not_before=end)])).idle_reason
    assert reason is not None and (reason.kind, reason.until) == ("backoff", end)


def test_a_cooled_circuit_lets_the_probe_run() -> None:
    opened = NOW - timedelta(seconds=301)
    s = snap(
        view([service("a", circuit=CircuitState.OPEN, circuit_opened_at=opened)], [queued(1, "a")])
    )
    assert s.queue[0].ready_at is None and s.idle_reason is None
