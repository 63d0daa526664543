"""Each service's plan: its interval, offset and fires, and the gap a schedule achieves.

Each service fires at `anchor + offset + k * interval`, where the anchor
is when the store first saw the service. Every process therefore computes the
same instants (and the same "next run" for `status`), and the store coalesces
whatever duplicates several schedulers produce. Only the runner's scheduler
requests, so a healthy cluster produces one request per tick.

An override read from the store that is not a sane number (a hand edit, an
older syncdeck that saved `inf`) never reaches a date computation. The plan
uses the configured value instead and names the problem, with how to reset it,
in `SchedulePlan.problems`; the schedule logs it once.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import msgspec

from core.config import Settings, limits
from core.config.entities import configured_entities
from core.entities import STAGGER_ORDER
from core.models import ServiceState
from core.schedule import stagger


class SchedulePlan(msgspec.Struct, frozen=True):
    service: str
    interval_s: float
    offset_s: float
    enabled: bool
    anchor: datetime
    problems: tuple[str, ...] = ()
    """Stored overrides this plan ignored because they are invalid, each with the fix."""
    stagger_s: float = 0.0
    """The smallest gap wanted between two services' fires (`schedule.stagger_s`)."""

    @property
    def first_fire(self) -> datetime:
        return self.anchor + timedelta(seconds=self.offset_s)

    def next_fire(self, now: datetime) -> datetime:
        """The first tick strictly after `now` (what APScheduler will fire next)."""
        if now < self.first_fire:
            return self.first_fire
        elapsed = (now - self.first_fire).total_seconds()
        ticks = math.floor(elapsed / self.interval_s) + 1
        return self.first_fire + timedelta(seconds=ticks * self.interval_s)


def stagger_order(settings: Settings) -> list[str]:
    """The entities the configuration names, in the order their offsets are spread: the
    built-in ones in priority order, then the configured ones by priority, then name."""
    keep_builtin, own = configured_entities(settings.entities)
    configured = sorted(own, key=lambda n: (-settings.default_priority(n), n))
    return [*(STAGGER_ORDER if keep_builtin else []), *configured]


def service_offset_s(settings: Settings, name: str) -> float:
    """The configured offset, else one that spreads the fires as far apart as the
    intervals allow (`core.schedule.stagger`): the configuration's entities together
    (`stagger_order`), around the offsets configured; another service (a plugin's)
    around those."""
    configured = settings.service(name).offset_s
    if configured is not None:
        return configured
    if not settings.schedule.stagger_s:
        return 0.0  # stagger_s = 0: no spreading, every service starts at once
    names = stagger_order(settings)
    fixed = [settings.service(n).offset_s for n in names]
    offsets = stagger.spread([settings.interval_s(n) for n in names], fixed)
    if name in names:
        return offsets[names.index(name)]
    extra = stagger.spread([settings.interval_s(n) for n in [*names, name]], [*offsets, None])
    return extra[-1]


def plan_for(state: ServiceState, settings: Settings) -> SchedulePlan:
    """Operator overrides in the store win over the configuration, when they are valid."""
    return with_overrides(
        state,
        settings.interval_s(state.name),
        service_offset_s(settings, state.name),
        settings.service(state.name).enabled,
        settings.schedule.enabled,
        settings.stagger_s,
    )


def with_overrides(
    state: ServiceState,
    interval_s: float,
    offset_s: float,
    enabled: bool,
    schedule_enabled: bool,
    stagger_s: float = 0.0,
) -> SchedulePlan:
    """The plan from configured values (these settings', or those a runner published) and
    the store's valid overrides of them; `schedule_enabled` False disables every service."""
    problems: list[str] = []

    def override(name: str, stored: float | None, check: Callable[[object], str | None]) -> bool:
        if stored is None:
            return False
        reason = check(stored)
        if reason is not None:
            problems.append(
                f"stored {name} {stored!r} is invalid ({reason.rpartition(', not ')[0]}); "
                f"using the configured value; reset with `syncdeck schedule {state.name} --reset`"
            )
        return reason is None

    interval = (
        state.interval_s
        if override("interval_s", state.interval_s, limits.interval_problem)
        else None
    )
    offset = state.offset_s if override("offset_s", state.offset_s, limits.offset_problem) else None
    return SchedulePlan(
        service=state.name,
        interval_s=interval if interval is not None else interval_s,
        offset_s=offset if offset is not None else offset_s,
        enabled=(state.schedule_enabled if state.schedule_enabled is not None else enabled)
        and schedule_enabled,
        anchor=state.registered_at,
        problems=tuple(problems),
        stagger_s=stagger_s,
    )


