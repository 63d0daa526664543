"""The runner's periodic schedule: APScheduler jobs that only request (principle 6).

A tick asks for an auto sync of its service through the same `request()` every
client uses, so the store's coalescing is what stops duplicates, even when
several processes keep a schedule. Only the lease holder's ticks request
(`may_request`), and not while the schedule is paused in the store.

APScheduler is imported when the schedule first starts (`core.schedule.jobs`), which
a console does after its first frame.

The runner publishes what its schedule does (`publish`: interval, offset,
enabled and next fire per service, the breaker's rules and its stall rule) in the
store, where every observer's snapshot reads it.

Failures: a tick whose request fails is logged and skipped (the next tick comes);
`start`, `reapply` and `publish` raise the store's errors.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from core.breaker import BreakerRules
from core.config import Settings
from core.models import (
    Lease,
    PlannedService,
    RequestSource,
    RunnerPlan,
    ServiceState,
    SyncMode,
    SyncRequest,
)
from core.schedule.plan import SchedulePlan, plan_for, service_offset_s
from core.store.base import Store
from core.sync.service import SyncService

if TYPE_CHECKING:
    from core.schedule.jobs import Schedule

log = logging.getLogger("core.orchestrator")

Requester = Callable[[str, SyncMode, RequestSource], Awaitable[SyncRequest]]


class Ticks:
    """The schedule of one orchestrator, if it keeps one."""

    def __init__(
        self,
        store: Store,
        services: Mapping[str, SyncService],
        settings: Settings,
        *,
        wanted: bool,
        may_request: Callable[[], bool],
        request: Requester,
    ) -> None:
        self._store = store
        self._services = services
        self._settings = settings
        self._wanted = wanted
        self._may_request = may_request
        self._request = request
        self._schedule: Schedule | None = None
        self._published: RunnerPlan | None = None

    async def start(self, since: datetime) -> None:
        """Start the jobs, and request once what fell due between `since` and now."""
        if not self._wanted or self._schedule is not None:
            return
        from core.schedule.jobs import Schedule  # with APScheduler: not before a first frame

        schedule = Schedule(self._tick, self._settings.schedule.misfire_grace_s)
        self._schedule = schedule
        plans = self._plans(await self._store.services())
        schedule.apply(plans)
        schedule.start()
        now = await self._store.now()
        for plan in plans:  # APScheduler fires only ticks after now: catch up since start()
            if plan.enabled and plan.next_fire(since) <= now:
                await self._tick(plan.service)

    async def reapply(self) -> None:
        if self._schedule is not None:
            self._schedule.apply(self._plans(await self._store.services()))

    def apply(self, states: list[ServiceState]) -> None:
        if self._schedule is not None:
            self._schedule.apply(self._plans(states))

    async def publish(
        self, states: list[ServiceState], lease: Lease, rules: BreakerRules, now: datetime
    ) -> None:
        """Put this runner's effective schedule and health rules in the store when they
        changed (a takeover, an override, a fire), so that observers under another profile
        or configuration show the runner's next runs and health. Raises the store's errors
        (LeaseLost when fenced)."""
        settings = self._settings
        keeps = settings.schedule.enabled
        plan = RunnerPlan(
            holder=lease.holder,
            epoch=lease.epoch,
            schedule=keeps,
            failure_threshold=rules.failure_threshold,
            cooldown_s=rules.cooldown_s,
            stagger_s=settings.stagger_s,
            stall_s=settings.orchestrator.stall_s,
            services=[
                PlannedService(
                    service=p.service,
                    interval_s=settings.interval_s(p.service),
                    offset_s=service_offset_s(settings, p.service),
                    enabled=settings.service(p.service).enabled,
                    next_fire=p.next_fire(now) if keeps and p.enabled else None,
                )
                for p in self._plans(states)
            ],
        )
        if plan != self._published:
            await self._store.publish_plan(plan)
            self._published = plan

    def shutdown(self) -> None:
        if self._schedule is not None:
            self._schedule.shutdown()

    async def _tick(self, service: str) -> None:
        if not self._may_request():
            return
        try:
            if (await self._store.controls()).schedule_paused:
                return
            await self._request(service, SyncMode.AUTO, RequestSource.SCHEDULE)
        except Exception:
            log.exception("scheduled request for %s failed", service)

    def _plans(self, states: list[ServiceState]) -> list[SchedulePlan]:
        return [plan_for(s, self._settings) for s in states if s.name in self._services]
