"""What every route reaches through its request: the orchestrator, the authenticator,
the settings, and the event that tells long-lived streams that the server is stopping."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from fastapi import Request

from console.api.auth import Authenticator
from core.config import Settings
from core.orchestrator import Orchestrator


@dataclass
class ApiState:
    orch: Orchestrator
    auth: Authenticator
    settings: Settings
    stopping: asyncio.Event


def api_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


def orchestrator(request: Request) -> Orchestrator:
    return api_state(request).orch
