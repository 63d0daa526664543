"""The orchestrator package: the public `Orchestrator` and the parts it delegates to.

`facade` is the API; `runner` (lease, dispatch, schedule) with `supervise`
(one run's end), `relay` (other processes' events) and `snapshot` (the pure
projection) sit below it and never import it. Import `Orchestrator`, and the
`ScheduleView` its `schedule()` and the `RunStats` (with their `Histogram`s) its
`run_stats()` return, from here.
"""

from core.orchestrator.facade import Orchestrator
from core.schedule.plan import ScheduleView
from core.store.base import Histogram, RunStats

__all__ = ["Histogram", "Orchestrator", "RunStats", "ScheduleView"]
