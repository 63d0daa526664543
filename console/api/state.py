"""What every route reaches through its request: the orchestrator, the authenticator,
the settings, the shared snapshot, and the event that tells long-lived streams that the
server is stopping."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import Request

from console.api.auth import Authenticator
from console.api.snapshots import SnapshotCache
from core.config import Settings
from core.orchestrator import Orchestrator


@dataclass
class ApiState:
    orch: Orchestrator
    auth: Authenticator
    settings: Settings
    stopping: asyncio.Event
    snapshots: SnapshotCache


def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


async def orchestrator(request: Request) -> Orchestrator:
    """A dependency (async: FastAPI would run a plain function on a worker thread)."""
    return api_state(request).orch


async def snapshots(request: Request) -> SnapshotCache:
    return api_state(request).snapshots
