"""`/metrics` in the Prometheus text format (0.0.4), computed from the store on each scrape.

Counters and histograms are aggregates over the run history (`run_stats`), gauges
come from one snapshot, so every `serve` process sharing a store reports the same
numbers; only `syncdeck_is_runner` says something about this process. Written by
hand (a few lines) rather than with prometheus_client, whose registry is made for
in-process counters, not for numbers read from a database.
"""

from __future__ import annotations

from collections.abc import Iterable

from core.models import HEALTH_RANK, CircuitState
from core.orchestrator import Histogram, Orchestrator

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def _number(value: float) -> str:
    return repr(float(value)) if isinstance(value, float) else str(value)


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]

    def sample(self, name: str, value: float, **labels: str) -> None:
        self.lines.append(f"{name}{_labels(**labels)} {_number(value)}")

    def histogram(self, name: str, histogram: Histogram, **labels: str) -> None:
        for bound, count in zip(histogram.bounds, histogram.cumulative, strict=True):
            self.sample(f"{name}_bucket", count, **labels, le=_number(float(bound)))
        self.sample(f"{name}_bucket", histogram.count, **labels, le="+Inf")
        self.sample(f"{name}_sum", float(histogram.total), **labels)
        self.sample(f"{name}_count", histogram.count, **labels)

    def gauges(self, name: str, help_text: str, values: Iterable[tuple[str, float]]) -> None:
        self.family(name, "gauge", help_text)
        for service, value in values:
            self.sample(name, value, service=service)


async def render(orch: Orchestrator) -> str:
    """The metrics text. Raises StoreError (or the store's own error) when it cannot read."""
    stats = await orch.run_stats(DURATION_BUCKETS, WAIT_BUCKETS)
    snapshot = await orch.snapshot()
    out = _Writer()
    out.family("syncdeck_runs_total", "counter", "Finished runs by service and outcome.")
    for (service, outcome), count in sorted(stats.runs.items()):
        out.sample("syncdeck_runs_total", count, service=service, outcome=outcome)
    out.family("syncdeck_run_duration_seconds", "histogram", "Duration of finished runs.")
    for service, histogram in sorted(stats.durations.items()):
        out.histogram("syncdeck_run_duration_seconds", histogram, service=service)
    out.family(
        "syncdeck_queue_wait_seconds",
        "histogram",
        "Time from a request to the start of its first run.",
    )
    out.histogram("syncdeck_queue_wait_seconds", stats.queue_wait)
    out.family("syncdeck_rows_synced_total", "counter", "Rows by service and kind over all runs.")
    for (service, kind), count in sorted(stats.rows.items()):
        out.sample("syncdeck_rows_synced_total", count, service=service, kind=kind)
    out.family("syncdeck_queue_depth", "gauge", "Queued requests.")
    out.sample("syncdeck_queue_depth", len(snapshot.queue))
    out.family("syncdeck_running", "gauge", "1 while a sync runs (in any process).")
    out.sample("syncdeck_running", 1 if snapshot.active is not None else 0)
    out.gauges(
        "syncdeck_circuit_open",
        "1 when the service's circuit breaker is open.",
        ((s.name, 1 if s.circuit == CircuitState.OPEN else 0) for s in snapshot.services),
    )
    out.gauges(
        "syncdeck_last_success_timestamp_seconds",
        "When the service's last successful run ended (Unix time).",
        ((name, at.timestamp()) for name, at in sorted(stats.last_success.items())),
    )
    out.gauges(
        "syncdeck_service_health",
        "The service's health: 0 healthy, 1 degraded, 2 unhealthy.",
        ((s.name, HEALTH_RANK[s.health]) for s in snapshot.services),
    )
    out.family("syncdeck_store_unwritable", "gauge", "1 while the store refuses writes.")
    out.sample("syncdeck_store_unwritable", 1 if snapshot.store_problem else 0)
    if snapshot.active is not None:  # the snapshot's figure, the runner's process included
        out.family(
            "syncdeck_progress_age_seconds",
            "gauge",
            "Seconds since the running sync last made progress (present while one runs).",
        )
        out.sample("syncdeck_progress_age_seconds", snapshot.active.quiet_s)
    out.family("syncdeck_lease_epoch", "gauge", "The runner lease's fencing epoch.")
    out.sample("syncdeck_lease_epoch", stats.lease_epoch)
    out.family("syncdeck_runner_alive", "gauge", "1 when some process holds a live lease.")
    out.sample("syncdeck_runner_alive", 1 if snapshot.runner is not None else 0)
    out.family("syncdeck_is_runner", "gauge", "1 when this process holds the runner lease.")
    out.sample("syncdeck_is_runner", 1 if orch.is_runner else 0)
    return "\n".join(out.lines) + "\n"