class Spacing(msgspec.Struct, frozen=True):
    """How far apart the enabled plans' fires are, over their whole period."""

    period_s: float
    fires: int
    """Fires of all services in one period."""
    smallest_gap_s: float
    wanted_s: float

    @property
    def holds(self) -> bool:
        return self.smallest_gap_s >= self.wanted_s

    def note(self) -> str | None:
        """None when the wanted stagger holds; else why not, with the gap achieved."""
        if self.holds:
            return None
        return (
            f"the schedule cannot keep syncs {self.wanted_s:g}s apart (schedule.stagger_s): "
            f"{self.fires} fires every {self.period_s:g}s; the closest are "
            f"{self.smallest_gap_s:g}s apart"
        )


def spacing(plans: Sequence[SchedulePlan]) -> Spacing | None:
    """The spacing of the enabled plans' fires (None when fewer than two are enabled)."""
    enabled = [p for p in plans if p.enabled]
    if len(enabled) < 2:
        return None
    start = min(p.first_fire for p in enabled)
    intervals = [p.interval_s for p in enabled]
    period = stagger.period_s(intervals)
    return Spacing(
        period_s=period,
        fires=sum(round(period / i) for i in intervals),
        smallest_gap_s=stagger.smallest_gap(
            intervals, [(p.first_fire - start).total_seconds() for p in enabled]
        ),
        wanted_s=max(p.stagger_s for p in enabled),
    )


TIMELINE_LIMIT = 200
"""The most fires `timeline` lists (a period of coprime intervals can hold millions)."""


def timeline(
    plans: Sequence[SchedulePlan], now: datetime, limit: int = TIMELINE_LIMIT
) -> tuple[list[tuple[datetime, str]], bool]:
    """The enabled plans' fires after `now` for one whole period, in time order (a service
    before another at the same instant by the plans' order); and whether `limit` cut it."""
    enabled = [p for p in plans if p.enabled]
    if not enabled:
        return [], False
    period = stagger.period_s([p.interval_s for p in enabled])
    end = now + timedelta(seconds=min(period, limits.MAX_INTERVAL_S * 10))
    heap = [(p.next_fire(now), rank, p) for rank, p in enumerate(enabled)]
    heapq.heapify(heap)
    fires: list[tuple[datetime, str]] = []
    while heap and heap[0][0] <= end:
        at, rank, plan = heapq.heappop(heap)
        if len(fires) == limit:
            return fires, True
        fires.append((at, plan.service))
        heapq.heappush(heap, (plan.next_fire(at), rank, plan))
    return fires, False


class ScheduleView(msgspec.Struct, frozen=True, kw_only=True):
    """The schedule as the runner applies it (`Orchestrator.schedule()`): its plans in
    priority order, their spacing and the fires of one period. Every client shows this,
    so `syncdeck schedule` agrees with `status` whatever its own configuration says."""

    at: datetime
    holder: str | None
    """The runner whose published plan this is; None: this process's configuration."""
    enabled: bool
    """Whether the runner's configuration keeps a schedule at all (`[schedule] enabled`)."""
    paused: bool
    stagger_s: float
    plans: list[SchedulePlan]
    spacing: Spacing | None
    fires: list[tuple[datetime, str]]
    truncated: bool
    """Whether `fires` is cut short of the whole period (`TIMELINE_LIMIT`)."""
