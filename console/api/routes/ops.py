"""Operations: `/healthz` (the process answers; no token), `/readyz` (the store answers;
503 with the reason otherwise) and `/metrics` (the role `[api] metrics_auth` names)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from console.api import metrics
from console.api.auth import Credentials, Role
from console.api.responses import error_response
from console.api.schemas import Health, errors
from console.api.state import api_state, orchestrator
from core.orchestrator import Orchestrator

router = APIRouter(tags=["operations"])

Orch = Annotated[Orchestrator, Depends(orchestrator)]


@router.get("/healthz", response_model=Health, summary="The process is alive")
async def healthz() -> dict[str, Any]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Health,
    responses=errors(503),
    summary="The store can be reached",
)
async def readyz(orch: Orch) -> Any:
    try:
        await orch.controls()
    except Exception as exc:  # any failure to read is "not ready", with its reason
        return error_response(503, "store_unavailable", f"the store cannot be reached: {exc}")
    return {"status": "ready"}


async def _metrics_role(request: Request, credentials: Credentials) -> None:
    """`[api] metrics_auth` decides per app, so the role is looked up per request."""
    state = api_state(request)
    token = None if credentials is None else credentials.credentials
    state.auth.check(token, Role(state.settings.api.metrics_auth))


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text format 0.0.4",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **errors(401, 403, 503),
    },
    dependencies=[Depends(_metrics_role)],
    summary="Prometheus metrics, the same from every process on the store",
)
async def prometheus(orch: Orch) -> Response:
    return Response(await metrics.render(orch), media_type=metrics.CONTENT_TYPE)
