"""The APScheduler 3 jobs of a schedule: one interval job per enabled service.

A job only calls the `fire` it was given, which requests a sync (principle 6);
the store's coalescing stops the duplicates several schedulers produce.
APScheduler is imported when a `Schedule` is first built: the command line and
a console's first frame need not pay for it. A plan's problems and a stagger that
cannot hold are logged once, when they first appear.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from core.schedule.plan import SchedulePlan, spacing

log = logging.getLogger("core.schedule")


class Schedule:
    """Owns an AsyncIOScheduler with one interval job per enabled service."""

    def __init__(
        self, fire: Callable[[str], Awaitable[None]], misfire_grace_s: float | None = None
    ) -> None:
        # Imported here: APScheduler is slow to import, and the command line and a console
        # without a schedule need not pay for it.
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        self._fire = fire
        self._misfire_grace_s = misfire_grace_s
        self._scheduler = AsyncIOScheduler()
        self._plans: dict[str, SchedulePlan] = {}
        self._spacing_note: str | None = None

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def apply(self, plans: list[SchedulePlan]) -> None:
        """Bring the jobs in line with `plans`, touching only what changed."""
        for plan in plans:
            if self._plans.get(plan.service) == plan:
                continue
            self._plans[plan.service] = plan
            for problem in plan.problems:
                log.warning("%s: %s", plan.service, problem)
            job_id = f"sync:{plan.service}"
            if self._scheduler.get_job(job_id) is not None:
                self._scheduler.remove_job(job_id)
            if not plan.enabled:
                continue
            from apscheduler.triggers.interval import IntervalTrigger

            self._scheduler.add_job(
                self._fire,
                IntervalTrigger(seconds=plan.interval_s, start_date=plan.first_fire),
                args=[plan.service],
                id=job_id,
                name=f"request {plan.service} sync",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=self._misfire_grace_s,
            )
            log.debug(
                "scheduled %s every %ss from %s", plan.service, plan.interval_s, plan.first_fire
            )
        self._report_spacing()

    def _report_spacing(self) -> None:
        """Say once, when it starts and whenever it changes, that the stagger cannot hold."""
        found = spacing(list(self._plans.values()))
        note = found.note() if found is not None else None
        if note is not None and note != self._spacing_note:
            log.warning("%s", note)
        self._spacing_note = note
