"""GET /healthz (the process answers), /readyz (the database answers), /metrics (Prometheus text)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from engage.core.db import database_reachable
from engage.core.deps import RuntimeDep

router = APIRouter(tags=["operations"])


@router.get(
    "/healthz", summary="Liveness", responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}}
)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the database answers",
    responses={503: {"content": {"application/json": {"example": {"status": "unavailable", "database": "down"}}}}},
)
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    if await database_reachable(runtime.engine):
        return JSONResponse({"status": "ok", "database": "up"})
    return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
