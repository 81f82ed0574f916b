"""GET /healthz (the process answers), /readyz (the database answers), /metrics (Prometheus text)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from engage.core.db import database_reachable
from engage.core.deps import RuntimeDep
from engage.core.errors import Unauthorized

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


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Open unless ENGAGE_METRICS_TOKEN is set; then only `Authorization: Bearer <that token>`.",
    response_class=Response,
    responses={401: {"description": "ENGAGE_METRICS_TOKEN is set and the request does not carry it"}},
)
async def metrics(request: Request, runtime: RuntimeDep) -> Response:
    token = runtime.settings.metrics.token
    if token is not None:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        expected = token.get_secret_value().encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), expected):
            raise Unauthorized("GET /metrics needs the scrape token (ENGAGE_METRICS_TOKEN) as a bearer token.")
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
