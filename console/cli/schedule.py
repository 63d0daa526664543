"""`syncdeck schedule`: the timeline of the next fires, or one service's override.

With no service it reads only (it never creates a store): every enabled
service's next fires for one whole period of the schedule, in time order, with
the gap to the fire before, the smallest gap over the whole period, and
whether `schedule.stagger_s` holds with these intervals. With a service it
sets or resets that service's override in the store, then prints the plan and
the same note when the stagger cannot hold. An unknown service raises
`UsageError`; stored overrides that are invalid are reported on stderr (see
`console.cli.client.warn_stored_problems`).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from console.cli.client import client, warn_stored_problems
from console.cli.parser import EXIT_OK, UsageError
from console.cli.render import print_json, when
from core.config import Settings
from core.orchestrator import Orchestrator
from core.schedule.plan import SchedulePlan, Spacing, plan_for, spacing, timeline


async def cmd_schedule(settings: Settings, args: argparse.Namespace) -> int:
    if args.service is None:
        return await client(settings, lambda orch: _timeline(orch, settings, args), reads_only=True)

    async def work(orch: Orchestrator) -> int:
        current = next((s for s in await orch.services() if s.name == args.service), None)
        if current is None:
            raise UsageError(
                f"unknown service {args.service!r}; known: {', '.join(orch.service_names)}"
            )
        if args.reset:
            interval, offset, enabled = None, None, None
        else:
            interval = args.interval if args.interval is not None else current.interval_s
            offset = args.offset if args.offset is not None else current.offset_s
            enabled = args.enabled if args.enabled is not None else current.schedule_enabled
        await orch.set_schedule(args.service, interval, offset, enabled)
        snapshot = await orch.snapshot()
        await warn_stored_problems(orch, settings, snapshot)
        view = next(s for s in snapshot.services if s.name == args.service)
        state = "enabled" if view.schedule_enabled else "disabled"
        print(
            f"{args.service}: every {view.interval_s:g}s, offset {view.offset_s:g}s, {state}; "
            f"next run {when(view.next_run)}"
        )
        found = spacing(await _plans(orch, settings))
        if found is not None and (note := found.note()) is not None:
            print(f"syncdeck: warning: {note}", file=sys.stderr)
        return EXIT_OK

    return await client(settings, work)


async def _plans(orch: Orchestrator, settings: Settings) -> list[SchedulePlan]:
    """The plans of the services this process knows, in priority order."""
    states = [s for s in await orch.services() if s.name in orch.service_names]
    states.sort(key=lambda s: (-s.default_priority, s.name))
    return [plan_for(state, settings) for state in states]


async def _timeline(orch: Orchestrator, settings: Settings, args: argparse.Namespace) -> int:
    snapshot = await orch.snapshot()
    await warn_stored_problems(orch, settings, snapshot)
    plans = await _plans(orch, settings)
    fires, truncated = timeline(plans, snapshot.at)
    found = spacing(plans)
    paused = snapshot.controls.schedule_paused
    if args.json:
        print_json(_document(plans, fires, truncated, found, paused, settings))
        return EXIT_OK
    print(_summary(plans, found, paused, settings))
    if found is not None and (note := found.note()) is not None:
        print(f"warning: {note}")
    if not fires:
        return EXIT_OK
    print(f"{'TIME':<21}{'SERVICE':<11}GAP")
    previous = None
    for at, service in fires:
        gap = "-" if previous is None else f"{(at - previous).total_seconds():.2f}s"
        print(f"{when(at):<21}{service:<11}{gap}")
        previous = at
    if truncated:
        print(f"(the first {len(fires)} fires of the period)")
    return EXIT_OK


def _summary(
    plans: list[SchedulePlan], found: Spacing | None, paused: bool, settings: Settings
) -> str:
    enabled = [p.service for p in plans if p.enabled]
    disabled = [p.service for p in plans if not p.enabled]
    if not settings.schedule.enabled:
        head = "schedule: disabled in the configuration (schedule.enabled = false)"
    elif paused:
        head = "schedule: paused (`syncdeck resume --schedule`); when resumed:"
    else:
        head = "schedule: running"
    lines = [head]
    for plan in plans:
        state = "enabled" if plan.enabled else "disabled"
        lines.append(
            f"  {plan.service:<11}every {plan.interval_s:g}s, offset {plan.offset_s:g}s, {state}"
        )
    if found is not None:
        lines.append(
            f"period {found.period_s:g}s, {found.fires} fires; smallest gap "
            f"{found.smallest_gap_s:.2f}s (wanted: {found.wanted_s:g}s)"
        )
    elif enabled:
        lines.append(f"one service scheduled: {enabled[0]}")
    if disabled and not enabled:
        lines.append("no service is scheduled")
    return "\n".join(lines)


def _document(
    plans: list[SchedulePlan],
    fires: list[Any],
    truncated: bool,
    found: Spacing | None,
    paused: bool,
    settings: Settings,
) -> dict[str, Any]:
    previous = None
    timeline_doc = []
    for at, service in fires:
        gap: float | None = None if previous is None else (at - previous).total_seconds()
        timeline_doc.append({"at": at.isoformat(), "service": service, "gap_s": gap})
        previous = at
    return {
        "enabled": settings.schedule.enabled,
        "paused": paused,
        "services": [
            {
                "name": p.service,
                "interval_s": p.interval_s,
                "offset_s": p.offset_s,
                "enabled": p.enabled,
                "first_fire": p.first_fire.isoformat(),
            }
            for p in plans
        ],
        "period_s": None if found is None else found.period_s,
        "fires_per_period": None if found is None else found.fires,
        "smallest_gap_s": None if found is None else found.smallest_gap_s,
        "stagger_s": settings.stagger_s,
        "stagger_holds": None if found is None else found.holds,
        "note": None if found is None else found.note(),
        "timeline": timeline_doc,
        "truncated": truncated,
    }
