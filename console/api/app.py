"""The FastAPI application factory: routes, error handlers and state around an Orchestrator.

`create_app` neither starts nor stops the orchestrator: its owner does (see
`console.api.serve`), so the same app can be served by uvicorn or driven in a
test. Every request passes `console.api.guard` first (header and body limits, the
token) before FastAPI reads its body. Raises ConfigError when the configured keys
cannot be loaded.
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from console.api.auth import Authenticator
from console.api.errors import install_error_handlers
from console.api.guard import OPEN_PATHS, Guard
from console.api.limits import MAX_BODY_BYTES
from console.api.routes import (
    controls,
    events,
    ops,
    requests,
    runs,
    schedule,
    services,
    sync,
)
from console.api.snapshots import SnapshotCache
from console.api.state import ApiState
from core.config import Settings
from core.orchestrator import Orchestrator

DESCRIPTION = f"""The syncdeck orchestrator over HTTP. Every route but `/healthz` and
`/readyz` (and `/metrics` when `[api] metrics_auth = "none"`) needs a bearer JWT: the
`syncdeck:read` scope for reads and the event stream, `syncdeck:operate` for every
change. A body is JSON of at most {MAX_BODY_BYTES} bytes. Every error answers
`{{"success": false, "error": {{"code", "message"}}}}`."""


def create_app(
    orch: Orchestrator, settings: Settings, *, stopping: asyncio.Event | None = None
) -> FastAPI:
    app = FastAPI(
        title="syncdeck",
        version="1",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
    )
    auth = Authenticator(settings.api)
    app.state.api = ApiState(
        orch=orch,
        auth=auth,
        settings=settings,
        stopping=stopping or asyncio.Event(),
        snapshots=SnapshotCache(orch),
    )
    routers = [m.router for m in (sync, requests, services, schedule, controls, runs, events, ops)]
    install_error_handlers(app, [*app.routes, *(r for router in routers for r in router.routes)])
    open_paths = OPEN_PATHS | ({"/metrics"} if settings.api.metrics_auth == "none" else set())
    app.add_middleware(Guard, auth=auth, open_paths=open_paths)
    for router in routers:
        app.include_router(router)
    return app
