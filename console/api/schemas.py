"""The API's bodies and answers as pydantic models: they validate what comes in (strict,
finite, in range, no unknown keys: a 422 otherwise) and document what goes out in the
OpenAPI document, which schemathesis holds every answer to.

The documents themselves are built by `console.documents` (the same keys as
`status --json` and `history --json`); these models only describe them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from console.api.limits import MAX_BODY_BYTES
from core.config.limits import (
    MAX_INTERVAL_S,
    MAX_OFFSET_S,
    MIN_INTERVAL_S,
    interval_problem,
    offset_problem,
)
from core.models import MAX_PRIORITY, MIN_PRIORITY

MAX_ID = 2**63 - 1
"""The largest id a store can hold (SQLite's INTEGER)."""


def _integral(value: Any) -> Any:
    """JSON does not tell 3 from 3.0, and JSON Schema calls both integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Priority = Annotated[int, Field(ge=MIN_PRIORITY, le=MAX_PRIORITY), BeforeValidator(_integral)]


def _within(problem: Callable[[object], str | None]) -> Callable[[float], float]:
    """A validator that refuses what `problem` (core.config.limits) refuses, in its words,
    which are the command line's."""

    def check(value: float) -> float:
        why = problem(value)
        if why is not None:
            raise PydanticCustomError("out_of_range", why)
        return value

    return check


Interval = Annotated[
    float,
    Field(json_schema_extra={"minimum": MIN_INTERVAL_S, "maximum": MAX_INTERVAL_S}),
    AfterValidator(_within(interval_problem)),
]
"""A schedule interval, within the limits every client has (`core.config.limits`); the
OpenAPI document shows them."""
Offset = Annotated[
    float,
    Field(json_schema_extra={"minimum": 0, "maximum": MAX_OFFSET_S}),
    AfterValidator(_within(offset_problem)),
]


class Body(BaseModel):
    model_config = ConfigDict(strict=True, allow_inf_nan=False, extra="forbid")


class SyncBody(Body):
    priority: Priority | None = None


class PriorityBody(Body):
    priority: Priority


class ScheduleBody(Body):
    """A service's schedule override; a field left out returns to the configuration."""

    interval_s: Interval | None = None
    offset_s: Offset | None = None
    enabled: bool | None = None


class ControlBody(Body):
    target: Literal["dispatch", "schedule"] = "dispatch"


class Params(BaseModel):
    """A route's query parameters: an unknown one (a typo such as `limt`) is a 422."""

    model_config = ConfigDict(extra="forbid")


class RunsQuery(Params):
    service: str | None = None
    limit: int = Field(default=50, ge=1, le=1000)


class EventsQuery(Params):
    after: int | None = Field(default=None, ge=0, le=MAX_ID, description="start after this id")
    follow: bool = Field(
        default=True, description="false: send the events already logged, then close"
    )


class Answer(BaseModel):
    model_config = ConfigDict(extra="allow")


class ErrorDetail(Answer):
    code: str
    message: str


class ErrorBody(Answer):
    success: Literal[False]
    error: ErrorDetail


class RequestDoc(Answer):
    id: int
    service: str
    mode: str
    priority: int
    state: str
    requested_at: str
    source: str
    attempt: int
    not_before: str | None
    started_at: str | None
    finished_at: str | None
    outcome: str | None
    cancel_requested: bool
    merged: int


class Counts(Answer):
    fetched: int
    inserted: int
    updated: int
    unchanged: int
    deleted: int
    rejected: int


class RunDoc(Answer):
    id: int
    request_id: int
    service: str
    mode: str
    requested_mode: str
    mode_reason: str
    attempt: int
    outcome: str | None
    started_at: str
    finished_at: str | None
    duration_s: float | None
    error_class: str | None
    error: str | None
    counts: Counts
    holder: str
    epoch: int


class ServiceDoc(Answer):
    name: str
    state: str
    priority: int
    health: str
    health_reasons: list[str]
    circuit: str
    consecutive_failures: int
    last_run: RunDoc | None
    last_success_at: str | None
    next_run: str | None
    interval_s: float
    offset_s: float
    schedule_enabled: bool


class PlanDoc(Answer):
    name: str
    interval_s: float
    offset_s: float
    enabled: bool
    first_fire: str


class FireDoc(Answer):
    at: str
    service: str
    gap_s: float | None


class ScheduleDoc(Answer):
    enabled: bool
    paused: bool
    services: list[PlanDoc]
    period_s: float | None
    fires_per_period: int | None
    smallest_gap_s: float | None
    stagger_s: float
    stagger_holds: bool | None
    note: str | None
    timeline: list[FireDoc]
    truncated: bool


class QueueDoc(RequestDoc):
    position: int
    effective_priority: float
    waited_s: float


class ActiveDoc(RequestDoc):
    run: RunDoc | None
    progress: dict[str, Any] | None
    condition: Literal["running", "stalled", "orphaned"] = Field(
        description="stalled: no progress for the runner's stall_s; orphaned: no live runner"
    )
    no_progress_s: float = Field(description="seconds since the run last moved (the store's)")
    note: str | None = Field(description="what an operator is told while it is not running")


class RunnerDoc(Answer):
    holder: str
    host: str
    pid: int
    epoch: int
    since: str
    expires_at: str


class ControlsDoc(Answer):
    dispatch_paused: bool
    schedule_paused: bool


class SeedStatus(Answer):
    type: str
    status: Literal["idle", "queued", "running", "completed", "error"]
    startedAt: str | None
    completedAt: str | None
    error: str | None


class SeedServiceHealth(Answer):
    isHealthy: bool
    state: str
    reasons: list[str]


class SeedHealth(Answer):
    allHealthy: bool
    services: dict[str, SeedServiceHealth]


class StatusData(Answer):
    statuses: list[SeedStatus]
    health: SeedHealth
    at: str
    dispatch: Literal["running", "paused", "none"] = Field(
        description="whether runs start: none while no runner is alive"
    )
    queue: list[QueueDoc]
    active: ActiveDoc | None
    runner: RunnerDoc | None
    controls: ControlsDoc
    services: list[ServiceDoc]


class StatusAnswer(Answer):
    success: Literal[True]
    data: StatusData


class RequestData(Answer):
    request: RequestDoc


class QueuedAnswer(Answer):
    success: Literal[True]
    message: str
    data: RequestData


class RequestAnswer(Answer):
    success: Literal[True]
    message: str | None = None
    data: RequestData


class ServicesAnswer(Answer):
    success: Literal[True]
    data: list[ServiceDoc]


class ServiceAnswer(Answer):
    success: Literal[True]
    data: ServiceDoc


class ScheduleAnswer(Answer):
    success: Literal[True]
    data: ScheduleDoc


class RunsAnswer(Answer):
    success: Literal[True]
    data: list[RunDoc]


class RunAnswer(Answer):
    success: Literal[True]
    data: RunDoc


class ControlsAnswer(Answer):
    success: Literal[True]
    data: ControlsDoc


class Health(Answer):
    status: str


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` of a route: its error statuses, all with the one error body."""
    descriptions = {
        401: "no valid bearer token",
        403: "the token lacks the scope",
        404: "no such service, request or run",
        409: "impossible in the request's state (or the circuit's)",
        413: f"the body exceeds {MAX_BODY_BYTES} bytes",
        415: "the body is not JSON",
        422: "invalid path, query or body",
        503: "the store cannot be reached",
    }
    return {
        status: {"model": ErrorBody, "description": descriptions.get(status, "error")}
        for status in statuses
    }


READ_ERRORS = errors(401, 403, 422, 503)
WRITE_ERRORS = errors(401, 403, 404, 413, 415, 422, 503)
