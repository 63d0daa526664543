"""`syncdeck schedule`: the timeline of the next fires, or one service's override.

Both show the schedule as the runner applies it (`Orchestrator.schedule()`), whatever
this command's own configuration says. With no service it reads only (it never
creates a store): every enabled service's next fires for one period, in time order,
with the gap to the fire before, the smallest gap over the period, and whether
`schedule.stagger_s` holds. With a service it sets or resets that service's override
in the store, then prints the plan and the same note when the stagger cannot hold.
An unknown service raises `UsageError`; stored overrides that are invalid are
reported on stderr.
"""

from __future__ import annotations

import argparse
import sys

from console.cli.client import client, warn_stored_problems
from console.cli.parser import EXIT_OK, UsageError
from console.cli.render import print_json, when
from console.documents import schedule_document
from core.config import Settings
from core.orchestrator import Orchestrator, ScheduleView


async def cmd_schedule(settings: Settings, args: argparse.Namespace) -> int:
    if args.service is None:
        return await client(settings, lambda orch: _timeline(orch, args), reads_only=True)

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
        schedule = await orch.schedule()
        warn_stored_problems(schedule)
        view = next(s for s in snapshot.services if s.name == args.service)
        state = "enabled" if view.schedule_enabled else "disabled"
        print(
            f"{args.service}: every {view.interval_s:g}s, offset {view.offset_s:g}s, {state}; "
            f"next run {when(view.next_run)}"
        )
        found = schedule.spacing
        if found is not None and (note := found.note()) is not None:
            print(f"syncdeck: warning: {note}", file=sys.stderr)
        return EXIT_OK

    return await client(settings, work)


async def _timeline(orch: Orchestrator, args: argparse.Namespace) -> int:
    schedule = await orch.schedule()
    warn_stored_problems(schedule)
    if args.json:
        print_json(schedule_document(schedule))
        return EXIT_OK
    print(_summary(schedule))
    found = schedule.spacing
    if found is not None and (note := found.note()) is not None:
        print(f"warning: {note}")
    if not schedule.fires:
        return EXIT_OK
    print(f"{'TIME':<21}{'SERVICE':<11}GAP")
    previous = None
    for at, service in schedule.fires:
        gap = "-" if previous is None else f"{(at - previous).total_seconds():.2f}s"
        print(f"{when(at):<21}{service:<11}{gap}")
        previous = at
    if schedule.truncated:
        print(f"(the first {len(schedule.fires)} fires of the period)")
    return EXIT_OK


def _summary(schedule: ScheduleView) -> str:
    plans, found = schedule.plans, schedule.spacing
    enabled = [p.service for p in plans if p.enabled]
    disabled = [p.service for p in plans if not p.enabled]
    if not schedule.enabled:
        head = "schedule: disabled in the configuration (schedule.enabled = false)"
    elif schedule.paused:
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
