"""Routes: POST /v1/reports/export (seed "Reports"). Every role may export (`reports:export`); an agent only its
own call_detail and agent_performance (the service narrows it). Large reports go to the object store the
composition root built (`app.state.store`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from engage.core.deps import RuntimeDep, SessionDep, require
from engage.core.openapi import problems
from engage.core.principal import Permission, Principal
from engage.storage.deps import StoreDep

from . import service
from .schemas import ReportDownload, ReportExport, ReportInline

router = APIRouter(prefix="/v1", tags=["reports"])

Exporter = Annotated[Principal, Depends(require(Permission.reports_export))]


@router.post(
    "/reports/export",
    response_model=ReportInline | ReportDownload,
    summary="Export report",
    responses=problems(
        404,
        503,
        descriptions={
            404: "`campaign_id` is not a campaign of your organisation",
            503: "A large report could not be stored for download",
        },
    ),
)
async def export_report(
    principal: Exporter,
    session: SessionDep,
    runtime: RuntimeDep,
    store: StoreDep,
    body: ReportExport,
) -> ReportInline | ReportDownload:
    return await service.export(session, principal, body, store, clock=runtime.clock)
