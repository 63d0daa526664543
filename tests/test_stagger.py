"""The stagger is real: default offsets keep every service's fires apart (issue 9, #13).

The property: whatever the intervals, the default offsets give no two services
a shared fire instant over the plan's whole period, which the test checks by
listing every fire of the period (not with `core.schedule.stagger`'s closed form, which
it checks too).
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from core.config import Settings
from core.entities import STAGGER_ORDER
from core.models import ServiceState
from core.schedule.plan import plan_for, service_offset_s, spacing, timeline
from core.schedule.stagger import period_s, smallest_gap, spread

UNIT = 1_000_000  # microseconds, as `core.schedule.stagger`: fires listed exactly, as integers

# Intervals an operator would pick (seconds), and demo-scaled ones: periods stay small
# enough to list every fire.
INTERVALS = [0.3, 0.5, 1, 2, 5, 10, 15, 30, 45, 60, 90, 120, 300, 600, 900, 1200, 1800, 3600]


def fires(intervals: list[float], offsets: list[float]) -> list[tuple[int, int]]:
    """(instant in µs, service) of every fire in one whole period."""
    ticks = [round(i * UNIT) for i in intervals]
    period = math.lcm(*ticks)
    found = []
    for service, (interval, offset) in enumerate(zip(ticks, offsets, strict=True)):
        start = round(offset * UNIT)
        found += [((start + k * interval) % period, service) for k in range(period // interval)]
    return sorted(found)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(INTERVALS), min_size=2, max_size=6))
def test_default_offsets_never_share_an_instant(intervals: list[float]) -> None:
    offsets = spread(intervals)
    assert all(0 <= o < i for o, i in zip(offsets, intervals, strict=True))
    listed = fires(intervals, offsets)
    instants = [at for at, _ in listed]
    assert len(set(instants)) == len(instants), (intervals, offsets)
    # the closed form agrees with the listing
    period = math.lcm(*(round(i * UNIT) for i in intervals))
    gaps = [b - a for a, b in itertools.pairwise(instants)]
    gaps.append(period - instants[-1] + instants[0])
    assert math.isclose(smallest_gap(intervals, offsets), min(gaps) / UNIT, abs_tol=1e-6)
    assert math.isclose(period_s(intervals), period / UNIT)


def test_the_default_plan_spreads_the_four_services_as_far_as_possible() -> None:
    """30/30/30/60 min: 7 fires an hour. Three 30-min services split their circle; the
    hourly one lands in one half only, so 7.5 min is the best any offsets can do."""
    s = Settings()
    intervals = [s.interval_s(n) for n in STAGGER_ORDER]
    offsets = [service_offset_s(s, n) for n in STAGGER_ORDER]
    assert [o / 60 for o in offsets] == [0, 7.5, 15, 22.5]
    assert smallest_gap(intervals, offsets) == 7.5 * 60
    grid = [k * 150 for k in range(24)]  # every 2.5 min of the hour
    best = max(
        smallest_gap(intervals, [0, b, c, d]) for b in grid[:12] for c in grid[:12] for d in grid
    )
    assert best <= 7.5 * 60


def test_the_schedule_says_when_the_stagger_cannot_hold() -> None:
    anchor = datetime(2026, 1, 1, tzinfo=UTC)
    s = Settings()
    states = [
        ServiceState(name=n, default_priority=4 - i, registered_at=anchor)
        for i, n in enumerate(STAGGER_ORDER)
    ]
    plans = [plan_for(state, s) for state in states]
    found = spacing(plans)
    assert found is not None and not found.holds
    assert found.note() == (
        "the schedule cannot keep syncs 900s apart (schedule.stagger_s): 7 fires every "
        "3600s; the closest are 450s apart"
    )
    listed, truncated = timeline(plans, anchor)
    assert not truncated and len(listed) == 7
    assert len({at for at, _ in listed}) == 7
    relaxed = Settings.from_values(schedule={"stagger_s": 450})
    found = spacing([plan_for(state, relaxed) for state in states])
    assert found is not None and found.holds and found.note() is None
